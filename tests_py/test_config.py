"""Configuration: ``BALDUR_*`` variables, ``baldur.init()`` overrides, and the
facade's keywords. A bad value is always a ``ConfigError`` that names the
key, the value and what is allowed."""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

import baldur
import baldur.testing
from helpers import AlwaysFails, Boom, Flaky, Slow, Stall

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


@pytest.mark.usefixtures("testing_mode")
def test_env_recovery_timeout(zone_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BALDUR_CB_FAILURE_THRESHOLD", "1")
    monkeypatch.setenv("BALDUR_CB_MINIMUM_CALLS", "1")
    monkeypatch.setenv("BALDUR_CB_RECOVERY_TIMEOUT", "0.1")
    baldur.init()
    fail(zone_name)
    assert 0 < open_retry_after(zone_name) <= 0.1
    baldur.testing.advance(0.15)
    assert baldur.protect(zone_name, lambda: "probe") == "probe"


@pytest.mark.usefixtures("testing_mode")
def test_env_half_open_max_calls(zone_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BALDUR_CB_FAILURE_THRESHOLD", "1")
    monkeypatch.setenv("BALDUR_CB_MINIMUM_CALLS", "1")
    monkeypatch.setenv("BALDUR_CB_RECOVERY_TIMEOUT", "0.05")
    monkeypatch.setenv("BALDUR_CB_HALF_OPEN_MAX_CALLS", "1")
    baldur.init()
    fail(zone_name)
    baldur.testing.advance(0.1)
    baldur.protect(zone_name, lambda: None)
    assert baldur.circuit_state(zone_name) == "closed"  # one probe was the whole budget


@pytest.mark.usefixtures("testing_mode")
def test_env_window_seconds(zone_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BALDUR_CB_FAILURE_THRESHOLD", "2")
    monkeypatch.setenv("BALDUR_CB_MINIMUM_CALLS", "2")
    monkeypatch.setenv("BALDUR_CB_WINDOW_SECONDS", "0.2")
    baldur.init()
    fail(zone_name)
    baldur.testing.advance(0.35)  # the first failure slides out of the window
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

    assert baldur.protect(zone_name, Slow(0.2), timeout=5) == "done"


def test_an_empty_default_timeout_means_none(
    zone_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BALDUR_PROTECT_DEFAULT_TIMEOUT_SECONDS", "")
    baldur.init()

    assert baldur.protect(zone_name, Slow(0.1)) == "done"


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
    [("bulkhead", 10), ("bulkhead", "no-such-compartment")],
)
def test_a_bad_bulkhead_is_loud(zone_name: str, form: str, key: str, value: object) -> None:
    never = Flaky()
    with pytest.raises(baldur.ConfigError, match=f"{key}|compartment"):
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


# -- init() validates everything before it applies anything ----------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"cb_sync_interval_seconds": 1e-12},  # passed Python's check; the core refused it
        {"cb_sync_interval_seconds": "0.000001"},
    ],
)
def test_a_value_the_core_would_refuse_is_a_config_error_and_changes_nothing(
    zone_name: str, configure: Configure, bad: dict[str, object]
) -> None:
    configure(cb_failure_threshold=1, cb_minimum_calls=1)
    before = baldur._config.current()
    with pytest.raises(baldur.ConfigError) as caught:
        baldur.init(cb_failure_threshold=50, cb_minimum_calls=50, **bad)
    assert caught.value.key == "cb_sync_interval_seconds"
    assert baldur._config.current() == before
    fail(zone_name)
    assert baldur.circuit_state(zone_name) == "open"  # the breakers kept threshold 1


def test_a_bad_env_value_the_core_would_refuse_names_the_variable(
    zone_name: str, configure: Configure, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(cb_failure_threshold=1, cb_minimum_calls=1)
    before = baldur._config.current()
    monkeypatch.setenv("BALDUR_CB_FAILURE_THRESHOLD", "40")
    monkeypatch.setenv("BALDUR_CB_SYNC_INTERVAL_SECONDS", "1e-12")
    with pytest.raises(baldur.ConfigError) as caught:
        baldur.init()
    assert caught.value.key == "BALDUR_CB_SYNC_INTERVAL_SECONDS"
    assert "1e-12" in str(caught.value)
    assert baldur._config.current() == before


# -- unknown BALDUR_* variables --------------------------------------------------------


def unknown_settings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        str(getattr(r, "setting", ""))
        for r in caplog.records
        if getattr(r, "event", None) == "config.unknown_setting"
    ]


def test_an_unknown_variable_is_reported_once_by_name(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, new_name: Callable[[], str]
) -> None:
    typo = "BALDUR_CB_FAILURE_THRESHOLDS_" + new_name().upper().replace("-", "_")
    monkeypatch.setenv(typo, "3")
    with caplog.at_level(logging.WARNING, logger="baldur"):
        baldur.init()
        baldur.init()
    assert unknown_settings(caplog) == [typo]
    (record,) = [r for r in caplog.records if getattr(r, "setting", None) == typo]
    assert record.levelno == logging.WARNING and typo in record.getMessage()


@pytest.mark.parametrize(
    "documented",
    [
        "BALDUR_CB_FAILURE_RATE_THRESHOLD",
        "BALDUR_DLQ_SIGNING_KEY",
        "BALDUR_ADMIN_KEY",
        "BALDUR_SLO_TARGET",
        "BALDUR_REDIS_TLS_CA_FILE",
    ],
)
def test_a_documented_variable_is_not_unknown(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, documented: str
) -> None:
    from baldur import _known_settings, _settings

    read = [setting.env for setting in _settings.SETTINGS.values()]
    assert _known_settings.unknown({documented: "x", "BALDUR_NOPE": "1"}, read) == ["BALDUR_NOPE"]


# -- values that are numbers, files that are not PEM, text that is not text --------------


@pytest.mark.parametrize("timeout", [Decimal("1.5"), Fraction(3, 2)])
def test_a_timeout_may_be_any_real_number(zone_name: str, timeout: object) -> None:
    assert baldur.protect(zone_name, lambda: "done", timeout=timeout) == "done"
    policy = baldur.RetryPolicy(base_delay=Fraction(1, 10), max_delay=Decimal("2"))
    assert policy.max_delay == 2


@pytest.mark.parametrize("timeout", [True, Fraction(10**400), Decimal("sNaN"), Decimal("-1")])
def test_a_timeout_that_is_no_duration_is_still_refused(zone_name: str, timeout: object) -> None:
    with pytest.raises(baldur.ConfigError) as caught:
        baldur.protected(zone_name, timeout=timeout)
    assert caught.value.key == "timeout"


def test_a_tls_ca_file_that_is_not_pem_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("this is not a certificate\n")
    monkeypatch.setenv("BALDUR_REDIS_TLS_CA_FILE", str(bundle))
    with pytest.raises(baldur.ConfigError) as caught:
        baldur.init()
    assert caught.value.key == "BALDUR_REDIS_TLS_CA_FILE"
    assert "PEM" in str(caught.value)


def test_a_pem_tls_ca_file_is_accepted(configure: Configure, tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(tmp_path / "ca.key"), "-out", str(bundle), "-subj", "/CN=test-ca"),
        ],
        check=True,
        capture_output=True,
    )
    configure(redis_tls_ca_file=str(bundle))
    assert baldur._config.current().redis_tls_ca_file == str(bundle)


@pytest.mark.parametrize("form", ["protected", "protect", "force_open_circuit", "circuit_state"])
def test_a_zone_name_with_a_lone_surrogate_is_a_config_error(form: str) -> None:
    name = "payments\ud800"
    with pytest.raises(baldur.ConfigError) as caught:
        if form == "protected":
            baldur.protected(name)
        elif form == "protect":
            baldur.protect(name, lambda: None)
        else:
            getattr(baldur, form)(name)
    assert caught.value.key == "name"
    assert "surrogate" in str(caught.value)
