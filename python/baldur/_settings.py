"""Baldur's settings: one table of keys, read from ``BALDUR_*`` environment
variables and overridden by ``baldur.init(**overrides)``.

Every value is validated where it enters; a bad one is a
:class:`~baldur.exceptions.ConfigError` naming the key (the environment
variable, or the ``init()`` keyword), the value, and what is allowed.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import ssl
from collections.abc import Callable, Mapping
from typing import Any

import baldur._admin_settings as _admin
import baldur._core as _core
import baldur._data_dir as _data_directory
import baldur._validate as _validate
from baldur._redact import MASK, redact_urls
from baldur.exceptions import ConfigError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: Seconds between two rounds of the standing DLQ replay worker.
DEFAULT_DLQ_REPLAY_INTERVAL_SECONDS = 60.0


@dataclasses.dataclass(frozen=True)
class Setting:
    """One key: its environment variable, how text becomes a value, its default."""

    env: str
    #: parse(key, raw): the value, or a ConfigError naming ``key``.
    parse: Callable[[str, object], object]
    default: object


def _count(key: str, raw: object) -> int:
    return _validate.count(key, raw, text=True)


def _seconds(key: str, raw: object) -> float:
    return _validate.seconds(key, raw, text=True)


def _optional_seconds(key: str, raw: object) -> float | None:
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None
    return _seconds(key, raw)


def _failure_rate(key: str, raw: object) -> float:
    # The share of failed calls in the window that trips a breaker, in (0, 1].
    if isinstance(raw, str) and raw.strip() == "":
        raise ConfigError(key, raw, "a number in (0, 1]")
    rate = _validate.number(raw)
    if not 0 < rate <= 1:
        raise ConfigError(key, raw, "a number in (0, 1]")
    return rate


def _budget_ratio(key: str, raw: object) -> float | None:
    # The share of calls retries may spend; "none" turns the budget off.
    if isinstance(raw, str) and raw.strip().lower() == "none":
        return None
    return _non_negative(key, raw, "a number >= 0, or none to turn the budget off")


def _non_negative(key: str, raw: object, allowed: str = "a number >= 0") -> float:
    value = _validate.number(raw)
    if (isinstance(raw, str) and raw.strip() == "") or not 0 <= value < math.inf:
        raise ConfigError(key, raw, allowed)
    return value


#: Breakers sync with Redis at most this often: a shorter interval is a
#: busy loop against the store (and under a nanosecond the core refuses it).
MIN_SYNC_INTERVAL_SECONDS = 0.01


def _sync_interval(key: str, raw: object) -> float:
    seconds = _seconds(key, raw)
    if seconds < MIN_SYNC_INTERVAL_SECONDS:
        allowed = (
            f"a number of seconds >= {MIN_SYNC_INTERVAL_SECONDS} and <= {_validate.MAX_SECONDS:.0f}"
        )
        raise ConfigError(key, raw, allowed)
    return seconds


def _lease(key: str, raw: object) -> float:
    # Under a second, one slow answer from Redis costs the fleet its leader.
    seconds = _seconds(key, raw)
    if seconds < _core.LEADER_MIN_LEASE_SECONDS:
        allowed = f"a number of seconds >= {_core.LEADER_MIN_LEASE_SECONDS:g}"
        raise ConfigError(key, raw, f"{allowed} and <= {_validate.MAX_SECONDS:.0f}")
    return seconds


def _redis_url(key: str, raw: object) -> str | None:
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None
    if not isinstance(raw, str):
        raise ConfigError(key, raw, "a redis:// URL")
    problem = _core.redis_url_problem(raw.strip())
    if problem is not None:
        raise ConfigError(key, _hide_userinfo(raw), f"a redis:// URL ({problem})")
    return raw.strip()


def _hide_userinfo(url: str) -> str:
    """A malformed URL as an error may show it: what redact_urls cannot
    recognise as a URL (``redis//:pw@host``) loses all it has before its
    last ``@``, since the whole value is meant as a URL."""
    shown = redact_urls(url)
    if shown == url and "@" in url:
        return MASK + url[url.rindex("@") :]
    return shown


def _path(key: str, raw: object) -> str | None:
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None
    if not isinstance(raw, (str, os.PathLike)):
        raise ConfigError(key, raw, "a directory path")
    return os.fspath(raw)


def _data_dir(key: str, raw: object) -> str | None:
    path = _path(key, raw)
    return None if path is None else _data_directory.check(key, path)


def _ca_file(key: str, raw: object) -> str | None:
    path = _path(key, raw)
    if path is not None:
        read_ca_file(key, path)
    return path


#: What the PEM file of ``BALDUR_REDIS_TLS_CA_FILE`` must be.
CA_FILE = "the path of a PEM file of CA certificates"


def read_ca_file(key: str, path: str) -> bytes:
    """The CA bundle's bytes, once checked to hold PEM certificates (rustls
    would take a file of anything and then trust nothing)."""
    try:
        with open(path, "rb") as bundle:
            pem = bundle.read()
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cadata=pem.decode("ascii"))
    except (OSError, UnicodeDecodeError, ssl.SSLError, ValueError) as error:
        raise ConfigError(key, path, f"{CA_FILE} ({type(error).__name__})") from None
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        raise ConfigError(key, path, f"{CA_FILE} (no certificate in it)")
    return pem


def _secret(key: str, raw: object) -> str | None:
    # Never echoed back: a bad value is reported without itself.
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise ConfigError(key, "<hidden>", "a non-empty string")
    return raw


def default_data_dir() -> str:
    """The user's state directory (XDG): where durable local data lives."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return os.path.join(state, "baldur")


