"""The warm spare's order: one JSON line naming the command line to run and the log to append to, refused with a
reason when it is anything else; an end of input ends the spare without running anything."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from tests.waiting import wait_for
from tradingdesk.cli.spare import take_order


def test_an_order_is_a_command_line_and_a_log() -> None:
    assert take_order('{"argv": ["serve", "risk", "-f", "d.yaml"], "log": "/tmp/r.log"}\n') == (
        ["serve", "risk", "-f", "d.yaml"],
        "/tmp/r.log",
    )
    assert take_order('{"argv": ["serve", "risk"]}') == (["serve", "risk"], "")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("serve risk", "one JSON object"),
        ('["serve"]', "argv"),
        ('{"argv": []}', "argv"),
        ('{"argv": ["serve", 1]}', "argv"),
        ('{"argv": ["serve"], "log": 3}', "log"),
    ],
)
def test_anything_else_is_refused_with_the_reason(line: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        take_order(line)


def test_the_end_of_its_input_ends_a_spare_cleanly() -> None:
    """The supervisor stopped without needing it: the spare imports everything, reads nothing, and exits 0."""
    env = {k: v for k, v in os.environ.items() if k != "TD_SUPERVISOR_PID"}
    done = subprocess.run(
        [sys.executable, "-m", "tradingdesk.cli.spare"], input=b"", capture_output=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]


def test_a_spare_has_imported_what_a_service_needs_to_migrate_its_schema(tmp_path) -> None:
    """A restarted service brings its schema to head before it serves: nothing it imports for that may be left
    to import after the crash (Alembic pulls in mako and pygments, half a second on a busy desk)."""
    script = (
        "import importlib, sys\n"
        "from tradingdesk.cli.spare import PRELOADED\n"
        "for m in PRELOADED: importlib.import_module(m)\n"
        "before = set(sys.modules)\n"
        "from tradingdesk.storage import db\n"
        f"db.migrate(db.make_engine('sqlite:///{tmp_path / 'journal.db'}'))\n"
        "print(' '.join(sorted(set(sys.modules) - before)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == []


def test_a_spare_has_imported_the_postgresql_driver_a_service_on_postgresql_opens_its_engine_with() -> None:
    """A desk on PostgreSQL: ``make_engine`` imports psycopg (90 ms of CPU), which a restarted service would otherwise
    import after the crash, before its schema check. No server needed: the engine connects only when used."""
    script = (
        "import importlib, sys\n"
        "from tradingdesk.cli.spare import PRELOADED\n"
        "for m in PRELOADED: importlib.import_module(m)\n"
        "before = set(sys.modules)\n"
        "from tradingdesk.storage import db\n"
        "db.make_engine('postgresql://desk@127.0.0.1:1/tradingdesk', schema='routing')\n"
        "print(' '.join(sorted(set(sys.modules) - before)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == []


def test_what_a_spare_imported_is_out_of_the_collectors_reach() -> None:
    """A full collection in a restarted service walks only what the service made, not the 150,000 objects of the
    spare's imports (about 100 ms of CPU each time, which building routing's service set off)."""
    script = (
        "import gc\n"
        "from tradingdesk.cli.spare import preload\n"
        "preload()\n"
        "print(gc.get_freeze_count(), len(gc.get_objects(generation=2)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    frozen, collectable = map(int, done.stdout.split())
    assert frozen > 50_000
    assert collectable < frozen // 100


def test_a_spare_has_computed_the_snapshot_keys_and_the_schema_head_a_restart_needs() -> None:
    """The digests routing's and risk's snapshots are keyed by and the migrations' head are computed while the
    spare waits (cached per process), not after the crash."""
    script = (
        "from tradingdesk.cli.spare import preload\n"
        "preload()\n"
        "from tradingdesk.storage.db import head_revision\n"
        "from tradingdesk.storage.snapshots import code_digest\n"
        "print(code_digest.cache_info().currsize, head_revision.cache_info().currsize)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["2", "1"]


async def test_the_supervisor_raises_a_spares_priority_before_it_hands_it_an_order(tmp_path) -> None:
    """A spare waits at nice 19 (where it may lower it again); the runtime raises it back to its own before the
    spare reads its order, so a loaded machine does not keep the service's start waiting behind everything."""
    from tests.desk_runner import write_desk
    from tradingdesk.cli.spare import IDLE_NICENESS, may_raise_priority
    from tradingdesk.runtime.embedded import EmbeddedDesk
    from tradingdesk.spec.load import load_desk

    if not may_raise_priority():
        pytest.skip("this user may not lower a nice value (no CAP_SYS_NICE): the spare stays at its own")
    spec = write_desk(tmp_path)
    embedded = EmbeddedDesk(load_desk(spec), spec, log_dir=tmp_path / "logs")
    await embedded.start_spare()
    spare = embedded.spare
    assert spare is not None
    await wait_for(lambda: os.getpriority(os.PRIO_PROCESS, spare.pid) == IDLE_NICENESS, timeout=60, what="nice 19")
    # an order that ends at once: tradingdesk --help
    assert await embedded._hand_to_spare(["--help"], "probe") is spare
    assert os.getpriority(os.PRIO_PROCESS, spare.pid) == os.getpriority(os.PRIO_PROCESS, 0)
    await asyncio.wait_for(spare.wait(), 60)
