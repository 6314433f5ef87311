# Stubs for the compiled module built from src/py/ (checked by mypy.stubtest).
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, final

from typing_extensions import Unpack

from baldur._options import ProtectOptions

_T = TypeVar("_T")

__version__: str
VERDICT_NOT_A_FAILURE: int
VERDICT_RETRYABLE: int
VERDICT_FATAL: int
VERDICT_ABORT: int
STEP_RETRY: int
STEP_PROPAGATE: int
STEP_GIVE_UP: int

# Defaults and names, defined once in the core (src/py/names.rs).
RETRY_DEFAULT_ATTEMPTS: int
RETRY_DEFAULT_BASE_DELAY: float
RETRY_DEFAULT_MAX_DELAY: float
RETRY_DEFAULT_MULTIPLIER: float
RETRY_MAX_MULTIPLIER: float
RETRY_DEFAULT_JITTER: str
JITTERS: tuple[str, ...]
CB_DEFAULT_FAILURE_THRESHOLD: int
CB_DEFAULT_MINIMUM_CALLS: int
CB_DEFAULT_FAILURE_RATE_THRESHOLD: float
CB_DEFAULT_RECOVERY_TIMEOUT: float
CB_DEFAULT_HALF_OPEN_MAX_CALLS: int
CB_DEFAULT_WINDOW_SECONDS: float
WATCHDOG_DEFAULT_MISSED_BEATS: int
RETRY_BUDGET_DEFAULT_RATIO: float
RETRY_BUDGET_DEFAULT_MIN_PER_SECOND: float
CB_DEFAULT_SYNC_INTERVAL_SECONDS: float
CIRCUIT_STATES: tuple[str, ...]
CIRCUIT_CLOSED: str
CIRCUIT_OPEN: str
CIRCUIT_HALF_OPEN: str
CIRCUIT_FORCED_OPEN: str
CIRCUIT_FORCED_CLOSED: str
BREAKER_CAUSES: tuple[str, ...]
OPERATOR_ACTIONS: tuple[str, ...]
IDEMPOTENCY_DEFAULT_MEMORY_TTL: float
IDEMPOTENCY_DEFAULT_EXECUTION_TTL: float
LEADER_DEFAULT_LEASE_SECONDS: float
LEADER_MIN_LEASE_SECONDS: float
NOTIFY_PRIORITIES: tuple[str, ...]
NOTIFY_CHANNELS: tuple[str, ...]
NOTIFY_REASONS: tuple[str, ...]
NOTIFY_DEFAULT_RATE_PER_MINUTE: int
NOTIFY_DEFAULT_RATE_PER_HOUR: int
NOTIFY_DEFAULT_COOLDOWN_SECONDS: float
NOTIFY_DEFAULT_BURST_THRESHOLD: int
DLQ_DEFAULT_MAX_SIZE: int
DLQ_DEFAULT_MAX_PER_DOMAIN: int
DLQ_DEFAULT_OVERFLOW: str
DLQ_OVERFLOWS: tuple[str, ...]
DLQ_DEFAULT_REPLAY_BUDGET: int
DLQ_STATES: tuple[str, ...]
DLQ_PENDING: str
DLQ_REPLAYING: str
DLQ_NEEDS_REVIEW: str
DLQ_DONE: str
DLQ_GONE: str
GAVE_UP_EXHAUSTED: str
GAVE_UP_CIRCUIT_OPEN: str
GAVE_UP_TIMEOUT: str
METRICS_DEFAULT_MAX_DOMAIN_LABELS: int
METRICS_DEFAULT_MAX_ENDPOINTS: int
METRICS_OVERFLOW_DOMAIN: str
METRICS_UNMATCHED_ROUTE: str
CALL_OUTCOMES: tuple[str, ...]
DRAIN_SERVING: str
DRAIN_DRAINING: str
DRAIN_DRAINED: str
DRAIN_DEADLINE_PASSED: str

