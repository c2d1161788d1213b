"""PagerDuty per desk: an on-call schedule, an escalation policy of two levels (the rotation, then the
secondaries), a service, and an Events API v2 integration whose routing key the desk's Alertmanager uses."""

from __future__ import annotations

import pulumi
import pulumi_pagerduty as pagerduty

from deskinfra.config import StackConfig
from deskinfra.plan import DeskPlan

ROTATION_START = "2026-01-05T09:00:00-05:00"  # a Monday morning; PagerDuty needs a fixed origin for the rotation
EVENTS_API_V2 = "events_api_v2_inbound_integration"


def user_ids(emails: list[str]) -> list[pulumi.Output[str]]:
    return [pagerduty.get_user_output(email=email).id for email in emails]


def build(cfg: StackConfig, desk: DeskPlan) -> pulumi.Output[str]:
    """The desk's paging; returns the integration's routing key (a secret)."""
    pd = cfg.pagerduty
    schedule = pagerduty.Schedule(
        f"{desk.name}-oncall",
        name=f"{desk.name} on-call",
        time_zone=pd.time_zone,
        layers=[{
            "name": "primary rotation",
            "start": ROTATION_START,
            "rotation_virtual_start": ROTATION_START,
            "rotation_turn_length_seconds": pd.rotation_hours * 3600,
            "users": user_ids(pd.primary),
        }],
    )  # fmt: skip
    policy = pagerduty.EscalationPolicy(
        f"{desk.name}-escalation",
        name=f"{desk.name} escalation",
        num_loops=2,
        rules=[
            {"escalation_delay_in_minutes": pd.escalation_delay_minutes,
             "targets": [{"type": "schedule_reference", "id": schedule.id}]},
            {"escalation_delay_in_minutes": pd.escalation_delay_minutes,
             "targets": [{"type": "user_reference", "id": uid} for uid in user_ids(pd.secondary)]},
        ],
    )  # fmt: skip
    service = pagerduty.Service(
        f"{desk.name}-desk",
        name=f"trading desk {desk.name}",
        description=f"TradingDesk {desk.namespace}/{desk.name}: alerts from its Alertmanager",
        escalation_policy=policy.id,
        alert_creation="create_alerts_and_incidents",
        acknowledgement_timeout="null",  # an acknowledged incident stays acknowledged until resolved
        auto_resolve_timeout="null",  # Alertmanager resolves it (Events API v2 resolve), never a timer
    )
    integration = pagerduty.ServiceIntegration(
        f"{desk.name}-events", name="Events API v2 (Alertmanager)", service=service.id, type=EVENTS_API_V2
    )
    return pulumi.Output.secret(integration.integration_key)
