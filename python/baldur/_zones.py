"""From a callsite's keywords to a validated zone in the Rust core."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from typing import Any, cast

import baldur._config as _config
import baldur._core as _core
import baldur._events as _events
import baldur._validate as _validate
from baldur._classify import build_classifier
from baldur.exceptions import ConfigError
from baldur.retry import ExceptionTypes, RetryPolicy, _is_exception_types

_announced: set[str] = set()
_announced_lock = threading.Lock()

# Keywords that CONTRACT.md names but whose machinery lands in a later
# release: asking for one is loud, never a silent no-op.
_NOT_YET: dict[str, str] = {}


def build_zone(
    name: object,
    *,
    circuit_breaker: object,
    retry: object,
    fallback: object,
    timeout: object,
    ignore: object,
    unsupported: dict[str, Any],
    idempotency: _core.IdempotencySpec | None = None,
    idempotent: bool = False,
    default_timeout: bool = True,
    dlq: object = False,
    bulkhead: object = None,
) -> _core.Zone:
    """Validates a callsite's keywords and builds its zone. With
    ``default_timeout=False`` the zone ignores
    ``BALDUR_PROTECT_DEFAULT_TIMEOUT_SECONDS`` (``@idempotent`` alone bounds
    nothing)."""
    _config.current()
    name = _validate.name(name)
    for key, value in unsupported.items():
        if value not in (None, False):
            raise NotImplementedError(
                f"{_NOT_YET[key]} is not available in this build of Baldur yet; "
                f"remove {key}= from {name!r}"
            )
    circuit_breaker = _validate.flag("circuit_breaker", circuit_breaker)
    dlq = _validate.flag("dlq", dlq)
    policy = _retry_policy(retry)
    ignore_types = _ignore_types(ignore)
    fallback_takes_error = _fallback_arity(fallback)
    timeout_seconds = _timeout(timeout)
    if bulkhead is not None and not isinstance(bulkhead, str):
        raise ConfigError("bulkhead", bulkhead, "the name of a registered compartment, or None")
    zone = _core.Zone(
        name,
        circuit_breaker=circuit_breaker,
        attempts=policy.attempts if policy else 1,
        base_delay=policy.base_delay if policy else 0.0,
        max_delay=policy.max_delay if policy else 0.0,
        multiplier=policy.multiplier if policy else 1.0,
        jitter=policy.jitter if policy else "none",
        timeout=timeout_seconds,
        classifier=build_classifier(ignore_types, policy),
        fallback=cast("Callable[..., Any] | None", fallback),
        fallback_takes_error=fallback_takes_error,
        idempotency=idempotency,
        default_timeout=default_timeout,
        dlq=dlq,
        bulkhead=bulkhead,
    )
    _announce(name, idempotent, circuit_breaker, policy, fallback, zone.timeout)
    return zone


def _retry_policy(retry: object) -> RetryPolicy | None:
    if retry is True:
        return RetryPolicy()
    if retry is False or retry is None:
        return None
    if isinstance(retry, RetryPolicy):
        return retry
    raise ConfigError("retry", retry, "True, False, or a baldur.RetryPolicy")


def _ignore_types(ignore: object) -> ExceptionTypes | tuple[()]:
    if ignore == () or ignore is None:
        return ()
    if _is_exception_types(ignore):
        return ignore  # type: ignore[return-value]
    raise ConfigError("ignore", ignore, "an exception type or a tuple of exception types")


def _timeout(timeout: object) -> float | None:
    if timeout is None:
        return None
    return (
        _validate.seconds("timeout", timeout)
        if not isinstance(timeout, str)
        else _bad_timeout(timeout)
    )


def _bad_timeout(timeout: str) -> float:
    raise ConfigError("timeout", timeout, _validate.SECONDS + ", or None")


def _fallback_arity(fallback: object) -> bool:
    """Whether the fallback takes the final exception (one argument) or
    nothing. A class or a builtin is called with nothing (``fallback=list``
    answers ``[]``, not ``list(exc)``); any other callable that accepts one
    positional argument gets the exception."""
    if fallback is None:
        return False
    allowed = "a callable taking no argument, or one (the final exception)"
    if not callable(fallback):
        raise ConfigError("fallback", fallback, allowed)
    if isinstance(fallback, type) or inspect.isbuiltin(fallback):
        if not _binds_bare(fallback):
            raise ConfigError("fallback", fallback, allowed)
        return False
    try:
        signature = inspect.signature(fallback)
    except (TypeError, ValueError):
        return False  # a builtin that hides its signature: call it bare
    if _binds(signature, 1):
        return True
    if _binds(signature, 0):
        return False
    raise ConfigError("fallback", fallback, allowed)


def _binds_bare(fallback: object) -> bool:
    try:
        return _binds(inspect.signature(fallback), 0)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return True  # no signature to read: trust it


def _binds(signature: inspect.Signature, count: int) -> bool:
    try:
        signature.bind(*([None] * count))
    except TypeError:
        return False
    return True


def _announce(
    name: str,
    idempotent: bool,
    circuit_breaker: bool,
    policy: RetryPolicy | None,
    fallback: object,
    timeout: float | None,
) -> None:
    """The ``protect.composer_built`` event, once per zone name."""
    with _announced_lock:
        if name in _announced:
            return
        _announced.add(name)
    policies = [
        label
        for label, on in (
            ("idempotency", idempotent),
            ("circuit_breaker", circuit_breaker),
            ("retry", policy is not None),
            ("timeout", timeout is not None),
            ("fallback", fallback is not None),
        )
        if on
    ]
    _events.composer_built(name, policies, timeout)


def forget_announcements() -> None:
    """Each zone is announced again when next built (``baldur.testing.reset()``)."""
    with _announced_lock:
        _announced.clear()
