"""The keywords every form of the facade takes, as one type."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypedDict

from baldur.retry import ExceptionTypes, RetryPolicy


class ProtectOptions(TypedDict, total=False):
    """Keywords of ``protected``, ``protect`` and ``protect_with_meta``."""

    circuit_breaker: bool
    retry: bool | RetryPolicy
    fallback: Callable[..., Any] | None
    timeout: float | None
    idempotency_key: str | Callable[..., object] | None
    idempotency_execution_ttl: float | None
    idempotency_fail_open: bool
    idempotency_payload: bool | Callable[..., object] | None
    ignore: ExceptionTypes | tuple[()]
    dlq: bool
    bulkhead: str | None
