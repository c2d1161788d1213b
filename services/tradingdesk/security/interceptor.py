"""The gRPC server interceptor every desk service runs: authentication, authorization, entitlements, limits,
and the access log of refused and privileged calls.

Order of the checks, each answering with a status that says what is missing:
1. who is calling: the client certificate's identity, else the bearer token's (UNAUTHENTICATED);
2. may that identity call this method at all: its roles against the method's rule (PERMISSION_DENIED);
3. is it within its rate: a token bucket per identity (RESOURCE_EXHAUSTED with the retry delay, also as
   ``retry-after-ms`` trailing metadata, answered once that delay has passed, so a flood paces itself); a
   streaming call also needs a free stream slot;
4. for traders, is the request's account (and strategy) one of theirs (PERMISSION_DENIED), checked on the
   request before the service sees it, and on every message of a client stream before any of it is handled.

Messages of a client stream count against the same rate, by pacing: a session faster than its rate waits,
which HTTP/2 flow control turns into back-pressure on that client alone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from tradingdesk.security.accesslog import AccessLog, AccessRecord
from tradingdesk.security.authn import Authenticator, AuthError
from tradingdesk.security.identity import Identity, entitlement_refusal, role_refusal
from tradingdesk.security.limits import CallerLimits
from tradingdesk.security.policy import RPC_RULES, Rule

TARPIT_MAX_S = 1.0
PRIVILEGED_FIELDS = ("actor", "reason", "feed", "line", "enabled", "expected_version")


def _summary(request: Any) -> dict:
    """What an audit record keeps of a privileged request: its scope and who/why, never a credential."""
    out: dict[str, Any] = {}
    scope = getattr(request, "scope", None)
    if scope is not None:
        out["account"], out["strategy"] = scope.account, scope.strategy
    for name in PRIVILEGED_FIELDS:
        if hasattr(request, name):
            out[name] = getattr(request, name)
    state = getattr(request, "state", None)
    if isinstance(state, int):
        out["state"] = state
    return out


class _Denied(Exception):
    def __init__(self, code: grpc.StatusCode, message: str, trailing: tuple = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.trailing = trailing


class AccessInterceptor(grpc.aio.ServerInterceptor):
    def __init__(
        self,
        *,
        service: str,
        authenticator: Authenticator,
        limits: CallerLimits,
        access_log: AccessLog,
        rules: dict[str, Rule] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.authenticator = authenticator
        self.limits = limits
        self.access_log = access_log
        self.rules = RPC_RULES if rules is None else rules
        self.clock = clock
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    # -- the checks ---------------------------------------------------------------------------------------

    def _refuse(
        self, method: str, identity: Identity | None, context, code: grpc.StatusCode, message: str, trailing=()
    ) -> _Denied:
        rule = self.rules.get(method)
        self.access_log.record(
            AccessRecord(
                identity=identity.name if identity else "anonymous",
                via=identity.via if identity else "none",
                method=method,
                outcome=code.name,
                detail=message,
                peer=context.peer(),
                privileged=bool(rule and rule.privileged),
            )
        )
        return _Denied(code, message, trailing)

    async def _identify(self, method: str, context) -> Identity:
        names = context.auth_context().get("x509_common_name")
        try:
            if names:  # mutual TLS verified it: the common case, no metadata to read
                return self.authenticator.from_certificate(names[0].decode())
            authorization = None
            for key, value in context.invocation_metadata() or ():
                if key == "authorization":
                    authorization = value if isinstance(value, str) else value.decode()
                    break
            return await self.authenticator.identify(None, authorization)
        except AuthError as err:
            code = grpc.StatusCode.PERMISSION_DENIED if err.unknown else grpc.StatusCode.UNAUTHENTICATED
            raise self._refuse(method, None, context, code, err.message) from None

    async def _rate(self, method: str, identity: Identity, context) -> None:
        delay = self.limits.admit(identity.name, self.clock(), rate=identity.requests_per_second)
        if delay:
            # Answer only when a call would have been admitted (at most TARPIT_MAX_S): a caller past its rate
            # then waits instead of looping on refusals, so its flood costs the service little of the CPU the
            # other callers need.
            await asyncio.sleep(min(delay, TARPIT_MAX_S))
            rate = identity.requests_per_second or self.limits.rate
            raise self._refuse(
                method,
                identity,
                context,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"rate limit: {identity.name} may make {rate} calls per second to {self.service}; "
                f"retry in {delay:.3f} s",
                (("retry-after-ms", str(max(1, round(delay * 1000)))),),
            )

    async def _admit(self, method: str, rule: Rule | None, context) -> Identity:
        identity = await self._identify(method, context)
        if rule is None:
            raise self._refuse(
                method,
                identity,
                context,
                grpc.StatusCode.PERMISSION_DENIED,
                f"{method} has no authorization rule: refused for everyone until one is written",
            )
        if refusal := role_refusal(identity, rule, method):
            raise self._refuse(method, identity, context, grpc.StatusCode.PERMISSION_DENIED, refusal)
        await self._rate(method, identity, context)
        return identity

    def _entitled(self, method: str, rule: Rule, identity: Identity, context, message, where: str = "") -> None:
        if refusal := entitlement_refusal(identity, rule, message):
            raise self._refuse(method, identity, context, grpc.StatusCode.PERMISSION_DENIED, where + refusal)

    def _privileged(self, method: str, identity: Identity, context, request, outcome: str, detail: str) -> None:
        self.access_log.record(
            AccessRecord(
                identity=identity.name,
                via=identity.via,
                method=method,
                outcome=outcome,
                detail=detail,
                peer=context.peer(),
                request=_summary(request),
                privileged=True,
            )
        )

    def _open_stream(self, method: str, identity: Identity, context) -> None:
        if not self.limits.open_stream(identity.name):
            raise self._refuse(
                method,
                identity,
                context,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"{identity.name} already holds {self.limits.max_streams} open streams on {self.service} (the "
                "limit): close one first",
            )

    # -- wrapping the handlers ------------------------------------------------------------------------------

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:  # one wrapper per method, not one per call
            return cached[1]
        wrapped = self._wrap(method, handler)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        rule = self.rules.get(method)
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(method, rule, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._server_stream(method, rule, handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_stream is not None:
            return grpc.stream_stream_rpc_method_handler(
                self._bidi(method, rule, handler.stream_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return grpc.stream_unary_rpc_method_handler(
            self._client_stream(method, rule, handler.stream_unary),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _unary(self, method: str, rule: Rule | None, inner: Callable[..., Awaitable]):
        async def behaviour(request, context):
            try:
                identity = await self._admit(method, rule, context)
                self._entitled(method, rule, identity, context, request)
            except _Denied as denied:
                await context.abort(denied.code, denied.message, trailing_metadata=denied.trailing)
            if not rule.privileged:
                return await inner(request, context)
            try:
                response = await inner(request, context)
            except BaseException as exc:
                code = context.code()
                outcome = code.name if isinstance(code, grpc.StatusCode) else type(exc).__name__
                self._privileged(method, identity, context, request, outcome, str(context.details() or exc))
                raise
            self._privileged(method, identity, context, request, "OK", "")
            return response

        return behaviour

    def _server_stream(self, method: str, rule: Rule | None, inner):
        async def behaviour(request, context):
            try:
                identity = await self._admit(method, rule, context)
                self._entitled(method, rule, identity, context, request)
                self._open_stream(method, identity, context)
            except _Denied as denied:
                await context.abort(denied.code, denied.message, trailing_metadata=denied.trailing)
            try:
                async for item in _responses(inner(request, context)):
                    yield item
            finally:
                self.limits.close_stream(identity.name)

        return behaviour

    def _checked_requests(self, method: str, rule: Rule, identity: Identity, context, requests: AsyncIterator):
        async def checked():
            async for message in requests:
                delay = self.limits.admit(identity.name, self.clock(), rate=identity.requests_per_second)
                if delay:
                    await asyncio.sleep(delay)
                if rule.items:
                    for i, item in enumerate(getattr(message, rule.items)):
                        request_id = getattr(item, "request_id", i)
                        try:
                            self._entitled(method, rule, identity, context, item, f"request_id {request_id}: ")
                        except _Denied as denied:
                            await context.abort(denied.code, denied.message)
                else:
                    try:
                        self._entitled(method, rule, identity, context, message)
                    except _Denied as denied:
                        await context.abort(denied.code, denied.message)
                yield message

        return checked()

    def _bidi(self, method: str, rule: Rule | None, inner):
        async def behaviour(requests, context):
            try:
                identity = await self._admit(method, rule, context)
                self._open_stream(method, identity, context)
            except _Denied as denied:
                await context.abort(denied.code, denied.message, trailing_metadata=denied.trailing)
            try:
                checked = self._checked_requests(method, rule, identity, context, requests)
                async for item in _responses(inner(checked, context)):
                    yield item
            finally:
                self.limits.close_stream(identity.name)

        return behaviour

    def _client_stream(self, method: str, rule: Rule | None, inner):
        async def behaviour(requests, context):
            try:
                identity = await self._admit(method, rule, context)
            except _Denied as denied:
                await context.abort(denied.code, denied.message, trailing_metadata=denied.trailing)
            return await inner(self._checked_requests(method, rule, identity, context, requests), context)

        return behaviour


async def _responses(result) -> AsyncIterator:
    """A streaming handler's answers, whether it is an async generator or a coroutine using context.write."""
    if hasattr(result, "__aiter__"):
        async for item in result:
            yield item
    else:
        await result
