# tradingdesk: `make run` starts the embedded desk, `make test` runs every test. Both set everything up.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Re-install whenever pyproject.toml changes.
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
DESK ?= examples/desk.yaml
PYTEST_ARGS ?=
# gRPC's fork handlers serve a child that goes on using gRPC, and none of ours does (services/tradingdesk/__init__.py
# turns them off on import). Exported for every target as well, so no import order in a test or benchmark process
# can leave them on: with them on, a fork while other threads are inside gRPC can crash the child before its exec.
export GRPC_ENABLE_FORK_SUPPORT := false

.PHONY: run test test-fast bench proto lint format venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -q -e '.[dev,infra]'
	@rm -f $(VENV)/.installed-*
	@touch $@

run: venv
	$(BIN)/tradingdesk up -f $(DESK)

# Everything: unit, integration over real sockets, PostgreSQL, and the Kubernetes end-to-end tests.
test: venv cluster-build helm-build netpol-build monitoring-build browser
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# Without the slow end-to-end tests, for a quick loop while editing.
test-fast: venv
	$(BIN)/python -m pytest -q -m "not slow and not k8s" $(PYTEST_ARGS)

bench: venv
	$(BIN)/python -m bench.run

proto: venv
	$(BIN)/python -m grpc_tools.protoc -Iproto --python_out=services --pyi_out=services \
		--grpc_python_out=services proto/tradingdesk/v1/*.proto

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache

include tests/cluster/cluster.mk
include tests/security/security.mk
include charts/helm.mk
include tests/image/image.mk
include infra/infra.mk
include tests/netpol/netpol.mk
include tests/monitoring/monitoring.mk
include tests/simulate/simulate.mk

# After the control plane is up: the CRD, then the operator in the background against it.
cluster-up:: venv
	KUBECONFIG=$(TD_CLUSTER_DIR)/kubeconfig kubectl apply --server-side --force-conflicts -f charts/tradingdesk-operator/crds/
	@if [ -f $(TD_CLUSTER_DIR)/run/operator.pid ] && kill -0 $$(cat $(TD_CLUSTER_DIR)/run/operator.pid) 2>/dev/null; then \
		echo "operator already running (pid $$(cat $(TD_CLUSTER_DIR)/run/operator.pid))"; \
	else \
		KUBECONFIG=$(TD_CLUSTER_DIR)/kubeconfig setsid nohup $(BIN)/python -m deskoperator \
			--liveness http://127.0.0.1:18080/healthz --metrics-port 18081 \
			>$(TD_CLUSTER_DIR)/logs/operator.log 2>&1 </dev/null & echo $$! >$(TD_CLUSTER_DIR)/run/operator.pid; \
		echo "operator started (pid $$(cat $(TD_CLUSTER_DIR)/run/operator.pid))"; \
	fi
	@echo "operator log: $(TD_CLUSTER_DIR)/logs/operator.log"
	@echo "export KUBECONFIG=$(TD_CLUSTER_DIR)/kubeconfig"

cluster-down: operator-down
operator-down:
	@if [ -f $(TD_CLUSTER_DIR)/run/operator.pid ]; then \
		kill $$(cat $(TD_CLUSTER_DIR)/run/operator.pid) 2>/dev/null || true; rm -f $(TD_CLUSTER_DIR)/run/operator.pid; \
		echo "operator stopped"; fi
.PHONY: operator-down
