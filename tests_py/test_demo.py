"""``python -m baldur.demo``, the quick start's first command, run as a user
runs it: it finishes on its own and says plainly whether it has a console
(off, the port taken, or where it is and where its key lives, never the
key); ``--serve`` keeps the console up for the ``baldur`` command."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from helpers import free_port

#: The demo sleeps through one recovery timeout; a slow CI machine gets room.
DEMO_SECONDS = 60


def _environment(data_dir: Path, **extra: str) -> dict[str, str]:
    """No ``BALDUR_*`` setting of the caller's, a data directory (and home)
    of the test's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BALDUR_")}
    env.update(BALDUR_DATA_DIR=str(data_dir), HOME=str(data_dir), **extra)
    env.pop("XDG_STATE_HOME", None)
    return env


def _demo(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "baldur.demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=DEMO_SECONDS,
    )


def test_the_demo_tells_its_story_without_an_admin_server(tmp_path: Path) -> None:
    done = _demo(_environment(tmp_path, BALDUR_ADMIN_PORT="0"))
    assert done.returncode == 0, done.stderr
    assert "Admin server off (BALDUR_ADMIN_PORT=0)" in done.stdout
    assert "Console:" not in done.stdout
    assert "Breaker 'charge-customer' is closed; 3 transitions, all automatic." in done.stdout


def test_a_taken_port_is_said_plainly_and_the_demo_still_finishes(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = _demo(_environment(tmp_path, BALDUR_ADMIN_PORT=str(port)))
    assert done.returncode == 0, done.stderr
    assert "admin.server_skipped" in done.stdout
    assert f"No console from this demo: it could not listen on http://127.0.0.1:{port}" in (
        done.stdout
    )
    assert "Console:" not in done.stdout
    assert "all automatic." in done.stdout


def test_serve_keeps_the_console_up_for_the_cli(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    env = _environment(tmp_path, BALDUR_ADMIN_PORT=url.rsplit(":", 1)[1], BALDUR_ADMIN_UNLOCK="1")
    demo = subprocess.Popen(
        [sys.executable, "-m", "baldur.demo", "--serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert demo.stdout is not None
        seen = []
        deadline = time.monotonic() + DEMO_SECONDS
        while not any("cb force-open" in line for line in seen):
            line = demo.stdout.readline()
            assert line and time.monotonic() < deadline, "".join(seen)
            seen.append(line)
        output = "".join(seen)
        key_file = tmp_path / "admin.key"
        assert f"Console: {url}/ (the admin key is in {key_file}; actions unlocked)" in output
        assert key_file.read_text().strip() not in output
        assert f"--url {url} cb force-open charge-customer --yes" in output

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "baldur", "--url", url, *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=DEMO_SECONDS,
            )

        listed = cli("cb", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        (breaker,) = json.loads(listed.stdout)["breakers"]
        assert (breaker["name"], breaker["state"]) == ("charge-customer", "closed")
        forced = cli("cb", "force-open", "charge-customer", "--yes")
        assert forced.returncode == 0, forced.stderr
        shown = json.loads(cli("cb", "show", "charge-customer", "--json").stdout)
        assert shown["state"] == "forced_open"
    finally:
        demo.kill()
        demo.communicate(timeout=10)
