"""The per-family log levels of seed 003, and the levels implied by event
names (``{component}.{entity}_{action}``)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import pytest

import baldur
from baldur import _events, _settings
from helpers import FastBreaker, trip

FAMILIES = {
    "BALDUR_EVENT_LOGGING_DLQ_LOG_LEVEL": "baldur.dlq",
    "BALDUR_EVENT_LOGGING_CB_LOG_LEVEL": "baldur.circuit_breaker",
    "BALDUR_EVENT_LOGGING_REPLAY_LOG_LEVEL": "baldur.replay",
    "BALDUR_EVENT_LOGGING_SLA_LOG_LEVEL": "baldur.sla",
}


@pytest.mark.parametrize(("variable", "logger"), FAMILIES.items())
def test_each_family_sets_its_own_logger(
    variable: str, logger: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, "error")
    baldur._config.reset()
    assert logging.getLogger(logger).level == logging.ERROR
    monkeypatch.delenv(variable)
    baldur._config.reset()
    assert logging.getLogger(logger).level == logging.NOTSET  # follows BALDUR_LOG_LEVEL


def test_a_level_the_app_set_itself_is_left_alone() -> None:
    logger = logging.getLogger("baldur.replay")
    logger.setLevel(logging.CRITICAL)
    try:
        baldur.init()
        assert logger.level == logging.CRITICAL
    finally:
        logger.setLevel(logging.NOTSET)


@pytest.mark.parametrize("variable", [*FAMILIES, "BALDUR_LOG_LEVEL"])
def test_a_bad_level_is_refused_naming_the_variable(variable: str) -> None:
    with pytest.raises(baldur.ConfigError, match=variable) as refused:
        _settings.load({}, {variable: "LOUD"})
    assert "DEBUG | INFO | WARNING | ERROR | CRITICAL" in str(refused.value)


def test_a_family_override_beats_the_global_level(
    configure: Callable[..., None],
    fast_breaker: FastBreaker,
    zone_name: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    configure(
        log_level="DEBUG",
        event_logging_cb_log_level="ERROR",
        cb_failure_threshold=fast_breaker.failure_threshold,
        cb_minimum_calls=fast_breaker.minimum_calls,
        cb_recovery_timeout=fast_breaker.recovery_timeout,
        cb_half_open_max_calls=fast_breaker.half_open_max_calls,
    )
    caplog.set_level(logging.DEBUG, logger="baldur")
    trip(zone_name, fast_breaker)  # a WARNING event of the CB family
    assert not [r for r in caplog.records if r.name == "baldur.circuit_breaker"]


@pytest.mark.parametrize(
    ("event", "asked", "logged"),
    [
        ("dlq.replay_failed", logging.INFO, logging.WARNING),
        ("idempotency.claim_blocked", logging.DEBUG, logging.WARNING),
        ("protect.call_timeout", logging.INFO, logging.WARNING),
        ("retry.budget_exhausted", logging.INFO, logging.WARNING),
        ("storage.write_error", logging.WARNING, logging.ERROR),
        ("circuit_breaker.state_changed", logging.DEBUG, logging.INFO),
        ("config.settings_updated", logging.DEBUG, logging.INFO),
        ("circuit_breaker.state_changed", logging.WARNING, logging.WARNING),
        ("protect.composer_built", logging.DEBUG, logging.DEBUG),
    ],
)
def test_the_suffix_implies_the_level(event: str, asked: int, logged: int) -> None:
    assert _events.implied_level(event, asked) == logged


EVENT_NAME = re.compile(r"^[a-z_]+\.[a-z]+(_[a-z]+)+$")


def test_operations_events_are_named_and_levelled_by_the_rule(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="baldur")
    baldur.disable(reason="drill", actor="test")
    baldur.enable()
    baldur.begin_shutdown(timeout=0)
    baldur._shutdown.wait_for_drain()
    baldur._shutdown.reset_for_tests()
    events = [r for r in caplog.records if hasattr(r, "event")]
    assert {r.event for r in events} >= {  # type: ignore[attr-defined]
        "kill_switch.baldur_disabled",
        "kill_switch.baldur_enabled",
        "shutdown.drain_started",
        "shutdown.drain_completed",
    }
    for record in events:
        name: str = record.event  # type: ignore[attr-defined]
        assert EVENT_NAME.match(name), name
        assert record.levelno >= _events.implied_level(name, logging.NOTSET), name
