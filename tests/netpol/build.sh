#!/usr/bin/env bash
# Build (or reuse) netpol-query: cyclonus's NetworkPolicy matcher behind a JSON-in/JSON-out main
# (tests/netpol/analyser/main.go), used to table-test the policies the operator creates.
#
# Why cyclonus: an analyser nobody here wrote, on the Go module proxy (github.com/mattfenwick/cyclonus,
# the engine the Kubernetes SIG Network policy tools grew from). The wrapper module requires it at the
# pinned version with the dependency versions of its own go.mod.
#
# Cached in $TD_NETPOL_CACHE (default ~/.cache/tradingdesk/cyclonus-$VERSION)/bin/netpol-query, stamped
# with the version and a hash of main.go; reused in well under a second. flock: one build at a time.
# Usage: tests/netpol/build.sh [--check]   (last line printed: the binary's path)
set -euo pipefail

VERSION="${TD_CYCLONUS_VERSION:-v0.5.6}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${TD_NETPOL_CACHE:-$HOME/.cache/tradingdesk/cyclonus-$VERSION}"
BIN="$CACHE/bin/netpol-query"
WANT="$VERSION $(sha256sum "$HERE/analyser/main.go" | cut -c1-16)"

export GOSUMDB="${TD_GOSUMDB:-off}" GOFLAGS="-mod=mod -buildvcs=false" GOTOOLCHAIN=local CGO_ENABLED=0

fresh() { [[ -x "$BIN" && -f "$BIN.version" && "$(cat "$BIN.version")" == "$WANT" ]]; }
if [[ "${1:-}" == "--check" ]]; then fresh && echo "$BIN" && exit 0; exit 1; fi
if fresh; then echo "$BIN"; exit 0; fi

mkdir -p "$CACHE/bin" "$CACHE/src"
exec 8>"$CACHE/.build.lock"
flock 8
if fresh; then echo "$BIN"; exit 0; fi   # another caller built it while we waited

T0=$(date +%s)
W="$CACHE/src/wrapper"
rm -rf "$W"; mkdir -p "$W"
cp "$HERE/analyser/main.go" "$W/main.go"
cat >"$W/go.mod" <<MOD
module tradingdesk.local/netpolquery

go 1.22

require github.com/mattfenwick/cyclonus $VERSION
MOD
cd "$W"
go mod tidy >&2
nice -n 10 go build -p 2 -trimpath -ldflags="-s -w" -o "$BIN.tmp" .
mv "$BIN.tmp" "$BIN"
echo "$WANT" >"$BIN.version"
printf '[netpol build] netpol-query (cyclonus %s) built in %ss\n' "$VERSION" "$(( $(date +%s) - T0 ))" >&2
echo "$BIN"
