"""One definition of every default and name: the Python face reads them from
the core (``baldur._core``), and they are what the contract promises."""

from __future__ import annotations

import dataclasses
import re
import typing

import pytest

from baldur import _core, _dlq, _idempotency, _settings, retry
from baldur.circuits import CircuitStateName
from baldur.exceptions import ConfigError


def test_retry_defaults_are_the_cores_and_the_contracts() -> None:
    face = (
        retry.DEFAULT_ATTEMPTS,
        retry.DEFAULT_BASE_DELAY,
        retry.DEFAULT_MAX_DELAY,
        retry.DEFAULT_MULTIPLIER,
        retry.DEFAULT_JITTER,
    )
    core = (
        _core.RETRY_DEFAULT_ATTEMPTS,
        _core.RETRY_DEFAULT_BASE_DELAY,
        _core.RETRY_DEFAULT_MAX_DELAY,
        _core.RETRY_DEFAULT_MULTIPLIER,
        _core.RETRY_DEFAULT_JITTER,
    )
    assert face == core == (3, 0.1, 10.0, 2.0, "full")
    policy = retry.RetryPolicy()
    assert dataclasses.astuple(policy)[:5] == core
    assert retry.JITTERS == _core.JITTERS == ("full", "none")


def test_the_multiplier_bound_is_the_cores() -> None:
    assert retry.MAX_MULTIPLIER == _core.RETRY_MAX_MULTIPLIER == 1000.0
    retry.RetryPolicy(multiplier=1000)
    with pytest.raises(ConfigError, match="a number from 1 to 1000"):
        retry.RetryPolicy(multiplier=1000.5)
    with pytest.raises(ConfigError, match="'full' or 'none'"):
        retry.RetryPolicy(jitter="half")


def test_settings_defaults_are_the_cores_and_the_contracts() -> None:
    defaults = {key: setting.default for key, setting in _settings.SETTINGS.items()}
    expected = {
        "cb_failure_threshold": (_core.CB_DEFAULT_FAILURE_THRESHOLD, 5),
        "cb_minimum_calls": (_core.CB_DEFAULT_MINIMUM_CALLS, 10),
        "cb_failure_rate_threshold": (_core.CB_DEFAULT_FAILURE_RATE_THRESHOLD, 0.5),
        "cb_recovery_timeout": (_core.CB_DEFAULT_RECOVERY_TIMEOUT, 60.0),
        "cb_half_open_max_calls": (_core.CB_DEFAULT_HALF_OPEN_MAX_CALLS, 3),
        "cb_window_seconds": (_core.CB_DEFAULT_WINDOW_SECONDS, 60.0),
        "cb_sync_interval_seconds": (_core.CB_DEFAULT_SYNC_INTERVAL_SECONDS, 0.2),
        "idempotency_gate_memory_ttl_seconds": (_core.IDEMPOTENCY_DEFAULT_MEMORY_TTL, 1800.0),
        "metrics_max_domain_labels": (_core.METRICS_DEFAULT_MAX_DOMAIN_LABELS, 50),
        "metrics_max_endpoints": (_core.METRICS_DEFAULT_MAX_ENDPOINTS, 500),
        "dlq_max_size": (_core.DLQ_DEFAULT_MAX_SIZE, 100_000),
        "dlq_max_per_domain": (_core.DLQ_DEFAULT_MAX_PER_DOMAIN, 10_000),
        "dlq_overflow_strategy": (_core.DLQ_DEFAULT_OVERFLOW, "drop_oldest"),
    }
    for key, (core, documented) in expected.items():
        assert defaults[key] == core == documented, key
    # With nothing set, the resolved settings are those defaults.
    loaded = _settings.load({}, environ={})
    for key, (core, _documented) in expected.items():
        assert getattr(loaded, key) == core, key


def test_idempotency_and_dlq_defaults_are_the_cores() -> None:
    assert _idempotency.DEFAULT_EXECUTION_TTL == _core.IDEMPOTENCY_DEFAULT_EXECUTION_TTL == 1800.0
    assert _dlq.DEFAULT_REPLAY_BUDGET == _core.DLQ_DEFAULT_REPLAY_BUDGET == 3


def test_overflow_strategies_are_the_cores() -> None:
    assert _core.DLQ_OVERFLOWS == ("drop_oldest", "reject", "compress_oldest")
    for name in _core.DLQ_OVERFLOWS:
        assert _settings.load({"dlq_overflow_strategy": name}, environ={}).dlq_overflow_strategy
    with pytest.raises(ConfigError, match=re.escape("drop_oldest | reject | compress_oldest")):
        _settings.load({"dlq_overflow_strategy": "drop_newest"}, environ={})


def test_state_names_are_the_cores_and_the_contracts() -> None:
    documented = ("closed", "open", "half_open", "forced_open", "forced_closed")
    assert _core.CIRCUIT_STATES == documented
    # The public type spells them as literals (a type checker needs them
    # written out); they must be the core's, in the core's order.
    assert typing.get_args(CircuitStateName) == _core.CIRCUIT_STATES
    singles = (
        _core.CIRCUIT_CLOSED,
        _core.CIRCUIT_OPEN,
        _core.CIRCUIT_HALF_OPEN,
        _core.CIRCUIT_FORCED_OPEN,
        _core.CIRCUIT_FORCED_CLOSED,
    )
    assert singles == documented


def test_causes_and_operator_actions_are_named_once() -> None:
    assert _core.BREAKER_CAUSES == (
        "failure_threshold",
        "recovery_timeout_elapsed",
        "probes_succeeded",
        "probe_failed",
        "forced_open",
        "forced_closed",
        "reset",
        "fleet_sync",
    )
    # The verb an operator's action is recorded under; the cause it logs
    # names the state entered.
    assert _core.OPERATOR_ACTIONS == ("force_open", "force_close", "reset")


def test_dlq_and_drain_names_are_the_cores() -> None:
    assert _core.DLQ_STATES == ("pending", "replaying", "needs_review")
    assert (_core.DLQ_PENDING, _core.DLQ_REPLAYING, _core.DLQ_NEEDS_REVIEW) == _core.DLQ_STATES
    assert (_core.DLQ_DONE, _core.DLQ_GONE) == ("done", "gone")
    assert (_core.GAVE_UP_EXHAUSTED, _core.GAVE_UP_CIRCUIT_OPEN, _core.GAVE_UP_TIMEOUT) == (
        "exhausted",
        "circuit_open",
        "timeout",
    )
    drain = (_core.DRAIN_SERVING, _core.DRAIN_DRAINING, _core.DRAIN_DRAINED)
    assert (*drain, _core.DRAIN_DEADLINE_PASSED) == (
        "serving",
        "draining",
        "drained",
        "deadline_passed",
    )


def test_metrics_names_are_the_cores() -> None:
    assert _core.CALL_OUTCOMES == (
        "success",
        "failure",
        "timeout",
        "rejected",
        "not_a_failure",
        "aborted",
        "passed_through",
    )
    assert _core.METRICS_OVERFLOW_DOMAIN == "__overflow__"
    assert _core.METRICS_UNMATCHED_ROUTE == "UNMATCHED_ROUTE"
