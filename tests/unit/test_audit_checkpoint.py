"""Signed notes and checkpoints: formats, keys whose base64 holds '+', and every way a signature is refused."""

from __future__ import annotations

import pytest

from tradingdesk.audit.checkpoint import (
    Checkpoint,
    CheckpointError,
    SignerKey,
    VerifierKey,
    open_checkpoint,
    sign_checkpoint,
)
from tradingdesk.audit.merkle import EMPTY_ROOT


def test_keys_round_trip_whatever_their_base64_holds() -> None:
    for _ in range(50):  # enough keys that some base64 encodings contain '+' and '/'
        key = SignerKey.generate("tradingdesk.io/audit/desk-1")
        assert str(SignerKey.parse(str(key))) == str(key)
        assert str(VerifierKey.parse(str(key.verifier()))) == str(key.verifier())


def test_checkpoint_format_and_signature() -> None:
    key = SignerKey.generate("example.com/log")
    note = sign_checkpoint(Checkpoint("example.com/log", 0, EMPTY_ROOT), key)
    text, _, sig = note.partition("\n\n")
    assert text == "example.com/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"[:-1]
    assert sig.startswith("\u2014 example.com/log ") and sig.endswith("\n")
    assert open_checkpoint(note, key.verifier()) == Checkpoint("example.com/log", 0, EMPTY_ROOT)


def test_refusals_say_why() -> None:
    key = SignerKey.generate("example.com/log")
    note = sign_checkpoint(Checkpoint("example.com/log", 5, EMPTY_ROOT), key)
    with pytest.raises(CheckpointError, match="not signed by the trusted key"):
        open_checkpoint(note, SignerKey.generate("example.com/log").verifier())
    with pytest.raises(CheckpointError, match="does not verify"):
        open_checkpoint(note.replace("\n5\n", "\n6\n"), key.verifier())
    with pytest.raises(CheckpointError, match="is for log"):
        open_checkpoint(note, key.verifier(), origin="other.example/log")
    name, key_id, public = str(key.verifier()).split("+", 2)
    wrong_id = "00000000" if key_id != "00000000" else "11111111"
    with pytest.raises(CheckpointError, match="key id does not match"):
        VerifierKey.parse(f"{name}+{wrong_id}+{public}")
    with pytest.raises(CheckpointError, match="verifier key reads"):
        VerifierKey.parse("no plus signs here")
