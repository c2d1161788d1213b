# Prometheus, Alertmanager and Jaeger for the monitoring tests and `make monitoring-up`.
# Include from the main Makefile:   include tests/monitoring/monitoring.mk
#
#   make monitoring-build   build or reuse prometheus, promtool, alertmanager and amtool (and fetch the Prometheus
#                           Operator's CRDs) in ~/.cache/tradingdesk/<tool>-<version>/bin (part of `make test`)
#   make jaeger-build       the same for jaeger; make test-traces runs the trace test with it
#   make monitoring-up      the embedded desk ($(DESK)) with Prometheus and Alertmanager beside it
#   make browser            Debian's chromium and chromedriver for the dashboard test (apt, once)

MONITORING_SCRIPTS := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
MONITORING_PATH = $(shell bash $(MONITORING_SCRIPTS)/build.sh --bin prometheus):$(shell bash $(MONITORING_SCRIPTS)/build.sh --bin alertmanager)

.PHONY: monitoring-build monitoring-up browser

monitoring-build:
	nice -n 10 bash $(MONITORING_SCRIPTS)/build.sh prometheus alertmanager prometheus-operator

monitoring-up: venv
	@bash $(MONITORING_SCRIPTS)/build.sh --check prometheus alertmanager >/dev/null \
		|| { echo "Prometheus and Alertmanager are not built yet: run make monitoring-build"; exit 1; }
	PATH="$(MONITORING_PATH):$$PATH" $(BIN)/tradingdesk up -f $(DESK) --monitoring

browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null \
		|| { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }

# Jaeger (the trace backend of tests/monitoring/test_traces.py) takes about half an hour to build cold on two
# cores, too long for `make test`'s budget: it has its own targets, and that test is skipped until it is built.
.PHONY: jaeger-build test-traces
jaeger-build:
	nice -n 10 bash $(MONITORING_SCRIPTS)/build.sh jaeger

test-traces: venv jaeger-build
	$(BIN)/python -m pytest -q tests/monitoring/test_traces.py
