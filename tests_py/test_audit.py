"""The audit trail (issue 19) as a user meets it: off by default; when on,
every operator action is one record naming who and why, a breaker Baldur
moved by itself is one record of Baldur's, each hash is what the contract's
formula gives with the standard library alone, SQL tampering is named, and
processes writing at once share one unbroken chain."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import baldur
import baldur.audit
from baldur.exceptions import ConfigError
from control_api_calls import get
from helpers import FastBreaker, eventually, trip

ZERO = "0" * 64


@pytest.fixture
def audited(configure: Callable[..., None], tmp_path: Path) -> Path:
    """The trail on, in a data directory of the test's own."""
    configure(data_dir=str(tmp_path), audit_enabled=True)
    return tmp_path / "audit.sqlite3"


def contract_hash(record: baldur.audit.AuditRecord) -> str:
    """CONTRACT.md: the SHA-256 of json.dumps({every field but hash},
    sort_keys=True, separators=(",", ":")), prev_hash inside."""
    fields: dict[str, Any] = record._asdict()
    del fields["hash"]
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def test_the_trail_is_off_by_default(configure: Callable[..., None], tmp_path: Path) -> None:
    configure(data_dir=str(tmp_path))
    baldur.protected("quiet")(lambda: 1)()
    baldur.force_open_circuit("quiet")
    assert baldur.audit.list() == []
    assert baldur.audit.verify() == (True, 0, None, None)
    assert not (tmp_path / "audit.sqlite3").exists()
    answer = get("audit/").json
    assert (answer["records"], answer["enabled"]) == ([], False)
    assert get("audit/verify/").status == 404


def test_an_operator_action_is_one_record_naming_who_and_why(audited: Path) -> None:
    baldur.protected("payments")(lambda: 1)()
    baldur.force_open_circuit("payments", reason="provider incident", actor="alice")
    baldur.reset_circuit("payments", actor="bob")
    records = baldur.audit.list()
    assert [(r.seq, r.action, r.target, r.actor, r.reason) for r in records] == [
        (1, "cb.force_open", "payments", "alice", "provider incident"),
        (2, "cb.reset", "payments", "bob", None),
    ]
    # The transitions the actions caused are not records of their own.
    assert records[0].prev_hash == ZERO and records[1].prev_hash == records[0].hash
    assert oct(audited.stat().st_mode & 0o777) == "0o600"


def test_the_kill_switch_is_recorded_both_ways(audited: Path) -> None:
    baldur.kill_switch.disable(reason="incident 4711", actor="carol")
    baldur.kill_switch.enable(actor="carol")
    records = baldur.audit.list()
    assert [(r.action, r.target, r.actor, r.reason) for r in records] == [
        ("kill_switch.disable", "baldur", "carol", "incident 4711"),
        ("kill_switch.enable", "baldur", "carol", None),
    ]
    assert records[1].details == {"was_disabled": True}


def test_a_breaker_baldur_trips_by_itself_is_a_record_of_baldurs(
    audited: Path, fast_breaker: FastBreaker
) -> None:
    trip("flaky", fast_breaker)
    eventually(lambda: any(r.action == "cb.transition" for r in baldur.audit.list()))
    (record,) = [r for r in baldur.audit.list() if r.action == "cb.transition"]
    assert (record.actor, record.target) == ("baldur", "flaky")
    assert record.details == {"from": "closed", "to": "open", "cause": "failure_threshold"}


def test_every_hash_is_the_contracts_formula_with_the_standard_library(audited: Path) -> None:
    baldur.protected("zone-é")(lambda: 1)()
    baldur.force_open_circuit("zone-é", reason='naïve 😀 "quoted"\n', actor="dé")
    baldur.kill_switch.disable(reason="x" * 300, actor="ops")
    records = baldur.audit.list()
    assert len(records) == 2
    for record in records:
        assert contract_hash(record) == record.hash
    assert baldur.audit.verify() == (True, 2, None, None)


@pytest.mark.parametrize(
    ("sql", "first_bad"),
    [
        ("UPDATE baldur_audit SET actor = 'mallory' WHERE seq = 2", 2),
        ("UPDATE baldur_audit SET reason = 'innocent' WHERE seq = 3", 3),
        ("DELETE FROM baldur_audit WHERE seq = 2", 2),
        (
            "UPDATE baldur_audit SET seq = 100 WHERE seq = 2;"
            "UPDATE baldur_audit SET seq = 2 WHERE seq = 3;"
            "UPDATE baldur_audit SET seq = 3 WHERE seq = 100;",
            2,
        ),
    ],
    ids=["edited", "reason-edited", "deleted", "reordered"],
)
def test_tampering_with_sql_is_named(audited: Path, sql: str, first_bad: int) -> None:
    baldur.protected("ledger")(lambda: 1)()
    for action in (baldur.force_open_circuit, baldur.reset_circuit, baldur.force_close_circuit):
        action("ledger", reason="drill", actor="alice")
    assert baldur.audit.verify().ok
    with sqlite3.connect(audited) as connection:
        connection.executescript(sql)
    verdict = baldur.audit.verify()
    assert (verdict.ok, verdict.first_bad_seq) == (False, first_bad)
    assert verdict.problem
    # The control API and the CLI read the same verdict.
    answer = get("audit/verify/")
    assert answer.json["ok"] is False and answer.json["first_bad_seq"] == first_bad


