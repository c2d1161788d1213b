"""Who may call what: one authorization rule per RPC and per HTTP route, as data, in one place.

A rule names the roles allowed and, for traders, where the request carries the account (and strategy) it
concerns, so the entitlement check needs no code in the service. A method without a rule is refused: a new
RPC is closed until someone writes down who may call it (a test fails until then). docs/security.md prints
this table as the role matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TRADER, RISK, OPS, AUDITOR, SERVICE = "trader", "risk_officer", "operations", "auditor", "service"
SCRAPER = "scraper"
"""Prometheus (the ``svc:prometheus`` certificate only): reads /metrics and nothing else. Not assignable in
``spec.access``, and not the service role: a scraper's key cannot halt or resume the desk."""
EVERYONE = frozenset({TRADER, RISK, OPS, AUDITOR, SERVICE})

EmptyAccount = Literal["refused", "desk", "all"]


@dataclass(frozen=True, slots=True)
class Rule:
    roles: frozenset[str]
    """Roles allowed to call."""
    account: tuple[str, ...] = ()
    """Request fields (dotted paths) that carry the account a trader must be entitled to; the first non-empty
    one counts."""
    strategy: tuple[str, ...] = ()
    """Request fields that carry the strategy a trader must be entitled to."""
    empty_account: EmptyAccount = "refused"
    """What an empty account means: ``refused`` (the service itself refuses it as a missing field), ``desk``
    (desk-wide data that concerns no account: allowed), ``all`` (every account: a trader needs ``*``)."""
    items: str = ""
    """For a client stream: the repeated field of each message whose elements carry the account."""
    privileged: bool = False
    """Changes the desk's controls: every call is an audit record naming the identity."""

    def describe_roles(self) -> str:
        return ", ".join(sorted(self.roles))


def _r(*roles: str, **kw) -> Rule:
    return Rule(roles=frozenset(roles), **kw)


ORDERS = "/tradingdesk.v1.OrderService/"
FEEDS = "/tradingdesk.v1.MarketDataService/"
RISK_SVC = "/tradingdesk.v1.RiskService/"
COMPLIANCE = "/tradingdesk.v1.ComplianceService/"
MONITORING = "/tradingdesk.v1.MonitoringService/"
_SCOPE = {"account": ("scope.account",), "strategy": ("scope.strategy",)}
_READERS = (TRADER, RISK, AUDITOR)

RPC_RULES: dict[str, Rule] = {
    # orders (routing)
    ORDERS + "SubmitOrder": _r(TRADER, account=("account",), strategy=("strategy",)),
    ORDERS + "CancelOrder": _r(TRADER, account=("account",)),
    ORDERS + "ReplaceOrder": _r(TRADER, account=("account",)),
    ORDERS + "OrderSession": _r(
        TRADER,
        items="requests",
        account=("submit.account", "cancel.account", "replace.account"),
        strategy=("submit.strategy",),
    ),
    ORDERS + "GetOrder": _r(*_READERS, account=("account",)),
    ORDERS + "ListOrders": _r(*_READERS, SERVICE, account=("account",), empty_account="all"),  # SERVICE: monitoring
    ORDERS + "GetPositions": _r(*_READERS, SERVICE, account=("account",), empty_account="all"),
    ORDERS + "StreamExecutions": _r(*_READERS, SERVICE, account=("account",), empty_account="all"),
    ORDERS + "StreamJournal": _r(SERVICE, AUDITOR),
    ORDERS + "SetVenueFault": _r(OPS, privileged=True),
    ORDERS + "GetRoutingStatus": _r(OPS, RISK, AUDITOR, SERVICE),  # SERVICE: monitoring judges venue alerts
    # market data (feeds)
    FEEDS + "GetQuote": _r(*EVERYONE),
    FEEDS + "GetSnapshot": _r(*EVERYONE),
    FEEDS + "Subscribe": _r(*EVERYONE),
    FEEDS + "SubscribeBatches": _r(*EVERYONE),
    FEEDS + "GetFeedStatus": _r(OPS, RISK, AUDITOR, SERVICE),
    FEEDS + "SetLineEnabled": _r(OPS, privileged=True),
    FEEDS + "StreamLineSwitches": _r(OPS, RISK, AUDITOR, SERVICE),  # SERVICE: routing journals them
    # risk
    RISK_SVC + "GetLimits": _r(RISK, AUDITOR, OPS, SERVICE),
    RISK_SVC + "SetLimits": _r(RISK, SERVICE, privileged=True),
    RISK_SVC + "GetTradingState": _r(*EVERYONE, empty_account="desk", **_SCOPE),
    RISK_SVC + "SetTradingState": _r(RISK, SERVICE, privileged=True),
    RISK_SVC + "KillSwitch": _r(RISK, SERVICE, privileged=True),
    RISK_SVC + "Resume": _r(RISK, privileged=True),
    RISK_SVC + "ReleaseLatch": _r(RISK, privileged=True),
    RISK_SVC + "StreamGateUpdates": _r(SERVICE),
    RISK_SVC + "StreamRiskEvents": _r(RISK, OPS, AUDITOR, SERVICE),
    RISK_SVC + "GetRiskSnapshot": _r(*_READERS, SERVICE, empty_account="all", **_SCOPE),
    RISK_SVC + "SuggestPositionSize": _r(TRADER, RISK),
    RISK_SVC + "StreamChanges": _r(SERVICE, AUDITOR, RISK),  # SERVICE: compliance records the change journal
    # compliance
    COMPLIANCE + "QueryAudit": _r(AUDITOR, RISK),
    COMPLIANCE + "GetCheckpoint": _r(AUDITOR, RISK, SERVICE),
    COMPLIANCE + "GetInclusionProof": _r(AUDITOR, RISK, SERVICE),
    COMPLIANCE + "GetConsistencyProof": _r(AUDITOR, RISK, SERVICE),
    COMPLIANCE + "Seal": _r(SERVICE, RISK, privileged=True),  # the operator's finalizer, or a risk officer
    # the operator's actions and the access decisions of feeds and monitoring: only the desk's own writers (not
    # privileged: recording an access decision must not make another one)
    COMPLIANCE + "RecordOperatorAction": _r(SERVICE),
    COMPLIANCE + "RecordAccess": _r(SERVICE),
    COMPLIANCE + "RecordServiceEvents": _r(SERVICE),  # feeds' line_enabled and refused records
    COMPLIANCE + "ListSurveillanceAlerts": _r(AUDITOR, RISK),  # who is suspected of what: not for traders
    COMPLIANCE + "GetExecutionQuality": _r(*_READERS, account=("account",), empty_account="all"),
    COMPLIANCE + "ExportCatEvents": _r(AUDITOR, RISK),
    # monitoring
    MONITORING + "GetHealthSummary": _r(*EVERYONE),
    MONITORING + "ListAlerts": _r(OPS, RISK, AUDITOR, SERVICE),
    MONITORING + "StreamDeskStatus": _r(OPS, RISK, AUDITOR, SERVICE),
    MONITORING + "SilenceAlert": _r(OPS, RISK, privileged=True),  # hides an alert from whoever is paged
    # served by every service
    "/grpc.health.v1.Health/Check": _r(*EVERYONE),
    "/grpc.health.v1.Health/Watch": _r(*EVERYONE),
    "/tradingdesk.v1.ClockService/ReadClock": _r(*EVERYONE),  # the time: monitoring finds a skewed clock
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": _r(*EVERYONE),
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo": _r(*EVERYONE),
}

