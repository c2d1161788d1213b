"""``python -m tradingdesk.feeds.record``: write a recorded session file from the synthetic model.

    python -m tradingdesk.feeds.record -f examples/desk.yaml --minutes 10 \\
        -o examples/data/us-equities-open-10min.csv.gz

Records the first ``--minutes`` of the session that the desk's first replay feed would generate (its seed
and session length, or ``--seed``/``--session-seconds``) for the desk's instruments, in the recorded CSV
format (gzip when the name ends in ``.gz``). The model is deterministic, so the same command always writes
the same bytes: the shipped sample can be checked against a fresh recording at any time.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from itertools import takewhile
from pathlib import Path

from tradingdesk.core.instruments import Instrument
from tradingdesk.feeds.events import MarketEvent
from tradingdesk.feeds.recording import write_csv
from tradingdesk.feeds.synthetic import NS, generate_session


def session_prefix(
    instruments: Sequence[Instrument], *, seed: int, session_seconds: int, seconds: int
) -> Iterator[MarketEvent]:
    """The events of the first ``seconds`` of a generated session (the whole session's intraday shape)."""
    end = seconds * NS
    events = generate_session(instruments, seed=seed, session_seconds=session_seconds)
    return takewhile(lambda e: e.ts_ns < end, events)


def main(argv: list[str] | None = None) -> int:
    from tradingdesk.spec.domain import instruments_of
    from tradingdesk.spec.load import load_desk

    parser = argparse.ArgumentParser(prog="python -m tradingdesk.feeds.record", description=__doc__.split("\n")[0])
    parser.add_argument("-f", "--file", required=True, help="TradingDesk YAML (instruments, replay seed)")
    parser.add_argument("-o", "--output", required=True, help="file to write (.csv or .csv.gz)")
    parser.add_argument("--minutes", type=float, default=10.0, help="how much of the session to record")
    parser.add_argument("--seed", type=int, help="seed (default: the first replay feed's)")
    parser.add_argument("--session-seconds", type=int, help="session length (default: the first replay feed's)")
    args = parser.parse_args(argv)

    desk = load_desk(args.file)
    replay = next((f.replay for f in desk.spec.feeds if f.kind == "replay"), None)
    seed = args.seed if args.seed is not None else (replay.seed if replay else 7)
    session_seconds = args.session_seconds or (replay.session_seconds if replay else 23_400)
    seconds = int(args.minutes * 60)
    if not 0 < seconds <= session_seconds:
        parser.error(f"--minutes must be within the session (at most {session_seconds / 60:g})")
    instruments = list(instruments_of(desk).values())
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = write_csv(out, session_prefix(instruments, seed=seed, session_seconds=session_seconds, seconds=seconds))
    print(f"{out}: {rows} events, {len(instruments)} symbols, seed {seed}, first {seconds} s of {session_seconds} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
