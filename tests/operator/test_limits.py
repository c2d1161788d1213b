"""The limits the operator sends live (SetLimits) are exactly what the risk service derives from the same spec."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel

from deskoperator.limits import limits_hash, risk_limits, without_version
from tests.operator.helpers import example_document
from tradingdesk.risk.limits import NOT_LIMITS, Limits
from tradingdesk.risk.wire import limits_to_proto
from tradingdesk.spec.load import parse_desk
from tradingdesk.spec.model import RiskSpec


def example_risk() -> RiskSpec:
    return parse_desk(example_document()).spec.risk


def test_same_message_as_the_risk_service_builds_at_start() -> None:
    spec = example_risk()
    assert spec.scopes and spec.locates and spec.easy_to_borrow  # the sample exercises every part
    assert without_version(risk_limits(spec)) == without_version(limits_to_proto(Limits.from_spec(spec)))


def _bumped(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, Decimal):
        return value + 1
    return None


def _changes(model: BaseModel) -> list[tuple[str, BaseModel]]:
    """Every scalar field of ``model`` (and its sub-models) changed once: (dotted name, changed model)."""
    out = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            out += [(f"{name}.{sub}", model.model_copy(update={name: m})) for sub, m in _changes(value)]
        elif (bumped := _bumped(value)) is not None:
            out.append((name, model.model_copy(update={name: bumped})))
    return out


@pytest.mark.parametrize(("field", "changed"), _changes(example_risk()), ids=lambda x: x if isinstance(x, str) else "")
def test_every_limit_reaches_the_message(field: str, changed: RiskSpec) -> None:
    """A new spec.risk field that the operator forgets to send would fail here (NOT_LIMITS: httpPort is the pod's,
    snapshots how often risk saves its state; neither is a limit)."""
    if field.split(".")[0] in NOT_LIMITS:
        assert limits_hash(risk_limits(changed)) == limits_hash(risk_limits(example_risk()))
        return
    assert limits_hash(risk_limits(changed)) != limits_hash(risk_limits(example_risk()))
    assert without_version(risk_limits(changed)) == without_version(limits_to_proto(Limits.from_spec(changed)))
