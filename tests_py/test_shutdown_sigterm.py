"""A real process receives SIGTERM while protected calls are in flight:
readiness turns 503 (with Retry-After and no-store), new work is refused,
live and ping stay 200, the calls finish, then the process exits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

APP = Path(__file__).parent / "apps" / "sigterm_app.py"


def run_until_sigterm(mode: str, tmp_path: Path, **env: str) -> tuple[int, list[str], float, str]:
    """Starts the app, sends SIGTERM once its calls are in flight, and
    returns its exit status, its log, the seconds from SIGTERM to exit, and
    its stderr."""
    log = tmp_path / "events.log"
    process = subprocess.Popen(
        [sys.executable, str(APP), mode, str(log)],
        env={**os.environ, "BALDUR_DATA_DIR": str(tmp_path), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        assert process.stdout.readline().strip() == "ready"
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
        elapsed = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return process.returncode, log.read_text().splitlines(), elapsed, stderr


def draining_probes(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("probe ready=503")]


@pytest.mark.parametrize("mode", ["plain", "async"])
def test_in_flight_calls_finish_before_the_process_exits(mode: str, tmp_path: Path) -> None:
    status, lines, _, stderr = run_until_sigterm(mode, tmp_path)
    assert status == 128 + signal.SIGTERM, stderr
    assert sorted(line for line in lines if line.startswith("finished")) == [
        "finished 0",
        "finished 1",
        "finished 2",
    ]
    probes = draining_probes(lines)
    assert probes, lines
    # While draining: readiness 503 with Retry-After and no-store, new work
    # refused, live and ping still 200.
    for probe in probes:
        fields = dict(field.split("=") for field in probe.split()[1:])
        assert int(fields["retry_after"]) >= 1
        assert fields["no_store"] == "True"
        assert (fields["live"], fields["ping"], fields["refusal"]) == ("200", "200", "503")
    # Readiness flipped before the calls finished, and stayed flipped.
    first_503 = lines.index(probes[0])
    assert any(line.startswith("finished") for line in lines[first_503:])
    assert all(not line.startswith("probe ready=200") for line in lines[first_503:])


def test_a_servers_own_handler_is_called_after_readiness_flips(tmp_path: Path) -> None:
    status, lines, _, stderr = run_until_sigterm("chained", tmp_path)
    assert status == 0, stderr  # the server's handler decided how to exit
    assert "server handler ready=503" in lines
    assert "server drained=True in_flight=0" in lines
    assert len([line for line in lines if line.startswith("finished")]) == 3


def test_the_drain_ends_at_its_deadline(tmp_path: Path) -> None:
    status, lines, elapsed, stderr = run_until_sigterm(
        "plain", tmp_path, CALL_SECONDS="60", BALDUR_SHUTDOWN_DRAIN_SECONDS="0.5"
    )
    # Calls stuck past the deadline: the signal's default action ends it.
    assert status == -signal.SIGTERM, stderr
    assert elapsed < 15
    assert not any(line.startswith("finished") for line in lines)
    assert draining_probes(lines)
