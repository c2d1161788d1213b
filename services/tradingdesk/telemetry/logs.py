"""Structured logs: one JSON object per line, with the trace and span of the work that wrote it, and no secret.

Every line carries ``ts`` (UTC, RFC 3339 with microseconds), ``level``, ``logger``, ``message``, ``service``,
``desk``, ``trace_id`` and ``span_id`` (empty outside a traced call), ``exc_info`` when there is one, and any
``extra=`` fields. Secrets are removed from the finished line, whatever field they hid in: every value in
``Redactor`` is replaced by ``[REDACTED]`` (as written and as JSON escapes it), and so are the password of any
``scheme://user:password@host`` URL and ``Bearer`` credentials.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

REDACTED = "[REDACTED]"
SECRET_ENV = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE|ROUTING_KEY|API_KEY|DSN)", re.I)
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s\"]*:)(?P<password>[^@/\s\"]+)(?=@)")
_BEARER = re.compile(r"(?P<head>\b[Bb]earer\s+)(?P<token>[A-Za-z0-9\-._~+/]+=*)")
MIN_SECRET_LEN = 4  # shorter values would redact ordinary words


class Redactor:
    """The secret values this process knows, and the removal of them (and of URL passwords) from text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for value in secrets:
            self.add(value)

    def add(self, value: str) -> None:
        value = value.strip()
        if len(value) >= MIN_SECRET_LEN:
            self._secrets.add(value)
            self._secrets.add(json.dumps(value)[1:-1])  # as it appears inside a JSON string

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):  # longest first: no partial leftovers
            if secret in text:
                text = text.replace(secret, REDACTED)
        text = _URL_PASSWORD.sub(lambda m: m.group("head") + REDACTED, text)
        return _BEARER.sub(lambda m: m.group("head") + REDACTED, text)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str], extra: Iterable[str] = ()) -> Redactor:
        """Secrets named by the environment: values of variables whose names say they are secret (of a URL such
        as a DSN, its password), and the contents of files such variables point to (``*_FILE``)."""
        redactor = cls(extra)
        for name, value in environ.items():
            if not SECRET_ENV.search(name) or not value:
                continue
            if name.endswith("_FILE"):
                with contextlib.suppress(OSError):  # a missing credential is the service's to report
                    redactor.add(Path(value).read_text())
                continue
            if "://" in value:  # a URL (a DSN): only its password is secret, its host helps whoever reads
                for password in url_passwords(value):
                    redactor.add(password)
            else:
                redactor.add(value)
        return redactor


def url_passwords(*urls: str) -> list[str]:
    """The passwords inside URLs (``postgresql://user:pw@host/db``), to register with a ``Redactor``."""
    return [m.group("password") for url in urls for m in _URL_PASSWORD.finditer(url)]


class DeskJsonFormatter(JsonFormatter):
    """python-json-logger's formatter, with the desk's fixed fields, trace ids and redaction of the whole line."""

    def __init__(self, *, service: str, desk: str, redactor: Redactor) -> None:
        super().__init__(
            ["message"],
            static_fields={"service": service, "desk": desk},
            json_ensure_ascii=False,
        )
        self._redact = redactor

    def add_fields(self, log_record: dict, record: logging.LogRecord, message_dict: dict) -> None:
        log_record["ts"] = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="microseconds")
        log_record["level"] = record.levelname
        log_record["logger"] = record.name
        log_record["pid"] = record.process  # two processes of one service share a log (the embedded standby)
        super().add_fields(log_record, record, message_dict)
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            log_record["trace_id"] = format(context.trace_id, "032x")
            log_record["span_id"] = format(context.span_id, "016x")
        else:
            log_record["trace_id"] = log_record["span_id"] = ""

    def format(self, record: logging.LogRecord) -> str:
        return self._redact(super().format(record))


def configure_json_logging(*, service: str, desk: str, redactor: Redactor, level: int = logging.INFO) -> None:
    """Send every log record of the process to stderr as one JSON line (replacing earlier handlers)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(DeskJsonFormatter(service=service, desk=desk, redactor=redactor))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)


def environment_redactor(dsn: str = "") -> Redactor:
    """The redactor of this process: secrets from the environment and the database URL's password."""
    return Redactor.from_environment(os.environ, url_passwords(dsn))
