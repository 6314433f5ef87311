"""Replay calls only registered ``dlq=True`` zones. An entry written into the
store by someone else (a row in the real SQLite file; an XADD plus an HSET
in the real Redis, laid out as the Rust store lays it out) is refused: it
waits in needs_review with an ERROR event, its module at most imported,
nothing in it looked up or called. With ``BALDUR_DLQ_SIGNING_KEY`` an entry
whose HMAC fails is not even imported. Through ``replay()``,
``replay_batch()`` and the sweep that follows a breaker closing."""

from __future__ import annotations

import contextlib
import json
import logging
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import baldur
from helpers import eventually, probed
from redis_server import RedisServer

APPS = Path(__file__).parent / "apps"
ZONE = "dlq-jobs"

_INSERT = """
import sqlite3, sys
path, zone, function, arguments, now = sys.argv[1:]
with sqlite3.connect(path) as db:
    cursor = db.execute(
        "INSERT INTO entries (zone, function, arguments, replayable, error_type, error_message, "
        "attempts, reason, state, replays_left, created_ms, updated_ms) VALUES (?, ?, ?, 1, "
        "'builtins.ConnectionError', 'down', 1, 'exhausted', 'pending', 3, ?, ?)",
        (zone, function, arguments, int(now), int(now)),
    )
print(cursor.lastrowid)
"""


@dataclass
class Store:
    """Writes entries straight into the queue's store, as an attacker with
    access to the file or to Redis would."""

    data_dir: Path
    redis: RedisServer | None

    def write(self, function: str, arguments: str, zone: str = ZONE) -> str:
        now = int(time.time() * 1000)
        if self.redis is None:
            # From another process, as an attacker would (and as SQLite's
            # locks need: this process's sqlite3 is another copy of SQLite).
            written = subprocess.run(
                [sys.executable, "-c", _INSERT, str(self.data_dir / "dlq.sqlite3"),
                 zone, function, arguments, str(now)],
                capture_output=True, text=True, timeout=30, check=True,
            )  # fmt: skip
            return written.stdout.strip()
        tag = f"baldur:dlq:{{{zone}}}"
        answer = self.redis.command(
            "XADD", f"{tag}:stream", "*",
            "function", function, "arguments", arguments, "replayable", "1",
            "error_type", "builtins.ConnectionError", "error_message", "down",
            "attempts", "1", "reason", "exhausted",
        )  # fmt: skip
        stream_id = answer.split(b"\r\n")[1].decode()
        state = json.dumps({"s": "pending", "l": 3, "c": now, "u": now})
        assert self.redis.command("HSET", f"{tag}:states", stream_id, state).startswith(b":1")
        return f"{zone}:{stream_id}"


