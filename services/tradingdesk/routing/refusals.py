"""A refused order request as a journal event: what the client sent, the reject, and the answer it got.

Routing journals every refusal (``RequestRefused``) before it answers, unary or in a session, so the audit trail
has each one; the record rides in the same group commit as the orders around it, so it costs the order path no
fsync of its own. The scope (account, strategy, symbol) is set only when the request names ones the desk has:
whatever else the client sent stays in the refusal's request fields, cut to a bounded size (``edge/refusals.py``).
"""

from __future__ import annotations

from google.protobuf.message import Message

from tradingdesk.core.events import RequestRefused
from tradingdesk.core.reject import Reject
from tradingdesk.edge.refusals import grpc_refusal
from tradingdesk.routing.requests import RequestParser

METHODS = {"submit": "SubmitOrder", "cancel": "CancelOrder", "replace": "ReplaceOrder"}
"""A session request's kind and the unary method it stands for."""


def refused_request(
    *, method: str, door: str, reject: Reject, request: Message, parser: RequestParser, now_ns: int
) -> RequestRefused:
    account = getattr(request, "account", "")
    if account not in parser.accounts:
        account = ""
    strategy = getattr(request, "strategy", "")
    if not account or strategy not in parser.accounts[account]:
        strategy = ""
    symbol = getattr(request, "symbol", "")
    return RequestRefused(
        ts_ns=now_ns,
        account=account,
        strategy=strategy,
        symbol=symbol if symbol in parser.instruments else "",
        refusal=grpc_refusal(method=method, door=door, reject=reject, request=request),
    )


__all__ = ["METHODS", "refused_request"]