def _overflow(key: str, raw: object) -> str:
    allowed = _core.DLQ_OVERFLOWS
    if not isinstance(raw, str) or raw.strip() not in allowed:
        raise ConfigError(key, raw, " | ".join(allowed))
    return raw.strip()


def _seconds_or_zero(key: str, raw: object) -> float:
    return _validate.seconds(key, raw, zero_allowed=True, text=True)


def _log_level(key: str, raw: object) -> str | None:
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None
    if not isinstance(raw, str) or raw.strip().upper() not in LOG_LEVELS:
        raise ConfigError(key, raw, " | ".join(LOG_LEVELS))
    return raw.strip().upper()


#: What a secret that cannot be shown in part is shown as.
HIDDEN = "<hidden>"


def _webhook_url(key: str, raw: object) -> str | None:
    # The URL is the secret (Slack's token is its path): a bad one is
    # shown as its scheme and host only.
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None
    allowed = "an http:// or https:// URL"
    if not isinstance(raw, str):
        raise ConfigError(key, "<hidden>", allowed)
    url = raw.strip()
    shown = redacted_webhook(url)
    if shown == HIDDEN:
        raise ConfigError(key, HIDDEN, allowed)
    return url


def redacted_webhook(url: str) -> str:
    """A webhook URL as Baldur shows it: scheme and host, the rest (where
    the token lives) hidden.

    >>> redacted_webhook("https://hooks.slack.com/services/T0/B0/XYZ")
    'https://hooks.slack.com/***'
    """
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rpartition("@")[2]
    if scheme.lower() not in ("http", "https") or not host or any(c.isspace() for c in host):
        return HIDDEN
    return f"{scheme.lower()}://{host}/{MASK}"


def _info_channel(key: str, raw: object) -> str | None:
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None
    channels = _core.NOTIFY_CHANNELS
    if not isinstance(raw, str) or raw.strip().lower() not in channels:
        raise ConfigError(key, raw, " | ".join(channels) + ", or empty to log INFO only")
    return raw.strip().lower()


