"""The kill switch: while disabled, protected calls pass straight through,
the state survives a restart, and manual breaker actions need an override."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import baldur
from baldur import endpoints
from helpers import AlwaysFails, Boom, FastBreaker, Flaky, Slow, trip


@pytest.fixture(autouse=True)
def enabled_again(configure: Callable[..., None]) -> Iterator[None]:
    """Each test starts and ends enabled (the switch is process-wide), with
    every zone labelled on its own in the metrics."""
    configure(metrics_max_domain_labels=1_000_000)
    baldur.enable()
    yield
    baldur.enable()


def passed_through(name: str) -> int:
    return baldur.metrics_snapshot()["zones"][name]["calls"]["passed_through"]  # type: ignore[no-any-return]


def test_enabled_by_default() -> None:
    assert baldur.is_baldur_enabled()
    status = baldur.kill_switch_status()
    assert status == baldur.KillSwitchStatus(True, None, None, None)


def test_disable_records_who_why_and_when_and_enable_clears_it() -> None:
    before = time.time()
    baldur.disable(reason="incident 4711", actor="alice")
    status = baldur.kill_switch_status()
    assert not baldur.is_baldur_enabled()
    assert (status.enabled, status.reason, status.actor) == (False, "incident 4711", "alice")
    assert status.disabled_at is not None and before <= status.disabled_at <= time.time()
    baldur.enable()
    assert baldur.kill_switch_status().enabled


def test_the_actor_defaults_to_user_at_host() -> None:
    baldur.disable(reason="drill")
    actor = baldur.kill_switch_status().actor
    assert actor is not None and "@" in actor


@pytest.mark.parametrize("reason", ["", "   ", None, 42])
def test_a_reason_is_required(reason: object) -> None:
    with pytest.raises(baldur.ConfigError, match="reason"):
        baldur.disable(reason=reason, actor="alice")  # type: ignore[arg-type]
    assert baldur.is_baldur_enabled()


def test_an_empty_actor_is_refused() -> None:
    with pytest.raises(baldur.ConfigError, match="actor"):
        baldur.disable(reason="drill", actor=" ")


def test_disabled_calls_run_through_an_open_breaker(
    zone_name: str, fast_breaker: FastBreaker
) -> None:
    trip(zone_name, fast_breaker)
    baldur.disable(reason="drill", actor="alice")
    assert baldur.protect(zone_name, lambda: "ran") == "ran"
    assert passed_through(zone_name) == 1


def test_disabled_calls_are_not_retried_and_get_no_fallback(zone_name: str) -> None:
    dependency = AlwaysFails()
    baldur.disable(reason="drill", actor="alice")
    with pytest.raises(Boom):
        baldur.protect(zone_name, dependency, retry=True, fallback=lambda: "fallback")
    assert dependency.count == 1
    result = baldur.protect_with_meta(zone_name, dependency, retry=True, fallback=lambda: 0)
    assert (result.ok, result.fallback_used, result.attempts) == (False, False, 1)
    assert isinstance(result.error, Boom)


def test_disabled_calls_do_not_touch_the_breaker(zone_name: str, fast_breaker: FastBreaker) -> None:
    baldur.disable(reason="drill", actor="alice")
    for _ in range(5):
        with pytest.raises(Boom):
            baldur.protect(zone_name, AlwaysFails())
    baldur.enable()
    assert baldur.circuit_state(zone_name) == "closed"
    assert baldur.circuits()[zone_name]["calls"] == 0


def test_disabled_calls_have_no_timeout(zone_name: str) -> None:
    baldur.disable(reason="drill", actor="alice")
    assert baldur.protect(zone_name, Slow(0.15, "slow"), timeout=0.05) == "slow"


def test_disabled_calls_take_no_idempotency_claim(zone_name: str) -> None:
    runs = Flaky()

    @baldur.protected(zone_name, idempotency_key="order_id")
    def charge(order_id: str) -> object:
        return runs(order_id)

    baldur.disable(reason="drill", actor="alice")
    charge("o-1")
    charge("o-1")
    assert runs.count == 2
    baldur.enable()
    charge("o-1")  # nothing was claimed or completed while disabled
    with pytest.raises(baldur.IdempotencyDuplicateError):
        charge("o-1")


def test_disabled_calls_are_not_dead_lettered(
    zone_name: str, configure: Callable[..., None], tmp_path: Path
) -> None:
    configure(data_dir=str(tmp_path), metrics_max_domain_labels=1_000_000)
    baldur.disable(reason="drill", actor="alice")
    with pytest.raises(Boom):
        baldur.protect(zone_name, AlwaysFails(), dlq=True)
    assert not (tmp_path / "dlq.sqlite3").exists() or baldur.dlq.list(domain=zone_name) == []


def test_disabled_async_calls_pass_through(zone_name: str, fast_breaker: FastBreaker) -> None:
    trip(zone_name, fast_breaker)
    dependency = AlwaysFails()

    @baldur.protected(zone_name, retry=True, fallback=lambda: "fallback", timeout=0.05)
    async def call(fail: bool) -> str:
        if fail:
            dependency()
        await asyncio.sleep(0.1)
        return "ran"

    baldur.disable(reason="drill", actor="alice")

    async def run() -> None:
        assert await call(False) == "ran"  # no breaker, no timeout
        with pytest.raises(Boom):
            await call(True)  # no retry, no fallback

    asyncio.run(run())
    assert dependency.count == 1
    assert passed_through(zone_name) == 2


def test_async_idempotent_calls_take_no_claim_while_disabled(zone_name: str) -> None:
    runs: list[str] = []

    @baldur.protected(zone_name, idempotency_key="order_id")
    async def charge(order_id: str) -> None:
        runs.append(order_id)

    baldur.disable(reason="drill", actor="alice")

    async def run() -> None:
        await charge("o-1")
        await charge("o-1")

    asyncio.run(run())
    assert runs == ["o-1", "o-1"]


def test_re_enabling_protects_again(zone_name: str, fast_breaker: FastBreaker) -> None:
    trip(zone_name, fast_breaker)
    baldur.disable(reason="drill", actor="alice")
    baldur.enable()
    with pytest.raises(baldur.CircuitOpenError):
        baldur.protect(zone_name, lambda: 1)


@pytest.mark.parametrize(
    "action", [baldur.force_open_circuit, baldur.force_close_circuit, baldur.reset_circuit]
)
def test_manual_breaker_actions_are_refused_while_disabled_unless_overridden(
    zone_name: str, action: Callable[..., None]
) -> None:
    baldur.protect(zone_name, lambda: 1)
    baldur.disable(reason="incident 4711", actor="alice")
    with pytest.raises(baldur.KillSwitchEngagedError, match="incident 4711") as refused:
        action(zone_name)
    assert isinstance(refused.value, PermissionError)
    assert baldur.circuit_state(zone_name) == "closed"
    action(zone_name, override=True)


def test_manual_actions_work_while_enabled(zone_name: str) -> None:
    baldur.protect(zone_name, lambda: 1)
    baldur.force_open_circuit(zone_name)
    assert baldur.circuit_state(zone_name) == "forced_open"
    baldur.reset_circuit(zone_name)


def test_health_reports_the_disabled_state() -> None:
    baldur.disable(reason="incident 4711", actor="alice")
    response = endpoints.dispatch("health/", {"nocache": "true"})
    assert response.status == 200  # degraded stays in rotation
    check = response.payload["checks"]["baldur.kill_switch"]
    assert response.payload["status"] == "degraded"
    assert check["status"] == "degraded" and "incident 4711" in check["detail"]
    assert check["actor"] == "alice"
    assert response.payload["enabled"] is False


def test_the_state_is_written_to_the_data_dir(
    configure: Callable[..., None], tmp_path: Path
) -> None:
    configure(data_dir=str(tmp_path), metrics_max_domain_labels=1_000_000)
    record = tmp_path / "kill-switch.json"
    baldur.disable(reason="incident 4711", actor="alice")
    assert json.loads(record.read_text())["reason"] == "incident 4711"
    baldur.enable()
    assert not record.exists()


def run_process(data_dir: Path, code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**os.environ, "BALDUR_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_disabled_survives_a_restart_until_enabled(tmp_path: Path) -> None:
    run_process(tmp_path, "import baldur; baldur.disable(reason='incident 4711', actor='alice')")
    after_restart = run_process(
        tmp_path,
        """
        import baldur
        status = baldur.kill_switch_status()
        print(status.enabled, status.reason, status.actor)
        baldur.protect("x", lambda: None)
        baldur.force_open_circuit("x", override=True)
        print(baldur.protect("x", lambda: "passed through"))
        baldur.enable()
        """,
    )
    assert after_restart.splitlines() == ["False incident 4711 alice", "passed through"]
    assert run_process(tmp_path, "import baldur; print(baldur.is_baldur_enabled())") == "True"


def test_an_unreadable_record_keeps_protection_on_and_says_so(tmp_path: Path) -> None:
    """A corrupt record is not "disabled" (which silently turned every
    protection off): an ERROR event, an unhealthy check, protection on."""
    (tmp_path / "kill-switch.json").write_text("{not json")
    out = run_process(
        tmp_path,
        """
        import logging, baldur
        from baldur import endpoints
        logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(message)s")
        print(baldur.is_baldur_enabled())
        response = endpoints.dispatch("health/", {"nocache": "true"})
        print(response.status, response.payload["checks"]["baldur.kill_switch"]["status"])
        """,
    )
    assert out.splitlines() == ["True", "503 unhealthy"]


def test_an_unreadable_record_logs_an_error(tmp_path: Path) -> None:
    (tmp_path / "kill-switch.json").write_text("{not json")
    done = subprocess.run(
        [sys.executable, "-c", "import logging, baldur; logging.basicConfig(); baldur.init()"],
        env={**os.environ, "BALDUR_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "ERROR:baldur.kill_switch:kill_switch.record_error" in done.stderr
    assert str(tmp_path / "kill-switch.json") in done.stderr


def test_the_hot_path_reads_the_switch_under_threads(zone_name: str) -> None:
    import threading

    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(2000):
                baldur.protect(zone_name, lambda: 1)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for _ in range(20):
        baldur.disable(reason="flap", actor="test")
        baldur.enable()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    counted = baldur.metrics_snapshot()["zones"][zone_name]["calls"]
    assert counted["success"] + counted["passed_through"] == 8000
