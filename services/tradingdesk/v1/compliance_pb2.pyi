from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class QueryAuditRequest(_message.Message):
    __slots__ = ("order_id", "account", "symbol", "since_ns", "until_ns", "after_seq", "limit", "from_index", "incarnation", "source", "kind")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SINCE_NS_FIELD_NUMBER: _ClassVar[int]
    UNTIL_NS_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    FROM_INDEX_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    account: str
    symbol: str
    since_ns: int
    until_ns: int
    after_seq: int
    limit: int
    from_index: int
    incarnation: str
    source: str
    kind: str
    def __init__(self, order_id: _Optional[str] = ..., account: _Optional[str] = ..., symbol: _Optional[str] = ..., since_ns: _Optional[int] = ..., until_ns: _Optional[int] = ..., after_seq: _Optional[int] = ..., limit: _Optional[int] = ..., from_index: _Optional[int] = ..., incarnation: _Optional[str] = ..., source: _Optional[str] = ..., kind: _Optional[str] = ...) -> None: ...

class AuditEvent(_message.Message):
    __slots__ = ("seq", "ts_ns", "kind", "order_id", "account", "symbol", "payload_json", "index", "incarnation", "source", "record")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_JSON_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    seq: int
    ts_ns: int
    kind: str
    order_id: str
    account: str
    symbol: str
    payload_json: str
    index: int
    incarnation: str
    source: str
    record: bytes
    def __init__(self, seq: _Optional[int] = ..., ts_ns: _Optional[int] = ..., kind: _Optional[str] = ..., order_id: _Optional[str] = ..., account: _Optional[str] = ..., symbol: _Optional[str] = ..., payload_json: _Optional[str] = ..., index: _Optional[int] = ..., incarnation: _Optional[str] = ..., source: _Optional[str] = ..., record: _Optional[bytes] = ...) -> None: ...

class QueryAuditResponse(_message.Message):
    __slots__ = ("events", "last_seq", "incarnation")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[AuditEvent]
    last_seq: int
    incarnation: str
    def __init__(self, events: _Optional[_Iterable[_Union[AuditEvent, _Mapping]]] = ..., last_seq: _Optional[int] = ..., incarnation: _Optional[str] = ...) -> None: ...

