"""Checkpoints (C2SP tlog-checkpoint) as signed notes (C2SP signed-note), signed with Ed25519.

A checkpoint commits to the whole log at one size::

    tradingdesk.io/audit/us-equities      <- origin: names the log
    4096                                  <- tree size (records)
    1QVPZx...base64...=                   <- RFC 9162 root hash
                                          <- blank line, then one signature line per signer
    — tradingdesk.io/audit/us-equities pZtr1k...base64(key id || Ed25519 signature)...

Keys use the note formats of golang.org/x/mod/sumdb/note, so Go's verifier (and the tools built on it) read
them as they are: the verifier key ``<name>+<key id hex>+<base64(0x01 || public key)>`` and the signer key
``PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || seed)>``, key id = the first 4 bytes of
SHA-256(name || "\\n" || 0x01 || public key).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from tradingdesk.audit.merkle import HASH_SIZE

ALG_ED25519 = 0x01
SIGNATURE_PREFIX = "\u2014 "  # an em dash and a space start every signature line
MAX_SIGNATURES = 100


class CheckpointError(ValueError):
    """A malformed key, note or checkpoint, or a signature that does not verify."""


def _valid_name(name: str) -> bool:
    return bool(name) and name.isprintable() and not any(c.isspace() or c == "+" for c in name)


def _key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public).digest()[:4]


@dataclass(frozen=True, slots=True)
class VerifierKey:
    name: str
    key_id: bytes
    public: Ed25519PublicKey

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        parts = text.strip().split("+", 2)  # the base64 key may hold '+' itself
        if len(parts) != 3 or not _valid_name(parts[0]) or len(parts[1]) != 8:
            raise CheckpointError("a verifier key reads <name>+<8 hex digits>+<base64 key>")
        name, key_hex, key_b64 = parts
        try:
            key_id = bytes.fromhex(key_hex)
            raw = base64.b64decode(key_b64, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise CheckpointError(f"verifier key: {exc}") from None
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise CheckpointError("verifier key: not an Ed25519 key (algorithm 1, 32 bytes)")
        if _key_id(name, raw[1:]) != key_id:
            raise CheckpointError("verifier key: the key id does not match the name and key")
        return cls(name, key_id, Ed25519PublicKey.from_public_bytes(raw[1:]))

    def __str__(self) -> str:
        raw = bytes([ALG_ED25519]) + self.public.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(raw).decode()}"


@dataclass(frozen=True, slots=True)
class SignerKey:
    name: str
    private: Ed25519PrivateKey

    @classmethod
    def generate(cls, name: str) -> SignerKey:
        if not _valid_name(name):
            raise CheckpointError(f"key name {name!r}: printable, no spaces and no '+'")
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def parse(cls, text: str) -> SignerKey:
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"] or not _valid_name(parts[2]):
            raise CheckpointError("a signer key reads PRIVATE+KEY+<name>+<8 hex digits>+<base64 key>")
        try:
            raw = base64.b64decode(parts[4], validate=True)
        except (ValueError, binascii.Error) as exc:
            raise CheckpointError(f"signer key: {exc}") from None
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise CheckpointError("signer key: not an Ed25519 key (algorithm 1, 32 bytes)")
        key = cls(parts[2], Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if key.verifier().key_id.hex() != parts[3].lower():
            raise CheckpointError("signer key: the key id does not match the name and key")
        return key

    def verifier(self) -> VerifierKey:
        public = self.private.public_key()
        return VerifierKey(self.name, _key_id(self.name, public.public_bytes(Encoding.Raw, PublicFormat.Raw)), public)

    def __str__(self) -> str:
        seed = self.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        raw = bytes([ALG_ED25519]) + seed
        return f"PRIVATE+KEY+{self.name}+{self.verifier().key_id.hex()}+{base64.b64encode(raw).decode()}"

    def sign_note(self, text: str) -> str:
        """The signed note: ``text`` (which must end in a newline), a blank line, our signature line."""
        _check_text(text)
        sig = self.private.sign(text.encode())
        line = base64.b64encode(self.verifier().key_id + sig).decode()
        return f"{text}\n{SIGNATURE_PREFIX}{self.name} {line}\n"


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise CheckpointError("note text must end with a newline")
    if any((not c.isprintable() and c != "\n") for c in text):
        raise CheckpointError("note text holds a control character")


@dataclass(frozen=True, slots=True)
class Signature:
    name: str
    key_id: bytes
    signature: bytes


def split_note(note: str) -> tuple[str, list[Signature]]:
    """The text and the signatures of a signed note, without verifying them."""
    cut = note.rfind("\n\n")
    if cut < 0:
        raise CheckpointError("not a signed note: no blank line before the signatures")
    text, block = note[: cut + 1], note[cut + 2 :]
    if not block.endswith("\n"):
        raise CheckpointError("signed note does not end with a newline")
    sigs: list[Signature] = []
    for line in block[:-1].split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            raise CheckpointError(f"malformed signature line {line[:60]!r}")
        name, _, b64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
        try:
            raw = base64.b64decode(b64, validate=True)
        except (ValueError, binascii.Error):
            raise CheckpointError(f"signature of {name!r} is not base64") from None
        if len(raw) < 5 or not _valid_name(name):
            raise CheckpointError(f"malformed signature line for {name!r}")
        sigs.append(Signature(name, raw[:4], raw[4:]))
    if not sigs or len(sigs) > MAX_SIGNATURES:
        raise CheckpointError("a signed note needs between 1 and 100 signatures")
    _check_text(text)
    return text, sigs


def open_note(note: str, key: VerifierKey) -> str:
    """The text of ``note`` once a signature by ``key`` verifies; ``CheckpointError`` says why not."""
    text, sigs = split_note(note)
    mine = [s for s in sigs if s.name == key.name and s.key_id == key.key_id]
    if not mine:
        found = ", ".join(f"{s.name}+{s.key_id.hex()}" for s in sigs)
        raise CheckpointError(f"not signed by the trusted key {key.name}+{key.key_id.hex()} (signed by {found})")
    try:
        key.public.verify(mine[0].signature, text.encode())
    except InvalidSignature:
        raise CheckpointError(f"the signature by {key.name}+{key.key_id.hex()} does not verify") from None
    return text


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode(), *self.extensions]
        return "\n".join(lines) + "\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise CheckpointError("a checkpoint has an origin, a size and a root hash line, each ending in a newline")
        origin, size, root = lines[0], lines[1], lines[2]
        if not origin:
            raise CheckpointError("checkpoint origin is empty")
        if not size.isdigit() or (size != "0" and size.startswith("0")):
            raise CheckpointError(f"checkpoint size {size[:30]!r} is not a decimal number")
        try:
            raw = base64.b64decode(root, validate=True)
        except (ValueError, binascii.Error):
            raise CheckpointError("checkpoint root hash is not base64") from None
        if len(raw) != HASH_SIZE:
            raise CheckpointError("checkpoint root hash is not 32 bytes")
        return cls(origin, int(size), raw, tuple(lines[3:-1]))


def sign_checkpoint(checkpoint: Checkpoint, key: SignerKey) -> str:
    return key.sign_note(checkpoint.text())


def open_checkpoint(note: str, key: VerifierKey, *, origin: str | None = None) -> Checkpoint:
    """Verify the signature, then parse; with ``origin``, the checkpoint must name that log."""
    cp = Checkpoint.parse(open_note(note, key))
    if origin is not None and cp.origin != origin:
        raise CheckpointError(f"checkpoint is for log {cp.origin!r}, not {origin!r}")
    return cp


__all__ = [
    "Checkpoint",
    "CheckpointError",
    "Signature",
    "SignerKey",
    "VerifierKey",
    "open_checkpoint",
    "open_note",
    "sign_checkpoint",
    "split_note",
]
