"""Where the checkpoint signing key comes from.

- Kubernetes: a Secret mounted into the compliance pod; ``TD_AUDIT_SIGNING_KEY_FILE`` names the file (the
  operator sets it). The platform team creates the Secret with ``tradingdesk audit keygen``; the private key
  never leaves it.
- Embedded: generated on first start into ``<dataDir>/<desk>/audit-keys/signing.key`` (mode 0600), with the
  public key beside it in ``signing.pub`` for auditors.

The key's name is the log's origin (the first line of every checkpoint), ``tradingdesk.io/audit/<desk>`` when
generated here.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from tradingdesk.audit.checkpoint import CheckpointError, SignerKey

KEY_FILE_ENV = "TD_AUDIT_SIGNING_KEY_FILE"
KEY_DIR = "audit-keys"


class SigningKeyUnavailable(RuntimeError):
    """No key to sign with: the log keeps recording into the spool but seals nothing until there is one."""


def default_key_name(desk_name: str) -> str:
    return f"tradingdesk.io/audit/{desk_name}"


def write_key_pair(directory: Path, key: SignerKey) -> tuple[Path, Path]:
    """``signing.key`` (0600, created exclusively: an existing key is never overwritten) and ``signing.pub``."""
    directory.mkdir(parents=True, exist_ok=True)
    private, public = directory / "signing.key", directory / "signing.pub"
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"{key}\n")
        f.flush()
        os.fsync(f.fileno())
    public.write_text(f"{key.verifier()}\n")
    return private, public


def load_signer(*, desk_name: str, data_dir: Path, environ: dict[str, str] | None = None) -> SignerKey:
    """The signing key: from the mounted Secret when ``TD_AUDIT_SIGNING_KEY_FILE`` is set, else the data dir's
    (generated on first use). Raises ``SigningKeyUnavailable`` saying what is missing."""
    env = os.environ if environ is None else environ
    mounted = env.get(KEY_FILE_ENV)
    if mounted:
        path = Path(mounted)
        try:
            return SignerKey.parse(path.read_text())
        except FileNotFoundError:
            raise SigningKeyUnavailable(f"no signing key at {path} (the Secret is not mounted yet?)") from None
        except (OSError, CheckpointError) as exc:
            raise SigningKeyUnavailable(f"signing key {path}: {exc}") from None
    directory = data_dir / KEY_DIR
    private = directory / "signing.key"
    if not private.exists():
        with contextlib.suppress(FileExistsError):  # another process made it first: read theirs
            write_key_pair(directory, SignerKey.generate(default_key_name(desk_name)))
    try:
        return SignerKey.parse(private.read_text())
    except (OSError, CheckpointError) as exc:
        raise SigningKeyUnavailable(f"signing key {private}: {exc}") from None


__all__ = ["KEY_FILE_ENV", "SigningKeyUnavailable", "default_key_name", "load_signer", "write_key_pair"]
