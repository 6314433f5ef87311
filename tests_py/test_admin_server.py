"""The admin server as an attacker and an operator meet it: a real server
on a free port, spoken to over real sockets.

The holes the anchors shipped are the test list: Flower's unauthenticated
default and its cross-site form POST (CVE-2022-30034), Sentinel's pre-auth
SSRF, origin checks that took ``null``, a prefix, or ``Origin == Host``,
DNS rebinding through a foreign ``Host``. Each test fails if its hole opens.
"""

from __future__ import annotations

import http.client
import json
import logging
import multiprocessing
import os
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest

import baldur
from baldur.exceptions import ConfigError
from helpers import free_port

ADMIN_KEY = "admin-key-for-tests-0123456789abcdef"
VIEWER_KEY = "viewer-key-for-tests-0123456789abcdef"
CONFIRM = {"confirm": "CONFIRM"}
PUBLIC_HEALTH = ["health/", "health/live/", "health/ready/", "health/pool/", "health/ping/"]
KEYED_READS = ["cb/", "dlq/", "kill-switch/", "metrics/json/", "dashboard/summary/"]


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        return json.loads(self.body)


Ask = Callable[..., Answer]


def ask_on(port: int) -> Ask:
    def ask(
        method: str,
        path: str,
        body: object = None,
        *,
        key: str | None = None,
        host: str | None = None,
        origin: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        sent = dict(headers or {})
        sent["Host"] = host or f"127.0.0.1:{port}"
        if key is not None:
            sent["X-Baldur-Key"] = key
        if origin is not None:
            sent["Origin"] = origin
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.putrequest(method, path, skip_host=True)
            for name, value in sent.items():
                connection.putheader(name, value)
            if data is not None:
                connection.putheader("Content-Length", str(len(data)))
            connection.endheaders(data)
            response = connection.getresponse()
            return Answer(response.status, dict(response.getheaders()), response.read())
        finally:
            connection.close()

    return ask


@pytest.fixture
def start(configure: Callable[..., None]) -> Callable[..., tuple[int, Ask]]:
    """Starts the admin server on a free port with ``settings``."""

    def start(**settings: object) -> tuple[int, Ask]:
        port = free_port()
        configure(admin_port=port, **settings)
        assert baldur._admin_server.address() == ("127.0.0.1", port)
        return port, ask_on(port)

    return start


@pytest.fixture
def server(start: Callable[..., tuple[int, Ask]]) -> Ask:
    """Unlocked, with an admin and a viewer key."""
    return start(admin_key=ADMIN_KEY, viewer_key=VIEWER_KEY, admin_unlock=True)[1]


def test_a_fresh_server_answers_nothing_but_probes_and_the_page_without_a_key(
    start: Callable[..., tuple[int, Ask]],
) -> None:
    # Flower's default: every route open to whoever reaches the port.
    _port, ask = start()
    for route in [*KEYED_READS, "dlq/stats/", "metrics/"]:
        answer = ask("GET", f"/api/baldur/{route}")
        assert answer.status == 401, route
        assert answer.json()["error"] == "unauthorized"
    for route in PUBLIC_HEALTH:
        assert ask("GET", f"/api/baldur/{route}").status in (200, 503), route
    assert ask("GET", "/").status == 200
    answer = ask("POST", "/api/baldur/cb/payments/force-open", CONFIRM)
    assert answer.status == 401
    assert baldur.circuit_state("payments") == "closed"


def test_the_generated_key_is_private_reused_and_never_logged(
    start: Callable[..., tuple[int, Ask]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="baldur")
    _port, ask = start()
    key_path = os.path.join(os.environ["BALDUR_DATA_DIR"], "admin.key")
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    with open(key_path) as handle:
        key = handle.read().strip()
    assert len(key) >= 32
    assert ask("GET", "/api/baldur/cb/", key=key).status == 200
    # A new configuration (the server restarts) reads the same key.
    baldur.init(admin_unlock=True)
    assert ask("GET", "/api/baldur/cb/", key=key).status == 200
    assert ask("POST", "/api/baldur/cb/p/force-open", CONFIRM, key=key).status == 200
    started = [r for r in caplog.records if "admin.server_started" in r.getMessage()]
    assert started and key_path in started[-1].getMessage()
    assert not [r for r in caplog.records if key in r.getMessage()]


def test_a_key_file_others_could_read_is_narrowed(
    start: Callable[..., tuple[int, Ask]],
) -> None:
    key_path = os.path.join(os.environ["BALDUR_DATA_DIR"], "admin.key")
    with open(key_path, "w") as handle:
        handle.write("k" * 40 + "\n")
    os.chmod(key_path, 0o644)
    _, ask = start()
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    assert ask("GET", "/api/baldur/cb/", key="k" * 40).status == 200


def test_a_wrong_key_is_refused_and_not_echoed(server: Ask) -> None:
    for wrong in [ADMIN_KEY[:-1], ADMIN_KEY + "x", "", VIEWER_KEY.upper()]:
        answer = server("GET", "/api/baldur/cb/", key=wrong)
        assert answer.status == 401, wrong
        assert ADMIN_KEY.encode() not in answer.body and VIEWER_KEY.encode() not in answer.body


def test_a_cross_site_form_post_changes_nothing(server: Ask) -> None:
    # CVE-2022-30034: a page elsewhere submits a form to the local console.
    form = b"confirm=CONFIRM"
    for key in (None, ADMIN_KEY):
        answer = server(
            "POST",
            "/api/baldur/kill-switch/disable",
            form,
            key=key,
            origin="http://evil.example",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert answer.status == 403
        assert answer.json()["error"] == "origin_not_allowed"
    assert baldur.is_baldur_enabled()


@pytest.mark.parametrize(
    "origin",
    [
        "null",
        "http://127.0.0.1:{port}.evil.example",
        "http://127.0.0.1.evil.example:{port}",
        "http://localhost:{port}@evil.example",
        "https://127.0.0.1:{port}",
        "http://127.0.0.1:{other}",
        "http://127.0.0.1",
        "http://[::1]:{port}",
    ],
)
def test_origins_are_matched_exactly(start: Callable[..., tuple[int, Ask]], origin: str) -> None:
    port, ask = start(admin_key=ADMIN_KEY, admin_unlock=True)
    origin = origin.format(port=port, other=port + 1)
    answer = ask("POST", "/api/baldur/cb/p/force-open", CONFIRM, key=ADMIN_KEY, origin=origin)
    assert answer.status == 403, origin
    assert baldur.circuit_state("p") == "closed"
    # The console's own origin passes.
    own = ask(
        "POST",
        "/api/baldur/cb/p/force-open",
        CONFIRM,
        key=ADMIN_KEY,
        origin=f"http://127.0.0.1:{port}",
    )
    assert own.status == 200


def test_an_origin_equal_to_the_host_is_no_pass(start: Callable[..., tuple[int, Ask]]) -> None:
    # A rebound name controls Host and Origin alike: matching one against
    # the other lets it through.
    port, ask = start(admin_key=ADMIN_KEY, admin_unlock=True, admin_allowed_hosts="ops.internal")
    answer = ask(
        "POST",
        "/api/baldur/cb/p/force-open",
        CONFIRM,
        key=ADMIN_KEY,
        host=f"ops.internal:{port}",
        origin=f"http://ops.internal:{port}",
    )
    assert answer.status == 403
    assert answer.json()["error"] == "origin_not_allowed"


def test_a_listed_origin_may_act(start: Callable[..., tuple[int, Ask]]) -> None:
    port, ask = start(
        admin_key=ADMIN_KEY,
        admin_unlock=True,
        admin_allowed_hosts="ops.internal",
        admin_allowed_origins="https://ops.internal",
    )
    answer = ask(
        "POST",
        "/api/baldur/cb/p/force-open",
        CONFIRM,
        key=ADMIN_KEY,
        host=f"ops.internal:{port}",
        origin="https://ops.internal",
    )
    assert answer.status == 200
    assert baldur.circuit_state("p") == "forced_open"


@pytest.mark.parametrize(
    "host", ["evil.example:{port}", "127.0.0.1:{other}", "localhost", "attacker.localhost:{port}"]
)
def test_a_foreign_host_gets_nothing_at_all(
    start: Callable[..., tuple[int, Ask]], host: str
) -> None:
    # DNS rebinding: evil.example now resolves to 127.0.0.1.
    port, ask = start(admin_key=ADMIN_KEY)
    host = host.format(port=port, other=port + 1)
    for path in ["/", "/static/console.js", "/api/baldur/health/", "/api/baldur/cb/"]:
        answer = ask("GET", path, key=ADMIN_KEY, host=host)
        assert answer.status == 403, (host, path)
        assert answer.json()["error"] == "host_not_allowed"


def test_a_get_never_changes_state(server: Ask) -> None:
    # Envoy's rule: a change sent as GET does nothing.
    for path in [
        "/api/baldur/cb/p/force-open",
        "/api/baldur/cb/p/force-open?confirm=CONFIRM",
        "/api/baldur/kill-switch/disable?reason=x&confirm=CONFIRM",
        "/api/baldur/dlq/purge?domain=p&confirm=CONFIRM",
    ]:
        answer = server("GET", path, key=ADMIN_KEY)
        assert answer.status in (404, 405), path
    assert baldur.circuit_state("p") == "closed"
    assert baldur.is_baldur_enabled()
    for method in ["PUT", "DELETE", "PATCH"]:
        answer = server(method, "/api/baldur/cb/p/force-open", CONFIRM, key=ADMIN_KEY)
        assert answer.status == 405, method
    assert baldur.circuit_state("p") == "closed"


def test_actions_are_locked_by_default_and_need_the_confirmation(
    start: Callable[..., tuple[int, Ask]],
) -> None:
    _, locked = start(admin_key=ADMIN_KEY)
    answer = locked("POST", "/api/baldur/cb/p/force-open", CONFIRM, key=ADMIN_KEY)
    assert answer.status == 403
    assert answer.json()["error"] == "locked"
    assert "BALDUR_ADMIN_UNLOCK=1" in answer.json()["detail"]
    _, unlocked = start(admin_key=ADMIN_KEY, admin_unlock=True)
    for body in [None, {}, {"confirm": "yes"}, {"confirm": "confirm"}, b"not json"]:
        answer = unlocked("POST", "/api/baldur/cb/p/force-open", body, key=ADMIN_KEY)
        assert answer.status == 400, body
        assert answer.json()["error"] == "confirm_required"
    assert baldur.circuit_state("p") == "closed"
    answer = unlocked("POST", "/api/baldur/cb/p/force-open", CONFIRM, key=ADMIN_KEY)
    assert answer.status == 200
    assert baldur.circuit_state("p") == "forced_open"


def test_a_viewer_reads_and_cannot_act(server: Ask) -> None:
    assert server("GET", "/api/baldur/cb/", key=VIEWER_KEY).status == 200
    answer = server("POST", "/api/baldur/cb/p/force-open", CONFIRM, key=VIEWER_KEY)
    assert answer.status == 403
    assert answer.json()["error"] == "forbidden"
    assert baldur.circuit_state("p") == "closed"


def test_the_actor_is_the_role_and_the_name_given(server: Ask) -> None:
    # A control character in the name is dropped (the actor lands in logs).
    answer = server(
        "POST",
        "/api/baldur/cb/p/force-open",
        CONFIRM,
        key=ADMIN_KEY,
        headers={"X-Baldur-Actor": "alice\tforged"},
    )
    assert answer.json()["actor"] == "admin:aliceforged"
    answer = server(
        "POST",
        "/api/baldur/cb/q/force-open",
        CONFIRM,
        key=ADMIN_KEY,
        headers={"X-Baldur-Actor": "alice"},
    )
    assert answer.json()["actor"] == "admin:alice"


def test_every_answer_is_framed_safely(server: Ask) -> None:
    answers = [
        server("GET", "/"),
        server("GET", "/api/baldur/health/ping/"),
        server("GET", "/api/baldur/cb/"),
        server("GET", "/api/baldur/cb/", key=ADMIN_KEY),
        server("GET", "/api/baldur/nowhere/", key=ADMIN_KEY),
        server("POST", "/api/baldur/cb/p/force-open", {}, key=ADMIN_KEY),
        server("GET", "/", host="evil.example"),
    ]
    for answer in answers:
        csp = answer.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert (
            answer.headers["Cache-Control"].startswith("no-store")
            or "no-store" in answer.headers["Cache-Control"]
        )
    for answer in answers[1:]:
        assert "served_by" in answer.json()
        assert answer.json()["served_by"]["pid"] == os.getpid()


def raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=15) as connection:
        connection.sendall(data)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_the_server_fetches_nothing_a_request_names(start: Callable[..., tuple[int, Ask]]) -> None:
    # Sentinel's pre-auth SSRF: a route that connected wherever the
    # request said. Nothing here connects anywhere a request names.
    port, _ = start(admin_key=ADMIN_KEY)
    bait = socket.socket()
    bait.bind(("127.0.0.1", 0))
    bait.listen(8)
    bait.settimeout(0.5)
    bait_port = bait.getsockname()[1]
    try:
        answer = raw(
            port,
            f"GET http://127.0.0.1:{bait_port}/ HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\n\r\n".encode(),
        )
        assert answer.startswith(b"HTTP/1.1 400")
        for path in [
            f"/api/baldur/health/?url=http://127.0.0.1:{bait_port}/",
            f"/api/baldur/dlq/?ip=127.0.0.1&port={bait_port}",
            f"/registry/machine?ip=127.0.0.1&port={bait_port}",
        ]:
            raw(port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        with pytest.raises(socket.timeout):
            bait.accept()
    finally:
        bait.close()


def test_malformed_and_oversized_requests_are_refused(
    start: Callable[..., tuple[int, Ask]],
) -> None:
    port, ask = start(admin_key=ADMIN_KEY)
    host = f"Host: 127.0.0.1:{port}\r\n".encode()
    chunked = (
        b"POST /api/baldur/cb/p/force-open HTTP/1.1\r\n"
        + host
        + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    )
    assert raw(port, chunked).startswith(b"HTTP/1.1 411")
    huge = b"GET / HTTP/1.1\r\n" + host + b"X-Filler: " + b"a" * 20000 + b"\r\n\r\n"
    assert raw(port, huge).startswith(b"HTTP/1.1 431")
    body = (
        b"POST /api/baldur/cb/p/force-open HTTP/1.1\r\n" + host + b"Content-Length: 9999999\r\n\r\n"
    )
    assert raw(port, body).startswith(b"HTTP/1.1 413")
    # The server still serves.
    assert ask("GET", "/api/baldur/health/ping/").status == 200


def test_a_stalled_client_holds_no_one_else_up(start: Callable[..., tuple[int, Ask]]) -> None:
    port, ask = start(admin_key=ADMIN_KEY)
    stalled = socket.create_connection(("127.0.0.1", port))
    try:
        stalled.sendall(b"GET /api/baldur/cb/ HTTP/1.1\r\nHost: 127.0.0.1")
        assert ask("GET", "/api/baldur/health/ping/").status == 200
    finally:
        stalled.close()


def test_a_slow_handler_never_holds_up_a_protected_call(server: Ask) -> None:
    entered, release = threading.Event(), threading.Event()

    def slow_check() -> bool:
        entered.set()
        release.wait(30)
        return True

    baldur.register_check("slow", slow_check)
    try:
        reader = threading.Thread(target=server, args=("GET", "/api/baldur/health/?nocache=1"))
        reader.start()
        assert entered.wait(10)
        protected = baldur.protected("while-serving")(lambda x: x)
        assert [protected(i) for i in range(200)] == list(range(200))
    finally:
        release.set()
        reader.join(30)
        baldur.unregister_check("slow")


def test_a_taken_port_is_skipped_and_the_app_carries_on(
    configure: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="baldur")
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    try:
        configure(admin_port=holder.getsockname()[1])
        assert baldur._admin_server.address() is None
        assert any("admin.server_skipped" in r.getMessage() for r in caplog.records)
        assert baldur.protected("after-skip")(lambda: 1)() == 1
    finally:
        holder.close()


def test_port_zero_and_reset_stop_the_server(start: Callable[..., tuple[int, Ask]]) -> None:
    _port, ask = start(admin_key=ADMIN_KEY)
    assert ask("GET", "/api/baldur/health/ping/").status == 200
    baldur.init(admin_port=0)
    assert baldur._admin_server.address() is None
    with pytest.raises(OSError):
        ask("GET", "/api/baldur/health/ping/")


def _child_reports(queue: Any) -> None:
    queue.put(baldur._admin_server.address())


def test_a_forked_child_of_the_serving_process_skips(start: Callable[..., tuple[int, Ask]]) -> None:
    _port, ask = start(admin_key=ADMIN_KEY)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child_reports, args=(queue,))
    child.start()
    assert queue.get(timeout=30) is None
    child.join(30)
    assert child.exitcode == 0
    answer = ask("GET", "/api/baldur/cb/", key=ADMIN_KEY)
    assert answer.status == 200
    assert answer.json()["served_by"]["pid"] == os.getpid()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("admin_port", "70000"),
        ("admin_port", "nine"),
        ("admin_host", "not-an-address"),
        ("admin_unlock", "maybe"),
        ("admin_allowed_origins", "null"),
        ("admin_allowed_origins", "http://ok.example,ftp://x"),
        ("admin_allowed_hosts", "a b"),
    ],
)
def test_bad_settings_are_named(configure: Callable[..., None], key: str, value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        configure(**{key: value})
    assert key in str(raised.value)


@pytest.mark.parametrize("word", ["true", "1", "YES", "On"])
def test_unlock_reads_every_spelling_of_true(
    start: Callable[..., tuple[int, Ask]], word: str
) -> None:
    _, ask = start(admin_key=ADMIN_KEY, admin_unlock=word)
    assert ask("POST", "/api/baldur/cb/p/reset", CONFIRM, key=ADMIN_KEY).status == 200


def test_a_forced_breaker_shows_at_once_in_the_summary_and_health(server: Ask) -> None:
    baldur.protected("payments")(lambda: 1)()
    before = server("GET", "/api/baldur/dashboard/summary/", key=ADMIN_KEY).json()
    assert before["overview"]["open_breakers"] == 0
    server("GET", "/api/baldur/health/", key=ADMIN_KEY)  # cached too
    assert (
        server("POST", "/api/baldur/cb/payments/force-open", CONFIRM, key=ADMIN_KEY).status == 200
    )
    after = server("GET", "/api/baldur/dashboard/summary/", key=ADMIN_KEY).json()
    assert after["overview"]["open_breakers"] == 1
    health = server("GET", "/api/baldur/health/", key=ADMIN_KEY).json()
    assert health["checks"]["baldur.circuit_breakers"]["status"] == "degraded"


def test_a_process_serving_the_console_exits_cleanly(tmp_path: Any) -> None:
    port = free_port()
    script = (
        "import urllib.request, baldur\n"
        f"baldur.init(admin_port={port})\n"
        f"urllib.request.urlopen('http://127.0.0.1:{port}/api/baldur/health/ping/', timeout=10)\n"
        "print('served')\n"
    )
    env = {**os.environ, "BALDUR_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "served"
    assert "Traceback" not in done.stderr
    # The port is free again: nothing of the server outlived its process.
    # SO_REUSEADDR, as a server binds: a connection the server closed first
    # may linger in TIME_WAIT, which is the kernel's, not a listener left.
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))