__all__ = [
    "BREAKER_CAUSES",
    "CALL_OUTCOMES",
    "CB_DEFAULT_FAILURE_RATE_THRESHOLD",
    "CB_DEFAULT_FAILURE_THRESHOLD",
    "CB_DEFAULT_HALF_OPEN_MAX_CALLS",
    "CB_DEFAULT_MINIMUM_CALLS",
    "CB_DEFAULT_RECOVERY_TIMEOUT",
    "CB_DEFAULT_SYNC_INTERVAL_SECONDS",
    "CB_DEFAULT_WINDOW_SECONDS",
    "CIRCUIT_CLOSED",
    "CIRCUIT_FORCED_CLOSED",
    "CIRCUIT_FORCED_OPEN",
    "CIRCUIT_HALF_OPEN",
    "CIRCUIT_OPEN",
    "CIRCUIT_STATES",
    "DLQ_DEFAULT_MAX_PER_DOMAIN",
    "DLQ_DEFAULT_MAX_SIZE",
    "DLQ_DEFAULT_OVERFLOW",
    "DLQ_DEFAULT_REPLAY_BUDGET",
    "DLQ_DONE",
    "DLQ_GONE",
    "DLQ_NEEDS_REVIEW",
    "DLQ_OVERFLOWS",
    "DLQ_PENDING",
    "DLQ_REPLAYING",
    "DLQ_STATES",
    "DRAIN_DEADLINE_PASSED",
    "DRAIN_DRAINED",
    "DRAIN_DRAINING",
    "DRAIN_SERVING",
    "GAVE_UP_CIRCUIT_OPEN",
    "GAVE_UP_EXHAUSTED",
    "GAVE_UP_TIMEOUT",
    "IDEMPOTENCY_DEFAULT_EXECUTION_TTL",
    "IDEMPOTENCY_DEFAULT_MEMORY_TTL",
    "JITTERS",
    "LEADER_DEFAULT_LEASE_SECONDS",
    "LEADER_MIN_LEASE_SECONDS",
    "METRICS_DEFAULT_MAX_DOMAIN_LABELS",
    "METRICS_DEFAULT_MAX_ENDPOINTS",
    "METRICS_OVERFLOW_DOMAIN",
    "METRICS_UNMATCHED_ROUTE",
    "NOTIFY_CHANNELS",
    "NOTIFY_DEFAULT_BURST_THRESHOLD",
    "NOTIFY_DEFAULT_COOLDOWN_SECONDS",
    "NOTIFY_DEFAULT_RATE_PER_HOUR",
    "NOTIFY_DEFAULT_RATE_PER_MINUTE",
    "NOTIFY_PRIORITIES",
    "NOTIFY_REASONS",
    "OPERATOR_ACTIONS",
    "RETRY_BUDGET_DEFAULT_MIN_PER_SECOND",
    "RETRY_BUDGET_DEFAULT_RATIO",
    "RETRY_DEFAULT_ATTEMPTS",
    "RETRY_DEFAULT_BASE_DELAY",
    "RETRY_DEFAULT_JITTER",
    "RETRY_DEFAULT_MAX_DELAY",
    "RETRY_DEFAULT_MULTIPLIER",
    "RETRY_MAX_MULTIPLIER",
    "STEP_GIVE_UP",
    "STEP_PROPAGATE",
    "STEP_RETRY",
    "VERDICT_ABORT",
    "VERDICT_FATAL",
    "VERDICT_NOT_A_FAILURE",
    "VERDICT_RETRYABLE",
    "WATCHDOG_DEFAULT_MISSED_BEATS",
    "AsyncCall",
    "AsyncStart",
    "CompartmentSnapshot",
    "IdempotencySpec",
    "PendingClaim",
    "PermitTicket",
    "ProtectResult",
    "Protected",
    "Zone",
    "__version__",
    "admin_address",
    "admin_host_problem",
    "admin_origin_problem",
    "admin_start",
    "admin_stop",
    "audit_enabled",
    "audit_flush",
    "audit_list",
    "audit_record",
    "audit_record_later",
    "audit_verify",
    "call_with_meta",
    "circuit_state",
    "claim_for_async",
    "close_runtime",
    "compartments",
    "configure_audit",
    "configure_breakers",
    "configure_dlq",
    "configure_leader",
    "configure_metrics",
    "configure_notifications",
    "configure_stores",
    "dlq_claim",
    "dlq_failed",
    "dlq_flushed",
    "dlq_get",
    "dlq_list",
    "dlq_purge",
    "dlq_record",
    "dlq_redrive",
    "dlq_set_replay_lease",
    "dlq_stats",
    "dlq_store_health",
    "dlq_succeeded",
    "drain_cancel",
    "drain_progress",
    "drain_seconds_left",
    "drain_start",
    "first_sync",
    "fleet_snapshot",
    "flush_stores",
    "force_close",
    "force_open",
    "inject_idempotency_store_fault",
    "is_draining",
    "kill_switch_disable",
    "kill_switch_enable",
    "kill_switch_enabled",
    "kill_switch_record",
    "kill_switch_remote_configured",
    "kill_switch_remote_load",
    "kill_switch_remote_save",
    "leader_fenced",
    "leader_is_leader",
    "leader_read_fenced",
    "leader_release",
    "leader_start",
    "leader_status",
    "metrics_snapshot",
    "normalise_path",
    "notify_after_fork",
    "notify_clear",
    "notify_counts",
    "notify_idle",
    "notify_next_due",
    "notify_settle",
    "notify_submit",
    "notify_take_due",
    "protect",
    "protect_with_meta",
    "record_request",
    "redis_url_problem",
    "refused_result",
    "register_breaker",
    "register_compartment",
    "replay_wal_now",
    "reset",
    "runtime_after_fork",
    "runtime_after_fork_in_parent",
    "runtime_before_fork",
    "runtime_ping",
    "runtime_status",
    "scheduler_add",
    "scheduler_close",
    "scheduler_remove",
    "scheduler_start",
    "scheduler_status",
    "set_default_timeout",
    "set_idempotency_memory_ttl",
    "set_retry_budget",
    "set_transition_listener",
    "set_watchdog_missed_beats",
    "shutdown_runtime",
    "snapshots",
    "store_health",
    "testing_advance",
    "testing_reset",
    "testing_set_waits",
    "testing_skipped_waits",
    "testing_use_manual_clock",
    "testing_use_system_clock",
    "wal_append_json",
    "wal_pending",
    "watchdog_beat",
    "watchdog_forget",
    "watchdog_status",
    "watchdog_watch",
]

