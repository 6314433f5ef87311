"""Configuration: ``BALDUR_*`` variables, ``baldur.init()`` overrides, and the
facade's keywords. A bad value is always a ``ConfigError`` that names the
key, the value and what is allowed."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest

import baldur
from helpers import AlwaysFails, Boom, Flaky, Stall

Configure = Callable[..., None]


def fail(name: str) -> None:
    with pytest.raises(Boom):
        baldur.protect(name, AlwaysFails())


def open_retry_after(name: str) -> float:
    error = baldur.protect_with_meta(name, lambda: None).error
    assert isinstance(error, baldur.CircuitOpenError)
    assert error.retry_after is not None
    return error.retry_after


# -- BALDUR_* environment variables --------------------------------------------------


def test_the_documented_defaults(zone_name: str) -> None:
    """Threshold 5 with a floor of 10 calls: nine failures do not trip."""
    for _ in range(9):
        fail(zone_name)
    assert baldur.circuit_state(zone_name) == "closed"
    fail(zone_name)
    assert baldur.circuit_state(zone_name) == "open"
    retry_after = open_retry_after(zone_name)
    assert 55 < retry_after <= 60  # BALDUR_CB_RECOVERY_TIMEOUT=60


def test_env_failure_threshold_and_minimum_calls(
    zone_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BALDUR_CB_FAILURE_THRESHOLD", "2")
    monkeypatch.setenv("BALDUR_CB_MINIMUM_CALLS", "3")
    baldur.init()
    fail(zone_name)
    fail(zone_name)
    assert baldur.circuit_state(zone_name) == "closed"  # two calls, under the floor of three
    fail(zone_name)
    assert baldur.circuit_state(zone_name) == "open"


def test_env_recovery_timeout(zone_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BALDUR_CB_FAILURE_THRESHOLD", "1")
    monkeypatch.setenv("BALDUR_CB_MINIMUM_CALLS", "1")
    monkeypatch.setenv("BALDUR_CB_RECOVERY_TIMEOUT", "0.1")
    baldur.init()
    fail(zone_name)
    assert 0 < open_retry_after(zone_name) <= 0.1
    time.sleep(0.15)
    assert baldur.protect(zone_name, lambda: "probe") == "probe"


def test_env_half_open_max_calls(zone_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BALDUR_CB_FAILURE_THRESHOLD", "1")
    monkeypatch.setenv("BALDUR_CB_MINIMUM_CALLS", "1")
    monkeypatch.setenv("BALDUR_CB_RECOVERY_TIMEOUT", "0.05")
    monkeypatch.setenv("BALDUR_CB_HALF_OPEN_MAX_CALLS", "1")
    baldur.init()
    fail(zone_name)
    time.sleep(0.1)
    baldur.protect(zone_name, lambda: None)
    assert baldur.circuit_state(zone_name) == "closed"  # one probe was the whole budget


def test_env_window_seconds(zone_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BALDUR_CB_FAILURE_THRESHOLD", "2")
    monkeypatch.setenv("BALDUR_CB_MINIMUM_CALLS", "2")
    monkeypatch.setenv("BALDUR_CB_WINDOW_SECONDS", "0.2")
    baldur.init()
    fail(zone_name)
    time.sleep(0.35)  # the first failure slides out of the window
    fail(zone_name)
    assert baldur.circuit_state(zone_name) == "closed"
    assert baldur.circuits()[zone_name]["failures"] == 1


def test_env_default_timeout(zone_name: str, monkeypatch: pytest.MonkeyPatch, stall: Stall) -> None:
    monkeypatch.setenv("BALDUR_PROTECT_DEFAULT_TIMEOUT_SECONDS", "0.05")
    baldur.init()
    started = time.monotonic()
    with pytest.raises(baldur.ProtectTimeoutError) as caught:
        baldur.protect(zone_name, stall)
    assert time.monotonic() - started < 2.0
    assert caught.value.timeout == 0.05


def test_default_timeout_reaches_zones_built_before_init(
    zone_name: str, monkeypatch: pytest.MonkeyPatch, stall: Stall
) -> None:
    protected = baldur.protected(zone_name)(stall)
    monkeypatch.setenv("BALDUR_PROTECT_DEFAULT_TIMEOUT_SECONDS", "0.05")
    baldur.init()
    with pytest.raises(baldur.ProtectTimeoutError):
        protected()


def test_a_per_call_timeout_wins_over_the_default(
    zone_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BALDUR_PROTECT_DEFAULT_TIMEOUT_SECONDS", "0.05")
    baldur.init()

    def takes_a_while() -> str:
        time.sleep(0.2)
        return "done"

    assert baldur.protect(zone_name, takes_a_while, timeout=5) == "done"


def test_an_empty_default_timeout_means_none(
    zone_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BALDUR_PROTECT_DEFAULT_TIMEOUT_SECONDS", "")
    baldur.init()

    def takes_a_while() -> str:
        time.sleep(0.1)
        return "done"

    assert baldur.protect(zone_name, takes_a_while) == "done"


def test_env_changes_apply_to_existing_breakers(
    zone_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    baldur.protect(zone_name, lambda: None)  # made under the defaults
    monkeypatch.setenv("BALDUR_CB_FAILURE_THRESHOLD", "1")
    monkeypatch.setenv("BALDUR_CB_MINIMUM_CALLS", "1")
    baldur.init()
    fail(zone_name)
    assert baldur.circuit_state(zone_name) == "open"


def test_env_log_level(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BALDUR_LOG_LEVEL", "debug")
    baldur.init()
    assert logging.getLogger("baldur").level == logging.DEBUG


# -- init() ------------------------------------------------------------------------


def test_an_init_keyword_wins_over_the_env(zone_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BALDUR_CB_FAILURE_THRESHOLD", "1")
    monkeypatch.setenv("BALDUR_CB_MINIMUM_CALLS", "1")
    baldur.init(cb_failure_threshold=2)
    fail(zone_name)
    assert baldur.circuit_state(zone_name) == "closed"
    fail(zone_name)
    assert baldur.circuit_state(zone_name) == "open"


def test_init_is_idempotent(zone_name: str, configure: Configure) -> None:
    for _ in range(3):
        configure(cb_failure_threshold=1, cb_minimum_calls=1)
    fail(zone_name)
    assert baldur.circuit_state(zone_name) == "open"


def test_an_unknown_init_key_is_a_config_error(configure: Configure) -> None:
    with pytest.raises(baldur.ConfigError) as caught:
        configure(cb_failure_treshold=3)
    assert caught.value.key == "cb_failure_treshold"
    assert "cb_failure_treshold" in str(caught.value)
    assert "cb_failure_threshold" in str(caught.value)  # the allowed keys are listed


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("cb_failure_threshold", 0),
        ("cb_failure_threshold", True),
        ("cb_failure_threshold", 2.5),
        ("cb_minimum_calls", -1),
        ("cb_recovery_timeout", 0),
        ("cb_recovery_timeout", float("inf")),
        ("cb_half_open_max_calls", "many"),
        ("cb_window_seconds", -5),
        ("protect_default_timeout_seconds", 0),
        ("log_level", "LOUD"),
    ],
)
def test_a_bad_init_value_is_a_config_error(configure: Configure, key: str, value: object) -> None:
    with pytest.raises(baldur.ConfigError) as caught:
        configure(**{key: value})
    assert caught.value.key == key
    assert key in str(caught.value)
    assert repr(value) in str(caught.value)
    assert "allowed is" in str(caught.value)


def test_a_bad_init_changes_nothing(zone_name: str, configure: Configure) -> None:
    configure(cb_failure_threshold=1, cb_minimum_calls=1)
    with pytest.raises(baldur.ConfigError):
        configure(cb_failure_threshold=2, cb_minimum_calls=0)
    fail(zone_name)
    assert baldur.circuit_state(zone_name) == "open"  # still threshold 1


@pytest.mark.parametrize(
    ("env", "value", "allowed"),
    [
        ("BALDUR_CB_FAILURE_THRESHOLD", "zero", "an integer from 1 to 1000000"),
        ("BALDUR_CB_FAILURE_THRESHOLD", "0", "an integer from 1 to 1000000"),
        ("BALDUR_CB_FAILURE_THRESHOLD", "2.5", "an integer from 1 to 1000000"),
        ("BALDUR_CB_MINIMUM_CALLS", "-3", "an integer from 1 to 1000000"),
        ("BALDUR_CB_RECOVERY_TIMEOUT", "soon", "a number of seconds > 0"),
        ("BALDUR_CB_RECOVERY_TIMEOUT", "0", "a number of seconds > 0"),
        ("BALDUR_CB_RECOVERY_TIMEOUT", "nan", "a number of seconds > 0"),
        ("BALDUR_CB_HALF_OPEN_MAX_CALLS", "", "an integer from 1 to 1000000"),
        ("BALDUR_CB_WINDOW_SECONDS", "-1", "a number of seconds > 0"),
        ("BALDUR_PROTECT_DEFAULT_TIMEOUT_SECONDS", "-1", "a number of seconds > 0"),
        ("BALDUR_PROTECT_DEFAULT_TIMEOUT_SECONDS", "30s", "a number of seconds > 0"),
        ("BALDUR_LOG_LEVEL", "LOUD", "DEBUG | INFO | WARNING | ERROR | CRITICAL"),
    ],
)
def test_a_bad_env_value_names_the_variable_the_value_and_what_is_allowed(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, allowed: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(baldur.ConfigError) as caught:
        baldur.init()
    message = str(caught.value)
    assert env in message
    assert repr(value) in message
    assert allowed in message
    assert caught.value.key == env


def test_an_init_keyword_overrides_a_bad_env_value(
    zone_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BALDUR_CB_FAILURE_THRESHOLD", "zero")
    baldur.init(cb_failure_threshold=1, cb_minimum_calls=1)
    fail(zone_name)
    assert baldur.circuit_state(zone_name) == "open"


def test_numeric_env_values_may_be_padded(zone_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BALDUR_CB_FAILURE_THRESHOLD", " 1 ")
    monkeypatch.setenv("BALDUR_CB_MINIMUM_CALLS", "1")
    baldur.init()
    fail(zone_name)
    assert baldur.circuit_state(zone_name) == "open"


# -- the facade's keywords -----------------------------------------------------------------


@pytest.mark.parametrize("form", ["decorator", "protect", "protect_with_meta"])
def test_an_unknown_keyword_is_a_type_error(zone_name: str, form: str) -> None:
    never = Flaky()
    with pytest.raises(TypeError, match="retries"):
        if form == "decorator":
            baldur.protected(zone_name, retries=3)(never)  # type: ignore[call-arg]
        else:
            getattr(baldur, form)(zone_name, never, retries=3)
    assert never.count == 0


def two_arguments(a: object, b: object) -> None:
    return None


BAD_KEYWORDS = [
    ("timeout", -1),
    ("timeout", 0),
    ("timeout", float("nan")),
    ("timeout", float("inf")),
    ("timeout", "5"),
    ("timeout", True),
    ("retry", "yes"),
    ("retry", 3),
    ("retry", {"attempts": 3}),
    ("fallback", two_arguments),
    ("fallback", "cached"),
    ("ignore", 5),
    ("ignore", [KeyError]),
    ("ignore", (KeyError, "ValueError")),
    ("ignore", int),
    ("circuit_breaker", "yes"),
    ("circuit_breaker", None),
]


@pytest.mark.parametrize("form", ["decorator", "protect"])
@pytest.mark.parametrize(("key", "value"), BAD_KEYWORDS)
def test_a_bad_keyword_value_is_a_config_error_naming_the_key(
    zone_name: str, form: str, key: str, value: object
) -> None:
    never = Flaky()
    with pytest.raises(baldur.ConfigError) as caught:
        if form == "decorator":
            baldur.protected(zone_name, **{key: value})(never)  # type: ignore[arg-type]
        else:
            baldur.protect(zone_name, never, **{key: value})  # type: ignore[arg-type]
    assert caught.value.key == key
    assert str(caught.value).startswith(f"invalid {key}=")
    assert "allowed is" in str(caught.value)
    assert never.count == 0


@pytest.mark.parametrize(
    ("key", "value"), [("retry", 1), ("timeout", True), ("circuit_breaker", 1)]
)
def test_a_bad_keyword_is_refused_even_after_a_good_look_alike(
    zone_name: str, key: str, value: object
) -> None:
    """``True == 1``: a callsite that once passed ``retry=True`` must not make
    ``retry=1`` acceptable."""
    good = {"retry": True, "timeout": 1, "circuit_breaker": True}[key]
    assert baldur.protect(zone_name, lambda: "ok", **{key: good}) == "ok"  # type: ignore[arg-type]
    with pytest.raises(baldur.ConfigError) as caught:
        baldur.protect(zone_name, lambda: "ok", **{key: value})  # type: ignore[arg-type]
    assert caught.value.key == key


@pytest.mark.parametrize("name", ["", "   "])
@pytest.mark.parametrize("form", ["decorator", "protect", "protect_with_meta"])
def test_an_empty_name_is_a_config_error(name: str, form: str) -> None:
    never = Flaky()
    with pytest.raises(baldur.ConfigError) as caught:
        if form == "decorator":
            baldur.protected(name)(never)
        else:
            getattr(baldur, form)(name, never)
    assert caught.value.key == "name"
    assert never.count == 0


@pytest.mark.parametrize("form", ["decorator", "protect"])
@pytest.mark.parametrize(
    ("key", "value"),
    [("bulkhead", 10)],
)
def test_keywords_not_built_yet_are_loud(
    zone_name: str, form: str, key: str, value: object
) -> None:
    never = Flaky()
    with pytest.raises(NotImplementedError, match=key):
        if form == "decorator":
            baldur.protected(zone_name, **{key: value})(never)  # type: ignore[arg-type]
        else:
            baldur.protect(zone_name, never, **{key: value})  # type: ignore[arg-type]
    assert never.count == 0


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("idempotency_key", None),
        ("idempotency_fail_open", False),
        ("dlq", False),
        ("bulkhead", None),
    ],
)
def test_not_built_keywords_at_their_defaults_are_accepted(
    zone_name: str, key: str, value: object
) -> None:
    assert baldur.protect(zone_name, lambda: "ok", **{key: value}) == "ok"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"cb_recovery_timeout": 1e20}, "cb_recovery_timeout"),
        ({"cb_failure_threshold": 2**40}, "cb_failure_threshold"),
        ({"cb_window_seconds": float("inf")}, "cb_window_seconds"),
        ({"protect_default_timeout_seconds": 1e300}, "protect_default_timeout_seconds"),
    ],
)
def test_absurdly_large_settings_are_config_errors(
    configure: Callable[..., None], overrides: dict[str, object], key: str
) -> None:
    with pytest.raises(baldur.ConfigError) as caught:
        configure(**overrides)
    assert caught.value.key == key


@pytest.mark.parametrize(
    ("build", "key"),
    [
        (lambda: baldur.RetryPolicy(attempts=2**40), "attempts"),
        (lambda: baldur.RetryPolicy(max_delay=1e20), "max_delay"),
        (lambda: baldur.RetryPolicy(multiplier=1e9), "multiplier"),
    ],
)
def test_absurd_retry_policies_are_config_errors(build: Callable[[], object], key: str) -> None:
    with pytest.raises(baldur.ConfigError) as caught:
        build()
    assert caught.value.key == key


def test_an_absurd_timeout_is_a_config_error(zone_name: str) -> None:
    with pytest.raises(baldur.ConfigError) as caught:
        baldur.protected(zone_name, timeout=1e20)
    assert caught.value.key == "timeout"


def test_a_later_bare_init_keeps_earlier_overrides(configure: Callable[..., None]) -> None:
    """An adapter's init() must not undo the app's own settings."""
    configure(cb_failure_threshold=2, cb_minimum_calls=2)
    baldur.init()
    assert baldur._config.current().cb_failure_threshold == 2
    baldur.init(cb_failure_threshold=4)
    settings = baldur._config.current()
    assert (settings.cb_failure_threshold, settings.cb_minimum_calls) == (4, 2)


def test_a_rejected_init_changes_nothing(configure: Callable[..., None]) -> None:
    configure(cb_failure_threshold=2)
    with pytest.raises(baldur.ConfigError):
        baldur.init(cb_minimum_calls=0)
    baldur.init()
    assert baldur._config.current().cb_minimum_calls == 10
