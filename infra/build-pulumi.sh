#!/usr/bin/env bash
# Build (or reuse) the Pulumi CLI and its Kubernetes resource provider, for `make infra-up-test`: a real
# `pulumi up` of the stack's Kubernetes part against the local control plane.
#
# Why build from source: there is no download site here, only the Go module proxy. Two things are not served
# as they are and need a step each:
# - The Python language host (pulumi-language-python) is not built here: programs run through the Automation
#   API with an inline program, so the CLI talks to the Python process's own language server.
# - The Kubernetes provider embeds `*-embed.json` files that its own generator writes at build time (they are
#   not in the module zip). The module is copied out of the module cache into a writable directory, its
#   `replace ../sdk` (a path outside the module) is dropped for the published SDK, and the generator runs there.
#
# Layout (each keyed by version, with a stamp; a stamped artefact is reused in well under a second):
#   ~/.cache/tradingdesk/pulumi-$PULUMI_VERSION/bin/pulumi
#   ~/.cache/tradingdesk/pulumi-kubernetes-$K8S_PROVIDER_VERSION/bin/pulumi-resource-kubernetes
#   ~/.cache/tradingdesk/pulumi-kubernetes-$K8S_PROVIDER_VERSION/home   (PULUMI_HOME with the plugin installed)
#
# Usage: infra/build-pulumi.sh           # build what is missing; last lines: PULUMI_ROOT=... and PULUMI_HOME=...
#        infra/build-pulumi.sh --check   # exit 0 when everything is built, 1 otherwise; builds nothing
set -euo pipefail

# ---- pinned versions: change them here, and only here ------------------------------------------------
PULUMI_VERSION="${TD_PULUMI_VERSION:-v3.274.1}"               # github.com/pulumi/pulumi/pkg/v3
K8S_PROVIDER_VERSION="${TD_PULUMI_K8S_VERSION:-4.34.2}"        # the pulumi-kubernetes Python SDK's version
K8S_PROVIDER_MODULE="github.com/pulumi/pulumi-kubernetes/provider/v4"
K8S_PROVIDER_PSEUDO="${TD_PULUMI_K8S_PSEUDO:-v4.0.0-20260115033456-f47bc2d6f199}"   # the module's 4.34.x commit
K8S_SDK_VERSION="v4.24.0"                                      # github.com/pulumi/pulumi-kubernetes/sdk/v4, served
# ------------------------------------------------------------------------------------------------------

ROOT_CACHE="${TD_CACHE:-$HOME/.cache/tradingdesk}"
CLI_CACHE="$ROOT_CACHE/pulumi-$PULUMI_VERSION"
K8S_CACHE="$ROOT_CACHE/pulumi-kubernetes-v$K8S_PROVIDER_VERSION"
CLI="$CLI_CACHE/bin/pulumi"
PROVIDER="$K8S_CACHE/bin/pulumi-resource-kubernetes"
HOME_DIR="$K8S_CACHE/home"
JOBS="${TD_PULUMI_BUILD_P:-2}"

export GOSUMDB="${TD_GOSUMDB:-off}"   # sum.golang.org is not reachable here; go.sum is still written
export GOFLAGS="-mod=mod -buildvcs=false"
export CGO_ENABLED=0
export GOTOOLCHAIN=local

