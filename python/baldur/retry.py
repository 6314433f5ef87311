"""``baldur.RetryPolicy``: how a protected call retries."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import baldur._core as _core
import baldur._validate as _validate
from baldur.exceptions import ConfigError

# The defaults are the core's (src/core/retry/): one definition, read here.

#: Attempts in all, the first included.
DEFAULT_ATTEMPTS: int = _core.RETRY_DEFAULT_ATTEMPTS
#: Seconds before the first retry.
DEFAULT_BASE_DELAY: float = _core.RETRY_DEFAULT_BASE_DELAY
#: No wait is longer than this many seconds (a server's Retry-After included).
DEFAULT_MAX_DELAY: float = _core.RETRY_DEFAULT_MAX_DELAY
#: Each wait is this many times the one before.
DEFAULT_MULTIPLIER: float = _core.RETRY_DEFAULT_MULTIPLIER
#: "full" (uniform between zero and the exponential delay) or "none".
DEFAULT_JITTER: str = _core.RETRY_DEFAULT_JITTER
#: The largest multiplier: beyond it the second delay is already the cap.
MAX_MULTIPLIER: float = _core.RETRY_MAX_MULTIPLIER
#: The jitter modes, by name.
JITTERS: tuple[str, ...] = _core.JITTERS

ExceptionTypes = type[BaseException] | tuple[type[BaseException], ...]
RetryPredicate = Callable[[BaseException], bool]


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How many attempts a call makes and how long it waits between them.

    >>> RetryPolicy(attempts=5, base_delay=0.2, retry_on=(ConnectionError,))
    RetryPolicy(attempts=5, base_delay=0.2, max_delay=10.0, multiplier=2.0, jitter='full', \
retry_on=(<class 'ConnectionError'>,), give_up_on=())

    ``retry_on`` takes exception types or a predicate (default: any
    ``Exception``); ``give_up_on`` types are never retried. A delay the
    failure names itself (HTTP ``Retry-After`` on a 429 or 503) replaces the
    schedule, capped by ``max_delay``.
    """

    attempts: int = DEFAULT_ATTEMPTS
    base_delay: float = DEFAULT_BASE_DELAY
    max_delay: float = DEFAULT_MAX_DELAY
    multiplier: float = DEFAULT_MULTIPLIER
    jitter: str = DEFAULT_JITTER
    retry_on: ExceptionTypes | RetryPredicate | None = None
    give_up_on: ExceptionTypes = ()

    def __post_init__(self) -> None:
        _validate.count("attempts", self.attempts)
        _validate.seconds("base_delay", self.base_delay, zero_allowed=True)
        _validate.seconds("max_delay", self.max_delay, zero_allowed=True)
        if self.max_delay < self.base_delay:
            raise ConfigError("max_delay", self.max_delay, "a number of seconds >= base_delay")
        multiplier = _validate.number(self.multiplier)
        if not (1 <= multiplier <= MAX_MULTIPLIER) or isinstance(self.multiplier, str):
            raise ConfigError(
                "multiplier", self.multiplier, f"a number from 1 to {MAX_MULTIPLIER:g}"
            )
        if self.jitter not in JITTERS:
            raise ConfigError("jitter", self.jitter, " or ".join(map(repr, JITTERS)))
        if self.retry_on is not None and not (
            _is_exception_types(self.retry_on) or callable(self.retry_on)
        ):
            raise ConfigError(
                "retry_on", self.retry_on, "exception types, or a predicate taking the exception"
            )
        if not _is_exception_types(self.give_up_on) and self.give_up_on != ():
            raise ConfigError("give_up_on", self.give_up_on, "exception types")


def _is_exception_types(value: object) -> bool:
    """An exception class, or a non-empty tuple of them."""
    if isinstance(value, type):
        return issubclass(value, BaseException)
    return (
        isinstance(value, tuple)
        and len(value) > 0
        and all(isinstance(t, type) and issubclass(t, BaseException) for t in value)
    )
