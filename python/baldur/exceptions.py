"""Every error Baldur raises, under one base: :class:`BaldurError`.

Where a builtin base means something it is added too, so existing handlers
keep working: a timeout is a :class:`TimeoutError`, a bad key a
:class:`ValueError`.
"""

from __future__ import annotations

from baldur._redact import redact_urls

__all__ = [
    "BaldurError",
    "BulkheadFullError",
    "CircuitOpenError",
    "ConfigError",
    "DeadLetterQueueFullError",
    "DeadLetterQueueUnavailableError",
    "IdempotencyDuplicateError",
    "IdempotencyKeyError",
    "IdempotencyPayloadMismatchError",
    "IdempotencyUnavailableError",
    "KillSwitchEngagedError",
    "ProtectTimeoutError",
    "WrongColourError",
]


class BaldurError(Exception):
    """Base of every error Baldur raises."""


class ConfigError(BaldurError, ValueError):
    """A configuration value (keyword, ``init()`` override or environment
    variable) that is not allowed.

    >>> str(ConfigError("BALDUR_CB_FAILURE_THRESHOLD", "zero", "an integer >= 1"))
    "invalid BALDUR_CB_FAILURE_THRESHOLD='zero': allowed is an integer >= 1"
    """

    def __init__(self, key: str, value: object, allowed: str) -> None:
        # A value may be a URL with its password (BALDUR_REDIS_URL).
        super().__init__(redact_urls(f"invalid {key}={value!r}: allowed is {allowed}"))
        self.key = key
        self.value = value
        self.allowed = allowed


class CircuitOpenError(BaldurError):
    """The circuit breaker refused the call: the dependency is judged down.

    ``name`` is the zone; ``retry_after`` the seconds until probing resumes
    (``0.0`` while probes are underway, ``None`` when an operator forced the
    breaker open).
    """

    # Raised on the fail-fast path, so it keeps its fields in ``args`` and
    # has no ``__init__`` of its own: building one costs no Python frame.

    @property
    def name(self) -> str:
        """The zone whose breaker refused the call."""
        return str(self.args[0])

    @property
    def retry_after(self) -> float | None:
        """Seconds until probing resumes, or ``None`` if forced open."""
        value = self.args[1] if len(self.args) > 1 else None
        return None if value is None else float(value)

    def __str__(self) -> str:
        retry_after = self.retry_after
        if retry_after is None:
            return f"circuit {self.name!r} is forced open by an operator"
        if retry_after == 0.0:
            return f"circuit {self.name!r} is half-open and its probes are underway"
        return f"circuit {self.name!r} is open; probing resumes in {retry_after:.3f}s"


class ProtectTimeoutError(BaldurError, TimeoutError):
    """The protected call outran its ``timeout=`` (attempts and backoff
    included)."""

    def __init__(self, name: str, timeout: float) -> None:
        super().__init__(
            f"protected call {name!r} could not finish within its {timeout:g}s timeout"
        )
        self.name = name
        self.timeout = timeout


class IdempotencyKeyError(BaldurError, ValueError):
    """The idempotency key could not be found, or was ``None``: the function
    did not run."""


class IdempotencyDuplicateError(BaldurError):
    """This operation already ran (``state="completed"``) or is running now
    (``state="in_progress"``). Treat it as "this work already happened":
    Baldur does not replay the original response.

    ``key`` is the call's key as text; ``operation`` the namespace it lives
    in (the zone name, or ``@idempotent``'s operation).
    """

    def __init__(self, key: str, state: str, operation: str | None = None) -> None:
        where = f" of {operation!r}" if operation else ""
        super().__init__(f"duplicate operation {key!r}{where} ({state})")
        self.key = key
        self.state = state
        self.operation = operation


class IdempotencyPayloadMismatchError(IdempotencyDuplicateError):
    """A duplicate key arrived with a different payload than the original:
    most likely a different operation under a reused key, refused rather
    than quietly treated as the same one."""

    def __init__(self, key: str, state: str, operation: str | None = None) -> None:
        super().__init__(key, state, operation)
        where = f" of {operation!r}" if operation else ""
        self.args = (
            f"operation {key!r}{where} was already seen with a different payload ({state})",
        )


class IdempotencyUnavailableError(BaldurError):
    """The idempotency store could not answer, and the call is fail-closed."""


class BulkheadFullError(BaldurError):
    """The call's compartment is at capacity and its line is full (or the
    call waited its compartment's ``wait_timeout``). Not the dependency's
    failure: the breaker does not count it; a fallback may answer it.

    >>> str(BulkheadFullError("external_api", 5, 5, 10, 10))
    'external_api: 5/5 active, 10/10 waiting'
    """

    def __init__(
        self, compartment: str, active: int, capacity: int, waiting: int = 0, max_waiting: int = 0
    ) -> None:
        super().__init__(
            f"{compartment}: {active}/{capacity} active, {waiting}/{max_waiting} waiting"
        )
        self.compartment = compartment
        self.active = active
        self.capacity = capacity
        self.waiting = waiting
        self.max_waiting = max_waiting


class WrongColourError(BaldurError, TypeError):
    """A sync form given an async function, or an async form given a sync
    one: the caller's mistake, never counted as the dependency's failure,
    and raised even by the ``_with_meta`` forms."""


class DeadLetterQueueFullError(BaldurError):
    """The dead-letter queue is at its cap and its overflow strategy is
    ``reject``: the failed call could not be set aside (adapters answer 503)."""


class KillSwitchEngagedError(BaldurError, PermissionError):
    """A manual breaker action was refused because Baldur is disabled (the
    kill switch). Pass ``override=True`` to act anyway.

    >>> KillSwitchEngagedError("reset_circuit", "incident 4711").reason
    'incident 4711'
    """

    def __init__(self, action: str, reason: str | None) -> None:
        super().__init__(
            f"{action} refused: Baldur is disabled ({reason}); pass override=True to act anyway"
        )
        self.action = action
        self.reason = reason


class DeadLetterQueueUnavailableError(BaldurError, ConnectionError):
    """The dead-letter queue's shared store (Redis) cannot be reached, and the
    question cannot be answered from the local queue alone (an entry that
    lives in Redis, a purge). Recording never raises it: a record made
    during an outage goes to the local queue and is flushed on recovery."""
