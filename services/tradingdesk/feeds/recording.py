"""The recorded market data file format: one CSV row per event, exact decimals, readable by people.

Columns (header row required, in this order)::

    ts_ns,symbol,kind,bid_price,bid_qty,ask_price,ask_qty,price,qty

* ``ts_ns``: integer nanoseconds since the session start; rows are in non-decreasing ``ts_ns`` order.
* ``symbol``: the instrument's ticker.
* ``kind``: ``Q`` (top-of-book quote) or ``T`` (trade).
* the prices and quantities: plain decimal strings ("189.51", "300"), exact to 1e-9; the fields that do
  not apply to the row's kind (``price``/``qty`` of a quote, the four quote fields of a trade) are empty.

Decimals rather than raw 1e-9 units keep files editable by hand and independent of the internal scale;
reading parses them digit by digit (``parse_fixed``), so a write/read round trip is exact. A path ending in
``.gz`` is written and read gzip-compressed (recordings compress about 4:1).
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from tradingdesk.core.fixed import format_fixed, parse_fixed
from tradingdesk.feeds.events import QUOTE, TRADE, MarketEvent

COLUMNS = ("ts_ns", "symbol", "kind", "bid_price", "bid_qty", "ask_price", "ask_qty", "price", "qty")


class RecordingFormatError(ValueError):
    """A row of a recorded file is malformed; the message names the file, line and problem."""


def _open(path: str | Path, mode: str) -> IO[str]:
    if str(path).endswith(".gz"):
        # mtime=0 keeps the compressed bytes a function of the content alone (reproducible recordings).
        raw = gzip.GzipFile(path, mode[0] + "b", compresslevel=9, mtime=0)
        return io.TextIOWrapper(raw, encoding="utf-8", newline="")
    return open(path, mode, newline="", encoding="utf-8")


def write_csv(path: str | Path, events: Iterable[MarketEvent]) -> int:
    """Write ``events`` to ``path`` in the recorded format; returns the number of rows written."""
    count = 0
    with _open(path, "w") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(COLUMNS)
        for e in events:
            if e.kind == QUOTE:
                row = (
                    e.ts_ns,
                    e.symbol,
                    QUOTE,
                    format_fixed(e.bid_price),
                    format_fixed(e.bid_qty),
                    format_fixed(e.ask_price),
                    format_fixed(e.ask_qty),
                    "",
                    "",
                )
            else:
                row = (e.ts_ns, e.symbol, TRADE, "", "", "", "", format_fixed(e.price), format_fixed(e.qty))
            writer.writerow(row)
            count += 1
    return count


def _units(text: str) -> int:
    return parse_fixed(text) if text else 0


def read_csv(path: str | Path) -> Iterator[MarketEvent]:
    """The events of a recorded file, lazily (files can hold whole days); raises RecordingFormatError."""
    with _open(path, "r") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != COLUMNS:
            raise RecordingFormatError(f"{path}: the header must be {','.join(COLUMNS)}")
        last_ts = 0
        for row in reader:
            if not row:
                continue
            try:
                ts_text, symbol, kind, bid_p, bid_q, ask_p, ask_q, price, qty = row
                ts = int(ts_text)
                if not symbol:
                    raise ValueError("symbol is empty")
                if kind not in (QUOTE, TRADE):
                    raise ValueError(f"kind must be Q or T, not {kind!r}")
                if ts < last_ts:
                    raise ValueError(f"ts_ns {ts} goes back in time (previous row {last_ts})")
                event = MarketEvent(
                    ts,
                    symbol,
                    kind,
                    _units(bid_p),
                    _units(bid_q),
                    _units(ask_p),
                    _units(ask_q),
                    _units(price),
                    _units(qty),
                )
            except ValueError as exc:
                raise RecordingFormatError(f"{path}:{reader.line_num}: {exc}") from None
            last_ts = ts
            yield event
