"""The recorded market data file format: one CSV row per event, exact decimals, readable by people.

Columns (header row required, in this order)::

    ts_ns,symbol,kind,bid_price,bid_qty,ask_price,ask_qty,price,qty

* ``ts_ns``: integer nanoseconds since the session start; rows are in non-decreasing ``ts_ns`` order.
* ``symbol``: the instrument's ticker.
* ``kind``: ``Q`` (top-of-book quote) or ``T`` (trade).
* the prices and quantities: plain decimal strings ("189.51", "300"), exact to 1e-9; the fields that do
  not apply to the row's kind (``price``/``qty`` of a quote, the four quote fields of a trade) are empty.

A recording may also carry trading status changes (halts, pauses, resumptions). Its header then has two more
columns, ``...,qty,status,reason``; a status row has kind ``S``, ``status`` ``trading``, ``halted`` or
``paused``, an optional ``reason`` code (``T1``, ``LUDP``, ``MWC1``...; docs/compliance.md lists them) and
empty prices. Files without status changes keep the nine-column header.

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
from tradingdesk.feeds.events import QUOTE, STATUS, TRADE, MarketEvent
from tradingdesk.markets.status import MAX_REASON_LEN, parse_status, status_name

COLUMNS = ("ts_ns", "symbol", "kind", "bid_price", "bid_qty", "ask_price", "ask_qty", "price", "qty")
STATUS_COLUMNS = (*COLUMNS, "status", "reason")


class RecordingFormatError(ValueError):
    """A row of a recorded file is malformed; the message names the file, line and problem."""


def _open(path: str | Path, mode: str) -> IO[str]:
    if str(path).endswith(".gz"):
        # mtime=0 keeps the compressed bytes a function of the content alone (reproducible recordings).
        raw = gzip.GzipFile(path, mode[0] + "b", compresslevel=9, mtime=0)
        return io.TextIOWrapper(raw, encoding="utf-8", newline="")
    return open(path, mode, newline="", encoding="utf-8")


def write_csv(path: str | Path, events: Iterable[MarketEvent], *, statuses: bool = False) -> int:
    """Write ``events`` to ``path`` in the recorded format; returns the number of rows written.

    ``statuses`` writes the header with the status columns, which trading status events need.
    """
    count = 0
    tail: tuple[str, ...] = ("", "") if statuses else ()
    with _open(path, "w") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(STATUS_COLUMNS if statuses else COLUMNS)
        for e in events:
            if e.kind == STATUS:
                if not statuses:
                    raise ValueError("a trading status event needs the status columns: write with statuses=True")
                writer.writerow((e.ts_ns, e.symbol, STATUS, "", "", "", "", "", "", status_name(e.status), e.reason))
                count += 1
                continue
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
            writer.writerow((*row, *tail))
            count += 1
    return count


def _units(text: str) -> int:
    return parse_fixed(text) if text else 0


def read_csv(path: str | Path) -> Iterator[MarketEvent]:
    """The events of a recorded file, lazily (files can hold whole days); raises RecordingFormatError."""
    with _open(path, "r") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        names = None if header is None else tuple(h.strip() for h in header)
        if names not in (COLUMNS, STATUS_COLUMNS):
            raise RecordingFormatError(
                f"{path}: the header must be {','.join(COLUMNS)} (optionally followed by ,status,reason)"
            )
        with_status = names == STATUS_COLUMNS
        last_ts = 0
        for row in reader:
            if not row:
                continue
            try:
                if with_status:
                    *row, status_text, reason = row
                ts_text, symbol, kind, bid_p, bid_q, ask_p, ask_q, price, qty = row
                ts = int(ts_text)
                if not symbol:
                    raise ValueError("symbol is empty")
                if kind not in (QUOTE, TRADE, STATUS) or (kind == STATUS and not with_status):
                    raise ValueError(f"kind must be Q or T{', or S' if with_status else ''}, not {kind!r}")
                if ts < last_ts:
                    raise ValueError(f"ts_ns {ts} goes back in time (previous row {last_ts})")
                if kind == STATUS:
                    if any(row[3:]):
                        raise ValueError("a status row has no prices or quantities")
                    if len(reason) > MAX_REASON_LEN or not reason.isprintable():
                        raise ValueError(f"reason: at most {MAX_REASON_LEN} printable characters")
                    event = MarketEvent(ts, symbol, STATUS, status=parse_status(status_text), reason=reason)
                    last_ts = ts
                    yield event
                    continue
                if with_status and (status_text or reason):
                    raise ValueError("status and reason are only for status rows (kind S)")
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
