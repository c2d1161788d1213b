"""``python -m deskoperator``: run the operator (all namespaces, or ``--namespace`` ones).

Why not ``kopf run``: the settings (peering, storage, webhook, metrics) belong to the operator, not to each
person's command line; this entry point always starts it the same way, in a pod or on a laptop.
"""

from __future__ import annotations

import logging
import os
import sys

import kopf

from deskoperator import handlers
from deskoperator.config import from_args


class QuietWatchers(logging.Filter):
    """Drop kopf's per-event "Handler 'watch-...' succeeded" lines: one per child change drowns the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno <= logging.INFO and str(record.msg).startswith("Handler 'watch-"))


def main(argv: list[str] | None = None) -> int:
    cfg = from_args(argv)
    logging.basicConfig(
        level=os.environ.get("TD_LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("kopf.objects").addFilter(QuietWatchers())
    if cfg.webhook:
        handlers.enable_webhook()
    kopf.run(
        clusterwide=not cfg.namespaces,
        namespaces=list(cfg.namespaces),
        liveness_endpoint=cfg.liveness or None,
        standalone=not cfg.peering,
        peering_name=cfg.peering_name if cfg.peering else None,
        priority=cfg.priority,
        memo=kopf.Memo(config=cfg),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