# The defaults the core also applies are the core's (src/py/names.rs lists
# them): one definition, read here.
SETTINGS: Mapping[str, Setting] = {
    "cb_failure_threshold": Setting(
        "BALDUR_CB_FAILURE_THRESHOLD", _count, _core.CB_DEFAULT_FAILURE_THRESHOLD
    ),
    "cb_minimum_calls": Setting("BALDUR_CB_MINIMUM_CALLS", _count, _core.CB_DEFAULT_MINIMUM_CALLS),
    "cb_failure_rate_threshold": Setting(
        "BALDUR_CB_FAILURE_RATE_THRESHOLD", _failure_rate, _core.CB_DEFAULT_FAILURE_RATE_THRESHOLD
    ),
    "cb_recovery_timeout": Setting(
        "BALDUR_CB_RECOVERY_TIMEOUT", _seconds, _core.CB_DEFAULT_RECOVERY_TIMEOUT
    ),
    "cb_half_open_max_calls": Setting(
        "BALDUR_CB_HALF_OPEN_MAX_CALLS", _count, _core.CB_DEFAULT_HALF_OPEN_MAX_CALLS
    ),
    "cb_sync_interval_seconds": Setting(
        "BALDUR_CB_SYNC_INTERVAL_SECONDS", _sync_interval, _core.CB_DEFAULT_SYNC_INTERVAL_SECONDS
    ),
    "cb_window_seconds": Setting(
        "BALDUR_CB_WINDOW_SECONDS", _seconds, _core.CB_DEFAULT_WINDOW_SECONDS
    ),
    "protect_default_timeout_seconds": Setting(
        "BALDUR_PROTECT_DEFAULT_TIMEOUT_SECONDS", _optional_seconds, None
    ),
    # The retry budget (Finagle's default): per zone, retries may spend this
    # share of the calls of the last 10 s, plus a floor a second.
    "retry_budget_ratio": Setting(
        "BALDUR_RETRY_BUDGET_RATIO", _budget_ratio, _core.RETRY_BUDGET_DEFAULT_RATIO
    ),
    "retry_budget_min_per_second": Setting(
        "BALDUR_RETRY_BUDGET_MIN_PER_SECOND",
        _non_negative,
        _core.RETRY_BUDGET_DEFAULT_MIN_PER_SECOND,
    ),
    "log_level": Setting("BALDUR_LOG_LEVEL", _log_level, None),
    # Per-family overrides of the global level (seed 003), each on its logger.
    "event_logging_dlq_log_level": Setting("BALDUR_EVENT_LOGGING_DLQ_LOG_LEVEL", _log_level, None),
    "event_logging_cb_log_level": Setting("BALDUR_EVENT_LOGGING_CB_LOG_LEVEL", _log_level, None),
    "event_logging_replay_log_level": Setting(
        "BALDUR_EVENT_LOGGING_REPLAY_LOG_LEVEL", _log_level, None
    ),
    "event_logging_sla_log_level": Setting("BALDUR_EVENT_LOGGING_SLA_LOG_LEVEL", _log_level, None),
    # The cardinality guard (seed 003): distinct zone labels before overflow,
    # and HTTP endpoints kept (least recently seen evicted).
    "metrics_max_domain_labels": Setting(
        "BALDUR_METRICS_MAX_DOMAIN_LABELS", _count, _core.METRICS_DEFAULT_MAX_DOMAIN_LABELS
    ),
    "metrics_max_endpoints": Setting(
        "BALDUR_METRICS_MAX_ENDPOINTS", _count, _core.METRICS_DEFAULT_MAX_ENDPOINTS
    ),
    # How long a SIGTERM (or baldur.shutdown()) waits for calls in flight.
    "shutdown_drain_seconds": Setting("BALDUR_SHUTDOWN_DRAIN_SECONDS", _seconds_or_zero, 30.0),
    # The shared store. A bare REDIS_URL counts only when BALDUR_REDIS_URL
    # is unset (see load()); a per-feature URL wins for its feature.
    "redis_url": Setting("BALDUR_REDIS_URL", _redis_url, None),
    "resilient_storage_redis_url": Setting("BALDUR_RESILIENT_STORAGE_REDIS_URL", _redis_url, None),
    "idempotency_redis_url": Setting("BALDUR_IDEMPOTENCY_REDIS_URL", _redis_url, None),
    "circuit_breaker_redis_url": Setting("BALDUR_CIRCUIT_BREAKER_REDIS_URL", _redis_url, None),
    # Leader election: over this URL, else the breakers' store; without
    # Redis every process leads itself.
    "leader_election_redis_url": Setting("BALDUR_LEADER_ELECTION_REDIS_URL", _redis_url, None),
    "leader_lease_seconds": Setting(
        "BALDUR_LEADER_LEASE_SECONDS", _lease, _core.LEADER_DEFAULT_LEASE_SECONDS
    ),
    # rediss:// trusts the system's roots unless given a CA bundle.
    "redis_tls_ca_file": Setting("BALDUR_REDIS_TLS_CA_FILE", _ca_file, None),
    # Durable local data: the write-ahead log of DEGRADED mode (and the DLQ).
    "data_dir": Setting("BALDUR_DATA_DIR", _data_dir, None),
    "dlq_max_size": Setting("BALDUR_DLQ_MAX_SIZE", _count, _core.DLQ_DEFAULT_MAX_SIZE),
    "dlq_max_per_domain": Setting(
        "BALDUR_DLQ_MAX_PER_DOMAIN", _count, _core.DLQ_DEFAULT_MAX_PER_DOMAIN
    ),
    "dlq_overflow_strategy": Setting(
        "BALDUR_DLQ_OVERFLOW_STRATEGY", _overflow, _core.DLQ_DEFAULT_OVERFLOW
    ),
    # The standing replay worker (on the leader): pending entries of zones
    # whose breaker is closed are replayed this often.
    "dlq_replay_interval_seconds": Setting(
        "BALDUR_DLQ_REPLAY_INTERVAL_SECONDS", _seconds, DEFAULT_DLQ_REPLAY_INTERVAL_SECONDS
    ),
    # HMAC-SHA-256 key: entries are signed, and replay refuses a bad one.
    "dlq_signing_key": Setting("BALDUR_DLQ_SIGNING_KEY", _secret, None),
    "idempotency_gate_memory_ttl_seconds": Setting(
        "BALDUR_IDEMPOTENCY_GATE_MEMORY_TTL_SECONDS", _seconds, _core.IDEMPOTENCY_DEFAULT_MEMORY_TTL
    ),
    # The admin server (control API, console): on 127.0.0.1:9090 unless
    # the port is 0; without a key it makes one into DATA_DIR/admin.key.
    # Silent intervals before a background loop counts as stalled.
    "watchdog_missed_beats": Setting(
        "BALDUR_WATCHDOG_MISSED_BEATS", _count, _core.WATCHDOG_DEFAULT_MISSED_BEATS
    ),
    "admin_host": Setting("BALDUR_ADMIN_HOST", _admin.host, _admin.DEFAULT_HOST),
    "admin_port": Setting("BALDUR_ADMIN_PORT", _admin.port, _admin.DEFAULT_PORT),
    "admin_key": Setting("BALDUR_ADMIN_KEY", _secret, None),
    "viewer_key": Setting("BALDUR_VIEWER_KEY", _secret, None),
    "admin_allowed_hosts": Setting("BALDUR_ADMIN_ALLOWED_HOSTS", _admin.hosts, ()),
    "admin_allowed_origins": Setting("BALDUR_ADMIN_ALLOWED_ORIGINS", _admin.origins, ()),
    "admin_unlock": Setting("BALDUR_ADMIN_UNLOCK", _admin.flag, False),
    # The audit trail (off by default, as the documents say).
    "audit_enabled": Setting("BALDUR_AUDIT_ENABLED", _admin.flag, False),
    "audit_signing_key": Setting("BALDUR_AUDIT_SIGNING_KEY", _secret, None),
    # Notifications (baldur.notify): the channels, then the fatigue guards.
    "slack_webhook_url": Setting("BALDUR_SLACK_WEBHOOK_URL", _webhook_url, None),
    "webhook_url": Setting("BALDUR_WEBHOOK_URL", _webhook_url, None),
    "notify_info_channel": Setting("BALDUR_NOTIFY_INFO_CHANNEL", _info_channel, None),
    "notifications_enabled": Setting("BALDUR_NOTIFICATIONS_ENABLED", _admin.flag, True),
    "notify_rate_per_minute": Setting(
        "BALDUR_NOTIFY_RATE_PER_MINUTE", _count, _core.NOTIFY_DEFAULT_RATE_PER_MINUTE
    ),
    "notify_rate_per_hour": Setting(
        "BALDUR_NOTIFY_RATE_PER_HOUR", _count, _core.NOTIFY_DEFAULT_RATE_PER_HOUR
    ),
    "notify_cooldown_seconds": Setting(
        "BALDUR_NOTIFY_COOLDOWN_SECONDS", _seconds_or_zero, _core.NOTIFY_DEFAULT_COOLDOWN_SECONDS
    ),
    "notify_burst_threshold": Setting(
        "BALDUR_NOTIFY_BURST_THRESHOLD", _count, _core.NOTIFY_DEFAULT_BURST_THRESHOLD
    ),
}


