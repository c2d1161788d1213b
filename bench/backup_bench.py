"""``backup_restore_s``: ``tradingdesk backup`` then ``tradingdesk restore`` into a fresh database, for one trading
day of the shipped sample at 1x volume, on a real PostgreSQL.

One trading day at 1x volume, defined: the desk sends one order for every trade print of the example desk's
full synthetic session (the model the shipped sample is the first ten minutes of: seed 7, 23,400 s, twelve
symbols), each order marketable, so it makes its pending_new, new and trade records as a live desk writes them.
The records are those of a real desk: a sample of orders is traded on an embedded desk on the same PostgreSQL,
and its journal, order by order, is repeated (fresh order ids and seqs) until the day's count. The compliance
service's audit log index (``audit_log``) holds a row for each of those records, as it would at the end of the
day: the sample desk's own rows for the order, repeated alongside (their record bytes as compliance wrote them).

Baseline, same data, same run: a bare ``pg_dump -Fc`` of the three schemas and ``pg_restore`` into a fresh database.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from decimal import ROUND_UP, Decimal
from pathlib import Path

import grpc

from bench.report import figure
from tests.desk_runner import RunningDesk, wait_for, write_desk
from tests.postgres import PostgresServer, find_postgres
from tradingdesk.feeds.events import TRADE
from tradingdesk.feeds.synthetic import generate_symbol
from tradingdesk.spec.domain import instruments_of
from tradingdesk.spec.load import load_desk
from tradingdesk.storage.backup import pg_tool
from tradingdesk.storage.codec import decode_payload
from tradingdesk.storage.db import make_engine
from tradingdesk.storage.fence import WriterLock
from tradingdesk.v1 import common_pb2, market_data_pb2, market_data_pb2_grpc, orders_pb2, orders_pb2_grpc

SAMPLE_ORDERS = 1_000
SYMBOLS = ("AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "JPM", "XOM", "JNJ", "PG", "KO", "SPY")
SCHEMAS = ("us_equities_compliance", "us_equities_routing", "us_equities_risk")


def trades_in_a_day() -> int:
    """Trade prints in the example desk's full session of the synthetic model (about 1.8 M events in all)."""
    desk = load_desk(Path(__file__).resolve().parents[1] / "examples" / "desk.yaml")
    replay = desk.spec.feeds[0].replay
    return sum(
        1
        for instrument in instruments_of(desk).values()
        for event in generate_symbol(instrument, seed=replay.seed, session_seconds=replay.session_seconds)
        if event.kind == TRADE
    )


async def trade_sample(spec: Path, dsn: str) -> None:
    """Marketable buys of one share on every symbol, through a real desk whose journal is in ``dsn``."""
    desk = await RunningDesk(spec, {"TD_DSN": dsn}).start()
    try:
        async with desk.channel("feeds") as ch:
            market = market_data_pb2_grpc.MarketDataServiceStub(ch)

            async def asks() -> dict[str, Decimal] | None:
                snap = await market.GetSnapshot(market_data_pb2.GetSnapshotRequest())
                found = {q.symbol: Decimal(q.ask_price) for q in snap.quotes if q.ask_price and q.last_price}
                return found if all(s in found for s in SYMBOLS) else None

            ask = await wait_for(asks, timeout=30)
        async with desk.channel("routing") as ch:
            orders = orders_pb2_grpc.OrderServiceStub(ch)
            for i in range(SAMPLE_ORDERS):
                symbol = SYMBOLS[i % len(SYMBOLS)]
                limit = (ask[symbol] * Decimal("1.01")).quantize(Decimal("0.01"), ROUND_UP)
                request = orders_pb2.SubmitOrderRequest(
                    client_order_id=f"sample-{i}", account="ACC-EQ-2", symbol=symbol, side=common_pb2.SIDE_BUY,
                    order_type=common_pb2.ORDER_TYPE_LIMIT, quantity="1", limit_price=str(limit),
                    time_in_force=common_pb2.TIME_IN_FORCE_IOC,
                )  # fmt: skip
                await wait_for(lambda r=request: _submitted(orders, r), timeout=30)
    finally:
        await desk.stop()


Record = tuple[str, str, str, str, str]  # kind, order_id, payload, account, symbol
AuditRow = tuple[str, str, str, str, str, str]  # incarnation, source, kind, account, symbol, record


async def _submitted(orders: orders_pb2_grpc.OrderServiceStub, request: orders_pb2.SubmitOrderRequest) -> bool:
    """Sent, or refused for a passing reason (no fresh reference yet on a loaded machine): then sent again."""
    try:
        await orders.SubmitOrder(request, timeout=10)
        return True
    except grpc.aio.AioRpcError as exc:
        if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.FAILED_PRECONDITION):
            return False
        raise


def sample_orders(dsn: str) -> list[list[Record]]:
    """The sample's journal, record by record, grouped by order, in journal order."""
    engine = make_engine(dsn, schema="us_equities_routing")
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT kind, order_id, payload FROM journal ORDER BY seq").all()
    finally:
        engine.dispose()
    by_order: dict[str, list[Record]] = {}
    for kind, order_id, payload in rows:
        p = decode_payload(payload)
        record = (kind, order_id, payload, str(p.get("account", "")), str(p.get("symbol", "")))
        by_order.setdefault(order_id, []).append(record)
    return list(by_order.values())


