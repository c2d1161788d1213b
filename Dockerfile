# syntax=docker/dockerfile:1
# The project's one image: the five services (`tradingdesk serve <service>`), the embedded desk
# (`tradingdesk up`) and the operator (`python -m deskoperator`). Build it with `make image`.
#
# Stage 1 installs the package and its runtime dependencies (no dev extras) into a virtual environment;
# stage 2 copies only that environment onto a fresh slim Python: no pip cache, no sources, no build tools.
# Runs as the non-root user 10001 (what the chart's and the operator's pod specs set) and works on a read-only
# root filesystem: bytecode is compiled here, and Python never writes it at run time.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
# A compiler and OpenSSL's headers for the audit log's C loop (services/tradingdesk/audit/_native.c), this stage
# only: the final image has the built module and the libcrypto the slim image already ships for Python's ssl.
RUN apt-get update \
 && apt-get install --yes --no-install-recommends gcc libc6-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/tradingdesk
ENV PATH=/opt/tradingdesk/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY services/ services/
COPY operator/ operator/
# tests/image/test_image.py replays this exact pip install in a fresh venv (no builder runs in CI).
RUN pip install --no-compile .
RUN pip uninstall --yes pip setuptools wheel \
 && python -m compileall -q -j 0 /opt/tradingdesk/lib

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="tradingdesk" \
      org.opencontainers.image.description="Kubernetes-native trading desk: services, embedded runtime and operator" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 tradingdesk \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/tradingdesk --no-create-home \
      --shell /usr/sbin/nologin tradingdesk \
 && install -d -o 10001 -g 10001 /var/lib/tradingdesk
COPY --from=build /opt/tradingdesk /opt/tradingdesk
ENV PATH=/opt/tradingdesk/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /var/lib/tradingdesk
# gRPC health of the service on TD_BIND's port, or the operator's liveness endpoint (see the module's docstring).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-m", "tradingdesk.runtime.healthcheck"]
ENTRYPOINT []
CMD ["tradingdesk", "--help"]