@dataclasses.dataclass(frozen=True)
class Settings:
    """Resolved settings: every key of :data:`SETTINGS`, validated."""

    cb_failure_threshold: int
    cb_minimum_calls: int
    cb_failure_rate_threshold: float
    cb_recovery_timeout: float
    cb_half_open_max_calls: int
    cb_window_seconds: float
    cb_sync_interval_seconds: float
    protect_default_timeout_seconds: float | None
    retry_budget_ratio: float | None
    retry_budget_min_per_second: float
    log_level: str | None
    event_logging_dlq_log_level: str | None
    event_logging_cb_log_level: str | None
    event_logging_replay_log_level: str | None
    event_logging_sla_log_level: str | None
    shutdown_drain_seconds: float
    metrics_max_domain_labels: int
    metrics_max_endpoints: int
    redis_url: str | None
    resilient_storage_redis_url: str | None
    idempotency_redis_url: str | None
    circuit_breaker_redis_url: str | None
    data_dir: str | None
    redis_tls_ca_file: str | None
    idempotency_gate_memory_ttl_seconds: float
    dlq_max_size: int
    dlq_max_per_domain: int
    dlq_overflow_strategy: str
    watchdog_missed_beats: int = 3
    admin_host: str = _admin.DEFAULT_HOST
    admin_port: int = _admin.DEFAULT_PORT
    admin_allowed_hosts: tuple[str, ...] = ()
    admin_allowed_origins: tuple[str, ...] = ()
    admin_unlock: bool = False
    leader_election_redis_url: str | None = None
    leader_lease_seconds: float = _core.LEADER_DEFAULT_LEASE_SECONDS
    dlq_replay_interval_seconds: float = DEFAULT_DLQ_REPLAY_INTERVAL_SECONDS
    dlq_signing_key: str | None = dataclasses.field(default=None, repr=False)
    admin_key: str | None = dataclasses.field(default=None, repr=False)
    viewer_key: str | None = dataclasses.field(default=None, repr=False)
    slack_webhook_url: str | None = dataclasses.field(default=None, repr=False)
    webhook_url: str | None = dataclasses.field(default=None, repr=False)
    notify_info_channel: str | None = None
    audit_enabled: bool = False
    audit_signing_key: str | None = dataclasses.field(default=None, repr=False)
    notifications_enabled: bool = True
    notify_rate_per_minute: int = _core.NOTIFY_DEFAULT_RATE_PER_MINUTE
    notify_rate_per_hour: int = _core.NOTIFY_DEFAULT_RATE_PER_HOUR
    notify_cooldown_seconds: float = _core.NOTIFY_DEFAULT_COOLDOWN_SECONDS
    notify_burst_threshold: int = _core.NOTIFY_DEFAULT_BURST_THRESHOLD


