"""``python -m tests.podharness --node px-node-1=px --node px-node-2=px --state-dir DIR``: run until SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from kubernetes import client, config

from tests.podharness.kubelet import Kubelet


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m tests.podharness", description=__doc__)
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--state-dir", required=True, type=Path)
    ap.add_argument("--node", action="append", required=True, help="NAME=COLOCATION (repeatable)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = client.Configuration()
    config.load_kube_config(config_file=args.kubeconfig, client_configuration=cfg)
    cfg.connection_pool_maxsize = 32
    nodes = dict(n.split("=", 1) for n in args.node)
    kubelet = Kubelet(client.ApiClient(cfg), nodes, args.state_dir)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    kubelet.start()
    logging.getLogger("podharness").info("nodes %s registered; running pods", ", ".join(nodes))
    stop.wait()
    kubelet.stop()


if __name__ == "__main__":
    main()
