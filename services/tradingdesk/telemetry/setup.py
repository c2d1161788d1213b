"""Telemetry of one service process: the OpenTelemetry providers, /metrics, OTLP traces, and the gRPC interceptors.

``start_telemetry`` runs once per process, before the service is built (``tradingdesk serve`` calls it), and
sets the global OpenTelemetry providers, so every module records through ``opentelemetry.metrics.get_meter``
and ``opentelemetry.trace.get_tracer`` without being handed anything. A service built without it (unit tests,
benchmarks of the domain) records into OpenTelemetry's no-op providers.

Metrics: a ``MeterProvider`` whose reader is the Prometheus exporter; prometheus_client's text format is served
from threads of its own (a scrape never runs on the service's event loop), over HTTPS to callers allowed to read
it when the desk's TLS is on (``metrics_http``). Traces, when ``spec.monitoring
.otlpEndpoint`` is set: a ``TracerProvider`` with a batching OTLP/gRPC exporter, spans around every gRPC call
(opentelemetry-instrumentation-grpc) and W3C trace context propagated on every outgoing call.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import grpc
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, MeterProvider
from opentelemetry.sdk.resources import Resource
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector

from tradingdesk.security.accesslog import AccessLog
from tradingdesk.security.http import http_access
from tradingdesk.security.policy import METRICS_HTTP_RULES
from tradingdesk.security.tls import TlsFiles
from tradingdesk.spec.model import TradingDesk
from tradingdesk.telemetry.metrics_http import serve_metrics
from tradingdesk.telemetry.rpc import ServerMetricsInterceptor, client_metrics_interceptors

log = logging.getLogger(__name__)

METER_NAME = "tradingdesk"
# Health checks and reflection are the platform's, not the desk's: no spans for them (they would drown traces).
UNTRACED_SERVICES = ("grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection")


def _version() -> str:
    try:
        return metadata.version("tradingdesk")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        return "0"


def resource_of(desk: TradingDesk, service: str, environ: Mapping[str, str]) -> Resource:
    """Who is reporting: the desk is the namespace, the pod (or host and pid) the instance."""
    instance = environ.get("POD_NAME") or f"{socket.gethostname()}-{os.getpid()}"
    return Resource.create(
        {
            "service.name": f"tradingdesk-{service}",
            "service.namespace": desk.name,
            "service.instance.id": instance,
            "service.version": _version(),
        }
    )


def metrics_bind(desk: TradingDesk, service: str, environ: Mapping[str, str]) -> str | None:
    """Where this service serves /metrics: ``TD_METRICS_BIND`` (a pod: ``0.0.0.0:<metricsPort>``), else its host
    and its embedded port (metricsPort + its offset); None when metrics are off."""
    if not desk.spec.monitoring.metrics_port:
        return None
    if environ.get("TD_METRICS_BIND"):
        return environ["TD_METRICS_BIND"]
    host = getattr(desk.spec.services, service).host
    return f"{host}:{desk.spec.monitoring.metrics_ports()[service]}"


def metrics_url(desk: TradingDesk, service: str, directory: Any, environ: Mapping[str, str]) -> str | None:
    """The /metrics URL of another service of the desk, found like its gRPC address (``directory``): in a pod
    (``TD_METRICS_BIND`` set) every service uses metricsPort; embedded, each its own offset from it."""
    if not desk.spec.monitoring.metrics_port:
        return None
    host = directory.address(service).rsplit(":", 1)[0]
    in_pod = bool(environ.get("TD_METRICS_BIND"))
    port = desk.spec.monitoring.metrics_port if in_pod else desk.spec.monitoring.metrics_ports()[service]
    return f"{'https' if desk.spec.access.tls else 'http'}://{host}:{port}/metrics"


@dataclass
class Telemetry:
    """What ``start_telemetry`` set up, for the server (interceptors) and for shutdown."""

    service: str
    server_interceptors: list[grpc.aio.ServerInterceptor] = field(default_factory=list)
    client_interceptors: list[grpc.aio.ClientInterceptor] = field(default_factory=list)
    metrics_address: str | None = None
    meter_provider: MeterProvider | None = None
    tracer_provider: Any = None
    registry: CollectorRegistry | None = None
    access_log: AccessLog | None = None
    """Refused scrapes (TLS on): the service forwards them to the desk's audit trail like its RPCs'."""
    _http: Any = None
    _listen: Any = None

    def serve_metrics(self) -> None:
        """Serve /metrics now, if metrics are on and it is not served yet."""
        listen, self._listen = self._listen, None
        if listen is not None:
            listen()

    def shutdown(self) -> None:
        """Flush spans still buffered, then stop /metrics."""
        if self.tracer_provider is not None:
            self.tracer_provider.shutdown()
        if self.meter_provider is not None:
            self.meter_provider.shutdown()
        if self._http is not None:
            server, thread = self._http
            server.shutdown()
            server.server_close()
            thread.join(2)
        if self.access_log is not None:
            self.access_log.close()


_current: Telemetry | None = None


def tracer(name: str) -> trace.Tracer | None:
    """This process's tracer for spans of its own making (the order path), or None while traces are off, so a
    hot path skips even a no-op span."""
    provider = _current.tracer_provider if _current is not None else None
    return None if provider is None else provider.get_tracer(name)


def metrics_registry() -> CollectorRegistry | None:
    """The Prometheus registry this process's /metrics serves (None before ``start_telemetry`` or with metrics
    off), for the hot-path histograms that live beside the OpenTelemetry exporter (histogram.py)."""
    return _current.registry if _current is not None else None


def client_interceptors() -> list[grpc.aio.ClientInterceptor]:
    """The interceptors every outgoing channel of this process carries (none before ``start_telemetry``)."""
    return list(_current.client_interceptors) if _current is not None else []


def start_telemetry(
    desk: TradingDesk, service: str, environ: Mapping[str, str] | None = None, *, metrics_now: bool = True
) -> Telemetry:
    """Set up metrics (and traces when an OTLP endpoint is configured) for this process; see the module doc.
    Without ``metrics_now``, /metrics is served once ``serve_metrics`` is called: a standby of the embedded desk
    serves it on its service's metrics port only once it is the active replica (``runtime/service.py``)."""
    global _current
    env = os.environ if environ is None else environ
    resource = resource_of(desk, service, env)
    telemetry = Telemetry(service)
    bind = metrics_bind(desk, service, env)
    if bind is not None:
        telemetry.registry = registry = CollectorRegistry(auto_describe=True)
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=registry)
        from opentelemetry.exporter.prometheus import PrometheusMetricReader

        reader = PrometheusMetricReader(scope_info_enabled=False, registry=registry)
        # No exemplars: the Prometheus text format does not carry them, and sampling one for every record
        # doubles what a histogram record costs on the order path.
        telemetry.meter_provider = MeterProvider(
            resource=resource, metric_readers=[reader], exemplar_filter=AlwaysOffExemplarFilter()
        )
        metrics.set_meter_provider(telemetry.meter_provider)
        host, _, port = bind.rpartition(":")
        access = http_access(desk, env, door=f"{service}-metrics", rules=METRICS_HTTP_RULES)
        tls = TlsFiles.for_service(desk, service, env) if access is not None else None
        telemetry.access_log = access.access_log if access is not None else None

        def listen() -> None:
            try:
                telemetry._http = serve_metrics(
                    registry, host.strip("[]") or "0.0.0.0", int(port), tls=tls, access=access
                )
                telemetry.metrics_address = bind
                log.info("%s: Prometheus metrics on %s://%s/metrics", service, "https" if tls else "http", bind)
            except OSError as exc:  # trading goes on; Prometheus sees the target down and alerts (ServiceDown)
                log.error("%s: cannot serve /metrics on %s: %s", service, bind, exc)

        telemetry._listen = listen
        if metrics_now:
            telemetry.serve_metrics()
        meter = metrics.get_meter(METER_NAME)
        telemetry.server_interceptors.append(ServerMetricsInterceptor(meter, registry))
        telemetry.client_interceptors.extend(client_metrics_interceptors(meter, registry))
    endpoint = desk.spec.monitoring.otlp_endpoint
    if endpoint:
        _start_tracing(telemetry, resource, endpoint, desk.spec.monitoring.trace_sample_percent)
    _current = telemetry
    return telemetry


def _start_tracing(telemetry: Telemetry, resource: Resource, endpoint: str, sample_percent: int) -> None:
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.grpc import aio_client_interceptors, aio_server_interceptor, filters
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    provider = TracerProvider(resource=resource, sampler=ParentBased(TraceIdRatioBased(sample_percent / 100)))
    target = endpoint.removeprefix("http://").removeprefix("https://").rstrip("/")
    exporter = OTLPSpanExporter(endpoint=target, insecure=not endpoint.startswith("https://"))
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=500))
    trace.set_tracer_provider(provider)
    telemetry.tracer_provider = provider
    untraced = filters.negate(filters.any_of(*(filters.service_name(s) for s in UNTRACED_SERVICES)))
    # After the metrics interceptor, which caches each method's wrapped handler: the chain is then built once
    # per method, and the span still opens on every call (inside the wrapped behaviour).
    telemetry.server_interceptors.append(aio_server_interceptor(tracer_provider=provider, filter_=untraced))
    telemetry.client_interceptors.extend(aio_client_interceptors(tracer_provider=provider, filter_=untraced))
    log.info("traces go to %s over OTLP/gRPC (%d%% of new traces sampled)", target, sample_percent)