@final
class Zone:
    def __new__(
        cls,
        name: str,
        *,
        circuit_breaker: bool,
        attempts: int,
        base_delay: float,
        max_delay: float,
        multiplier: float,
        jitter: str,
        timeout: float | None,
        classifier: Callable[[BaseException], tuple[int, float | None]],
        fallback: Callable[..., Any] | None,
        fallback_takes_error: bool,
        idempotency: IdempotencySpec | None = None,
        default_timeout: bool = True,
        dlq: bool = False,
        bulkhead: str | None = None,
    ) -> Zone: ...
    @property
    def name(self) -> str: ...
    @property
    def timeout(self) -> float | None: ...
    @property
    def attempts(self) -> int: ...
    @property
    def fallback(self) -> Callable[..., Any] | None: ...
    @property
    def fallback_takes_error(self) -> bool: ...
    @property
    def idempotency(self) -> IdempotencySpec | None: ...
    @property
    def dlq(self) -> bool: ...
    @property
    def bulkhead(self) -> str | None: ...
    def count_fallback(self) -> None: ...

@final
class Protected:
    def __new__(cls, zone: Zone, func: Callable[..., Any]) -> Protected: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...
    def __get__(self, instance: object, owner: object = None, /) -> Any: ...
    @property
    def zone(self) -> Zone: ...

