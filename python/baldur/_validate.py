"""Validators shared by every place a setting enters: keywords, ``init()``
overrides and ``BALDUR_*`` variables. Each names the key, the value and what
is allowed, and bounds what it accepts so nothing reaches the Rust core that
would overflow there."""

from __future__ import annotations

import decimal
import math
import numbers

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
    # Any real number: int, float, Fraction, numpy's; and Decimal, which
    # the numbers tower leaves out of Real but is one.
    if isinstance(value, (numbers.Real, decimal.Decimal)):
        try:
            return float(value)
        except (OverflowError, ValueError):  # Fraction(10**400), Decimal("sNaN")
            return math.nan
    return math.nan


def text(key: str, value: object, allowed: str) -> str:
    """``value`` if it is a string every store and log can take (UTF-8): a
    lone surrogate (``"\\ud800"``, from a bad decode) is a ConfigError, not a
    ``UnicodeEncodeError`` from deep inside."""
    if not isinstance(value, str):
        raise ConfigError(key, value, allowed)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(key, value, allowed + ", valid Unicode (no lone surrogate)") from None
    return value


#: What a zone name may be.
NAME = "a non-empty string naming the dependency"


def name(value: object) -> str:
    """A zone name: non-empty text."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError("name", value, NAME)
    return text("name", value, NAME)


def limit(key: str, value: object) -> int:
    """How many entries or replays at most: an integer from 1 to
    :data:`MAX_COUNT` (a negative one overflowed in the core, naming nothing)."""
    return count(key, value)


#: What an HTTP status may be.
HTTP_STATUS = "an HTTP status code from 100 to 599"


def http_status(key: str, value: object) -> int:
    """An HTTP status code (an int, or what ``int()`` takes)."""
    if isinstance(value, bool):
        raise ConfigError(key, value, HTTP_STATUS)
    try:
        status: int = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(key, value, HTTP_STATUS) from None
    if not 100 <= status <= 599:
        raise ConfigError(key, value, HTTP_STATUS)
    return status


def entry_id(value: object) -> str:
    """A dead-letter entry's id, as text (ints are accepted)."""
    return text("entry_id", str(value), "an entry id")


def optional_text(key: str, value: object, allowed: str) -> str | None:
    """``None``, or text as :func:`text` takes it."""
    return None if value is None else text(key, value, allowed + ", or None")
