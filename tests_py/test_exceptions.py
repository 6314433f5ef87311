"""The error hierarchy: one base, and builtin bases where they mean something."""

from __future__ import annotations

import pytest

import baldur
from baldur import exceptions

ALL_ERRORS = [
    baldur.CircuitOpenError,
    baldur.ProtectTimeoutError,
    baldur.IdempotencyDuplicateError,
    baldur.IdempotencyPayloadMismatchError,
    baldur.IdempotencyKeyError,
    baldur.IdempotencyUnavailableError,
    baldur.BulkheadFullError,
    baldur.ConfigError,
]


@pytest.mark.parametrize("error", ALL_ERRORS, ids=lambda e: e.__name__)
def test_every_error_derives_from_baldur_error(error: type[Exception]) -> None:
    assert issubclass(error, baldur.BaldurError)
    assert issubclass(error, Exception)


def test_the_package_exports_every_error_of_the_exceptions_module() -> None:
    for name in exceptions.__all__:
        assert getattr(baldur, name) is getattr(exceptions, name)
        assert name in baldur.__all__


def test_protect_timeout_error_is_a_timeout_error() -> None:
    error = baldur.ProtectTimeoutError("pricing", 2.5)
    assert isinstance(error, TimeoutError)
    assert isinstance(error, OSError)  # what TimeoutError is, so `except OSError` sees it
    assert error.name == "pricing"
    assert error.timeout == 2.5
    assert "pricing" in str(error)
    assert "2.5s" in str(error)


@pytest.mark.parametrize("error", [baldur.ConfigError, baldur.IdempotencyKeyError])
def test_value_errors(error: type[Exception]) -> None:
    assert issubclass(error, ValueError)


def test_config_error_names_the_key_the_value_and_what_is_allowed() -> None:
    error = baldur.ConfigError("BALDUR_CB_FAILURE_THRESHOLD", "zero", "an integer >= 1")
    assert error.key == "BALDUR_CB_FAILURE_THRESHOLD"
    assert error.value == "zero"
    assert error.allowed == "an integer >= 1"
    assert str(error) == "invalid BALDUR_CB_FAILURE_THRESHOLD='zero': allowed is an integer >= 1"


def test_circuit_open_error_carries_name_and_retry_after() -> None:
    error = baldur.CircuitOpenError("payments", 1.5)
    assert error.name == "payments"
    assert error.retry_after == 1.5
    assert "payments" in str(error)
    assert "1.500s" in str(error)


def test_circuit_open_error_forced_open_has_no_retry_after() -> None:
    error = baldur.CircuitOpenError("payments", None)
    assert error.retry_after is None
    assert "forced open" in str(error)


def test_circuit_open_error_while_probing_says_so() -> None:
    error = baldur.CircuitOpenError("payments", 0.0)
    assert error.retry_after == 0.0
    assert "half-open" in str(error)


def test_idempotency_duplicate_error_carries_key_and_state() -> None:
    error = baldur.IdempotencyDuplicateError("order-7", "in_progress")
    assert (error.key, error.state) == ("order-7", "in_progress")
    assert "order-7" in str(error)
    assert issubclass(baldur.IdempotencyPayloadMismatchError, baldur.IdempotencyDuplicateError)


def test_bulkhead_full_error_reads_like_the_contract() -> None:
    error = baldur.BulkheadFullError("external_api", 12, 10, 10, 10)
    assert (error.compartment, error.active, error.capacity) == ("external_api", 12, 10)
    assert (error.waiting, error.max_waiting) == (10, 10)
    assert str(error) == "external_api: 12/10 active, 10/10 waiting"


def test_one_except_clause_catches_what_the_facade_raises(zone_name: str) -> None:
    with pytest.raises(baldur.BaldurError):  # a bad keyword
        baldur.protect(zone_name, lambda: None, timeout=-1)
    baldur.protect(zone_name, lambda: None)
    baldur.force_open_circuit(zone_name)
    with pytest.raises(baldur.BaldurError):  # an open breaker
        baldur.protect(zone_name, lambda: None)
    with pytest.raises(baldur.BaldurError):  # a bad setting
        baldur.init(no_such_setting=1)
