"""Judging an attempt's error: not a failure, retryable, fatal, or no
verdict at all. The Rust driver asks this once per failed attempt."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import baldur._core as _core
from baldur._http import http_status, is_client_error, retry_after_seconds
from baldur.exceptions import WrongColourError
from baldur.retry import ExceptionTypes, RetryPolicy, RetryPredicate

# Verdict codes, defined once in src/py/zone.rs.
NOT_A_FAILURE = _core.VERDICT_NOT_A_FAILURE
RETRYABLE = _core.VERDICT_RETRYABLE
FATAL = _core.VERDICT_FATAL
ABORT = _core.VERDICT_ABORT

Classifier = Callable[[BaseException], tuple[int, float | None]]


def build_classifier(ignore: ExceptionTypes | tuple[()], policy: RetryPolicy | None) -> Classifier:
    """The classifier for one zone."""
    retry_on = policy.retry_on if policy is not None else None
    give_up_on = policy.give_up_on if policy is not None else ()
    predicate: RetryPredicate | None = None
    retry_types: ExceptionTypes = Exception
    if isinstance(retry_on, (type, tuple)):
        retry_types = cast(ExceptionTypes, retry_on)
    elif retry_on is not None:
        predicate = retry_on

    def classify(exc: BaseException) -> tuple[int, float | None]:
        if not isinstance(exc, Exception) or isinstance(exc, WrongColourError):
            # KeyboardInterrupt, SystemExit, CancelledError, a misused form:
            # says nothing about the dependency.
            return ABORT, None
        if ignore and isinstance(exc, ignore):
            return NOT_A_FAILURE, None
        status = http_status(exc)
        if status is not None and is_client_error(status):
            return NOT_A_FAILURE, None
        if give_up_on and isinstance(exc, give_up_on):
            return FATAL, None
        if predicate is not None:
            retryable = bool(predicate(exc))
        else:
            retryable = isinstance(exc, retry_types)
        if not retryable:
            return FATAL, None
        return RETRYABLE, retry_after_seconds(exc, status)

    return classify
