"""What the compliance service keeps for market conduct: the journal's order activity and the market tape by
time (what execution quality, the CAT export and a restarted surveillance read), the surveillance alerts, and
where in the journal it is.

Activity and its journal position are written in one transaction, so a restart resumes exactly after what
was stored. Alerts are keyed (``Alert.key``): recording a detection again stores nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import Engine, Insert, func, select
from sqlalchemy.dialects import postgresql, sqlite

from tradingdesk.core.activity import Activity, MarketActivity, MarketPrint, MarketQuote, OrderActivity
from tradingdesk.core.enums import OrderType, Side, TimeInForce
from tradingdesk.surveillance.alerts import Alert

from .pg_copy import copy_rows
from .schema import conduct_position, market_tape, order_activity, surveillance_alerts

_ENUMS: dict[str, type[Enum]] = {"kind": Activity, "side": Side, "order_type": OrderType, "tif": TimeInForce}
_ENUM_AT = tuple((OrderActivity._fields.index(name), enum) for name, enum in _ENUMS.items())
_SQLITE_ACTIVITY = (
    "INSERT INTO order_activity (seq, ts_ns, kind, order_id, account, symbol, payload) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_SQLITE_TAPE = (
    "INSERT INTO market_tape (ts_ns, symbol, kind, bid, ask, bid_qty, ask_qty, price, qty) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_TAPE_COLUMNS = ("ts_ns", "symbol", "kind", "bid", "ask", "bid_qty", "ask_qty", "price", "qty")
_ACTIVITY_COLUMNS = ("seq", "ts_ns", "kind", "order_id", "account", "symbol", "payload")
_POSITION = "journal"
_IN_CHUNK = 500


def encode_activity(a: OrderActivity) -> str:
    """An activity as a JSON array of its fields in order (enums by name): compact, and cheap to write."""
    return json.dumps([v.name if isinstance(v, Enum) else v for v in a], separators=(",", ":"))


def decode_activity(text: str) -> OrderActivity:
    values = json.loads(text)
    for i, enum in _ENUM_AT:
        values[i] = enum[values[i]]
    return OrderActivity(*values)


@dataclass(frozen=True, slots=True)
class StoredAlert:
    id: int
    alert: Alert
    recorded_ns: int
    log_index: int | None
    """The alert's record in the audit log (None until it is recorded there)."""


class ConductStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        name = engine.dialect.name
        if name == "postgresql":
            insert: Insert = postgresql.insert(surveillance_alerts).on_conflict_do_nothing(index_elements=["alert_key"])
        elif name == "sqlite":
            insert = sqlite.insert(surveillance_alerts).on_conflict_do_nothing(index_elements=["alert_key"])
        else:
            raise NotImplementedError(f"ConductStore supports postgresql and sqlite, not {name}")
        self._insert_alert = insert.returning(surveillance_alerts.c.id)
        self._sqlite = name == "sqlite"

    # -- the journal's activity and the tape ----------------------------------------------------------------
    def record(
        self,
        *,
        activities: Sequence[tuple[int, OrderActivity]] = (),
        tape: Sequence[MarketActivity] = (),
        position: tuple[str, int] | None = None,
    ) -> None:
        """Activities (with their journal seq), market events, and the journal position they reach (incarnation,
        seq), in one commit."""
        activity_rows = [
            (seq, a.ts_ns, a.kind.value, a.order_id, a.account, a.symbol, encode_activity(a)) for seq, a in activities
        ]
        tape_rows = [_tape_row(ev) for ev in tape]
        with self._engine.begin() as conn:
            if self._sqlite:  # the driver's executemany: SQLAlchemy's per-row work costs more than the insert here
                raw = conn.connection.driver_connection
                if activity_rows:
                    raw.executemany(_SQLITE_ACTIVITY, activity_rows)
                if tape_rows:
                    raw.executemany(_SQLITE_TAPE, tape_rows)
            else:  # PostgreSQL: COPY (storage/pg_copy.py says why)
                if activity_rows:
                    copy_rows(conn, table=order_activity.name, columns=_ACTIVITY_COLUMNS, rows=activity_rows)
                if tape_rows:
                    copy_rows(conn, table=market_tape.name, columns=_TAPE_COLUMNS, rows=tape_rows)
            if position is not None:
                incarnation, seq = position
                values = {"incarnation": incarnation, "seq": seq}
                updated = conn.execute(
                    conduct_position.update().where(conduct_position.c.name == _POSITION).values(**values)
                ).rowcount
                if not updated:
                    conn.execute(conduct_position.insert().values(name=_POSITION, **values))

    def position(self) -> tuple[str, int]:
        """(journal incarnation, last seq whose activity is stored); ("", 0) before any."""
        t = conduct_position
        with self._engine.connect() as conn:
            row = conn.execute(select(t.c.incarnation, t.c.seq).where(t.c.name == _POSITION)).first()
        return (str(row[0]), int(row[1])) if row else ("", 0)

    def activities(
        self, *, since_ns: int = 0, until_ns: int = 0, order_ids: Iterable[str] | None = None
    ) -> list[tuple[int, OrderActivity]]:
        """(seq, activity) in journal order; ``until_ns`` exclusive (0: no bound); ``order_ids``: only theirs."""
        t = order_activity
        stmt = select(t.c.id, t.c.seq, t.c.payload)
        if since_ns:
            stmt = stmt.where(t.c.ts_ns >= since_ns)
        if until_ns:
            stmt = stmt.where(t.c.ts_ns < until_ns)
        chunks: list[list[str] | None] = [None]
        if order_ids is not None:
            ids = sorted(set(order_ids))
            chunks = [ids[i : i + _IN_CHUNK] for i in range(0, len(ids), _IN_CHUNK)]
        rows: list[tuple[int, int, str]] = []
        with self._engine.connect() as conn:
            for chunk in chunks:
                query = stmt if chunk is None else stmt.where(t.c.order_id.in_(chunk))
                rows += conn.execute(query).all()
        rows.sort()
        return [(int(seq), decode_activity(payload)) for _, seq, payload in rows]

    def tape(self, *, since_ns: int = 0, until_ns: int = 0, symbols: Iterable[str] = ()) -> list[MarketActivity]:
        """Market events in the order they were recorded; ``until_ns`` exclusive (0: no bound)."""
        t = market_tape
        stmt = select(t.c.ts_ns, t.c.symbol, t.c.kind, t.c.bid, t.c.ask, t.c.bid_qty, t.c.ask_qty, t.c.price, t.c.qty)
        stmt = stmt.order_by(t.c.id)
        if since_ns:
            stmt = stmt.where(t.c.ts_ns >= since_ns)
        if until_ns:
            stmt = stmt.where(t.c.ts_ns < until_ns)
        chosen = list(symbols)
        if chosen:
            stmt = stmt.where(t.c.symbol.in_(chosen))
        out: list[MarketActivity] = []
        with self._engine.connect() as conn:
            for ts, symbol, kind, bid, ask, bid_qty, ask_qty, price, qty in conn.execute(stmt):
                if kind == "Q":
                    out.append(MarketQuote(ts, symbol, bid, ask, bid_qty, ask_qty))
                else:
                    out.append(MarketPrint(ts, symbol, price, qty))
        return out

    def tape_times(self, *, since_ns: int = 0) -> Iterator[tuple[int, str]]:
        """(time, symbol) of every market event from ``since_ns`` on, in time order, streamed: when the desk saw
        market data for each symbol (what the simulation's verdict judges freshness by), without the prices."""
        t = market_tape
        stmt = select(t.c.ts_ns, t.c.symbol).where(t.c.ts_ns >= since_ns).order_by(t.c.ts_ns, t.c.id)
        with self._engine.connect() as conn:
            for ts, symbol in conn.execution_options(stream_results=True, yield_per=10_000).execute(stmt):
                yield int(ts), symbol

    # -- alerts -----------------------------------------------------------------------------------------------
    def record_alerts(self, alerts: Iterable[Alert], recorded_ns: int) -> list[Alert]:
        """Store new alerts; returns those that were not stored before."""
        new = []
        with self._engine.begin() as conn:
            for a in alerts:
                row = {
                    "alert_key": a.key[:512],
                    "detector": a.detector,
                    "ts_ns": a.ts_ns,
                    "owner": a.owner,
                    "symbol": a.symbol,
                    "accounts": json.dumps(list(a.accounts)),
                    "order_ids": json.dumps(list(a.order_ids)),
                    "summary": a.summary,
                    "figures": json.dumps([list(f) for f in a.figures]),
                    "recorded_ns": recorded_ns,
                }
                if conn.execute(self._insert_alert, row).first() is not None:
                    new.append(a)
        return new

    def alerts(
        self,
        *,
        detector: str = "",
        account: str = "",
        symbol: str = "",
        since_ns: int = 0,
        until_ns: int = 0,
        after_id: int = 0,
        limit: int = 1000,
    ) -> list[StoredAlert]:
        """Alerts matching every given filter, in the order they were found (``after_id`` pages on)."""
        t = surveillance_alerts
        stmt = select(t).order_by(t.c.id)
        if detector:
            stmt = stmt.where(t.c.detector == detector)
        if symbol:
            stmt = stmt.where(t.c.symbol == symbol)
        if account:
            stmt = stmt.where(t.c.accounts.contains(json.dumps(account)))
        if since_ns:
            stmt = stmt.where(t.c.ts_ns >= since_ns)
        if until_ns:
            stmt = stmt.where(t.c.ts_ns < until_ns)
        if after_id:
            stmt = stmt.where(t.c.id > after_id)
        with self._engine.connect() as conn:
            rows = conn.execute(stmt.limit(limit)).mappings().all()
        return [self._stored(r) for r in rows if not account or account in json.loads(r["accounts"])]

    def unrecorded_alerts(self) -> list[StoredAlert]:
        """Alerts not yet in the audit log, oldest first."""
        t = surveillance_alerts
        with self._engine.connect() as conn:
            rows = conn.execute(select(t).where(t.c.log_index.is_(None)).order_by(t.c.id)).mappings().all()
        return [self._stored(r) for r in rows]

    def set_log_indexes(self, indexes: Iterable[tuple[int, int]]) -> None:
        """(alert id, audit log index) of alerts just recorded in the audit log."""
        t = surveillance_alerts
        with self._engine.begin() as conn:
            for alert_id, log_index in indexes:
                conn.execute(t.update().where(t.c.id == alert_id).values(log_index=log_index))

    @staticmethod
    def _stored(r: Any) -> StoredAlert:
        return StoredAlert(
            int(r["id"]),
            Alert(
                r["detector"],
                int(r["ts_ns"]),
                r["owner"],
                tuple(json.loads(r["accounts"])),
                r["symbol"],
                tuple(json.loads(r["order_ids"])),
                r["summary"],
                tuple(tuple(f) for f in json.loads(r["figures"])),
            ),
            int(r["recorded_ns"]),
            None if r["log_index"] is None else int(r["log_index"]),
        )

    def alert_count(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(surveillance_alerts)).scalar() or 0)


def _tape_row(ev: MarketActivity) -> tuple[Any, ...]:
    if isinstance(ev, MarketQuote):
        return (ev.ts_ns, ev.symbol, "Q", ev.bid, ev.ask, ev.bid_qty, ev.ask_qty, 0, 0)
    return (ev.ts_ns, ev.symbol, "T", 0, 0, 0, 0, ev.price, ev.qty)
