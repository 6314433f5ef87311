"""The ``baldur`` command, run as an operator runs it (``python -m baldur``
in a subprocess) against a real admin server in another process: its
commands, its exit statuses, ``--json`` equal to the API's, the CONFIRM
rule, the key found in ``admin.key``, and no key ever printed."""

from __future__ import annotations

import json
import os
import pty
import sqlite3
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from helpers import free_port

ADMIN_KEY = "k-admin-cli-test-secret"
VIEWER_KEY = "k-view-cli-test-secret"


def _environment(data_dir: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without its ``BALDUR_*`` settings, with a
    data directory (and home) of the test's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BALDUR_")}
    env.update(BALDUR_DATA_DIR=str(data_dir), HOME=str(data_dir), **extra)
    env.pop("XDG_STATE_HOME", None)
    return env


def baldur_cli(
    *args: str, data_dir: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m baldur ARGS``, with no terminal on stdin."""
    return subprocess.run(
        [sys.executable, "-m", "baldur", *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=_environment(data_dir, **(env or {})),
        timeout=60,
        check=False,
    )


# -- without a server ----------------------------------------------------------


def test_no_command_is_a_usage_error(tmp_path: Path) -> None:
    result = baldur_cli(data_dir=tmp_path)
    assert result.returncode == 2
    assert "usage: baldur" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["cb"],
        ["cb", "show"],
        ["cb", "explode", "x"],
        ["dlq", "purge"],
        ["kill-switch", "disable"],
        ["report", "--date", "2026-13-01"],
        ["report", "--date", "today", "--days", "3"],
        ["report", "--days", "0"],
        ["audit", "list", "--limit", "x"],
        ["cb", "list", "--url", "ftp://127.0.0.1:9090"],
    ],
)
def test_bad_usage_exits_2(tmp_path: Path, args: list[str]) -> None:
    result = baldur_cli(*args, data_dir=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "usage:" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["cb", "force-open", "payments"],
        ["cb", "force-close", "payments"],
        ["cb", "reset", "payments"],
        ["dlq", "replay", "some-id"],
        ["dlq", "replay", "--domain", "payments"],
        ["dlq", "redrive", "some-id"],
        ["dlq", "purge", "--domain", "payments"],
        ["kill-switch", "disable", "--reason", "incident"],
        ["kill-switch", "enable"],
    ],
)
def test_a_destructive_command_without_yes_or_a_terminal_exits_2(
    tmp_path: Path, args: list[str]
) -> None:
    # The port is closed: the refusal comes before any request.
    result = baldur_cli(*args, "--url", f"http://127.0.0.1:{free_port()}", data_dir=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "--yes" in result.stderr and "destructive" in result.stderr


def test_no_server_exits_4_naming_the_url_and_how_to_set_it(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = baldur_cli("cb", "list", data_dir=tmp_path, env={"BALDUR_ADMIN_URL": url})
    assert result.returncode == 4
    assert url in result.stderr
    assert "--url" in result.stderr and "BALDUR_ADMIN_URL" in result.stderr
    assert result.stdout == ""


def test_the_url_and_key_default_to_the_environment_then_the_contract(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from baldur.cli._client import resolve_key, resolve_url

    monkeypatch.delenv("BALDUR_ADMIN_URL", raising=False)
    monkeypatch.delenv("BALDUR_ADMIN_KEY", raising=False)
    monkeypatch.setenv("BALDUR_DATA_DIR", str(tmp_path))
    assert resolve_url(None) == "http://127.0.0.1:9090"
    assert resolve_key(None)[0] is None
    (tmp_path / "admin.key").write_text("from-the-file\n")
    assert resolve_key(None)[0] == "from-the-file"
    monkeypatch.setenv("BALDUR_ADMIN_URL", "http://localhost:9999/")
    monkeypatch.setenv("BALDUR_ADMIN_KEY", "from-the-environment")
    assert resolve_url(None) == "http://localhost:9999"
    assert resolve_key(None)[0] == "from-the-environment"
    assert resolve_url("http://[::1]:9091") == "http://[::1]:9091"
    assert resolve_key("given")[0] == "given"


def test_the_key_is_never_printed_on_an_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = baldur_cli("--key", ADMIN_KEY, "cb", "list", "--url", url, data_dir=tmp_path)
    assert result.returncode == 4
    assert ADMIN_KEY not in result.stdout + result.stderr


# -- against a real admin server -----------------------------------------------

_SERVER = textwrap.dedent(
    """
    import sys
    import baldur
    from baldur import _admin_server

    baldur.init()
    calls = []

    @baldur.protected("payments", dlq=True)
    def charge(order):
        calls.append(order)
        if len(calls) == 1:
            raise ConnectionError("gateway down")  # recorded; a replay succeeds

    @baldur.protected("ledger", dlq=True)
    def post(entry):
        raise ConnectionError("ledger down")  # recorded; a replay fails too

    for call, argument in ((charge, "o-1"), (post, "e-1")):
        try:
            call(argument)
        except ConnectionError:
            pass
    print(_admin_server.address(), flush=True)
    sys.stdin.read()
    """
)


@dataclass
class Server:
    """An app process with its admin server, and the CLI pointed at it."""

    url: str
    data_dir: Path
    key: str | None

    def cli(self, *args: str, key: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
        given = ["--key", self.key] if key and self.key else []
        return baldur_cli(*args, "--url", self.url, *given, data_dir=self.data_dir, env=env)

    def api(self, route: str, key: str | None = None) -> Any:
        """The control API's JSON, fetched directly."""
        request = urllib.request.Request(
            f"{self.url}/api/baldur/{route}", headers={"X-Baldur-Key": key or self.key or ""}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.load(response)


def _start(data_dir: Path, **env: str) -> Iterator[Server]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_environment(data_dir, BALDUR_ADMIN_PORT=str(port), **env),
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert str(port) in line, process.stderr.read() if process.stderr else line
        url = f"http://127.0.0.1:{port}"
        _wait_until_it_answers(url)
        yield Server(url, data_dir, env.get("BALDUR_ADMIN_KEY"))
    finally:
        process.communicate(input="", timeout=30)


def _wait_until_it_answers(url: str) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/baldur/health/ping/", timeout=2):
                return
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """Unlocked, with an admin and a viewer key."""
    yield from _start(
        tmp_path,
        BALDUR_ADMIN_KEY=ADMIN_KEY,
        BALDUR_VIEWER_KEY=VIEWER_KEY,
        BALDUR_ADMIN_UNLOCK="1",
    )


def test_cb_list_shows_the_breaker_with_its_state_and_counts(server: Server) -> None:
    result = server.cli("cb", "list")
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["NAME", "STATE", "FAILURES/CALLS", "RETRY-AFTER"]
    [payments] = [row.split() for row in rows if row.startswith("payments")]
    assert payments == ["payments", "closed", "1/1", "-"]


def test_json_output_is_the_apis_json_unchanged(server: Server) -> None:
    for args, route in [
        (["cb", "list"], "cb/"),
        (["cb", "show", "payments"], "cb/payments/"),
        (["dlq", "list", "--domain", "payments"], "dlq/?domain=payments"),
        (["kill-switch", "status"], "kill-switch/"),
    ]:
        result = server.cli(*args, "--json")
        assert result.returncode == 0, (args, result.stderr)
        assert json.loads(result.stdout) == server.api(route), args


def test_force_open_with_yes_opens_the_breaker(server: Server) -> None:
    result = server.cli("cb", "force-open", "payments", "--yes", "--actor", "alice")
    assert result.returncode == 0, result.stderr
    shown = server.cli("cb", "show", "payments", "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["state"] == "forced_open"
    assert "by admin:alice" in result.stdout
    closed = server.cli("--yes", "cb", "reset", "payments")
    assert closed.returncode == 0, closed.stderr
    assert server.api("cb/payments/")["state"] == "closed"


@pytest.mark.parametrize(
    ("typed", "status", "state"), [("CONFIRM", 0, "forced_open"), ("yes", 1, "closed")]
)
def test_on_a_terminal_a_destructive_command_asks_for_confirm(
    server: Server, typed: str, status: int, state: str
) -> None:
    controller, terminal = pty.openpty()
    command = ["cb", "force-open", "payments", "--url", server.url, "--key", ADMIN_KEY]
    process = subprocess.Popen(
        [sys.executable, "-m", "baldur", *command],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_environment(server.data_dir),
    )
    os.close(terminal)
    try:
        os.write(controller, f"{typed}\n".encode())
        _, err = process.communicate(timeout=30)
    finally:
        os.close(controller)
    assert process.returncode == status, err
    assert "Type CONFIRM" in err
    assert server.api("cb/payments/")["state"] == state


def test_global_options_before_or_after_the_subcommand(server: Server) -> None:
    before = baldur_cli(
        "--url", server.url, "--key", ADMIN_KEY, "--json", "cb", "list", data_dir=server.data_dir
    )
    middle = baldur_cli(
        "--url", server.url, "cb", "--json", "list", "--key", ADMIN_KEY, data_dir=server.data_dir
    )
    after = server.cli("cb", "list", "--json")
    for result in (before, middle, after):
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == server.api("cb/")


def test_dlq_list_and_show_the_recorded_entry(server: Server) -> None:
    listing = server.cli("dlq", "list", "--domain", "payments")
    assert listing.returncode == 0, listing.stderr
    header, *rows = listing.stdout.splitlines()
    assert header.split()[:5] == ["ID", "ZONE", "STATE", "ERROR", "TYPE"]
    assert any("payments" in row and "ConnectionError" in row for row in rows)
    [entry] = server.api("dlq/?domain=payments")["entries"]
    shown = server.cli("dlq", "show", entry["id"])
    assert shown.returncode == 0, shown.stderr
    assert "gateway down" in shown.stdout


def test_a_replay_exits_0_when_the_call_succeeds_and_1_when_it_fails(server: Server) -> None:
    [good] = server.api("dlq/?domain=payments")["entries"]
    [bad] = server.api("dlq/?domain=ledger")["entries"]
    replayed = server.cli("dlq", "replay", good["id"], "--yes")
    assert replayed.returncode == 0, replayed.stderr
    assert [good["id"], "ok", "done", "-"] in [row.split() for row in replayed.stdout.splitlines()]
    assert server.api("dlq/?domain=payments&state=pending")["entries"] == []
    failed = server.cli("dlq", "replay", bad["id"], "--yes")
    assert failed.returncode == 1, failed.stderr
    assert "failed" in failed.stdout
    batch = server.cli("dlq", "replay", "--domain", "ledger", "--yes", "--json")
    assert batch.returncode == 1, batch.stderr
    assert json.loads(batch.stdout)["failed"] >= 1


def test_purge_deletes_a_domains_entries(server: Server) -> None:
    result = server.cli("dlq", "purge", "--domain", "ledger", "--yes")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:2] == ["domain:", "ledger"]
    assert "purged: 1" in " ".join(result.stdout.split())
    assert server.api("dlq/?domain=ledger")["entries"] == []
    assert len(server.api("dlq/?domain=payments")["entries"]) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["report"],
        ["report", "--days", "7"],
        ["report", "--date", "today"],
        ["audit", "list", "--limit", "5"],
        ["audit", "verify"],
        ["emergency", "status"],
    ],
)
def test_the_later_subsystems_commands_answer_what_there_is(
    server: Server, args: list[str]
) -> None:
    # Until their subsystem lands: an empty list, or "not enabled" and exit 1.
    result = server.cli(*args)
    assert result.returncode in (0, 1), result.stderr
    if result.returncode == 1:
        assert "not enabled" in result.stderr or "not found" in result.stderr
    else:
        assert "Served by pid" in result.stdout


def test_leader_names_who_leads_the_fleet(server: Server) -> None:
    # The server has no Redis: it leads itself, under token 1, with no lease.
    result = server.cli("leader")
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines() if ":" in line)
    assert lines["is_leader"].strip() == "yes"
    assert lines["token"].strip() == "1"
    assert "(the process that answered)" in lines["leader"]
    assert "no Redis" in lines["lease"]
    assert "Served by pid" in result.stdout
    shown = json.loads(server.cli("leader", "--json").stdout)
    assert shown["is_leader"] is True and shown["token"] == 1
    assert shown["leader_id"].split(":")[1] == str(shown["served_by"]["pid"])


