"""Errors the order path raises, each carrying the gRPC status code a client should see."""

from __future__ import annotations

import grpc


class RequestError(Exception):
    """A request that is refused; nothing about the desk changed.

    ``reject_code`` is a stable machine-readable reason (e.g. ``PRICE_COLLAR``) that clients can switch on.
    """

    def __init__(self, code: grpc.StatusCode, message: str, reject_code: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reject_code = reject_code


def invalid(field: str, problem: str) -> RequestError:
    return RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"{field}: {problem}", "INVALID_ARGUMENT")


def not_found(what: str) -> RequestError:
    return RequestError(grpc.StatusCode.NOT_FOUND, what, "NOT_FOUND")


def precondition(message: str, reject_code: str) -> RequestError:
    return RequestError(grpc.StatusCode.FAILED_PRECONDITION, message, reject_code)


def exhausted(message: str, reject_code: str) -> RequestError:
    return RequestError(grpc.StatusCode.RESOURCE_EXHAUSTED, message, reject_code)


def unavailable(message: str, reject_code: str) -> RequestError:
    """Refused because a dependency is missing right now; the same request may pass once it is back."""
    return RequestError(grpc.StatusCode.UNAVAILABLE, message, reject_code)
