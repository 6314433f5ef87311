"""Validators shared by every place a setting enters: keywords, ``init()``
overrides and ``BALDUR_*`` variables. Each names the key, the value and what
is allowed, and bounds what it accepts so nothing reaches the Rust core that
would overflow there."""

from __future__ import annotations

import math

from baldur.exceptions import ConfigError

#: Ten years: a longer duration is a typo, and the core's arithmetic on
#: nanosecond counts stays far from overflow.
MAX_SECONDS = 315_360_000.0
#: Thresholds, budgets and attempt counts stay well inside 32 bits.
MAX_COUNT = 1_000_000

SECONDS = f"a number of seconds > 0 and <= {MAX_SECONDS:.0f}"
SECONDS_OR_ZERO = f"a number of seconds >= 0 and <= {MAX_SECONDS:.0f}"
COUNT = f"an integer from 1 to {MAX_COUNT}"


def seconds(key: str, value: object, *, zero_allowed: bool = False, text: bool = False) -> float:
    """A duration in seconds (fractional allowed); text is parsed only with
    ``text=True`` (environment variables), never from a keyword."""
    allowed = SECONDS_OR_ZERO if zero_allowed else SECONDS
    if isinstance(value, str) and not text:
        raise ConfigError(key, value, allowed)
    number = _number(value)
    low_ok = number >= 0 if zero_allowed else number > 0
    if not (math.isfinite(number) and low_ok and number <= MAX_SECONDS):
        raise ConfigError(key, value, allowed)
    return number


def count(key: str, value: object, *, text: bool = False) -> int:
    """A whole number of calls, probes or attempts; text is parsed only with
    ``text=True`` (environment variables)."""
    if isinstance(value, str) and text:
        try:
            value_int: object = int(value.strip())
        except ValueError:
            raise ConfigError(key, value, COUNT) from None
    else:
        value_int = value
    if isinstance(value_int, bool) or not isinstance(value_int, int):
        raise ConfigError(key, value, COUNT)
    if not 1 <= value_int <= MAX_COUNT:
        raise ConfigError(key, value, COUNT)
    return value_int


def flag(key: str, value: object) -> bool:
    """True or False, nothing else."""
    if not isinstance(value, bool):
        raise ConfigError(key, value, "True or False")
    return value


def number(value: object) -> float:
    """A real number (not a bool), or NaN when it is not one."""
    return _number(value)


def _number(value: object) -> float:
    if isinstance(value, bool):
        return math.nan
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return math.nan
    if isinstance(value, (int, float)):
        return float(value)
    return math.nan