def test_an_unknown_breaker_or_entry_exits_1(server: Server) -> None:
    assert server.cli("cb", "show", "nobody-called-this").returncode == 1
    assert server.cli("dlq", "show", "no-such-entry").returncode == 1


def test_a_wrong_key_is_refused_with_exit_3_and_never_echoed(server: Server) -> None:
    result = baldur_cli(
        "cb", "list", "--url", server.url, "--key", "wrong-key-xyz", data_dir=server.data_dir
    )
    assert result.returncode == 3
    assert "401" in result.stderr and "key" in result.stderr
    assert "wrong-key-xyz" not in result.stdout + result.stderr


def test_a_viewer_reads_but_may_not_act(server: Server) -> None:
    env = {"BALDUR_ADMIN_KEY": VIEWER_KEY}
    assert server.cli("cb", "list", key=False, **env).returncode == 0
    refused = server.cli("cb", "force-open", "payments", "--yes", key=False, **env)
    assert refused.returncode == 3
    assert "viewer" in refused.stderr
    assert VIEWER_KEY not in refused.stdout + refused.stderr


def test_kill_switch_disable_status_and_enable(server: Server) -> None:
    disabled = server.cli("kill-switch", "disable", "--reason", "incident 4711", "--yes")
    assert disabled.returncode == 0, disabled.stderr
    status = server.cli("kill-switch", "status")
    assert status.returncode == 0 and "incident 4711" in status.stdout
    enabled = server.cli("kill-switch", "enable", "--yes")
    assert enabled.returncode == 0, enabled.stderr
    assert "incident 4711" not in server.cli("kill-switch", "status").stdout


