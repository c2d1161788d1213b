#!/usr/bin/env bash
# Build (or reuse) ghz, the third-party gRPC load tool the unary concurrency benchmark drives the desk with
# (github.com/bojand/ghz, built from the Go module proxy: there is no download site here).
# Cached under ~/.cache/tradingdesk/ghz-<version>/bin with a stamp naming the version; a stamped binary is
# reused as it is. One flock per cache dir, so two callers never build it twice. A cold build takes about a
# minute on two cores; only `make bench` needs it.
#
# Usage: bench/build_ghz.sh     # prints the path of the ghz binary on its last line
set -euo pipefail

GHZ_VERSION="${TD_GHZ_VERSION:-v0.120.0}"
CACHE="${TD_TOOLS_CACHE:-$HOME/.cache/tradingdesk}/ghz-$GHZ_VERSION"
BIN="$CACHE/bin"
export GOSUMDB="${TD_GOSUMDB:-off}"   # only the module proxy is reachable
export GOFLAGS="-mod=mod -buildvcs=false"
export CGO_ENABLED=0
export GOTOOLCHAIN=local

mkdir -p "$BIN"
exec 8>"$CACHE/.build.lock"
flock 8
if [[ -x "$BIN/ghz" && -f "$BIN/.ghz.version" && "$(cat "$BIN/.ghz.version")" == "$GHZ_VERSION" ]]; then
  echo "$BIN/ghz"; exit 0
fi
started=$(date +%s)
GOPATH="$CACHE/gopath" GOBIN="$BIN" nice -n 10 go install "github.com/bojand/ghz/cmd/ghz@$GHZ_VERSION" >&2
printf '%s\n' "$GHZ_VERSION" >"$BIN/.ghz.version"
printf '[build] ghz %s in %ss\n' "$GHZ_VERSION" "$(( $(date +%s) - started ))" >&2
echo "$BIN/ghz"