def load(overrides: Mapping[str, object], environ: Mapping[str, str] | None = None) -> Settings:
    """Resolves every setting: an override wins, then the environment, then
    the default."""
    environ = os.environ if environ is None else environ
    unknown = sorted(set(overrides) - set(SETTINGS))
    if unknown:
        raise ConfigError(unknown[0], overrides[unknown[0]], "one of " + ", ".join(SETTINGS))
    values: dict[str, Any] = {}
    for key, setting in SETTINGS.items():
        if key in overrides:
            source, raw = key, overrides[key]
        elif setting.env in environ:
            source, raw = setting.env, environ[setting.env]
        elif key == "redis_url" and "REDIS_URL" in environ:
            # The unprefixed name, honoured only when the prefixed is unset.
            source, raw = "REDIS_URL", environ["REDIS_URL"]
        else:
            values[key] = setting.default
            continue
        values[key] = setting.parse(source, raw)
    return Settings(**values)


#: Each event family's logger, by the setting that overrides its level.
FAMILY_LOGGERS: Mapping[str, str] = {
    "event_logging_dlq_log_level": "baldur.dlq",
    "event_logging_cb_log_level": "baldur.circuit_breaker",
    "event_logging_replay_log_level": "baldur.replay",
    "event_logging_sla_log_level": "baldur.sla",
}