@final
class ProtectResult:
    """What happened to one protected call."""

    @property
    def value(self) -> Any: ...
    @property
    def error(self) -> BaseException | None: ...
    @property
    def ok(self) -> bool: ...
    @property
    def fallback_used(self) -> bool: ...
    @property
    def attempts(self) -> int: ...
    @property
    def rejected(self) -> bool: ...
    @property
    def circuit_state(self) -> str: ...
    @property
    def duration_s(self) -> float: ...
    @property
    def dlq_id(self) -> str | None: ...
    def __bool__(self) -> bool: ...

@final
class IdempotencySpec:
    """How one zone finds, namespaces and fingerprints its idempotency key."""

    def __new__(
        cls,
        namespace: str,
        *,
        key_name: str | None = None,
        key_index: int | None = None,
        key_default: object = None,
        key_callable: Callable[..., object] | None = None,
        key_value: object = None,
        key_given: bool = False,
        fingerprint: Callable[[tuple[Any, ...], dict[str, Any] | None], int] | None = None,
        execution_ttl: float,
        fail_open: bool,
    ) -> IdempotencySpec: ...
    @property
    def namespace(self) -> str: ...

@final
class PendingClaim:
    """A claim an async callsite awaited, for its AsyncCall."""

def claim_for_async(
    spec: IdempotencySpec,
    args: tuple[Any, ...],
    kwargs: dict[str, Any] | None = None,
    given: object = None,
) -> PendingClaim | Awaitable[PendingClaim]: ...

@final
class AsyncStart:
    """Starts a protected coroutine's calls (baldur._async)."""

    def __new__(cls, zone: Zone) -> AsyncStart: ...
    def begin(self) -> AsyncCall | None:
        """An admitted call on its fast path, or None: take AsyncCall(...)."""

@final
class AsyncCall:
    """One async call in progress (stepped by baldur._async)."""

    def __new__(
        cls,
        zone: Zone,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any] | None = None,
        key: object = None,
        claim: PendingClaim | None = None,
        *,
        report: bool = False,
    ) -> AsyncCall: ...
    @property
    def admitted(self) -> bool: ...
    @property
    def rejected(self) -> bool: ...
    @property
    def falls_back(self) -> bool: ...
    @property
    def dlq_id(self) -> str | None: ...
    @property
    def budget(self) -> float | None: ...
    @property
    def delay(self) -> float: ...
    @property
    def attempts(self) -> int: ...
    @property
    def final_error(self) -> BaseException | None: ...
    @property
    def reason(self) -> str | None: ...
    def take_permit(self) -> bool | Awaitable[PermitTicket]: ...
    def permitted(self, ticket: PermitTicket) -> bool: ...
    def start_attempt(self) -> bool: ...
    def succeeded(self) -> None: ...
    def failed(self, error: BaseException) -> int: ...
    def timed_out(self) -> None: ...
    def abandon(self) -> None: ...
    def finished(self) -> None: ...
    def result(
        self,
        *,
        value: Any,
        ok: bool,
        fallback_used: bool,
        error: BaseException | None,
        duration_s: float,
        dlq_id: str | None = None,
    ) -> ProtectResult: ...

@final
class PermitTicket:
    """What an async call's wait for a bulkhead permit came to."""

@final
class CompartmentSnapshot:
    """One bulkhead compartment's occupancy and limits."""

    @property
    def active(self) -> int: ...
    @property
    def waiting(self) -> int: ...
    @property
    def capacity(self) -> int: ...
    @property
    def max_waiting(self) -> int: ...
    @property
    def wait_timeout(self) -> float: ...
    @property
    def rejected(self) -> int: ...