def sample_audit(dsn: str) -> dict[str, list[AuditRow]]:
    """The sample desk's audit log index rows of its journal's records, by order, in log order."""
    engine = make_engine(dsn, schema="us_equities_compliance")
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT order_id, incarnation, source, kind, account, symbol, record FROM audit_log"
                " WHERE source = 'journal' ORDER BY log_index"
            ).all()
    finally:
        engine.dispose()
    by_order: dict[str, list[AuditRow]] = {}
    for order_id, *row in rows:
        by_order.setdefault(order_id, []).append(tuple(row))
    return by_order


def day_audit_rows(orders: list[list[Record]], audit: dict[str, list[AuditRow]], n_orders: int) -> Iterator[tuple]:
    """audit_log rows (log_index, incarnation, seq, ts_ns, source, kind, order_id, account, symbol, record) for the
    same day as ``day_records``: each order's sample rows under its fresh id and seqs."""
    seq = 0
    ts = 1_780_000_000_000_000_000
    for k in range(n_orders):
        order = orders[k % len(orders)]
        for incarnation, source, kind, account, symbol, record in audit.get(order[0][1], ()):
            seq += 1
            ts += 43_000
            yield seq - 1, incarnation, seq, ts, source, kind, f"{order[0][1]}.{k}", account, symbol, record


def day_records(orders: list[list[Record]], n_orders: int) -> Iterator[tuple]:
    """(seq, ts_ns, kind, order_id, payload, account, symbol) for ``n_orders`` orders made of the sample's."""
    seq = 0
    ts = 1_780_000_000_000_000_000
    for k in range(n_orders):
        for kind, order_id, payload, account, symbol in orders[k % len(orders)]:
            seq += 1
            ts += 43_000  # a 6.5-hour day spread over the records
            yield seq, ts, kind, f"{order_id}.{k}", payload, account, symbol


def write_day(dsn: str, orders: list[list[Record]], audit: dict[str, list[AuditRow]], n_orders: int) -> tuple[int, int]:
    """Replace the sample's journal and audit log index with a whole day; returns how many rows each got."""
    routing = make_engine(dsn, schema="us_equities_routing")
    writer = WriterLock(routing, "journal").try_acquire()  # the fence: the journal's writer lock
    raw = writer.connection.driver_connection
    try:
        with raw.cursor() as cur:
            cur.execute("TRUNCATE us_equities_routing.journal, us_equities_compliance.audit_log")
            records = 0
            with cur.copy("COPY us_equities_routing.journal (seq, ts_ns, kind, order_id, payload) FROM STDIN") as cp:
                for row in day_records(orders, n_orders):
                    cp.write_row(row[:5])
                    records += 1
            columns = "log_index, incarnation, seq, ts_ns, source, kind, order_id, account, symbol, record"
            audit_rows = 0
            with cur.copy(f"COPY us_equities_compliance.audit_log ({columns}) FROM STDIN") as cp:
                for row in day_audit_rows(orders, audit, n_orders):
                    cp.write_row(row)
                    audit_rows += 1
        raw.commit()
    finally:
        WriterLock.release(writer)
        routing.dispose()
    return records, audit_rows


def cli(*args: str, dsn: str) -> float:
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "tradingdesk.cli.main", *args]
    run = subprocess.run(cmd, env={**os.environ, "TD_DSN": dsn}, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {run.stderr}")
    print(run.stdout.strip(), file=sys.stderr)
    return time.perf_counter() - t0


def bare_dump_restore(server: PostgresServer, source: str, tmp: Path) -> float:
    server.create_database("baseline")
    t0 = time.perf_counter()
    schemas = [f"--schema={s}" for s in SCHEMAS]
    subprocess.run([pg_tool("pg_dump"), "-Fc", *schemas, f"--file={tmp / 'bare.dump'}",
                    f"--dbname={server.conninfo(source)}"], check=True)  # fmt: skip
    subprocess.run([pg_tool("pg_restore"), "--single-transaction", f"--dbname={server.conninfo('baseline')}",
                    str(tmp / "bare.dump")], check=True)  # fmt: skip
    return time.perf_counter() - t0


def run() -> list[dict]:
    n_orders = trades_in_a_day()
    server = PostgresServer(find_postgres()).start()
    try:
        with tempfile.TemporaryDirectory(prefix="td-backup-bench-") as tmp_dir:
            tmp = Path(tmp_dir)
            (tmp / "desk").mkdir()
            spec = write_desk(tmp / "desk")
            source = server.create_database("day")
            asyncio.run(trade_sample(spec, source))
            audit = sample_audit(source)
            if not audit:
                raise RuntimeError("the sample desk's compliance service indexed none of its journal's records")
            records, audit_rows = write_day(source, sample_orders(source), audit, n_orders)
            print(f"one day: {n_orders} orders, {records} journal records, {audit_rows} audit rows", file=sys.stderr)
            seconds = cli("backup", "-f", str(spec), "-o", str(tmp / "backup"), dsn=source)
            seconds += cli("restore", "-f", str(spec), "-i", str(tmp / "backup"), dsn=server.create_database("fresh"))
            baseline = bare_dump_restore(server, "day", tmp)
    finally:
        server.destroy()
    return [figure("backup_restore_s", seconds, "s", baseline)]


if __name__ == "__main__":
    run()