class SealRequest(_message.Message):
    __slots__ = ("actor", "reason")
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    actor: str
    reason: str
    def __init__(self, actor: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class SealResponse(_message.Message):
    __slots__ = ("checkpoint", "tree_size", "root_hash", "journal_seq")
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    ROOT_HASH_FIELD_NUMBER: _ClassVar[int]
    JOURNAL_SEQ_FIELD_NUMBER: _ClassVar[int]
    checkpoint: str
    tree_size: int
    root_hash: bytes
    journal_seq: int
    def __init__(self, checkpoint: _Optional[str] = ..., tree_size: _Optional[int] = ..., root_hash: _Optional[bytes] = ..., journal_seq: _Optional[int] = ...) -> None: ...

class GetCheckpointRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetCheckpointResponse(_message.Message):
    __slots__ = ("checkpoint", "tree_size", "root_hash", "public_key", "log_size", "pending_segments", "bucket", "refusing", "last_upload_error")
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    ROOT_HASH_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    LOG_SIZE_FIELD_NUMBER: _ClassVar[int]
    PENDING_SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    REFUSING_FIELD_NUMBER: _ClassVar[int]
    LAST_UPLOAD_ERROR_FIELD_NUMBER: _ClassVar[int]
    checkpoint: str
    tree_size: int
    root_hash: bytes
    public_key: str
    log_size: int
    pending_segments: int
    bucket: str
    refusing: str
    last_upload_error: str
    def __init__(self, checkpoint: _Optional[str] = ..., tree_size: _Optional[int] = ..., root_hash: _Optional[bytes] = ..., public_key: _Optional[str] = ..., log_size: _Optional[int] = ..., pending_segments: _Optional[int] = ..., bucket: _Optional[str] = ..., refusing: _Optional[str] = ..., last_upload_error: _Optional[str] = ...) -> None: ...

class GetInclusionProofRequest(_message.Message):
    __slots__ = ("index", "journal_seq", "incarnation", "tree_size")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    JOURNAL_SEQ_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    index: int
    journal_seq: int
    incarnation: str
    tree_size: int
    def __init__(self, index: _Optional[int] = ..., journal_seq: _Optional[int] = ..., incarnation: _Optional[str] = ..., tree_size: _Optional[int] = ...) -> None: ...

class InclusionProof(_message.Message):
    __slots__ = ("index", "tree_size", "hashes", "root_hash", "leaf_hash", "record", "checkpoint")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    HASHES_FIELD_NUMBER: _ClassVar[int]
    ROOT_HASH_FIELD_NUMBER: _ClassVar[int]
    LEAF_HASH_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    index: int
    tree_size: int
    hashes: _containers.RepeatedScalarFieldContainer[bytes]
    root_hash: bytes
    leaf_hash: bytes
    record: bytes
    checkpoint: str
    def __init__(self, index: _Optional[int] = ..., tree_size: _Optional[int] = ..., hashes: _Optional[_Iterable[bytes]] = ..., root_hash: _Optional[bytes] = ..., leaf_hash: _Optional[bytes] = ..., record: _Optional[bytes] = ..., checkpoint: _Optional[str] = ...) -> None: ...

class GetConsistencyProofRequest(_message.Message):
    __slots__ = ("old_size", "new_size")
    OLD_SIZE_FIELD_NUMBER: _ClassVar[int]
    NEW_SIZE_FIELD_NUMBER: _ClassVar[int]
    old_size: int
    new_size: int
    def __init__(self, old_size: _Optional[int] = ..., new_size: _Optional[int] = ...) -> None: ...

class ConsistencyProof(_message.Message):
    __slots__ = ("old_size", "new_size", "hashes", "old_root_hash", "new_root_hash", "old_checkpoint", "new_checkpoint")
    OLD_SIZE_FIELD_NUMBER: _ClassVar[int]
    NEW_SIZE_FIELD_NUMBER: _ClassVar[int]
    HASHES_FIELD_NUMBER: _ClassVar[int]
    OLD_ROOT_HASH_FIELD_NUMBER: _ClassVar[int]
    NEW_ROOT_HASH_FIELD_NUMBER: _ClassVar[int]
    OLD_CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    NEW_CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    old_size: int
    new_size: int
    hashes: _containers.RepeatedScalarFieldContainer[bytes]
    old_root_hash: bytes
    new_root_hash: bytes
    old_checkpoint: str
    new_checkpoint: str
    def __init__(self, old_size: _Optional[int] = ..., new_size: _Optional[int] = ..., hashes: _Optional[_Iterable[bytes]] = ..., old_root_hash: _Optional[bytes] = ..., new_root_hash: _Optional[bytes] = ..., old_checkpoint: _Optional[str] = ..., new_checkpoint: _Optional[str] = ...) -> None: ...

class OperatorActionRequest(_message.Message):
    __slots__ = ("actor", "action", "generation", "spec_hash", "detail", "namespace", "desk", "acted_ns", "action_id")
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    SPEC_HASH_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    DESK_FIELD_NUMBER: _ClassVar[int]
    ACTED_NS_FIELD_NUMBER: _ClassVar[int]
    ACTION_ID_FIELD_NUMBER: _ClassVar[int]
    actor: str
    action: str
    generation: int
    spec_hash: str
    detail: str
    namespace: str
    desk: str
    acted_ns: int
    action_id: str
    def __init__(self, actor: _Optional[str] = ..., action: _Optional[str] = ..., generation: _Optional[int] = ..., spec_hash: _Optional[str] = ..., detail: _Optional[str] = ..., namespace: _Optional[str] = ..., desk: _Optional[str] = ..., acted_ns: _Optional[int] = ..., action_id: _Optional[str] = ...) -> None: ...

class AccessDecisionRecord(_message.Message):
    __slots__ = ("ts_ns", "identity", "via", "method", "allowed", "code", "detail", "privileged", "peer", "request_json", "count", "service")
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    VIA_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    PRIVILEGED_FIELD_NUMBER: _ClassVar[int]
    PEER_FIELD_NUMBER: _ClassVar[int]
    REQUEST_JSON_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    ts_ns: int
    identity: str
    via: str
    method: str
    allowed: bool
    code: str
    detail: str
    privileged: bool
    peer: str
    request_json: str
    count: int
    service: str
    def __init__(self, ts_ns: _Optional[int] = ..., identity: _Optional[str] = ..., via: _Optional[str] = ..., method: _Optional[str] = ..., allowed: _Optional[bool] = ..., code: _Optional[str] = ..., detail: _Optional[str] = ..., privileged: _Optional[bool] = ..., peer: _Optional[str] = ..., request_json: _Optional[str] = ..., count: _Optional[int] = ..., service: _Optional[str] = ...) -> None: ...

class RecordAccessRequest(_message.Message):
    __slots__ = ("decisions",)
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    decisions: _containers.RepeatedCompositeFieldContainer[AccessDecisionRecord]
    def __init__(self, decisions: _Optional[_Iterable[_Union[AccessDecisionRecord, _Mapping]]] = ...) -> None: ...

class RecordedResponse(_message.Message):
    __slots__ = ("first_index", "records")
    FIRST_INDEX_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    first_index: int
    records: int
    def __init__(self, first_index: _Optional[int] = ..., records: _Optional[int] = ...) -> None: ...
