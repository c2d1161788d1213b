# The Pulumi program (infra/). Include from the main Makefile.
#
#   `make test` runs its tests under Pulumi's mocks (tests/infra: configuration, plan, every invariant, policy).
#   make pulumi-build    build or reuse the Pulumi CLI and its Kubernetes provider (infra/build-pulumi.sh;
#                        cold: ~5 + ~8 min on 2 cores, so not part of `make test`)
#   make infra-up-test   a real `pulumi up` and `pulumi destroy` of the stack's Kubernetes part (namespaces,
#                        the operator chart as a Helm release, a desk) against the local control plane

INFRA_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

.PHONY: pulumi-build infra-up-test

pulumi-build:
	nice -n 10 bash $(INFRA_DIR)/build-pulumi.sh

infra-up-test: venv pulumi-build cluster-build
	$(BIN)/python -m pytest -q -p tests.cluster.conftest_fixture $(INFRA_DIR)/e2e $(PYTEST_ARGS)
