from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetHealthSummaryRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ServiceHealth(_message.Message):
    __slots__ = ("service", "address", "status", "detail", "checked_ns")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    CHECKED_NS_FIELD_NUMBER: _ClassVar[int]
    service: str
    address: str
    status: str
    detail: str
    checked_ns: int
    def __init__(self, service: _Optional[str] = ..., address: _Optional[str] = ..., status: _Optional[str] = ..., detail: _Optional[str] = ..., checked_ns: _Optional[int] = ...) -> None: ...

class HealthSummary(_message.Message):
    __slots__ = ("services", "healthy")
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    HEALTHY_FIELD_NUMBER: _ClassVar[int]
    services: _containers.RepeatedCompositeFieldContainer[ServiceHealth]
    healthy: bool
    def __init__(self, services: _Optional[_Iterable[_Union[ServiceHealth, _Mapping]]] = ..., healthy: _Optional[bool] = ...) -> None: ...
