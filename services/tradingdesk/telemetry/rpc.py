"""RED metrics of every gRPC call, server and client side, as interceptors at the gRPC edge.

Names and labels are those of go-grpc-prometheus, which SREs already chart and alert on:
``grpc_server_started_total``, ``grpc_server_handled_total`` (by ``grpc_code``), ``grpc_server_handling_seconds``
(a histogram), ``grpc_server_msg_received_total`` and ``grpc_server_msg_sent_total``, and the same with
``client``. Labels: ``grpc_type`` (unary, client_stream, server_stream, bidi_stream), ``grpc_service``,
``grpc_method``, ``grpc_code``; all bounded (methods come from the proto files, codes from gRPC).

The server interceptor wraps each method's handler once and reuses it: the per-call cost is the wrapper
itself, a clock read, two dict increments (the counts, observed at scrape time) and one record on a
``LatencyHistogram`` series bound to the method (histogram.py: the SDK's record costs ten times as much).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import grpc
from opentelemetry.metrics import CallbackOptions, Meter, Observation
from prometheus_client import CollectorRegistry

from tradingdesk.spec.monitoring import LATENCY_BUCKETS_S
from tradingdesk.telemetry.histogram import Series, latency_histogram

_OK = grpc.StatusCode.OK


def _split(full_method: str) -> tuple[str, str]:
    """``/tradingdesk.v1.OrderService/SubmitOrder`` -> (``tradingdesk.v1.OrderService``, ``SubmitOrder``)."""
    service, _, method = full_method.lstrip("/").rpartition("/")
    return service, method


def _rpc_type(request_streaming: bool, response_streaming: bool) -> str:
    if request_streaming and response_streaming:
        return "bidi_stream"
    if request_streaming:
        return "client_stream"
    if response_streaming:
        return "server_stream"
    return "unary"


class RpcInstruments:
    """The instruments of one side (``server`` or ``client``).

    The counts are plain ints per attribute set, read by observable counters when /metrics is scraped: an
    OpenTelemetry SDK ``Counter.add`` costs several microseconds of Python per call, a dict increment a tenth
    of one. The duration is a ``LatencyHistogram`` in the process's Prometheus registry (None: not exported).
    """

    def __init__(self, meter: Meter, side: str, registry: CollectorRegistry | None) -> None:
        self._started: dict[tuple[str, ...], int] = {}
        self._handled: dict[tuple[str, ...], int] = {}
        self._received: dict[tuple[str, ...], int] = {}
        self._sent: dict[tuple[str, ...], int] = {}
        self._labels: dict[tuple[str, ...], dict[str, str]] = {}
        for name, counts, text in (
            (f"grpc_{side}_started", self._started, f"RPCs started on the {side}."),
            (f"grpc_{side}_handled", self._handled, f"RPCs completed on the {side}, by status code."),
            (f"grpc_{side}_msg_received", self._received, f"Stream messages received on the {side}."),
            (f"grpc_{side}_msg_sent", self._sent, f"Stream messages sent on the {side}."),
        ):
            meter.create_observable_counter(name, [self._observe(counts)], description=text)
        self.duration = latency_histogram(
            registry,
            f"grpc_{side}_handling_seconds",
            description=f"Time from the start of an RPC to its status, on the {side}.",
            buckets=LATENCY_BUCKETS_S,
            label_names=("grpc_type", "grpc_service", "grpc_method"),
        )
        self._durations: dict[tuple[str, ...], Series] = {}

    def _observe(self, counts: dict[tuple[str, ...], int]) -> Callable[[CallbackOptions], Iterable[Observation]]:
        labels = self._labels

        def callback(_: CallbackOptions) -> Iterable[Observation]:
            return [Observation(value, labels[key]) for key, value in list(counts.items())]

        return callback

    def key(self, full_method: str, rpc_type: str) -> tuple[str, ...]:
        """The attribute set of a method, registered once; the returned key is what the hot path passes."""
        service, method = _split(full_method)
        key = (rpc_type, service, method)
        if key not in self._labels:
            self._labels[key] = {"grpc_type": rpc_type, "grpc_service": service, "grpc_method": method}
            self._durations[key] = self.duration.series(*key)
        return key

    def started(self, key: tuple[str, ...]) -> None:
        self._started[key] = self._started.get(key, 0) + 1

    def received(self, key: tuple[str, ...]) -> None:
        self._received[key] = self._received.get(key, 0) + 1

    def sent(self, key: tuple[str, ...]) -> None:
        self._sent[key] = self._sent.get(key, 0) + 1

    def finished(self, key: tuple[str, ...], code: grpc.StatusCode, started_at: float) -> None:
        coded = (*key, code.name)
        if coded not in self._labels:
            self._labels[coded] = {**self._labels[key], "grpc_code": code.name}
        self._handled[coded] = self._handled.get(coded, 0) + 1
        self._durations[key].record(time.perf_counter() - started_at)


def _server_code(context: grpc.aio.ServicerContext, exc: BaseException | None) -> grpc.StatusCode:
    """The status the call ends with: what the servicer set or aborted with; UNKNOWN for an unexpected error."""
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    if isinstance(code, int):  # some grpc versions keep the numeric value
        return next((c for c in grpc.StatusCode if c.value[0] == code), grpc.StatusCode.UNKNOWN)
    if exc is None:
        return _OK
    if isinstance(exc, asyncio.CancelledError):
        return grpc.StatusCode.CANCELLED
    return grpc.StatusCode.UNKNOWN


class ServerMetricsInterceptor(grpc.aio.ServerInterceptor):
    """Counts, times and classifies every call this server handles."""

    def __init__(self, meter: Meter, registry: CollectorRegistry | None) -> None:
        self.metrics = RpcInstruments(meter, "server", registry)
        self._handlers: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], Any], handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        # The interceptors after this one are asked on every call: their answer can change (a standby refuses
        # until it is the active replica). One wrapper per method while the handler stays the same.
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        cached = self._handlers.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap(method, handler)
        self._handlers[method] = (handler, wrapped)
        return wrapped

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        rpc_type = _rpc_type(handler.request_streaming, handler.response_streaming)
        attrs = self.metrics.key(method, rpc_type)
        behavior = handler.unary_unary or handler.unary_stream or handler.stream_unary or handler.stream_stream
        wrapped = self._wrap_behavior(behavior, attrs, request_streaming=handler.request_streaming)
        factory = {
            "unary": grpc.unary_unary_rpc_method_handler,
            "server_stream": grpc.unary_stream_rpc_method_handler,
            "client_stream": grpc.stream_unary_rpc_method_handler,
            "bidi_stream": grpc.stream_stream_rpc_method_handler,
        }[rpc_type]
        return factory(
            wrapped, request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer
        )

    def _wrap_behavior(self, behavior: Callable, attrs: tuple[str, ...], *, request_streaming: bool) -> Callable:
        m = self.metrics
        received = m.received

        def requests_of(request: Any) -> Any:
            if not request_streaming:
                return request

            async def counted() -> AsyncIterator[Any]:
                async for item in request:
                    received(attrs)
                    yield item

            return counted()

        if inspect.isasyncgenfunction(behavior):
            sent = m.sent

            async def streaming(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                m.started(attrs)
                started_at = time.perf_counter()
                failure: BaseException | None = None
                try:
                    async for response in behavior(requests_of(request), context):
                        sent(attrs)
                        yield response
                except BaseException as exc:
                    failure = exc
                    raise
                finally:
                    m.finished(attrs, _server_code(context, failure), started_at)

            return streaming

        async def single(request: Any, context: grpc.aio.ServicerContext) -> Any:
            m.started(attrs)
            started_at = time.perf_counter()
            failure: BaseException | None = None
            try:
                return await behavior(requests_of(request), context)
            except BaseException as exc:
                failure = exc
                raise
            finally:
                m.finished(attrs, _server_code(context, failure), started_at)

        return single


class _ClientBase:
    def __init__(self, metrics: RpcInstruments, rpc_type: str) -> None:
        self.metrics = metrics
        self.rpc_type = rpc_type
        self._keys: dict[str, tuple[str, ...]] = {}

    def _start(self, details: grpc.aio.ClientCallDetails) -> tuple[tuple[str, ...], float]:
        method = details.method.decode() if isinstance(details.method, bytes) else details.method
        key = self._keys.get(method)
        if key is None:
            key = self._keys[method] = self.metrics.key(method, self.rpc_type)
        self.metrics.started(key)
        return key, time.perf_counter()

    def _finish_later(self, call: grpc.aio.Call, attrs: tuple[str, ...], started_at: float) -> None:
        """Record the outcome of a streaming call when it ends, without holding up its messages."""

        async def finish() -> None:
            self.metrics.finished(attrs, await call.code(), started_at)

        task = asyncio.ensure_future(finish())
        _pending.add(task)
        task.add_done_callback(_pending.discard)


_pending: set[asyncio.Future[None]] = set()


class _UnaryUnary(_ClientBase, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation, client_call_details, request):
        attrs, started_at = self._start(client_call_details)
        call = await continuation(client_call_details, request)
        self.metrics.finished(attrs, await call.code(), started_at)
        return call


class _UnaryStream(_ClientBase, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation, client_call_details, request):
        attrs, started_at = self._start(client_call_details)
        call = await continuation(client_call_details, request)
        self._finish_later(call, attrs, started_at)
        return call


class _StreamUnary(_ClientBase, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation, client_call_details, request_iterator):
        attrs, started_at = self._start(client_call_details)
        call = await continuation(client_call_details, request_iterator)
        self._finish_later(call, attrs, started_at)
        return call


class _StreamStream(_ClientBase, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation, client_call_details, request_iterator):
        attrs, started_at = self._start(client_call_details)
        call = await continuation(client_call_details, request_iterator)
        self._finish_later(call, attrs, started_at)
        return call


def client_metrics_interceptors(meter: Meter, registry: CollectorRegistry | None) -> list[grpc.aio.ClientInterceptor]:
    """One interceptor per call shape (grpc.aio dispatches on the interceptor's class), sharing instruments."""
    metrics = RpcInstruments(meter, "client", registry)
    return [
        _UnaryUnary(metrics, "unary"),
        _UnaryStream(metrics, "server_stream"),
        _StreamUnary(metrics, "client_stream"),
        _StreamStream(metrics, "bidi_stream"),
    ]