def register_compartment(
    name: str, *, max_concurrent: int, max_waiting: int, wait_timeout: float
) -> None: ...
def compartments() -> dict[str, CompartmentSnapshot]: ...
def call_with_meta(
    zone: Zone,
    func: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any] | None = None,
) -> ProtectResult: ...
def configure_dlq(
    path: str,
    max_size: int,
    max_per_zone: int,
    overflow: str,
    redis_url: str | None = None,
    tls_ca_pem: bytes | None = None,
) -> None: ...
def dlq_record(
    zone: str,
    function: str,
    arguments: str,
    replayable: bool,
    error_type: str,
    error_message: str,
    attempts: int,
    reason: str,
    replay_budget: int,
) -> tuple[str, int, int, str | None]: ...
def dlq_get(id: str) -> dict[str, Any] | None: ...
def dlq_list(
    zone: str | None = None,
    state: str | None = None,
    error_type: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None, str | None]: ...
def dlq_claim(id: str) -> dict[str, Any] | None: ...
def dlq_succeeded(id: str) -> None: ...
def dlq_failed(id: str, error: str, review: bool = False) -> str: ...
def dlq_redrive(id: str, budget: int) -> bool: ...
def dlq_purge(zone: str | None = None, state: str | None = None) -> int: ...
def dlq_stats() -> dict[str, Any]: ...
def dlq_set_replay_lease(seconds: float) -> None: ...
def dlq_flushed() -> int: ...
def shutdown_runtime() -> None: ...
def close_runtime() -> None: ...
def runtime_after_fork() -> None: ...
def runtime_before_fork() -> None: ...
def runtime_after_fork_in_parent() -> None: ...
def runtime_status() -> tuple[bool, int]: ...
def runtime_ping() -> Awaitable[bool]: ...
def refused_result(
    zone: Zone,
    error: BaseException,
    duration_s: float,
    rejected: bool,
    dlq_id: str | None = None,
) -> ProtectResult: ...
def set_idempotency_memory_ttl(seconds: float) -> None: ...
def inject_idempotency_store_fault(reason: str | None) -> None: ...
def redis_url_problem(url: str) -> str | None: ...
def admin_host_problem(entry: str) -> str | None: ...
def admin_origin_problem(entry: str) -> str | None: ...
def admin_start(
    *,
    host: str,
    port: int,
    admin_key: str,
    viewer_key: str | None,
    allowed_hosts: list[str],
    allowed_origins: list[str],
    unlocked: bool,
    handler: Callable[
        [str, str, str, bytes, str | None, str | None], tuple[int, list[tuple[str, str]], bytes]
    ],
    store: str,
) -> tuple[str, str, int]: ...
def admin_stop() -> None: ...
def set_watchdog_missed_beats(missed_beats: int) -> None: ...
def watchdog_status() -> list[dict[str, Any]]: ...
def watchdog_watch(name: str, interval: float) -> None: ...
def watchdog_beat(name: str) -> None: ...
def watchdog_forget(name: str) -> None: ...
def admin_address() -> tuple[str, int] | None: ...
def configure_leader(
    url: str | None, lease_seconds: float, tls_ca_pem: bytes | None = None
) -> None: ...
def leader_start() -> None: ...
def leader_is_leader() -> bool: ...
def leader_status() -> tuple[str | None, int, float | None, bool]: ...
def leader_fenced(name: str, value: str, token: int | None = None) -> bool: ...
def leader_read_fenced(name: str) -> str | None: ...
def leader_release() -> None: ...
def configure_audit(path: str | None, signing_key: str | None = None) -> None: ...
def audit_enabled() -> bool: ...
def audit_record(
    actor: str, action: str, target: str, reason: str | None, details_json: str
) -> int | None: ...
def audit_record_later(
    actor: str, action: str, target: str, reason: str | None, details_json: str
) -> None: ...
def audit_list(
    limit: int, after: int
) -> list[tuple[int, float, str, str, str, str | None, str, str, str]]: ...
def audit_verify() -> tuple[bool, int, int | None, str | None] | None: ...
def audit_flush() -> None: ...
def configure_notifications(
    enabled: bool,
    per_minute: int,
    per_hour: int,
    cooldown: float,
    burst_threshold: int,
    slack: bool,
    webhook: bool,
    info_channel: str | None,
) -> None: ...
def notify_submit(key: str, asked: str, body: str) -> tuple[bool, str | None, list[str], str]: ...
def notify_take_due() -> list[tuple[int, str, str, str, int]]: ...
def notify_settle(
    delivery: tuple[int, str, str, str, int], status: int | None, retry_after: float | None = None
) -> str: ...
def notify_next_due() -> float | None: ...
def notify_idle() -> bool: ...
def notify_counts() -> dict[str, dict[str, int]]: ...
def notify_after_fork() -> None: ...
def notify_clear() -> None: ...
def scheduler_add(
    name: str,
    every: float | None,
    at: str | None,
    leader_only: bool,
    run: Callable[[], tuple[str, str] | None],
) -> None: ...
def scheduler_remove(name: str) -> bool: ...
def scheduler_start() -> None: ...
def scheduler_close(bound: float) -> None: ...
def scheduler_status() -> tuple[
    list[tuple[str, float | None, str | None, bool, int, int, int, int, str | None, bool, float]],
    bool,
]: ...
def configure_stores(
    idempotency_url: str | None,
    breaker_url: str | None,
    wal_path: str | None = None,
    tls_ca_pem: bytes | None = None,
    sync_interval: float | None = None,
) -> None: ...
def first_sync() -> Awaitable[None] | None: ...
def replay_wal_now() -> None: ...
def wal_append_json(payload: str) -> None: ...
def wal_pending() -> int: ...
def dlq_store_health() -> dict[str, Any] | None: ...
def store_health() -> dict[str, dict[str, Any]]: ...
def flush_stores() -> None: ...
def protect(name: str, func: Callable[[], _T], /, **keywords: Unpack[ProtectOptions]) -> _T: ...
def protect_with_meta(
    name: str, func: Callable[[], Any], /, **keywords: Unpack[ProtectOptions]
) -> ProtectResult: ...
def set_default_timeout(seconds: float | None) -> None: ...
def set_retry_budget(ratio: float | None, min_per_second: float) -> None: ...
def configure_breakers(
    failure_threshold: int,
    minimum_calls: int,
    recovery_timeout: float,
    half_open_max_calls: int,
    window_seconds: float,
    failure_rate_threshold: float,
) -> None: ...
def register_breaker(name: str) -> None: ...
def force_open(name: str) -> None: ...
def force_close(name: str) -> None: ...
def reset(name: str) -> None: ...
def circuit_state(name: str) -> str: ...
def fleet_snapshot(name: str) -> dict[str, Any] | None: ...
def snapshots() -> dict[str, dict[str, Any]]: ...
def set_transition_listener(
    callback: Callable[[str, str, str, str, int, int, int], None] | None,
) -> None: ...
def metrics_snapshot() -> dict[str, Any]: ...
def record_request(method: str, route: str | None, status: int, seconds: float) -> None: ...
def normalise_path(path: str) -> str: ...
def configure_metrics(max_domains: int, max_endpoints: int) -> None: ...
def kill_switch_enabled() -> bool: ...
def kill_switch_disable(reason: str, actor: str, at: float) -> None: ...
def kill_switch_enable() -> None: ...
def kill_switch_record() -> tuple[str, str, float] | None: ...
def kill_switch_remote_configured() -> bool: ...
def kill_switch_remote_load() -> str | None: ...
def kill_switch_remote_save(record: str | None) -> None: ...
def drain_start(seconds: float) -> bool: ...
def drain_progress() -> tuple[str, int, float]: ...
def is_draining() -> bool: ...
def drain_seconds_left() -> int: ...
def drain_cancel() -> None: ...

# baldur.testing's half (src/py/testing.rs).
def testing_reset() -> None: ...
def testing_set_waits(on: bool) -> None: ...
def testing_skipped_waits() -> list[float]: ...
def testing_use_manual_clock() -> None: ...
def testing_use_system_clock() -> None: ...
def testing_advance(seconds: float) -> None: ...
