"""The HTTP door of the kill switch, for operations: FastAPI inside the risk service process.

It listens on ``spec.risk.httpPort`` (0 turns it off) and changes the desk through the same ``RiskState`` as
the gRPC ``KillSwitch``/``Resume`` RPCs, so the journal, the gates and the events cannot tell the doors apart except
by the ``door`` recorded with the change. Like them, it answers once every gate has applied the change (or was
cut off), with ``delivery`` saying which.

Credential: every ``/v1`` call needs ``Authorization: Bearer <token>``. The token is the value of the
environment variable ``TD_RISK_HTTP_TOKEN``, or the content of the file named by ``TD_RISK_HTTP_TOKEN_FILE``
(a mounted Kubernetes Secret). With neither set, the endpoints answer 503: an unauthenticated kill switch
is never served. ``GET /healthz`` needs no credential. When the desk's TLS is on, the door serves HTTPS with the
risk service's certificate and every ``/v1`` route is checked like an RPC (``tradingdesk.security.http``): a
client certificate of the desk's CA or a bearer token of an identity in ``spec.access`` (or the credential
above) whose roles allow the route, 403 otherwise.

Errors: 401 without or with a wrong credential, 422 for a malformed body (FastAPI names the field in
``detail[].loc``), 400 for a value the desk refuses (``{"field": ..., "error": ...}``), 409 for a request the
current state refuses (resuming what is not halted). A refused ``POST`` (400, 404, 409, 422) is journaled with
the body as sent before it is answered, like a refused gRPC request (door ``http``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import uvicorn
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from tradingdesk.core.events import Refusal
from tradingdesk.core.reject import Reject, RejectKind
from tradingdesk.edge.http import client_certificate, https_options
from tradingdesk.edge.refusals import MESSAGE_MAX, bounded
from tradingdesk.risk.limits import StateEntry
from tradingdesk.risk.scope import DESK_SCOPE, ScopeKey
from tradingdesk.risk.state import RiskState
from tradingdesk.security.http import HttpAccess, HttpDenied, http_access
from tradingdesk.security.tls import TlsFiles

log = logging.getLogger(__name__)

TOKEN_ENV = "TD_RISK_HTTP_TOKEN"
TOKEN_FILE_ENV = "TD_RISK_HTTP_TOKEN_FILE"
HTTP_STATUS: dict[RejectKind, int] = {
    RejectKind.INVALID: 400,
    RejectKind.NOT_FOUND: 404,
    RejectKind.DUPLICATE: 409,
    RejectKind.REFUSED: 409,
    RejectKind.CONFLICT: 409,
    RejectKind.THROTTLED: 429,
    RejectKind.UNAVAILABLE: 503,
}


def load_token(environ: dict[str, str]) -> str | None:
    """The credential from the environment (or the file it names); None when none is configured."""
    token = environ.get(TOKEN_ENV, "").strip()
    if token:
        return token
    path = environ.get(TOKEN_FILE_ENV, "").strip()
    if path:
        try:
            token = Path(path).read_text().strip()
        except OSError as exc:
            log.error("risk http: cannot read %s=%s: %s", TOKEN_FILE_ENV, path, exc.strerror)
            return None
        return token or None
    return None


class KillBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: str = Field(min_length=1, max_length=128)
    """Who pulls the kill switch."""
    reason: str = Field(min_length=1, max_length=1024)
    """Why."""
    account: str = ""
    """Halt one account only (empty: the whole desk)."""
    strategy: str = ""
    """Halt one strategy of the account only."""
    flatten: bool = False
    """Also close the scope's positions with market orders."""


class ResumeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: str = Field(min_length=1, max_length=128)
    """The person resuming trading."""
    reason: str = Field(min_length=1, max_length=1024)
    """Why it is safe to trade again."""
    account: str = ""
    strategy: str = ""


def _state_json(scope: ScopeKey, entry: StateEntry) -> dict:
    return {
        "account": scope[0],
        "strategy": scope[1],
        "state": entry.state.name,
        "actor": entry.actor,
        "reason": entry.reason,
        "changed_ns": entry.changed_ns,
    }


