#!/usr/bin/env bash
# Stop the local control plane started by up.sh for $TD_CLUSTER_DIR (default
# ~/.cache/tradingdesk/cluster). Only the processes whose pids up.sh recorded in run/*.pid are
# signalled, and only while that pid still runs one of our cached binaries (a recycled pid is left
# alone). TERM first, KILL after 5 s. Certificates stay; the etcd data is removed unless
# TD_CLUSTER_KEEP_DATA=1 (up.sh always starts from an empty etcd anyway).
set -uo pipefail

DIR="${TD_CLUSTER_DIR:-$HOME/.cache/tradingdesk/cluster}"
RUN="$DIR/run"
[[ -d "$RUN" ]] || { echo "[down] nothing to stop in $DIR" >&2; exit 0; }

ours() { # pid -> 0 when pid runs a binary from a tradingdesk k8s cache dir
  local exe
  exe=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
  [[ "$exe" == */tradingdesk/k8s-*/bin/* || "$exe" == "${TD_K8S_CACHE:-/nonexistent}/bin/"* ]]
}

running() { # pid -> 0 while pid exists and is not a zombie
  [[ -r /proc/$1/stat ]] && [[ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]]
}

# The etcd data is thrown away, so there is nothing to flush in order: TERM everything at once
# (sequential graceful stops took ~10 s), give them 5 s, then KILL what is left.
stopped=(); pids=()
for name in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
  f="$RUN/$name.pid"
  [[ -f "$f" ]] || continue
  pid=$(cat "$f")
  if running "$pid" && ours "$pid"; then
    kill -TERM "$pid" 2>/dev/null && { pids+=("$pid"); stopped+=("$name($pid)"); }
  fi
  rm -f "$f"
done
for _ in $(seq 50); do
  left=0
  for pid in "${pids[@]}"; do running "$pid" && left=1; done
  (( left )) || break
  sleep 0.1
done
for pid in "${pids[@]}"; do
  if running "$pid" && ours "$pid"; then kill -KILL "$pid" 2>/dev/null; fi
done
[[ "${TD_CLUSTER_KEEP_DATA:-0}" == 1 ]] || rm -rf "$DIR/etcd"
echo "[down] stopped: ${stopped[*]:-nothing was running} ($DIR)" >&2