def apply_log_level(level: str | None) -> None:
    """Sets the ``baldur`` logger's level; ``None`` leaves it to the app."""
    if level is not None:
        logging.getLogger("baldur").setLevel(level)


#: The family loggers whose level Baldur set (and may therefore unset).
_families_set: set[str] = set()


def apply_log_levels(settings: Settings) -> None:
    """The global level, then each family's override on its own logger. A
    family left unset follows the global level again if Baldur had set it;
    a level the app set itself is left alone."""
    apply_log_level(settings.log_level)
    for key, logger_name in FAMILY_LOGGERS.items():
        level = getattr(settings, key)
        if level is not None:
            logging.getLogger(logger_name).setLevel(level)
            _families_set.add(logger_name)
        elif logger_name in _families_set:
            logging.getLogger(logger_name).setLevel(logging.NOTSET)
            _families_set.discard(logger_name)


def idempotency_store_url(settings: Settings) -> str | None:
    """Where idempotency claims live: its own URL, else the resilient
    storage's, else the shared one; ``None`` for process memory."""
    return (
        settings.idempotency_redis_url or settings.resilient_storage_redis_url or settings.redis_url
    )


def breaker_store_url(settings: Settings) -> str | None:
    """Where breaker state is shared: its own URL, else the resilient
    storage's, else the shared one; ``None`` for per-process breakers."""
    return (
        settings.circuit_breaker_redis_url
        or settings.resilient_storage_redis_url
        or settings.redis_url
    )


def leader_store_url(settings: Settings) -> str | None:
    """Where the fleet elects its leader: its own URL, else where breaker
    state is shared; ``None`` for every process leading itself."""
    return settings.leader_election_redis_url or breaker_store_url(settings)


def dlq_store_url(settings: Settings) -> str | None:
    """Where the dead-letter queue lives: the resilient storage's URL, else
    the shared one; ``None`` for the local SQLite queue alone."""
    return settings.resilient_storage_redis_url or settings.redis_url


def wal_path(settings: Settings) -> str:
    """The write-ahead log of what must reach Redis and could not."""
    return os.path.join(settings.data_dir or default_data_dir(), "redis-wal.sqlite3")


def kill_switch_path(settings: Settings) -> str:
    """The kill switch's local record (who disabled Baldur, why, when)."""
    return os.path.join(settings.data_dir or default_data_dir(), "kill-switch.json")


def audit_path(settings: Settings) -> str | None:
    """The audit trail's chain, or ``None`` while the trail is off."""
    if not settings.audit_enabled:
        return None
    return os.path.join(settings.data_dir or default_data_dir(), "audit.sqlite3")


def dlq_path(settings: Settings) -> str:
    """The durable local dead-letter queue."""
    return os.path.join(settings.data_dir or default_data_dir(), "dlq.sqlite3")
