"""The example stack, run once per module under Pulumi's mocks."""

from __future__ import annotations

import pytest

from deskinfra import config, program
from deskinfra.plan import Plan
from tests.infra.mocks import StackMocks, example_config, run


@pytest.fixture(scope="module")
def example_stack() -> tuple[StackMocks, Plan]:
    cfg = config.load(example_config())
    plans: list[Plan] = []
    mocks = run(lambda: plans.append(program.stack(cfg, stack_name="prod")))
    return mocks, plans[0]