def test_the_control_api_lists_records_after_a_seq(audited: Path) -> None:
    baldur.protected("pages")(lambda: 1)()
    for _ in range(3):
        baldur.force_open_circuit("pages", actor="alice")
    answer = get("audit/", "limit=2&after=1")
    assert answer.status == 200 and answer.json["enabled"] is True
    assert [r["seq"] for r in answer.json["records"]] == [2, 3]
    assert get("audit/verify/").json["ok"] is True
    assert get("audit/", "limit=0").status == 400


def test_a_bad_setting_names_the_key(configure: Callable[..., None]) -> None:
    with pytest.raises(ConfigError, match="audit_enabled"):
        configure(audit_enabled="sometimes")


WRITER = textwrap.dedent(
    """
    import os, sys, baldur
    baldur.init(audit_enabled=True, admin_port=0)
    zone = f"zone-{os.getpid()}"
    baldur.protected(zone)(lambda: 1)()
    for i in range(int(sys.argv[1])):
        baldur.force_open_circuit(zone, reason=str(i), actor=f"writer-{os.getpid()}")
    """
)


def test_processes_writing_at_once_share_one_unbroken_chain(audited: Path) -> None:
    env = {**os.environ, "BALDUR_DATA_DIR": str(audited.parent)}
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, "25"], env=env, stderr=subprocess.PIPE)
        for _ in range(6)
    ]
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err.decode()
    records = baldur.audit.list(limit=1000)
    assert [r.seq for r in records] == list(range(1, 151))
    assert len({r.actor for r in records}) == 6
    verdict = baldur.audit.verify()
    assert (verdict.ok, verdict.checked) == (True, 150)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_forked_child_writes_to_the_same_chain(audited: Path) -> None:
    baldur.protected("forked")(lambda: 1)()
    baldur.force_open_circuit("forked", actor="parent")
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports by its exit status
        try:
            baldur.reset_circuit("forked", actor="child")
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    baldur.force_open_circuit("forked", actor="parent")
    assert [r.actor for r in baldur.audit.list()] == ["parent", "child", "parent"]
    assert baldur.audit.verify().ok


APPS = Path(__file__).parent / "apps"


def test_dead_letter_actions_are_recorded_an_operators_and_baldurs_own(
    audited: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(APPS))
    monkeypatch.setenv("BALDUR_TEST_MARKER", str(audited.parent / "runs.txt"))
    monkeypatch.setenv("BALDUR_TEST_FAIL", "1")
    sys.modules.pop("dlq_jobs", None)
    import dlq_jobs

    for order in ("a-1", "a-2"):
        with pytest.raises(ConnectionError):
            dlq_jobs.ship(order)
    first, second = (entry["id"] for entry in baldur.dlq.list(domain="dlq-jobs"))
    for _ in range(3):  # the budget spent: needs review
        baldur.dlq.replay(first, reason="retry by hand", actor="dana")
    assert baldur.dlq.redrive(first, actor="dana", reason="fixed upstream")
    monkeypatch.setenv("BALDUR_TEST_FAIL", "0")
    baldur.dlq.replay_on_its_own("dlq-jobs", 10)  # what the standing worker calls
    # Baldur's own record is written off the caller's path.
    eventually(lambda: any(r.actor == "baldur" for r in baldur.audit.list()))
    assert baldur.dlq.purge("dlq-jobs", confirm=True, actor="erin") == 0
    records = [(r.action, r.target, r.actor) for r in baldur.audit.list()]
    assert records == [
        *[("dlq.replay", str(first), "dana")] * 3,
        ("dlq.redrive", str(first), "dana"),
        ("dlq.replay", "dlq-jobs", "baldur"),
        ("dlq.purge", "dlq-jobs", "erin"),
    ]
    by_baldur = baldur.audit.list()[4]
    assert sorted(by_baldur.details["entries"]) == sorted([str(first), str(second)])
    assert by_baldur.details["replayed"] == 2
    assert baldur.audit.verify().ok
    sys.modules.pop("dlq_jobs", None)
