# Local Kubernetes control plane for tests (see tests/cluster/README.md).
# Include from the main Makefile:   include tests/cluster/cluster.mk
#
#   make cluster-build   build or reuse etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
#                        kwok, kwokctl in ~/.cache/tradingdesk/k8s-<version>/bin (cold: ~10+ min)
#   make cluster-up      start the cluster (seconds once built); then: export KUBECONFIG=$(TD_CLUSTER_DIR)/kubeconfig
#   make cluster-down    stop it
#   make cluster-test    run tests/cluster (pytest -m k8s)
#
# cluster-up is a double-colon rule so the main Makefile can add its own steps (install the CRD,
# start the operator) with another `cluster-up::` rule, run after this one.

CLUSTER_DIR_SCRIPTS := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
TD_CLUSTER_DIR ?= $(HOME)/.cache/tradingdesk/cluster
export TD_CLUSTER_DIR
CLUSTER_PYTHON ?= $(if $(wildcard .venv/bin/python),.venv/bin/python,python3)

.PHONY: cluster-build cluster-up cluster-down cluster-test

cluster-build:
	bash $(CLUSTER_DIR_SCRIPTS)/build.sh

cluster-up::
	bash $(CLUSTER_DIR_SCRIPTS)/up.sh

cluster-down:
	bash $(CLUSTER_DIR_SCRIPTS)/down.sh

cluster-test:
	$(CLUSTER_PYTHON) -m pytest -p tests.cluster.conftest_fixture -m k8s $(CLUSTER_DIR_SCRIPTS)