def build_app(state: RiskState, token: str | None, access: HttpAccess | None = None) -> FastAPI:
    """With ``access`` (the desk's TLS is on) every /v1 route is checked like an RPC: bearer token, the
    route's roles, an access-log record of refusals and privileged calls. Without it, the one credential."""
    app = FastAPI(title="tradingdesk risk: kill switch", docs_url=None, redoc_url=None, openapi_url=None)

    async def checked(request: Request, authorization: Annotated[str | None, Header()] = None):
        path = request.scope["route"].path
        peer = f"{request.client.host}:{request.client.port}" if request.client else ""
        try:
            identity = await access.admit(
                request.method, path, authorization, peer, certificate=client_certificate(request.scope)
            )
        except HttpDenied as denied:
            headers = {"WWW-Authenticate": "Bearer"} if denied.status == 401 else None
            raise HTTPException(denied.status, denied.message, headers=headers) from None
        body = await request.json() if request.method == "POST" else {}
        async for _ in access.around(identity, request.method, path, peer, body if isinstance(body, dict) else {}):
            yield

    def authorize(authorization: Annotated[str | None, Header()] = None) -> None:
        if token is None:
            raise HTTPException(
                503, f"the HTTP kill switch has no credential configured (set {TOKEN_ENV} or {TOKEN_FILE_ENV})"
            )
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise HTTPException(401, "a valid credential is required", headers={"WWW-Authenticate": "Bearer"})

    async def journal_refusal(request: Request, *, kind: str, code: str, status: int, message: str) -> None:
        """A refused POST goes into the risk change journal with its body as sent, before the answer."""
        if request.method != "POST":
            return
        try:
            sent = await request.json()
        except ValueError:
            sent = {"body": (await request.body()).decode("utf-8", "replace")}
        fields = bounded(sent if isinstance(sent, dict) else {"body": sent})
        try:
            scope = state.parse_scope(str(fields.get("account", "")), str(fields.get("strategy", "")))
        except Reject:
            scope = DESK_SCOPE  # not one of the desk's: the body keeps what was asked
        refusal = Refusal(
            method=f"POST {request.url.path}",
            door="http",
            reject_kind=kind,
            code=code,
            status=str(status),
            message=message[:MESSAGE_MAX],
            request=fields,
        )
        try:
            await state.record_refusal(
                refusal, actor=str(fields.get("actor", "")), reason=str(fields.get("reason", "")), scope=scope
            )
        except Exception:
            log.exception("risk http: the refusal of %s could not be journaled", refusal.method)

    if access is not None:
        authorize = checked  # type: ignore[assignment]

    @app.exception_handler(Reject)
    async def _refused(request: Request, reject: Reject) -> JSONResponse:
        field, sep, problem = reject.message.partition(": ")
        body = {"field": field, "error": problem} if sep and reject.kind == RejectKind.INVALID else {}
        body.setdefault("error", reject.message)
        if reject.code:
            body["code"] = reject.code
        status = HTTP_STATUS[reject.kind]
        await journal_refusal(request, kind=reject.kind.value, code=reject.code, status=status, message=reject.message)
        return JSONResponse(body, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _malformed(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()
        )
        await journal_refusal(
            request, kind=RejectKind.INVALID.value, code="INVALID_ARGUMENT", status=422, message=problems
        )
        return await request_validation_exception_handler(request, exc)

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/v1/trading-state", dependencies=[Depends(authorize)])
    async def trading_state(account: str = "", strategy: str = "") -> dict:
        scope = state.parse_scope(account, strategy)
        return _state_json(scope, state.state_of(scope))

    @app.post("/v1/kill", dependencies=[Depends(authorize)])
    async def kill(body: KillBody) -> dict:
        scope = state.parse_scope(body.account, body.strategy)
        kill_id, entry, delivery = await state.kill(scope, body.actor, body.reason, flatten=body.flatten, door="http")
        return {
            "kill_id": kill_id,
            "gates": delivery.gates,
            **_state_json(scope, entry),
            "delivery": delivery.to_json(),
        }

    @app.post("/v1/resume", dependencies=[Depends(authorize)])
    async def resume(body: ResumeBody) -> dict:
        scope = state.parse_scope(body.account, body.strategy)
        entry, delivery = await state.resume(scope, body.actor, body.reason, door="http")
        return {**_state_json(scope, entry), "delivery": delivery.to_json()}

    return app


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the risk service's lifecycle owns SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class RiskHttpServer:
    def __init__(self, state: RiskState, host: str, port: int, environ: dict[str, str]) -> None:
        self.token = load_token(environ)
        self.access = http_access(state.desk, environ, legacy_token=self.token)
        self.app = build_app(state, self.token, self.access)
        tls: dict = {}
        if self.access is not None:  # HTTPS with the risk service's own certificate, renewed in place
            tls = https_options(TlsFiles.for_service(state.desk, "risk", environ))
        config = uvicorn.Config(
            self.app, host=host, port=port, log_level="warning", access_log=False, lifespan="off", **tls
        )
        self.server = _Server(config)
        self.address = f"{host}:{port}"
        self._task: asyncio.Task | None = None

    async def start(self) -> bool:
        """Serve in the background; False (logged) when the port cannot be bound: a port in use must not take
        the risk service down, whose gRPC and CLI doors still work."""
        if self.token is None and self.access is None:
            log.warning("risk http: no credential (%s or %s): /v1 answers 503", TOKEN_ENV, TOKEN_FILE_ENV)
        host, port = self.address.rsplit(":", 1)
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, int(port)))
            sock.listen(128)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            log.error("risk http: cannot serve the kill switch on %s: %s", self.address, exc.strerror)
            return False
        self._task = asyncio.create_task(self._serve(sock), name="risk-http")
        for _ in range(500):
            if self.server.started or self._task.done():
                break
            await asyncio.sleep(0.01)
        log.info("risk http: kill switch on http://%s", self.address)
        return self.server.started

    async def _serve(self, sock: socket.socket) -> None:
        try:
            await self.server.serve(sockets=[sock])
        except SystemExit:
            log.error("risk http: the server on %s stopped", self.address)

    async def stop(self) -> None:
        if self._task is None:
            return
        self.server.should_exit = True
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                await self._task
        if self.access is not None:
            self.access.access_log.close()
