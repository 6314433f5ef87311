"""Baldur's log events: ``protect.composer_built`` once per zone, and
``circuit_breaker.state_changed`` on every transition; silence on success."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

import pytest

import baldur
import baldur.testing
from helpers import AlwaysFails, Boom, FastBreaker, trip

COMPOSER_BUILT = "protect.composer_built"
STATE_CHANGED = "circuit_breaker.state_changed"


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="baldur")
    return caplog


def events(caplog: pytest.LogCaptureFixture, event: str, zone: str) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if getattr(r, "event", None) == event and getattr(r, "zone", None) == zone
    ]


# -- protect.composer_built --------------------------------------------------------


def test_composer_built_once_per_zone_name(zone_name: str, logs: pytest.LogCaptureFixture) -> None:
    @baldur.protected(zone_name, retry=True, timeout=2.5, fallback=lambda: None)
    def first() -> None:
        pass

    @baldur.protected(zone_name)
    def second() -> None:
        pass

    baldur.protect(zone_name, lambda: None)
    first()
    second()

    (record,) = events(logs, COMPOSER_BUILT, zone_name)
    assert record.levelno == logging.DEBUG
    assert record.name == "baldur.protect"
    assert record.policies == ["circuit_breaker", "retry", "timeout", "fallback"]  # type: ignore[attr-defined]
    assert record.timeout_seconds == 2.5  # type: ignore[attr-defined]
    assert record.getMessage().startswith(COMPOSER_BUILT)
    assert zone_name in record.getMessage()


def test_composer_built_lists_only_the_policies_in_force(
    new_name: Callable[[], str], logs: pytest.LogCaptureFixture
) -> None:
    bare, no_breaker = new_name(), new_name()
    baldur.protected(bare)(lambda: None)
    baldur.protect(no_breaker, lambda: None, circuit_breaker=False)

    (record,) = events(logs, COMPOSER_BUILT, bare)
    assert record.policies == ["circuit_breaker"]  # type: ignore[attr-defined]
    assert record.timeout_seconds is None  # type: ignore[attr-defined]
    (record,) = events(logs, COMPOSER_BUILT, no_breaker)
    assert record.policies == []  # type: ignore[attr-defined]


def test_composer_built_reports_the_default_timeout(
    zone_name: str, logs: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BALDUR_PROTECT_DEFAULT_TIMEOUT_SECONDS", "7")
    baldur.init()
    baldur.protected(zone_name)(lambda: None)
    (record,) = events(logs, COMPOSER_BUILT, zone_name)
    assert record.policies == ["circuit_breaker", "timeout"]  # type: ignore[attr-defined]
    assert record.timeout_seconds == 7.0  # type: ignore[attr-defined]


def test_composer_built_is_quiet_above_debug(
    zone_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="baldur")
    baldur.protected(zone_name)(lambda: None)
    assert events(caplog, COMPOSER_BUILT, zone_name) == []


# -- circuit_breaker.state_changed ------------------------------------------------------


def test_opening_is_a_warning(
    zone_name: str, fast_breaker: FastBreaker, logs: pytest.LogCaptureFixture
) -> None:
    trip(zone_name, fast_breaker)
    (record,) = events(logs, STATE_CHANGED, zone_name)
    assert record.levelno == logging.WARNING
    assert record.name == "baldur.circuit_breaker"
    assert record.from_state == "closed"  # type: ignore[attr-defined]
    assert record.to_state == "open"  # type: ignore[attr-defined]
    assert record.cause == "failure_threshold"  # type: ignore[attr-defined]
    assert record.generation == 1  # type: ignore[attr-defined]
    assert record.calls == fast_breaker.minimum_calls  # type: ignore[attr-defined]
    assert record.failures == fast_breaker.failure_threshold  # type: ignore[attr-defined]
    assert record.getMessage().startswith(STATE_CHANGED)


@pytest.mark.usefixtures("testing_mode")
def test_half_open_and_closing_are_info(
    zone_name: str, fast_breaker: FastBreaker, logs: pytest.LogCaptureFixture
) -> None:
    trip(zone_name, fast_breaker)
    baldur.testing.advance(fast_breaker.recovery_timeout)
    for _ in range(fast_breaker.half_open_max_calls):
        baldur.protect(zone_name, lambda: None)

    records = events(logs, STATE_CHANGED, zone_name)
    moves = [
        (r.levelno, r.from_state, r.to_state, r.cause)  # type: ignore[attr-defined]
        for r in records
    ]
    assert moves == [
        (logging.WARNING, "closed", "open", "failure_threshold"),
        (logging.INFO, "open", "half_open", "recovery_timeout_elapsed"),
        (logging.INFO, "half_open", "closed", "probes_succeeded"),
    ]
    assert [r.generation for r in records] == [1, 2, 3]  # type: ignore[attr-defined]


@pytest.mark.usefixtures("testing_mode")
def test_a_failed_probe_reopening_is_a_warning(
    zone_name: str, fast_breaker: FastBreaker, logs: pytest.LogCaptureFixture
) -> None:
    trip(zone_name, fast_breaker)
    baldur.testing.advance(fast_breaker.recovery_timeout)
    with pytest.raises(Boom):
        baldur.protect(zone_name, AlwaysFails())

    last = events(logs, STATE_CHANGED, zone_name)[-1]
    assert last.levelno == logging.WARNING
    assert (last.from_state, last.to_state, last.cause) == (  # type: ignore[attr-defined]
        "half_open",
        "open",
        "probe_failed",
    )


def test_operator_actions_are_logged(zone_name: str, logs: pytest.LogCaptureFixture) -> None:
    baldur.protect(zone_name, lambda: None)
    baldur.force_open_circuit(zone_name)
    baldur.force_close_circuit(zone_name)
    baldur.reset_circuit(zone_name)

    moves = [
        (r.levelno, r.from_state, r.to_state, r.cause)  # type: ignore[attr-defined]
        for r in events(logs, STATE_CHANGED, zone_name)
    ]
    assert moves == [
        (logging.WARNING, "closed", "forced_open", "forced_open"),
        (logging.INFO, "forced_open", "forced_closed", "forced_closed"),
        (logging.INFO, "forced_closed", "closed", "reset"),
    ]


def test_nothing_changes_nothing_is_logged(zone_name: str, logs: pytest.LogCaptureFixture) -> None:
    baldur.protect(zone_name, lambda: None)
    baldur.reset_circuit(zone_name)  # already closed: nothing to announce
    assert events(logs, STATE_CHANGED, zone_name) == []


# -- silence -----------------------------------------------------------------------------


def test_nothing_is_logged_on_the_success_path(
    zone_name: str, logs: pytest.LogCaptureFixture
) -> None:
    protected = baldur.protected(zone_name, retry=True, timeout=5, fallback=lambda: None)(
        lambda x: x * 2
    )
    logs.clear()

    for i in range(100):
        assert protected(i) == i * 2
        assert baldur.protect(zone_name, functools.partial(int, i)) == i
        assert baldur.protect_with_meta(zone_name, functools.partial(int, i)).ok

    assert logs.records == []


def test_every_record_is_under_the_baldur_logger(
    zone_name: str, fast_breaker: FastBreaker, logs: pytest.LogCaptureFixture
) -> None:
    trip(zone_name, fast_breaker)
    ours = events(logs, COMPOSER_BUILT, zone_name) + events(logs, STATE_CHANGED, zone_name)
    assert len(ours) == 2
    assert all(r.name.startswith("baldur.") for r in ours)


def test_no_url_password_reaches_a_log_line(logs: pytest.LogCaptureFixture) -> None:
    from baldur import _events

    _events.storage_event(
        "storage.write_failed", "redis://app:s3cret@cache:6379/0", "refused by rediss://:t0p@r:1"
    )
    (record,) = [r for r in logs.records if getattr(r, "event", None) == "storage.write_failed"]
    assert "redis://app:***@cache:6379/0" in record.getMessage()
    assert "s3cret" not in record.getMessage() and "t0p" not in record.getMessage()
    assert (record.store, record.detail) == (
        "redis://app:***@cache:6379/0",
        "refused by rediss://:***@r:1",
    )  # type: ignore[attr-defined]
