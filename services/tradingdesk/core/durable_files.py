"""Making a file's name durable: what the audit spool and the journal's outage spool both need after they create,
rename or remove a file (an fsync of the file itself does not cover its directory entry)."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(directory: Path) -> None:
    """fsync ``directory``, so that files created, renamed or removed in it stay so after a crash."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
