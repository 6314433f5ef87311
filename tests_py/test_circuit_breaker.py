"""The circuit breaker: tripping, failing fast, half-open probing, and the
manual controls (``baldur.circuits`` and friends)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

import baldur
from baldur.circuits import circuit
from helpers import AlwaysFails, Boom, FastBreaker, Flaky, trip

Configure = Callable[..., None]


def fail(name: str) -> None:
    with pytest.raises(Boom):
        baldur.protect(name, AlwaysFails())


def succeed(name: str) -> None:
    assert baldur.protect(name, lambda: "ok") == "ok"


def wait_for_probing(settings: FastBreaker) -> None:
    """The recovery timeout passes (on the manual clock: ``testing_mode``)."""
    baldur.testing.advance(settings.recovery_timeout)


# -- tripping --------------------------------------------------------------------


def test_trips_once_the_threshold_is_met_and_the_window_holds_minimum_calls(
    zone_name: str, configure: Configure
) -> None:
    configure(cb_failure_threshold=3, cb_minimum_calls=5)
    for _ in range(4):
        fail(zone_name)
        assert baldur.circuit_state(zone_name) == "closed"  # under minimum_calls
    fail(zone_name)
    assert baldur.circuit_state(zone_name) == "open"


def test_successes_count_toward_the_minimum_calls(zone_name: str, configure: Configure) -> None:
    configure(cb_failure_threshold=3, cb_minimum_calls=5)
    succeed(zone_name)
    succeed(zone_name)
    fail(zone_name)
    fail(zone_name)
    assert baldur.circuit_state(zone_name) == "closed"  # two failures of three
    fail(zone_name)
    assert baldur.circuit_state(zone_name) == "open"


def test_failures_below_the_threshold_never_trip(zone_name: str, configure: Configure) -> None:
    configure(cb_failure_threshold=3, cb_minimum_calls=2)
    for _ in range(10):
        succeed(zone_name)
    fail(zone_name)
    fail(zone_name)
    for _ in range(10):
        succeed(zone_name)
    assert baldur.circuit_state(zone_name) == "closed"


def test_a_breaker_exists_once_decorated(zone_name: str) -> None:
    """Operators can see (and force) a breaker before its first call."""
    baldur.protected(zone_name)(lambda: None)
    assert baldur.circuits()[zone_name]["state"] == "closed"
    assert baldur.circuit_state(zone_name) == "closed"


# -- open: failing fast ----------------------------------------------------------


def test_open_fails_fast_with_name_and_retry_after(
    zone_name: str, fast_breaker: FastBreaker
) -> None:
    trip(zone_name, fast_breaker)
    dependency = Flaky()
    slow_retry = baldur.RetryPolicy(attempts=5, base_delay=1, max_delay=1, jitter="none")

    started = time.monotonic()
    with pytest.raises(baldur.CircuitOpenError) as caught:
        baldur.protect(zone_name, dependency, retry=slow_retry)
    elapsed = time.monotonic() - started

    assert dependency.count == 0
    assert elapsed < 0.5  # no retry, no backoff
    assert caught.value.name == zone_name
    assert caught.value.retry_after is not None
    assert 0 < caught.value.retry_after <= fast_breaker.recovery_timeout
    assert zone_name in str(caught.value)


@pytest.mark.usefixtures("testing_mode")
def test_retry_after_counts_down(zone_name: str, configure: Configure) -> None:
    configure(cb_failure_threshold=1, cb_minimum_calls=1, cb_recovery_timeout=5)
    fail(zone_name)
    first = baldur.protect_with_meta(zone_name, lambda: None).error
    baldur.testing.advance(0.05)
    second = baldur.protect_with_meta(zone_name, lambda: None).error
    assert isinstance(first, baldur.CircuitOpenError)
    assert isinstance(second, baldur.CircuitOpenError)
    assert first.retry_after is not None and second.retry_after is not None
    assert 4 < second.retry_after < first.retry_after <= 5


# -- half-open -------------------------------------------------------------------


@pytest.mark.usefixtures("testing_mode")
def test_probing_starts_after_the_recovery_timeout(
    zone_name: str, fast_breaker: FastBreaker
) -> None:
    trip(zone_name, fast_breaker)
    wait_for_probing(fast_breaker)
    dependency = Flaky(value="recovered")
    assert baldur.protect(zone_name, dependency) == "recovered"
    assert dependency.count == 1
    assert baldur.circuit_state(zone_name) == "half_open"  # one of two probes done


@pytest.mark.usefixtures("testing_mode")
def test_closes_after_every_probe_succeeds(zone_name: str, fast_breaker: FastBreaker) -> None:
    trip(zone_name, fast_breaker)
    wait_for_probing(fast_breaker)
    for _ in range(fast_breaker.half_open_max_calls - 1):
        succeed(zone_name)
        assert baldur.circuit_state(zone_name) == "half_open"
    succeed(zone_name)
    assert baldur.circuit_state(zone_name) == "closed"
    snapshot = baldur.circuits()[zone_name]
    assert (snapshot["calls"], snapshot["failures"]) == (0, 0)  # a fresh window


@pytest.mark.usefixtures("testing_mode")
def test_one_failed_probe_reopens_and_restarts_the_timer(
    zone_name: str, fast_breaker: FastBreaker
) -> None:
    trip(zone_name, fast_breaker)
    wait_for_probing(fast_breaker)
    succeed(zone_name)  # probe 1 of 2
    fail(zone_name)  # probe 2 fails
    assert baldur.circuit_state(zone_name) == "open"

    result = baldur.protect_with_meta(zone_name, lambda: None)
    assert result.rejected
    assert isinstance(result.error, baldur.CircuitOpenError)
    assert result.error.retry_after is not None
    assert result.error.retry_after > fast_breaker.recovery_timeout / 2  # a new full wait

    wait_for_probing(fast_breaker)
    for _ in range(fast_breaker.half_open_max_calls):
        succeed(zone_name)
    assert baldur.circuit_state(zone_name) == "closed"


@pytest.mark.usefixtures("testing_mode")
def test_half_open_admits_only_its_probe_budget(zone_name: str, configure: Configure) -> None:
    """While every probe slot is taken, other calls are refused with
    ``retry_after == 0``: probing is underway."""
    configure(
        cb_failure_threshold=1,
        cb_minimum_calls=1,
        cb_recovery_timeout=0.05,
        cb_half_open_max_calls=1,
    )
    fail(zone_name)
    baldur.testing.advance(0.1)

    probing = threading.Event()
    finish = threading.Event()
    outcome: list[object] = []

    def slow_probe() -> str:
        probing.set()
        finish.wait(5)
        return "probe ok"

    prober = threading.Thread(target=lambda: outcome.append(baldur.protect(zone_name, slow_probe)))
    prober.start()
    try:
        assert probing.wait(5)
        other = Flaky()
        with pytest.raises(baldur.CircuitOpenError) as caught:
            baldur.protect(zone_name, other)
        assert caught.value.retry_after == 0.0
        assert "probes are underway" in str(caught.value)
        assert other.count == 0
        assert baldur.circuit_state(zone_name) == "half_open"
    finally:
        finish.set()
        prober.join(5)
    assert outcome == ["probe ok"]
    assert baldur.circuit_state(zone_name) == "closed"


# -- manual control --------------------------------------------------------------


@pytest.mark.usefixtures("testing_mode")
def test_force_open_takes_the_dependency_out_of_rotation(
    zone_name: str, fast_breaker: FastBreaker
) -> None:
    succeed(zone_name)
    baldur.force_open_circuit(zone_name)
    assert baldur.circuit_state(zone_name) == "forced_open"

    wait_for_probing(fast_breaker)  # no automatic probing of a forced breaker
    dependency = Flaky()
    with pytest.raises(baldur.CircuitOpenError) as caught:
        baldur.protect(zone_name, dependency)
    assert caught.value.retry_after is None
    assert "forced open" in str(caught.value)
    assert dependency.count == 0
    assert baldur.circuit_state(zone_name) == "forced_open"


def test_force_close_pins_the_breaker_closed(zone_name: str, fast_breaker: FastBreaker) -> None:
    trip(zone_name, fast_breaker)
    baldur.force_close_circuit(zone_name)
    assert baldur.circuit_state(zone_name) == "forced_closed"
    for _ in range(fast_breaker.minimum_calls * 3):
        fail(zone_name)
    assert baldur.circuit_state(zone_name) == "forced_closed"
    assert baldur.circuits()[zone_name]["failures"] == fast_breaker.minimum_calls * 3


def test_reset_returns_to_automatic_control(zone_name: str, fast_breaker: FastBreaker) -> None:
    succeed(zone_name)
    for force in (baldur.force_open_circuit, baldur.force_close_circuit):
        force(zone_name)
        baldur.reset_circuit(zone_name)
        assert baldur.circuit_state(zone_name) == "closed"
    trip(zone_name, fast_breaker)
    baldur.reset_circuit(zone_name)
    assert baldur.circuit_state(zone_name) == "closed"
    succeed(zone_name)  # calls flow at once, no recovery wait
    trip(zone_name, fast_breaker)  # and it trips again on its own


def test_reset_clears_the_window(zone_name: str, fast_breaker: FastBreaker) -> None:
    for _ in range(fast_breaker.failure_threshold - 1):
        fail(zone_name)
    baldur.reset_circuit(zone_name)
    assert baldur.circuits()[zone_name]["failures"] == 0
    fail(zone_name)  # one short of tripping again, not over the threshold
    assert baldur.circuit_state(zone_name) == "closed"


def test_manual_control_is_idempotent(zone_name: str) -> None:
    succeed(zone_name)
    for _ in range(2):
        baldur.force_open_circuit(zone_name)
    assert baldur.circuit_state(zone_name) == "forced_open"
    for _ in range(2):
        baldur.reset_circuit(zone_name)
    assert baldur.circuit_state(zone_name) == "closed"


def test_the_state_of_an_unknown_name_reads_closed_and_creates_nothing(zone_name: str) -> None:
    assert baldur.circuit_state(zone_name) == "closed"
    assert zone_name not in baldur.circuits()  # no breaker made by the question
    assert circuit(zone_name) is None


def test_an_operator_forces_a_breaker_open_before_any_call_used_it(zone_name: str) -> None:
    # A dependency taken out before traffic arrives: the breaker is made.
    baldur.force_open_circuit(zone_name)
    assert baldur.circuit_state(zone_name) == "forced_open"
    dependency = Flaky()
    with pytest.raises(baldur.CircuitOpenError):
        baldur.protect(zone_name, dependency)
    assert dependency.count == 0


@pytest.mark.parametrize(
    ("control", "state"),
    [(baldur.force_close_circuit, "forced_closed"), (baldur.reset_circuit, "closed")],
)
def test_force_close_and_reset_of_a_new_name_make_its_breaker(
    zone_name: str, control: Callable[[str], None], state: str
) -> None:
    control(zone_name)
    assert baldur.circuits()[zone_name]["state"] == state


# -- the trip rule: a count and a rate -----------------------------------------------


def test_a_busy_breaker_does_not_trip_on_half_a_percent_of_failures(zone_name: str) -> None:
    # The documents' defaults: 5 failures, 10 calls, and a 50 % failure rate.
    for _ in range(1_000):
        succeed(zone_name)
    for _ in range(5):
        fail(zone_name)
    assert baldur.circuit_state(zone_name) == "closed"


def test_the_documents_example_trips_on_five_failures_in_ten_calls(zone_name: str) -> None:
    for _ in range(5):
        succeed(zone_name)
    for _ in range(5):
        fail(zone_name)
    assert baldur.circuit_state(zone_name) == "open"


def test_the_failure_rate_threshold_is_a_setting(
    zone_name: str, configure: Configure, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(cb_failure_threshold=2, cb_minimum_calls=10, cb_failure_rate_threshold=0.1)
    for _ in range(18):
        succeed(zone_name)
    fail(zone_name)
    assert baldur.circuit_state(zone_name) == "closed"  # 1 of 19: under the count
    fail(zone_name)
    assert baldur.circuit_state(zone_name) == "open"  # 2 of 20: 10 %
    monkeypatch.setenv("BALDUR_CB_FAILURE_RATE_THRESHOLD", "0.25")
    baldur._config.reset()
    assert baldur._config.current().cb_failure_rate_threshold == 0.25


@pytest.mark.parametrize("bad", ["0", "-0.5", "1.5", "half", "nan", ""])
def test_a_bad_failure_rate_threshold_is_refused_naming_it(
    bad: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BALDUR_CB_FAILURE_RATE_THRESHOLD", bad)
    with pytest.raises(baldur.ConfigError, match="BALDUR_CB_FAILURE_RATE_THRESHOLD"):
        baldur._config.reset()
    monkeypatch.delenv("BALDUR_CB_FAILURE_RATE_THRESHOLD")
    with pytest.raises(baldur.ConfigError, match=r"cb_failure_rate_threshold.*\(0, 1\]"):
        baldur.init(cb_failure_rate_threshold=2)


# -- read from time ------------------------------------------------------------------


@pytest.mark.usefixtures("testing_mode")
def test_an_open_breaker_reads_half_open_once_recovery_passed_without_any_call(
    zone_name: str, fast_breaker: FastBreaker
) -> None:
    trip(zone_name, fast_breaker)
    assert baldur.circuit_state(zone_name) == "open"
    wait_for_probing(fast_breaker)
    # No call arrived since: every reader derives half-open from time.
    assert baldur.circuit_state(zone_name) == "half_open"
    snapshot = baldur.circuits()[zone_name]
    assert (snapshot["state"], snapshot["retry_after"]) == ("half_open", None)
    assert baldur.protect(zone_name, lambda: "probe") == "probe"  # the probe is admitted


# -- circuits() --------------------------------------------------------------------


def test_circuits_snapshot_while_closed(zone_name: str) -> None:
    succeed(zone_name)
    fail(zone_name)
    snapshot = baldur.circuits()[zone_name]
    assert snapshot == {
        "state": "closed",
        "calls": 2,
        "failures": 1,
        "opened_at": None,
        "retry_after": None,
        "transitions": 0,
    }


def test_circuits_snapshot_while_open(zone_name: str, fast_breaker: FastBreaker) -> None:
    before = time.time()
    trip(zone_name, fast_breaker)
    snapshot = baldur.circuits()[zone_name]
    assert snapshot["state"] == "open"
    assert snapshot["failures"] == fast_breaker.failure_threshold
    assert snapshot["opened_at"] is not None
    assert before - 1 <= snapshot["opened_at"] <= time.time() + 1
    assert snapshot["retry_after"] is not None
    assert 0 <= snapshot["retry_after"] <= fast_breaker.recovery_timeout
    assert snapshot["transitions"] == 1


def test_circuits_snapshot_while_forced_open(zone_name: str) -> None:
    succeed(zone_name)
    baldur.force_open_circuit(zone_name)
    snapshot = baldur.circuits()[zone_name]
    assert snapshot["state"] == "forced_open"
    assert snapshot["opened_at"] is not None
    assert snapshot["retry_after"] is None  # only an operator reopens it


def test_circuits_lists_every_breaker(new_name: Callable[[], str]) -> None:
    names = [new_name() for _ in range(3)]
    for name in names:
        succeed(name)
    everything = baldur.circuits()
    assert set(names) <= set(everything)
    assert all(isinstance(key, str) for key in everything)


def test_circuits_is_a_copy(zone_name: str) -> None:
    succeed(zone_name)
    baldur.circuits()[zone_name]["state"] = "open"
    baldur.circuits().pop(zone_name)
    assert baldur.circuits()[zone_name]["state"] == "closed"


@pytest.mark.usefixtures("testing_mode")
def test_transitions_are_counted(zone_name: str, fast_breaker: FastBreaker) -> None:
    trip(zone_name, fast_breaker)  # closed -> open
    wait_for_probing(fast_breaker)
    for _ in range(fast_breaker.half_open_max_calls):  # -> half_open -> closed
        succeed(zone_name)
    baldur.force_open_circuit(zone_name)  # -> forced_open
    assert baldur.circuits()[zone_name]["transitions"] == 4