def test_health_and_dashboard_answer(server: Server) -> None:
    for args in (["health"], ["dashboard"]):
        result = server.cli(*args)
        assert result.returncode == 0, (args, result.stderr)
        assert "Served by pid" in result.stdout


@pytest.fixture
def locked_server(tmp_path: Path) -> Iterator[Server]:
    """No unlock, and no configured key: the server writes ``admin.key``."""
    yield from _start(tmp_path)


def test_the_key_is_read_from_admin_key_when_not_given(locked_server: Server) -> None:
    key_file = locked_server.data_dir / "admin.key"
    assert key_file.exists()
    assert key_file.stat().st_mode & 0o777 == 0o600
    result = locked_server.cli("cb", "list", "--json")
    assert result.returncode == 0, result.stderr
    key = key_file.read_text().strip()
    assert key not in result.stdout + result.stderr
    assert json.loads(result.stdout) == locked_server.api("cb/", key=key)


def test_a_locked_server_refuses_with_exit_3_and_the_unlock_hint(locked_server: Server) -> None:
    result = locked_server.cli("cb", "force-open", "payments", "--yes")
    assert result.returncode == 3
    assert "BALDUR_ADMIN_UNLOCK=1" in result.stderr
    assert locked_server.cli("cb", "show", "payments").returncode == 0


def test_audit_records_the_cli_operator_and_verify_exits_1_on_a_broken_chain(
    tmp_path: Path,
) -> None:
    for server in _start(
        tmp_path,
        BALDUR_ADMIN_KEY=ADMIN_KEY,
        BALDUR_ADMIN_UNLOCK="1",
        BALDUR_AUDIT_ENABLED="true",
    ):
        opened = server.cli("cb", "force-open", "payments", "--reason", "drill", "--yes")
        assert opened.returncode == 0, opened.stderr
        listed = json.loads(server.cli("audit", "list", "--json").stdout)["records"]
        assert [(r["action"], r["target"], r["reason"]) for r in listed] == [
            ("cb.force_open", "payments", "drill")
        ]
        assert listed[0]["actor"].startswith("admin:")
        assert server.cli("audit", "verify").returncode == 0
        with sqlite3.connect(tmp_path / "audit.sqlite3") as connection:
            connection.execute("UPDATE baldur_audit SET actor = 'admin:mallory'")
        broken = server.cli("audit", "verify")
        assert broken.returncode == 1
        assert "first_bad_seq" in broken.stdout and "1" in broken.stdout
