"""The live web dashboard: one page, fed by server-sent events with the desk's status as it changes.

``GET /`` is the page (dashboard.html, no build step, no external assets), ``GET /api/status`` the current
status as JSON, ``GET /api/events`` the event stream: the status at once, then each new version of it, with
a comment every ``KEEPALIVE_S`` so proxies keep the connection open. Read-only: nothing here changes the desk.

With the desk's TLS on (``access``), it is served over HTTPS and every route but ``/healthz`` needs an identity
whose roles allow it (``policy.DASHBOARD_HTTP_RULES``: operations, risk officer, auditor): a client certificate
of the desk's CA, an ``Authorization: Bearer`` token, or a browser session. A browser logs in by opening
``/login?token=<token>``: the token is checked like a bearer token, the answer sets the session cookie
(``security.sessions``) and redirects to ``/``. Refusals are 401 (nothing, or a bad credential) or 403 (a
role that may not read the dashboard) with the reason in ``detail``, recorded in the access log.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from importlib import resources
from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from google.protobuf.json_format import MessageToDict

from tradingdesk.edge.http import client_certificate
from tradingdesk.monitoring.collector import DeskCollector
from tradingdesk.security.http import HttpAccess, HttpDenied
from tradingdesk.security.identity import Identity
from tradingdesk.security.sessions import COOKIE, Sessions
from tradingdesk.v1 import monitoring_pb2

KEEPALIVE_S = 15.0


def status_json(status: monitoring_pb2.DeskStatus) -> dict:
    return MessageToDict(status, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


def build_app(collector: DeskCollector, access: HttpAccess | None = None) -> FastAPI:
    """The dashboard; with ``access`` every route but ``/healthz`` is checked (see the module doc)."""
    app = FastAPI(title=f"tradingdesk {collector.desk.name}", docs_url=None, redoc_url=None, openapi_url=None)
    page = resources.files("tradingdesk.monitoring").joinpath("dashboard.html").read_text(encoding="utf-8")
    sessions = Sessions()

    async def admit(request: Request, authorization: str | None) -> Identity | None:
        if access is None:
            return None
        peer = f"{request.client.host}:{request.client.port}" if request.client else ""
        certificate = client_certificate(request.scope)
        session = sessions.identity(request.cookies.get(COOKIE))
        try:
            return await access.admit(
                request.method, request.url.path, authorization, peer, certificate=certificate, session=session
            )
        except HttpDenied as denied:
            headers = {"WWW-Authenticate": "Bearer"} if denied.status == 401 else None
            raise HTTPException(denied.status, denied.message, headers=headers) from None

    async def checked(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
        await admit(request, authorization)

    @app.get("/login")
    async def login(request: Request, token: str = "") -> RedirectResponse:
        """Check ``token`` (or the client certificate) and open a session for the browser."""
        identity = await admit(request, f"Bearer {token}" if token else None)
        response = RedirectResponse("/", status_code=303)
        if identity is not None and identity.via != "certificate":
            response.headers["Set-Cookie"] = sessions.cookie(sessions.open(identity))
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/", response_class=HTMLResponse, dependencies=[Depends(checked)])
    async def index() -> str:
        return page

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/api/status", dependencies=[Depends(checked)])
    async def status() -> JSONResponse:
        return JSONResponse(status_json(collector.status))

    @app.get("/api/events", dependencies=[Depends(checked)])
    async def events(request: Request) -> StreamingResponse:
        async def stream() -> AsyncIterator[str]:
            seen = collector.version
            yield f"event: status\ndata: {json.dumps(status_json(collector.status))}\n\n"
            while not await request.is_disconnected():
                try:
                    async with asyncio.timeout(KEEPALIVE_S):
                        seen = await collector.wait_change(seen)
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                yield f"event: status\ndata: {json.dumps(status_json(collector.status))}\n\n"

        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    return app