@pytest.fixture
def store(
    configure: Callable[..., None],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dlq_store: dict[str, str],
    request: pytest.FixtureRequest,
) -> Iterator[Store]:
    """The jobs app imported afresh, one of its shipments failed into the
    queue (so the domain exists, as an attacker would find it), and a way
    to write entries into the store behind Baldur's back."""
    monkeypatch.syspath_prepend(str(APPS))
    monkeypatch.setenv("BALDUR_TEST_MARKER", str(tmp_path / "runs.txt"))
    monkeypatch.setenv("BALDUR_TEST_TRAP", str(tmp_path / "trap.txt"))
    configure(data_dir=str(tmp_path), **dlq_store)
    for module in ("dlq_jobs", "dlq_trap"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    with contextlib.suppress(KeyError):
        baldur.reset_circuit(ZONE)
    monkeypatch.setenv("BALDUR_TEST_FAIL", "1")
    import dlq_jobs

    with pytest.raises(ConnectionError):
        dlq_jobs.ship("legit")
    monkeypatch.setenv("BALDUR_TEST_FAIL", "0")
    redis = request.getfixturevalue("_dlq_redis") if dlq_store else None
    yield Store(tmp_path, redis)
    for module in ("dlq_jobs", "dlq_trap"):
        sys.modules.pop(module, None)


def hostile(tmp_path: Path) -> list[tuple[str, str]]:
    """(function, arguments) an attacker would write: a shell command, an
    importable function no zone protects, a protected function of another
    zone, and a module that tells whether anything in it was looked up."""
    pwned = tmp_path / "pwned.txt"
    return [
        ("os:system", json.dumps({"args": [f"echo pwned > {pwned}"], "kwargs": {}})),
        ("dlq_jobs:unprotected", json.dumps({"args": ["x"], "kwargs": {}})),
        ("dlq_jobs:notify", json.dumps({"args": ["x"], "kwargs": {}})),
        ("dlq_trap:anything", json.dumps({"args": [], "kwargs": {}})),
    ]


def nothing_ran(tmp_path: Path) -> None:
    assert not (tmp_path / "pwned.txt").exists()
    runs = tmp_path / "runs.txt"
    assert not runs.exists() or "unprotected" not in runs.read_text()
    trap = tmp_path / "trap.txt"
    assert not trap.exists() or "looked up" not in trap.read_text()


def refusals(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", None) == "replay.entry_refused"]


def test_replay_refuses_an_entry_written_into_the_store(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="baldur"):
        for function, arguments in hostile(tmp_path):
            entry_id = store.write(function, arguments)
            outcome = baldur.dlq.replay(entry_id)
            assert (outcome.get("ok"), outcome["state"]) == (False, "needs_review"), (
                function,
                outcome,
            )
            entry = baldur.dlq.get(entry_id)
            assert entry is not None and entry["state"] == "needs_review"
            assert "not a protected dlq=True function" in entry["last_replay_error"]
    nothing_ran(tmp_path)
    assert len(refusals(caplog)) == 4
    assert all(r.levelno == logging.ERROR for r in refusals(caplog))


def test_replay_batch_refuses_them_and_replays_the_rest(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ids = [store.write(function, arguments) for function, arguments in hostile(tmp_path)]
    with caplog.at_level(logging.ERROR, logger="baldur"):
        outcomes = baldur.dlq.replay_batch(domain=ZONE)
    nothing_ran(tmp_path)
    by_id = {outcome["id"]: outcome for outcome in outcomes}
    assert all(by_id[entry_id]["state"] == "needs_review" for entry_id in ids)
    assert [o["ok"] for o in outcomes if o["id"] not in ids] == [True]  # the real one
    assert (tmp_path / "runs.txt").read_text() == "legit:1\n"
    assert len(refusals(caplog)) == 4


def test_the_sweep_after_a_breaker_closes_refuses_them(
    store: Store,
    tmp_path: Path,
    configure: Callable[..., None],
    dlq_store: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    configure(
        **dlq_store,
        data_dir=str(tmp_path),
        cb_failure_threshold=1,
        cb_minimum_calls=1,
        cb_recovery_timeout=0.2,
        cb_half_open_max_calls=1,
    )
    ids = [store.write(function, arguments) for function, arguments in hostile(tmp_path)]
    caplog.set_level(logging.ERROR, logger="baldur")
    baldur.force_open_circuit(ZONE)
    baldur.reset_circuit(ZONE)
    with pytest.raises(ConnectionError):  # the breaker opens on one failure
        baldur.protect(ZONE, _down)
    eventually(lambda: probed(ZONE), within=10)  # the probe closes it, and so starts the sweep

    def swept() -> bool:
        states = [(baldur.dlq.get(entry_id) or {}).get("state") for entry_id in ids]
        return states == ["needs_review"] * 4

    eventually(swept, within=10)
    eventually(lambda: not [e for e in baldur.dlq.list(domain=ZONE) if e["state"] == "pending"])
    nothing_ran(tmp_path)
    assert (tmp_path / "runs.txt").read_text() == "legit:1\n"


def _down() -> None:
    raise ConnectionError("down")


def test_with_a_signing_key_a_forged_entry_is_not_even_imported(
    store: Store,
    tmp_path: Path,
    configure: Callable[..., None],
    dlq_store: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    configure(**dlq_store, data_dir=str(tmp_path), dlq_signing_key="s3cret-signing-key")
    monkeypatch.setenv("BALDUR_TEST_FAIL", "1")
    import dlq_jobs

    with pytest.raises(ConnectionError):
        dlq_jobs.ship("signed", quantity=2)
    monkeypatch.setenv("BALDUR_TEST_FAIL", "0")
    [signed] = [e for e in baldur.dlq.list(domain=ZONE) if '"signed"' in e["arguments"]]
    document = json.loads(signed["arguments"])
    assert document["signature"]
    # A copy of a signed entry with other arguments, an unsigned entry for
    # a registered function, and one whose module would tell it was imported.
    document["args"] = ["forged"]
    forged = [
        store.write("dlq_jobs:ship", json.dumps(document)),
        store.write("dlq_jobs:ship", json.dumps({"args": ["unsigned"], "kwargs": {}})),
        store.write("dlq_trap:anything", json.dumps({"args": [], "kwargs": {}})),
    ]
    with caplog.at_level(logging.ERROR, logger="baldur"):
        outcomes = [baldur.dlq.replay(entry_id) for entry_id in forged]
    assert [o["state"] for o in outcomes] == ["needs_review"] * 3
    assert all("signature" in o["error"] for o in outcomes)
    assert "dlq_trap" not in sys.modules and not (tmp_path / "trap.txt").exists()
    assert baldur.dlq.replay(signed["id"])["ok"] is True  # the genuine one replays
    assert (tmp_path / "runs.txt").read_text() == "signed:2\n"
    assert len(refusals(caplog)) == 3
    assert "s3cret" not in caplog.text
