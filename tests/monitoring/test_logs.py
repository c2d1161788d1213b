"""Structured logs: one JSON object per line with trace and span ids, and no secret in any line."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider

from tests.desk_runner import RunningDesk, wait_for, write_desk
from tradingdesk.telemetry.logs import REDACTED, DeskJsonFormatter, Redactor, url_passwords
from tradingdesk.v1 import risk_pb2, risk_pb2_grpc

TOKEN = "kill-switch-token-7f3a9c"
DB_PASSWORD = "pg-Pa55word-0b1c"
ROUTING_KEY = "R0UT1NGKEYS3CRET0000000000000000"


def formatted(logger_name: str, redactor: Redactor, emit) -> list[dict]:
    """What the desk's formatter writes for the records ``emit(logger)`` logs."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect()
    handler.setFormatter(DeskJsonFormatter(service="routing", desk="us-equities", redactor=redactor))
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return [json.loads(line) for line in lines]


def test_one_json_object_per_line_with_trace_and_span_ids() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("SubmitOrder") as span:
        (inside,) = formatted("td.test.trace", Redactor(), lambda log: log.warning("order %s refused", "O-1"))
        context = span.get_span_context()
    (outside,) = formatted("td.test.trace", Redactor(), lambda log: log.info("no span", extra={"order_id": "O-2"}))
    assert inside["message"] == "order O-1 refused" and inside["level"] == "WARNING"
    assert inside["trace_id"] == format(context.trace_id, "032x") and inside["span_id"] == format(
        context.span_id, "016x"
    )
    assert inside["service"] == "routing" and inside["desk"] == "us-equities" and inside["logger"] == "td.test.trace"
    assert inside["ts"].endswith("+00:00")
    assert outside["trace_id"] == outside["span_id"] == "" and outside["order_id"] == "O-2"


def test_secrets_are_removed_wherever_they_hide() -> None:
    environ = {
        "TD_RISK_HTTP_TOKEN": TOKEN,
        "TD_DSN": f"postgresql+psycopg://desk:{DB_PASSWORD}@db:5432/tradingdesk",
        "TD_LOG_LEVEL": "info",  # not a secret: stays
    }
    redactor = Redactor.from_environment(environ)

    def emit(log: logging.Logger) -> None:
        log.info("token is %s", TOKEN)
        log.info("connecting", extra={"dsn": environ["TD_DSN"], "header": f"Bearer {TOKEN}"})
        try:
            raise RuntimeError(f"login failed for {DB_PASSWORD!r}")
        except RuntimeError:
            log.exception("database")
        log.info("another url https://ops:hunter22@hooks.example/alert and info level")

    lines = formatted("td.test.secret", redactor, emit)
    text = "\n".join(json.dumps(line) for line in lines)
    for secret in (TOKEN, DB_PASSWORD, "hunter22"):
        assert secret not in text
    assert lines[0]["message"] == f"token is {REDACTED}"
    assert lines[1]["dsn"] == f"postgresql+psycopg://desk:{REDACTED}@db:5432/tradingdesk"
    assert REDACTED in lines[2]["exc_info"] and "info level" in lines[3]["message"]
    assert url_passwords("postgresql://a:b@c/d", "sqlite:///x.db") == ["b"]


def test_secret_files_named_by_the_environment_are_redacted(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    redactor = Redactor.from_environment({"TD_RISK_HTTP_TOKEN_FILE": str(path), "TD_MISSING_TOKEN_FILE": "/nope"})
    assert redactor(f"got {TOKEN}") == f"got {REDACTED}"


@pytest.mark.slow
@pytest.mark.postgres
async def test_no_secret_in_any_log_line_of_a_running_desk(tmp_path: Path, postgres_server) -> None:
    """Secrets planted in the configuration: the database password (in ``TD_DSN``), the HTTP kill switch
    token (environment) and a PagerDuty routing key (a file named by the environment). The desk runs, trades
    nothing, takes a kill and a resume through the door that uses the token; no line of any log carries one."""
    dsn = postgres_server.create_database("logsecrets").replace("://desk@", f"://desk:{DB_PASSWORD}@")
    assert DB_PASSWORD in dsn
    key_file = tmp_path / "routing-key"
    key_file.write_text(ROUTING_KEY)

    def mutate(doc: dict) -> None:
        doc["spec"]["risk"]["httpPort"] = 0

    env = {"TD_DSN": dsn, "TD_RISK_HTTP_TOKEN": TOKEN, "TD_PAGERDUTY_ROUTING_KEY_FILE": str(key_file)}
    desk = await RunningDesk(write_desk(tmp_path, mutate), env=env).start()
    try:
        async with desk.channel("risk") as ch:
            risk = risk_pb2_grpc.RiskServiceStub(ch)

            async def kill_reaching_routing() -> bool:
                """A kill that routing's gate applied (it may still be connecting right after the start)."""
                kill = await risk.KillSwitch(
                    risk_pb2.KillSwitchRequest(actor="jane.doe", reason="log drill"), timeout=10
                )
                if kill.state.delivery.applied:
                    return True
                await risk.Resume(risk_pb2.ResumeRequest(actor="jane.doe", reason="no gate yet"), timeout=10)
                return False

            await wait_for(kill_reaching_routing, timeout=30, interval=0.5)
            await risk.Resume(risk_pb2.ResumeRequest(actor="jane.doe", reason="log drill over"), timeout=10)
        await wait_for(lambda: "HALTED" in (tmp_path / "logs" / "routing.log").read_text(), timeout=10)
    finally:
        await desk.stop()
    lines = [line for log in sorted((tmp_path / "logs").glob("*.log")) for line in log.read_text().splitlines() if line]
    assert len(lines) > 20
    for line in lines:
        event = json.loads(line)  # every line is one JSON object
        assert {"ts", "level", "logger", "message", "service", "desk", "trace_id", "span_id"} <= event.keys()
        for secret in (TOKEN, DB_PASSWORD, ROUTING_KEY):
            assert secret not in line, f"a secret in the log: {line}"
