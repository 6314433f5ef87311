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
from collections.abc import Callable, Mapping
from typing import Any

from baldur.exceptions import ConfigError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclasses.dataclass(frozen=True)
class Setting:
    """One key: its environment variable, how text becomes a value, its default."""

    env: str
    parse: Callable[[object], object]
    allowed: str
    default: object


def _integer_at_least_one(raw: object) -> int:
    if isinstance(raw, bool):
        raise ValueError
    value = int(raw) if isinstance(raw, str) else raw
    if not isinstance(value, int) or value < 1:
        raise ValueError
    return value


def _positive_seconds(raw: object) -> float:
    if isinstance(raw, bool):
        raise ValueError
    value = float(raw) if isinstance(raw, (str, int, float)) else math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError
    return value


def _optional_positive_seconds(raw: object) -> float | None:
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None
    return _positive_seconds(raw)


def _log_level(raw: object) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or raw.strip().upper() not in LOG_LEVELS:
        raise ValueError
    return raw.strip().upper()


SETTINGS: Mapping[str, Setting] = {
    "cb_failure_threshold": Setting(
        "BALDUR_CB_FAILURE_THRESHOLD", _integer_at_least_one, "an integer >= 1", 5
    ),
    "cb_minimum_calls": Setting(
        "BALDUR_CB_MINIMUM_CALLS", _integer_at_least_one, "an integer >= 1", 10
    ),
    "cb_recovery_timeout": Setting(
        "BALDUR_CB_RECOVERY_TIMEOUT", _positive_seconds, "a number of seconds > 0", 60.0
    ),
    "cb_half_open_max_calls": Setting(
        "BALDUR_CB_HALF_OPEN_MAX_CALLS", _integer_at_least_one, "an integer >= 1", 3
    ),
    "cb_window_seconds": Setting(
        "BALDUR_CB_WINDOW_SECONDS", _positive_seconds, "a number of seconds > 0", 60.0
    ),
    "protect_default_timeout_seconds": Setting(
        "BALDUR_PROTECT_DEFAULT_TIMEOUT_SECONDS",
        _optional_positive_seconds,
        "a number of seconds > 0, or empty for none",
        None,
    ),
    "log_level": Setting("BALDUR_LOG_LEVEL", _log_level, " | ".join(LOG_LEVELS), None),
    "idempotency_gate_memory_ttl_seconds": Setting(
        "BALDUR_IDEMPOTENCY_GATE_MEMORY_TTL_SECONDS",
        _positive_seconds,
        "a number of seconds > 0",
        1800.0,
    ),
}


@dataclasses.dataclass(frozen=True)
class Settings:
    """Resolved settings: every key of :data:`SETTINGS`, validated."""

    cb_failure_threshold: int
    cb_minimum_calls: int
    cb_recovery_timeout: float
    cb_half_open_max_calls: int
    cb_window_seconds: float
    protect_default_timeout_seconds: float | None
    log_level: str | None
    idempotency_gate_memory_ttl_seconds: float


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
        else:
            values[key] = setting.default
            continue
        try:
            values[key] = setting.parse(raw)
        except (TypeError, ValueError):
            raise ConfigError(source, raw, setting.allowed) from None
    return Settings(**values)


def apply_log_level(level: str | None) -> None:
    """Sets the ``baldur`` logger's level; ``None`` leaves it to the app."""
    if level is not None:
        logging.getLogger("baldur").setLevel(level)
