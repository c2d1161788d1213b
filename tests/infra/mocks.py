"""Run a Pulumi program under Pulumi's mocks and keep every resource it registers, as the policy rules see them.

Cloud providers cannot run here, so AWS and PagerDuty resources are registered with ``pulumi.runtime.set_mocks``:
the program runs for real (every Output resolved, every invoke answered) and the mock answers with the inputs
plus the few outputs a real provider computes (ARNs, ids, keys).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import yaml

from deskinfra.policy import Resource

INFRA = Path(__file__).resolve().parents[2] / "infra"
EXAMPLE_STACK = INFRA / "Pulumi.example.yaml"
SECRET_SIG = "4dabf18193072939515e22adb298388d"  # Pulumi's marker of a secret value on the wire
ACCOUNT = "123456789012"
OIDC_ISSUER = "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"


def unwrap(value: Any) -> Any:
    if isinstance(value, dict):
        if SECRET_SIG in value:
            return unwrap(value.get("value"))
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


class StackMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[Resource] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = unwrap(args.inputs)
        rid = f"{args.typ.rpartition(':')[2].lower()}-{args.name}"  # unique: several types share a logical name
        outputs = {"arn": f"arn:aws:mock:us-east-1:{ACCOUNT}:{args.name}", "name": args.name, **inputs}
        if args.typ == "aws:eks/cluster:Cluster":
            outputs.update(
                identities=[{"oidcs": [{"issuer": OIDC_ISSUER}]}],
                endpoint="https://EXAMPLE.gr7.us-east-1.eks.amazonaws.com",
                certificateAuthority={"data": "Q0EtREFUQQ=="},
                vpcConfig={**inputs.get("vpcConfig", {}), "clusterSecurityGroupId": "sg-cluster"},
            )
        elif args.typ == "aws:kms/key:Key":
            outputs["keyId"] = f"{args.name}-key-id"
        elif args.typ == "aws:ec2/launchTemplate:LaunchTemplate":
            outputs["latestVersion"] = 1
        elif args.typ == "aws:rds/instance:Instance":
            outputs.update(address=f"{inputs['identifier']}.abc.us-east-1.rds.amazonaws.com", port=inputs["port"])
        elif args.typ == "random:index/randomPassword:RandomPassword":
            outputs["result"] = f"password-of-{args.name}"
        elif args.typ == "pagerduty:index/serviceIntegration:ServiceIntegration":
            outputs["integrationKey"] = f"routing-key-of-{args.name}"
        self.resources.append(Resource(args.typ, args.name, rid, inputs, outputs))
        return rid, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        self.calls.append((args.token, dict(args.args)))
        if args.token == "pagerduty:index/getUser:getUser":
            email = args.args["email"]
            return {"id": "P" + email.split("@")[0].upper(), "email": email, "name": email}
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/ci", "userId": "ci", "id": ACCOUNT}
        raise AssertionError(f"unexpected invoke {args.token}")


def example_config() -> dict[str, str]:
    """The example stack's configuration as the engine hands it over (structured values as JSON text)."""
    config = yaml.safe_load(EXAMPLE_STACK.read_text())["config"]
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}


def run(program: Callable[[], Any], *, stack: str = "prod") -> StackMocks:
    """Run ``program`` under fresh mocks to completion; the mocks hold what it registered.

    Pulumi's runtime runs on ``asyncio.get_event_loop()``; async tests that ran earlier in the same process
    leave none set, so each run gets a fresh loop of its own.
    """
    asyncio.set_event_loop(asyncio.new_event_loop())
    mocks = StackMocks()
    pulumi.runtime.set_mocks(mocks, project="tradingdesk", stack=stack, preview=False)

    @pulumi.runtime.test
    def go() -> pulumi.Output[None]:
        program()
        return pulumi.Output.from_input(None)

    go()
    return mocks
