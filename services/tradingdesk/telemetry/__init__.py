"""Metrics, traces and logs of the desk's services: OpenTelemetry inside, Prometheus /metrics and OTLP outside.

``start_telemetry`` (setup.py) sets a process up; ``rpc.py`` holds the gRPC RED interceptors, ``logs.py`` the
JSON log format and secret redaction. Services record through the OpenTelemetry API only.
"""

from tradingdesk.telemetry.setup import Telemetry, client_interceptors, start_telemetry, tracer

__all__ = ["Telemetry", "client_interceptors", "start_telemetry", "tracer"]