HTTP_RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/v1/trading-state"): _r(RISK, OPS, AUDITOR, SERVICE),
    ("POST", "/v1/kill"): _r(RISK, SERVICE, privileged=True),
    ("POST", "/v1/resume"): _r(RISK, privileged=True),
}
"""The risk service's HTTP kill switch. ``GET /healthz`` answers anyone (it says "ok" and nothing else)."""

METRICS_HTTP_RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/metrics"): _r(SCRAPER, OPS, SERVICE),  # SERVICE: monitoring reads routing's latency histograms
}
"""Every service's Prometheus endpoint (``spec.monitoring.metricsPort``)."""

DASHBOARD_HTTP_RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/"): _r(OPS, RISK, AUDITOR),
    ("GET", "/api/status"): _r(OPS, RISK, AUDITOR),
    ("GET", "/api/events"): _r(OPS, RISK, AUDITOR),
    ("GET", "/login"): _r(OPS, RISK, AUDITOR),
}
"""The monitoring service's dashboard (``spec.monitoring.dashboardPort``): health, alerts, order and position
counts of every account, so not for traders. ``GET /healthz`` answers anyone."""


ROLE_COLUMNS = (TRADER, RISK, OPS, AUDITOR, SERVICE, SCRAPER)
MATRIX_BEGIN = "<!-- role matrix: generated by python -m tradingdesk.security.policy -->"
MATRIX_END = "<!-- end role matrix -->"


def _entitlement(rule: Rule) -> str:
    if not rule.account:
        return ""
    where = ", ".join(f"`{rule.items}[].{p}`" if rule.items else f"`{p}`" for p in rule.account)
    empty = {"refused": "", "desk": "; empty: the desk", "all": "; empty: every account (`*` only)"}
    strategy = f", strategy {', '.join(f'`{p}`' for p in rule.strategy)}" if rule.strategy else ""
    return f"account {where}{strategy}{empty[rule.empty_account]}"


def matrix() -> str:
    """The role and entitlement matrix of docs/security.md, from the tables above."""
    head = "| RPC / route | " + " | ".join(ROLE_COLUMNS) + " | trader entitlement | audited |"
    rows = [head, "|" + " --- |" * (len(ROLE_COLUMNS) + 3)]
    named = [(name.strip("/").replace("tradingdesk.v1.", ""), rule) for name, rule in RPC_RULES.items()]
    for door, rules in (("", HTTP_RULES), ("metrics ", METRICS_HTTP_RULES), ("dashboard ", DASHBOARD_HTTP_RULES)):
        named += [(f"HTTP {door}{method} {path}", rule) for (method, path), rule in rules.items()]
    for name, rule in named:
        marks = " | ".join("yes" if role in rule.roles else "" for role in ROLE_COLUMNS)
        rows.append(f"| `{name}` | {marks} | {_entitlement(rule)} | {'every call' if rule.privileged else ''} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(matrix())
