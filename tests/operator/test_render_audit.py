"""The compliance pod gets its checkpoint signing key from a Secret, and only compliance does."""

from __future__ import annotations

from tests.operator.test_render import desk, objects, pod


def test_compliance_reads_its_signing_key_from_a_secret() -> None:
    objs = objects(desk())
    compliance = pod(objs, "compliance")
    (container,) = compliance["containers"]
    assert {"name": "TD_AUDIT_SIGNING_KEY_FILE", "value": "/etc/tradingdesk/audit-signing/signing.key"} in container[
        "env"
    ]
    assert {"name": "audit-signing", "mountPath": "/etc/tradingdesk/audit-signing", "readOnly": True} in container[
        "volumeMounts"
    ]
    (volume,) = [v for v in compliance["volumes"] if v["name"] == "audit-signing"]
    assert volume["secret"] == {
        "secretName": "us-equities-audit-signing-key",
        "optional": True,
        "defaultMode": 0o400,
        "items": [{"key": "signing.key", "path": "signing.key"}],
    }
    for service in ("feeds", "routing", "risk", "monitoring"):
        assert all(v["name"] != "audit-signing" for v in pod(objs, service)["volumes"]), service
