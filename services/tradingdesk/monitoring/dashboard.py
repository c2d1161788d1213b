"""The live web dashboard: one page, fed by server-sent events with the desk's status as it changes.

``GET /`` is the page (dashboard.html, no build step, no external assets), ``GET /api/status`` the current
status as JSON, ``GET /api/events`` the event stream: the status at once, then each new version of it, with
a comment every ``KEEPALIVE_S`` so proxies keep the connection open. Read-only: nothing here changes the desk.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from google.protobuf.json_format import MessageToDict

from tradingdesk.monitoring.collector import DeskCollector
from tradingdesk.v1 import monitoring_pb2

KEEPALIVE_S = 15.0


def status_json(status: monitoring_pb2.DeskStatus) -> dict:
    return MessageToDict(status, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


def build_app(collector: DeskCollector) -> FastAPI:
    app = FastAPI(title=f"tradingdesk {collector.desk.name}", docs_url=None, redoc_url=None, openapi_url=None)
    page = resources.files("tradingdesk.monitoring").joinpath("dashboard.html").read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse)
    async def index() -> str:
        return page

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/api/status")
    async def status() -> JSONResponse:
        return JSONResponse(status_json(collector.status))

    @app.get("/api/events")
    async def events(request: Request) -> StreamingResponse:
        async def stream() -> AsyncIterator[str]:
            seen = collector.version
            yield f"event: status\ndata: {json.dumps(status_json(collector.status))}\n\n"
            while not await request.is_disconnected():
                try:
                    seen = await asyncio.wait_for(collector.wait_change(seen), KEEPALIVE_S)
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                yield f"event: status\ndata: {json.dumps(status_json(collector.status))}\n\n"

        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    return app
