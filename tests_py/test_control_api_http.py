"""The control API through the real admin server, over HTTP: what a CLI or
the console gets."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

import baldur
import baldur._admin_server
from control_api_calls import API
from helpers import AlwaysFails, failed_job, free_port


@pytest.fixture
def server(configure: Any) -> str:
    """This process's admin server on a free port, unlocked: its base URL."""
    port = free_port()
    configure(admin_port=port, admin_key="k-admin", viewer_key="k-view", admin_unlock=True)
    address = baldur._admin_server.address()
    assert address is not None
    return f"http://127.0.0.1:{address[1]}"


def fetch(
    url: str, *, key: str | None = "k-admin", body: object = None, actor: str | None = None
) -> tuple[int, dict[str, str], Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    if key is not None:
        request.add_header("X-Baldur-Key", key)
    if actor is not None:
        request.add_header("X-Baldur-Actor", actor)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, headers, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as refused:
        status, headers, raw = refused.code, dict(refused.headers), refused.read()
    return status, headers, json.loads(raw)


def test_over_http_the_breakers_are_listed_and_forced(server: str, zone_name: str) -> None:
    baldur.protect_with_meta(zone_name, AlwaysFails())
    status, _, listing = fetch(f"{server}{API}cb/")
    assert status == 200
    assert listing["served_by"] == {"pid": os.getpid(), "store": "memory"}
    [breaker] = [b for b in listing["breakers"] if b["name"] == zone_name]
    assert (breaker["state"], breaker["calls"], breaker["failures"]) == ("closed", 1, 1)
    status, _, forced = fetch(
        f"{server}{API}cb/{zone_name}/force-open",
        body={"confirm": "CONFIRM", "reason": "over http"},
        actor="alice",
    )
    assert (status, forced["state"], forced["actor"]) == (200, "forced_open", "admin:alice")
    assert baldur.circuit_state(zone_name) == "forced_open"


def test_over_http_a_dlq_entry_is_replayed(
    server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    marker = tmp_path / "runs.txt"
    entry = failed_job(monkeypatch, str(marker), "o-http")
    status, _, listing = fetch(f"{server}{API}dlq/?domain=dlq-jobs&limit=5")
    assert status == 200 and [e["id"] for e in listing["entries"]] == [entry["id"]]
    status, _, outcome = fetch(
        f"{server}{API}dlq/{entry['id']}/replay", body={"confirm": "CONFIRM"}
    )
    assert (status, outcome["ok"], outcome["state"]) == (200, True, "done")
    assert marker.read_text() == "o-http:1\n"


def test_over_http_the_refusals_are_json_with_served_by(server: str) -> None:
    status, _, public = fetch(f"{server}{API}health/", key=None)
    assert status == 200 and public["served_by"]["pid"] == os.getpid()
    assert fetch(f"{server}{API}cb/", key=None)[0] == 401
    status, _, missing = fetch(f"{server}{API}no-such-route/")
    assert (status, missing["error"]) == (404, "not_found")
    status, headers, wrong = fetch(f"{server}{API}kill-switch/", body={"confirm": "CONFIRM"})
    assert (status, wrong["error"], headers["Allow"]) == (405, "method_not_allowed", "GET, HEAD")
    status, _, bad = fetch(f"{server}{API}dlq/?limit=0")
    assert (status, bad["error"]) == (400, "bad_request")
    status, _, unknown = fetch(f"{server}{API}cb/nobody/", key="k-view")
    assert (status, unknown["error"]) == (404, "not_found")
    assert "nobody" not in baldur.circuits()
