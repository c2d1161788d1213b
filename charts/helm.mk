# helm, built from the Go module proxy and cached by version (charts/build-helm.sh). Include from the Makefile.
#
#   make helm-build   build or reuse helm in ~/.cache/tradingdesk/helm-<version>/bin (cold: minutes; then <1 s)
#   make chart-test   the chart's tests: lint, template, schema, RBAC, and install into the local control plane

HELM_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

.PHONY: helm-build chart-test

helm-build:
	nice -n 10 bash $(HELM_DIR)/build-helm.sh

chart-test: venv helm-build cluster-build
	$(BIN)/python -m pytest -q tests/chart $(PYTEST_ARGS)