log() { printf '[pulumi %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
stamped() { [[ -x "$1" && -f "$1.version" && "$(cat "$1.version")" == "$2" ]]; }
plugin_installed() { [[ -f "$HOME_DIR/.installed" && "$(cat "$HOME_DIR/.installed")" == "$K8S_PROVIDER_VERSION" ]]; }
report() { echo "PULUMI_ROOT=$CLI_CACHE"; echo "PULUMI_HOME=$HOME_DIR"; }

if [[ "${1:-}" == "--check" ]]; then
  stamped "$CLI" "$PULUMI_VERSION" && stamped "$PROVIDER" "$K8S_PROVIDER_VERSION" && plugin_installed || exit 1
  report; exit 0
fi

# ---- the CLI -----------------------------------------------------------------------------------------
mkdir -p "$CLI_CACHE/bin" "$CLI_CACHE/src"
exec 8>"$CLI_CACHE/.build.lock"
flock 8
if stamped "$CLI" "$PULUMI_VERSION"; then
  log "reusing pulumi $PULUMI_VERSION"
else
  t=$(date +%s)
  W="$CLI_CACHE/src/cli-wrapper"
  mkdir -p "$W"; cd "$W"
  if [[ ! -f go.mod || "$(head -1 go.mod)" != "// pulumi=$PULUMI_VERSION" ]]; then
    printf '// pulumi=%s\nmodule tradingdesk.local/pulumibuild\n\ngo 1.26.0\n' "$PULUMI_VERSION" >go.mod
    rm -f go.sum
    log "resolving github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION"
    go get "github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION" "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION" >&2
    go get "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@$PULUMI_VERSION" >&2
  fi
  log "building pulumi $PULUMI_VERSION (cold: ~5 min on 2 cores)"
  # Without the version stamp the Automation API refuses `destroy` of inline programs.
  go build -p "$JOBS" -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
    -o "$CLI.tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  mv "$CLI.tmp" "$CLI"; echo "$PULUMI_VERSION" >"$CLI.version"
  log "built pulumi in $(( $(date +%s) - t ))s"
fi
exec 8>&-

# ---- the Kubernetes provider -------------------------------------------------------------------------
mkdir -p "$K8S_CACHE/bin" "$K8S_CACHE/src"
exec 9>"$K8S_CACHE/.build.lock"
flock 9
if stamped "$PROVIDER" "$K8S_PROVIDER_VERSION"; then
  log "reusing pulumi-resource-kubernetes $K8S_PROVIDER_VERSION"
else
  t=$(date +%s)
  S="$K8S_CACHE/src/provider"
  if [[ ! -f "$S/.prepared" || "$(cat "$S/.prepared")" != "$K8S_PROVIDER_PSEUDO" ]]; then
    dir=$(cd /tmp && go mod download -json "$K8S_PROVIDER_MODULE@$K8S_PROVIDER_PSEUDO" | sed -n 's/^\s*"Dir": "\(.*\)",\?$/\1/p')
    [[ -d "$dir" ]] || { echo "cannot download $K8S_PROVIDER_MODULE@$K8S_PROVIDER_PSEUDO" >&2; exit 1; }
    rm -rf "$S"; mkdir -p "$S"
    cp -r "$dir/." "$S/"; chmod -R u+w "$S"
    cd "$S"
    go mod edit -dropreplace github.com/pulumi/pulumi-kubernetes/sdk/v4
    go get "github.com/pulumi/pulumi-kubernetes/sdk/v4@$K8S_SDK_VERSION" >&2
    log "generating the provider's embedded schema (cmd/pulumi-resource-kubernetes/generate.go)"
    (cd cmd/pulumi-resource-kubernetes && VERSION="$K8S_PROVIDER_VERSION" go run generate.go >&2)
    echo "$K8S_PROVIDER_PSEUDO" >"$S/.prepared"
  fi
  cd "$S"
  log "building pulumi-resource-kubernetes $K8S_PROVIDER_VERSION (cold: ~8 min on 2 cores)"
  go build -p "$JOBS" -trimpath \
    -ldflags "-s -w -X $K8S_PROVIDER_MODULE/pkg/version.Version=$K8S_PROVIDER_VERSION" \
    -o "$PROVIDER.tmp" ./cmd/pulumi-resource-kubernetes
  mv "$PROVIDER.tmp" "$PROVIDER"; echo "$K8S_PROVIDER_VERSION" >"$PROVIDER.version"
  rm -f "$HOME_DIR/.installed"
  log "built pulumi-resource-kubernetes in $(( $(date +%s) - t ))s"
fi
if ! plugin_installed; then
  mkdir -p "$HOME_DIR"
  PULUMI_HOME="$HOME_DIR" PULUMI_SKIP_UPDATE_CHECK=1 "$CLI" plugin install resource kubernetes "v$K8S_PROVIDER_VERSION" \
    --file "$PROVIDER" >&2
  echo "$K8S_PROVIDER_VERSION" >"$HOME_DIR/.installed"
  log "installed the kubernetes plugin into $HOME_DIR"
fi
report
