# The project's one image (Dockerfile at the top of the repository). Include from the main Makefile.
#
#   make image         build it with the first builder that works here: docker (with a running daemon),
#                      podman or buildah; IMAGE=registry/name:tag to name it (default: the chart's image)
#   make image-test    what can be checked without a builder (tests/image/test_image.py; part of `make test`)

IMAGE_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
IMAGE ?= ghcr.io/tradingdesk/tradingdesk:$(IMAGE_VERSION)

.PHONY: image image-test

image:
	@if docker info >/dev/null 2>&1; then set -x; docker build -t $(IMAGE) .; \
	elif podman info >/dev/null 2>&1; then set -x; podman build -t $(IMAGE) .; \
	elif buildah version >/dev/null 2>&1; then set -x; buildah build -t $(IMAGE) .; \
	else echo "make image: no image builder works on this machine (tried: docker with a running daemon, podman, buildah)." >&2; \
	     echo "Install one, or run 'make image-test' for the checks that need none." >&2; exit 1; fi

image-test: venv
	$(BIN)/python -m pytest -q tests/image $(PYTEST_ARGS)
