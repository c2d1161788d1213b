"""Every gRPC channel argument the desk sets is one grpc core reads.

grpc ignores an argument it does not know, without a word: ``grpc.http2.min_recv_ping_interval_without_data_ms``
(the C macro's spelling, not the string's) left the servers on grpc's 5-minute ping policy, and the desk's quiet
streams were cut with GOAWAY ``too_many_pings`` every few minutes. grpc keeps the names it reads as C strings
in its compiled core, which the Python package links into ``cygrpc``; each name the desk sets must be among them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from grpc._cython import cygrpc

from tradingdesk.edge.upstream import CHANNEL_OPTIONS
from tradingdesk.security.channels import FAST_RECONNECT, KEEPALIVE
from tradingdesk.security.server import plaintext

KNOWN = "grpc.keepalive_time_ms"
"""A name grpc certainly reads: if the library does not hold it, the core lives elsewhere and this cannot check."""


@pytest.fixture(scope="module")
def grpc_core_strings() -> bytes:
    library = Path(cygrpc.__file__).read_bytes()
    if KNOWN.encode() + b"\0" not in library:
        pytest.skip(f"grpc core is not linked into {cygrpc.__file__}")
    return library


@pytest.mark.parametrize(
    "name",
    sorted({name for name, _ in (*plaintext().options, *CHANNEL_OPTIONS, *FAST_RECONNECT, *KEEPALIVE)}),
)
def test_grpc_reads_the_argument(grpc_core_strings: bytes, name: str) -> None:
    assert name.encode() + b"\0" in grpc_core_strings, f"{name}: grpc core knows no such channel argument"


def test_a_misspelled_argument_is_caught(grpc_core_strings: bytes) -> None:
    assert b"grpc.http2.min_recv_ping_interval_without_data_ms\0" not in grpc_core_strings
