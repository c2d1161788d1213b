"""The desk's network design as a table, and every connection worth asking about (see analysis.py)."""

from __future__ import annotations

from tests.netpol.analysis import CLIENT_IP, DB_IP, DESK_NS, Connection, Peer, desk_pod, operator_pod

DESK = "us-equities"
PORTS = {"feeds": 50051, "routing": 50052, "risk": 50053, "compliance": 50054, "monitoring": 50055}
METRICS, RISK_HTTP, DB_PORT, UNUSED = 9464, 8053, 5432, 6000

#: (caller, callee) -> the ports the caller dials: the desk's call graph
CALL_GRAPH = {
    ("routing", "feeds"): {PORTS["feeds"]},  # market data
    ("routing", "risk"): {PORTS["risk"]},  # gate updates
    ("risk", "routing"): {PORTS["routing"]},  # the journal, for real-time risk
    ("risk", "feeds"): {PORTS["feeds"]},  # marks
    ("compliance", "routing"): {PORTS["routing"]},  # the journal, for the audit trail
    ("compliance", "risk"): {PORTS["risk"]},  # the risk change journal, for the audit trail
    ("compliance", "feeds"): {PORTS["feeds"]},  # the market, for surveillance
    ("feeds", "compliance"): {PORTS["compliance"]},  # access decisions, for the audit trail
    **{("monitoring", s): {PORTS[s]} for s in ("feeds", "risk", "compliance")},  # health probes
    ("monitoring", "routing"): {PORTS["routing"], METRICS},  # health probes, latency percentiles from /metrics
}
#: (callee, port) anyone may reach: orders, the dashboard, every service's metrics, the HTTP kill switch
PUBLIC = {("routing", PORTS["routing"]), ("monitoring", PORTS["monitoring"]), ("risk", RISK_HTTP),
          *((s, METRICS) for s in PORTS)}  # fmt: skip
#: (callee, port) the operator's pods may reach besides: risk, for spec.tradingState and the finalizer's halt;
#: compliance, for its actions on the desk and the finalizer's seal
OPERATOR_CALLS = {("risk", PORTS["risk"]), ("compliance", PORTS["compliance"])}
DATABASE_USERS = {"routing", "risk", "compliance", "migrate"}


class Design:
    """Every connection worth asking about for a desk in ``namespace``, and the design's answer for each."""

    def __init__(self, namespace: str = DESK_NS) -> None:
        self.desk_pods = {c: desk_pod(DESK, c, namespace) for c in (*PORTS, "migrate")}
        self.operator = operator_pod()
        self.outsiders = [
            operator_pod(namespace="rogue", name="operator-labels-in-another-namespace"),
            operator_pod(namespace=namespace, name="operator-labels-in-the-desk-namespace"),
            desk_pod("other-desk", "routing", namespace),  # another desk's routing in the same namespace
            Peer("app-in-another-namespace", "apps", (("app", "web"),)),
            Peer("order-client-outside-the-cluster", ip=CLIENT_IP),
        ]
        self.database = Peer("postgresql-outside-the-cluster", ip=DB_IP)

    def connections(self) -> list[Connection]:
        callers = [*self.desk_pods.values(), self.operator, *self.outsiders]
        ports = sorted({*PORTS.values(), METRICS, RISK_HTTP, DB_PORT, UNUSED})
        targets = [*self.desk_pods.values(), self.database]
        return [Connection(src, dst, port) for src in callers for dst in targets for port in ports if src != dst]

    def expected(self, c: Connection) -> bool:
        """What the design allows, from the tables above only."""
        src, dst = c.source.name, c.destination.name
        src_is_desk = c.source in self.desk_pods.values()
        if c.destination == self.database:
            return c.port == DB_PORT and src in DATABASE_USERS if src_is_desk else True
        if src_is_desk:  # desk pods dial only their callees, on the callee's port
            return c.port in CALL_GRAPH.get((src, dst), ())
        if (dst, c.port) in PUBLIC:
            return True
        return c.source == self.operator and (dst, c.port) in OPERATOR_CALLS

    def differences(self, answers: dict[Connection, bool]) -> list[str]:
        return [f"{c}: {'allowed' if a else 'denied'}" for c, a in answers.items() if a != self.expected(c)]
