"""The settings in force, applied to the Rust core. Loaded from the
environment on first use; ``baldur.init()`` reloads them with overrides."""

from __future__ import annotations

import os
import threading

import baldur._bus as _bus
import baldur._core as _core
import baldur._data_dir as _data_dir
import baldur._known_settings as _known_settings
import baldur._settings as _settings
from baldur._settings import Settings

_lock = threading.Lock()
_current: Settings | None = None
# Every override any init() call made: a later bare init() (an adapter's)
# must not undo the app's own init(cb_failure_threshold=...).
_overrides: dict[str, object] = {}


def applied() -> Settings | None:
    """The settings in force, or ``None`` before the first apply (nothing
    is loaded)."""
    return _current


def current() -> Settings:
    """The settings in force, loading them from the environment if needed."""
    settings = _current
    if settings is None:
        with _lock:
            settings = _current if _current is not None else _apply({})
    return settings


def init(**overrides: object) -> None:
    """Reads ``BALDUR_*`` settings, applies ``overrides`` on top, and configures
    Baldur. Idempotent, cheap and free of network I/O (it reads the kill
    switch's small local record, nothing else): safe to call from every
    adapter's startup path, and again to change a setting.

    >>> import baldur
    >>> baldur.init(cb_failure_threshold=3)

    Keys: the lower-case names of the ``BALDUR_*`` variables without the
    prefix (``cb_failure_threshold``, ``protect_default_timeout_seconds``,
    ``log_level``, ...). Overrides accumulate: each call re-reads the
    environment and keeps what earlier calls set, so every adapter may call
    ``init()`` without undoing the app's own settings. An unknown key or a
    bad value raises :class:`~baldur.exceptions.ConfigError` and changes
    nothing.
    """
    with _lock:
        merged = {**_overrides, **overrides}
        settings = _apply(merged)
        _overrides.clear()
        _overrides.update(merged)
    _bus.publish(_bus.INIT_APPLIED, settings=settings)


def reset() -> None:
    """Forgets every ``init()`` override and re-reads the environment (for
    tests, and for a process that reconfigures from scratch)."""
    with _lock:
        _overrides.clear()
        settings = _apply({})
    _bus.publish(_bus.INIT_APPLIED, settings=settings)


def _apply(overrides: dict[str, object]) -> Settings:
    global _current
    # Everything is checked (and read) before anything is applied: a bad
    # value changes nothing.
    settings = _settings.load(overrides)
    tls_ca = _tls_ca(settings.redis_tls_ca_file)
    _known_settings.report_unknown(os.environ, (s.env for s in _settings.SETTINGS.values()))
    _data_dir.secure(
        settings.data_dir or _settings.default_data_dir(), named=settings.data_dir is not None
    )
    _core.configure_breakers(
        settings.cb_failure_threshold,
        settings.cb_minimum_calls,
        settings.cb_recovery_timeout,
        settings.cb_half_open_max_calls,
        settings.cb_window_seconds,
        settings.cb_failure_rate_threshold,
    )
    _core.set_default_timeout(settings.protect_default_timeout_seconds)
    _core.set_retry_budget(settings.retry_budget_ratio, settings.retry_budget_min_per_second)
    _core.configure_metrics(settings.metrics_max_domain_labels, settings.metrics_max_endpoints)
    _core.set_idempotency_memory_ttl(settings.idempotency_gate_memory_ttl_seconds)
    _core.set_watchdog_missed_beats(settings.watchdog_missed_beats)
    _settings.apply_log_levels(settings)
    _core.configure_dlq(
        _settings.dlq_path(settings),
        settings.dlq_max_size,
        settings.dlq_max_per_domain,
        settings.dlq_overflow_strategy,
        _settings.dlq_store_url(settings),
        tls_ca,
    )
    _core.configure_stores(
        _settings.idempotency_store_url(settings),
        _settings.breaker_store_url(settings),
        _settings.wal_path(settings),
        tls_ca,
        settings.cb_sync_interval_seconds,
    )
    _core.configure_leader(
        _settings.leader_store_url(settings), settings.leader_lease_seconds, tls_ca
    )
    _core.configure_audit(_settings.audit_path(settings), settings.audit_signing_key)
    _current = settings
    # Features that act on a new configuration subscribed (the kill switch
    # restores its record, metrics register their collector).
    _bus.publish(_bus.CONFIG_APPLIED, settings=settings)
    return settings


def _tls_ca(path: str | None) -> bytes | None:
    return None if path is None else _settings.read_ca_file("redis_tls_ca_file", path)
