from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class ReadClockRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ClockReading(_message.Message):
    __slots__ = ("service", "now_ns")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    NOW_NS_FIELD_NUMBER: _ClassVar[int]
    service: str
    now_ns: int
    def __init__(self, service: _Optional[str] = ..., now_ns: _Optional[int] = ...) -> None: ...
