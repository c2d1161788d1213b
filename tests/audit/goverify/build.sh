#!/usr/bin/env bash
# Build (or reuse) goverify: tradingdesk's audit log checked with golang.org/x/mod/sumdb/{note,tlog}.
# Cached under ~/.cache/tradingdesk/goverify-<x/mod version>-<hash of main.go>/, one build at a time (flock);
# a cached binary is reused in well under a second. Prints the binary's path on the last line.
set -euo pipefail
XMOD_VERSION="${TD_XMOD_VERSION:-v0.42.0}"   # golang.org/x/mod
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SUM=$(sha256sum "$HERE/main.go" | cut -c1-12)
CACHE="${TD_GOVERIFY_CACHE:-$HOME/.cache/tradingdesk/goverify-$XMOD_VERSION-$SUM}"
BIN="$CACHE/goverify"
if [[ -x "$BIN" ]]; then echo "$BIN"; exit 0; fi
mkdir -p "$CACHE"
exec 8>"$CACHE/.build.lock"
flock 8
if [[ -x "$BIN" ]]; then echo "$BIN"; exit 0; fi
export GOSUMDB=off GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
SRC="$CACHE/src"
mkdir -p "$SRC"
cp "$HERE/main.go" "$SRC/main.go"
printf 'module tradingdesk.local/goverify\n\ngo 1.22\n\nrequire golang.org/x/mod %s\n' "$XMOD_VERSION" >"$SRC/go.mod"
T0=$(date +%s)
(cd "$SRC" && nice -n 10 go build -trimpath -o "$BIN.tmp" .)
mv "$BIN.tmp" "$BIN"
echo "[goverify] built with golang.org/x/mod $XMOD_VERSION in $(( $(date +%s) - T0 ))s" >&2
echo "$BIN"
