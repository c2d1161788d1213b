"""As root, the throwaway PostgreSQL's commands run as an unprivileged user, and the switch must not cost a crashed
child when the parent runs gRPC: ``subprocess``'s ``user=`` forks, and with gRPC's fork handlers on and its threads
busy, about one fork in twelve died of SIGSEGV before its exec here (initdb "failed (-11)" in CI). The check runs in
a process of its own with the handlers on, gRPC imported first and four threads calling into it all the time, and
drops privileges through ``PostgresServer._run`` two hundred times."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the privilege drop happens only as root")

CHILD = textwrap.dedent(
    """
    import os, sys, threading, tempfile
    from concurrent import futures
    import grpc  # first, with GRPC_ENABLE_FORK_SUPPORT=true from the environment: the handlers are on
    from tradingdesk.runtime.local_postgres import PostgresServer

    server = grpc.server(futures.ThreadPoolExecutor(4))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    stop = threading.Event()

    def call_all_the_time():
        method = grpc.insecure_channel(f"127.0.0.1:{port}").unary_unary("/nobody/home")
        while not stop.is_set():
            try:
                method(b"", timeout=0.5)
            except grpc.RpcError:
                pass

    for _ in range(4):
        threading.Thread(target=call_all_the_time, daemon=True).start()
    pg = PostgresServer(sys.argv[1])
    pg.base = tempfile.mkdtemp()
    os.chmod(pg.base, 0o755)
    whoami = [pg._run(["id", "-u"]).stdout.strip() for _ in range(200)]
    stop.set()
    print(sorted(set(whoami)))
    """
)


def test_the_switch_to_an_unprivileged_user_survives_a_parent_busy_in_grpc(tmp_path: Path) -> None:
    env = {**os.environ, "GRPC_ENABLE_FORK_SUPPORT": "true"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    uids = done.stdout.strip().splitlines()[-1]
    assert uids != "['0']" and "'0'" not in uids, f"ran as root: {uids}"
