"""The web console in a real browser (Debian's chromium, driven by
Playwright), against the real admin server started by ``baldur.init()``.

An operator enters the key, sees a breaker and forces it open through the
CONFIRM prompt; the page runs under the server's strict CSP with nothing
refused. And as an attacker: a page of another origin cannot act (its fetch
is stopped, its form POST gets nothing, a POST carrying its Origin is
refused), a frame of it shows nothing, and a DNS-rebinding name gets 403.

Nothing here is skipped: a machine without chromium fails these tests
(``scripts/bootstrap.sh`` installs it).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

import baldur
import baldur._admin_server as _admin_server
from helpers import free_port

pytestmark = pytest.mark.timeout(180)

ADMIN_KEY = "k-admin-console-test"
VIEWER_KEY = "k-view-console-test"
#: Where the test run leaves its screenshot of the console, to be looked at.
SCREENSHOT = Path(tempfile.gettempdir()) / "baldur-console.png"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    assert chromium, "chromium is missing: apt-get install chromium (scripts/bootstrap.sh does)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--host-resolver-rules=MAP rebind.test 127.0.0.1"],
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


@pytest.fixture
def admin(configure: Callable[..., None], tmp_path: Path) -> Callable[..., str]:
    """Starts the admin server on a free port; returns its base URL."""

    def start(*, unlock: bool = True) -> str:
        port = free_port()
        configure(
            data_dir=str(tmp_path),
            admin_port=port,
            admin_key=ADMIN_KEY,
            viewer_key=VIEWER_KEY,
            admin_unlock=unlock,
        )
        deadline = time.monotonic() + 10
        while (address := _admin_server.address()) is None:
            assert time.monotonic() < deadline, "the admin server did not start"
            time.sleep(0.02)
        return _admin_server.url_of(*address)

    return start


@baldur.protected("payments")
def charge(order_id: str) -> str:
    return f"charged {order_id}"


@baldur.protected(
    "inventory",
    retry=baldur.RetryPolicy(attempts=2, base_delay=0),
    fallback=lambda *args, **kwargs: "queued",
    dlq=True,
)
def reserve(sku: str, note: str) -> str:
    raise TimeoutError("warehouse timed out")


def _sign_in(page: Page, base: str, key: str = ADMIN_KEY, actor: str = "alice") -> None:
    page.goto(base + "/")
    page.fill("#key", key)
    page.fill("#actor", actor)
    page.click("#login-form button[type=submit]")


def _force_open(page: Page, name: str, typed: str = "CONFIRM") -> None:
    page.click(f'tr[data-name="{name}"] button[data-action="force-open"]')
    page.wait_for_selector("#confirm[open]")
    page.fill("#confirm-input", typed)
    page.click("#confirm-ok")


def _post(url: str, body: dict[str, Any], **headers: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def test_an_operator_forces_a_breaker_open_through_the_prompt(
    admin: Callable[..., str], page: Page
) -> None:
    base = admin()
    charge("o-1")
    reserve("SKU-88", note="<img src=x id=injected>")
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if "Content Security" in m.text else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/baldur/" in r.url else None)

    # Before the key: the sign-in form and no data, nothing asked of the API.
    page.goto(base + "/")
    assert page.is_visible("#login-form")
    assert page.is_hidden("#console")
    page.wait_for_timeout(300)
    assert asked == []

    _sign_in(page, base)
    row = page.wait_for_selector('tr[data-name="payments"] .state-closed')
    assert row is not None
    served = page.text_content("#served-by") or ""
    assert f"pid {os.getpid()}" in served and "store memory" in served
    page.wait_for_selector("#verdict:not(:empty)")

    # The dead letter's detail: its arguments shown as text, never as markup.
    page.click('#dlq tbody tr:has-text("inventory")')
    page.wait_for_selector("#dlq-detail:not([hidden])")
    assert "<img src=x id=injected>" in (page.text_content("#dlq-args") or "")
    assert "TimeoutError" in (page.text_content("#dlq-error") or "")
    assert page.query_selector("#injected") is None

    # The prompt: cancel does nothing; Go ahead stays off until CONFIRM is typed.
    page.click('tr[data-name="payments"] button[data-action="force-open"]')
    page.wait_for_selector("#confirm[open]")
    page.fill("#confirm-input", "confirm")
    assert page.is_disabled("#confirm-ok")
    page.click("#confirm-cancel")
    assert baldur.circuit_state("payments") == "closed"

    page.click('tr[data-name="payments"] button[data-action="force-open"]')
    page.fill("#confirm-reason", "PSP incident 4711")
    page.fill("#confirm-input", "CONFIRM")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.click("#confirm-ok")
    answer = posted.value.json()
    assert posted.value.status == 200
    assert answer["actor"] == "admin:alice"
    page.wait_for_selector('tr[data-name="payments"] .state-forced_open')
    assert baldur.circuit_state("payments") == "forced_open"
    assert "force-open payments: done" in (page.text_content("#last-action") or "")

    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert problems == []


@baldur.protected(
    "shipping",
    retry=baldur.RetryPolicy(attempts=1, base_delay=0),
    fallback=lambda *args, **kwargs: "queued",
    dlq=True,
)
def ship(parcel: str) -> str:
    raise ConnectionError("carrier down")


def test_the_dead_letters_are_filtered_replayed_and_purged(
    admin: Callable[..., str], page: Page
) -> None:
    base = admin()
    reserve("SKU-1", note="first")
    ship("P-1")
    ship("P-2")
    _sign_in(page, base)
    page.wait_for_selector("#dlq tbody tr >> nth=2")

    page.fill("#dlq-zone", "shipping")
    page.press("#dlq-zone", "Enter")
    expect(page.locator("#dlq tbody tr")).to_have_count(2)
    page.fill("#dlq-zone", "")
    page.fill("#dlq-type", "builtins.TimeoutError")
    page.press("#dlq-type", "Enter")
    expect(page.locator("#dlq tbody tr")).to_have_count(1)
    assert "inventory" in (page.text_content("#dlq tbody tr") or "")

    # One entry replayed by hand: the function fails again, and the page says so.
    page.click("#dlq tbody tr")
    page.click("#dlq-replay")
    page.fill("#confirm-input", "CONFIRM")
    with page.expect_response(lambda r: r.url.endswith("/replay")) as replayed:
        page.click("#confirm-ok")
    assert replayed.value.json()["ok"] is False
    page.wait_for_selector("#last-action.ok")
    assert "ok false" in (page.text_content("#last-action") or "")

    # The shipping zone's entries purged.
    page.fill("#dlq-type", "")
    page.fill("#dlq-zone", "shipping")
    page.click("#dlq-purge")
    page.fill("#confirm-input", "CONFIRM")
    with page.expect_response(lambda r: r.url.endswith("/purge")) as purged:
        page.click("#confirm-ok")
    assert purged.value.json()["purged"] == 2
    page.wait_for_selector("#dlq-empty:not([hidden])")
    assert baldur.dlq.list(domain="shipping") == []
    assert len(baldur.dlq.list(domain="inventory")) == 1


def test_a_breaker_opening_elsewhere_shows_within_seconds(
    admin: Callable[..., str], page: Page
) -> None:
    base = admin()
    charge("o-1")
    _sign_in(page, base)
    page.wait_for_selector('tr[data-name="payments"] .state-closed')
    baldur.force_open_circuit("payments")
    page.wait_for_selector('tr[data-name="payments"] .state-forced_open', timeout=5_000)


def test_a_wrong_key_shows_the_refusal_and_no_data(admin: Callable[..., str], page: Page) -> None:
    base = admin()
    charge("o-1")
    _sign_in(page, base, key="not-the-key")
    page.wait_for_selector("#login-error:not([hidden])")
    assert "(401 unauthorized)" in (page.text_content("#login-error") or "")
    assert page.is_hidden("#console")
    assert page.query_selector('tr[data-name="payments"]') is None


def test_a_locked_server_refuses_and_the_page_says_so(
    admin: Callable[..., str], page: Page
) -> None:
    base = admin(unlock=False)
    charge("o-1")
    _sign_in(page, base)
    page.wait_for_selector('tr[data-name="payments"] .state-closed')
    _force_open(page, "payments")
    page.wait_for_selector("#banner:not([hidden])")
    shown = page.text_content("#banner-text") or ""
    assert "force-open payments: locked (403 locked)" in shown
    assert "BALDUR_ADMIN_UNLOCK=1" in shown
    page.wait_for_timeout(2500)  # a refresh later, the refusal is still there
    assert page.is_visible("#banner")
    page.click("#banner-close")
    assert page.is_hidden("#banner")
    assert baldur.circuit_state("payments") == "closed"


def test_a_viewer_reads_but_cannot_act(admin: Callable[..., str], page: Page) -> None:
    base = admin()
    charge("o-1")
    _sign_in(page, base, key=VIEWER_KEY)
    page.wait_for_selector('tr[data-name="payments"] .state-closed')
    _force_open(page, "payments")
    page.wait_for_selector("#banner:not([hidden])")
    assert "(403 forbidden)" in (page.text_content("#banner-text") or "")
    assert baldur.circuit_state("payments") == "closed"


def test_the_kill_switch_is_disabled_with_a_reason_and_enabled_again(
    admin: Callable[..., str], page: Page
) -> None:
    base = admin()
    _sign_in(page, base)
    page.wait_for_selector("#kill-disable:not([hidden])")
    page.fill("#kill-reason", "incident 4711")
    page.click("#kill-disable button[type=submit]")
    page.fill("#confirm-input", "CONFIRM")
    page.click("#confirm-ok")
    page.wait_for_selector(".kill-off")
    assert "incident 4711" in (page.text_content("#kill-state") or "")
    assert not baldur.is_baldur_enabled()

    page.click("#kill-enable button[type=submit]")
    page.fill("#confirm-input", "CONFIRM")
    page.click("#confirm-ok")
    page.wait_for_selector(".kill-on")
    assert baldur.is_baldur_enabled()


# ---- the attacker's side ---------------------------------------------------


class _EvilPages(BaseHTTPRequestHandler):
    """Another origin (same host, another port): a page with a form that
    POSTs JSON-looking text to the admin server, and one that frames it."""

    target = ""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        action = f"{self.target}/api/baldur/cb/payments/force-open"
        pages = {
            "/": "<!doctype html><title>evil</title><p>hello</p>",
            "/form": (
                f'<!doctype html><form method="post" action="{action}" enctype="text/plain">'
                '<input name=\'{"confirm":"CONFIRM","x":"\' value=\'"}\'>'
                '<button id="go">go</button></form>'
            ),
            "/frame": f'<!doctype html><iframe id="f" src="{self.target}/"></iframe>',
        }
        body = pages.get(self.path, "").encode()
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextlib.contextmanager
def _evil_origin(target: str) -> Iterator[str]:
    handler = type("Evil", (_EvilPages,), {"target": target})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_page_of_another_origin_cannot_act(admin: Callable[..., str], page: Page) -> None:
    base = admin()
    charge("o-1")
    action = f"{base}/api/baldur/cb/payments/force-open"
    with _evil_origin(base) as evil:
        page.goto(evil + "/")
        # Even holding the key, its fetch is stopped (the preflight fails) ...
        outcome = page.evaluate(
            """async ([url, key]) => {
                 try {
                   const r = await fetch(url, {method: "POST",
                     headers: {"X-Baldur-Key": key, "Content-Type": "application/json"},
                     body: JSON.stringify({confirm: "CONFIRM"})});
                   return "answered " + r.status;
                 } catch (error) { return "blocked"; }
               }""",
            [action, ADMIN_KEY],
        )
        assert outcome == "blocked"
        # ... a no-cors POST (no preflight, no key) gets nothing back either
        # (refused for its Origin, and its answer is same-origin only) ...
        no_cors = page.evaluate(
            """async (url) => {
                 try {
                   const r = await fetch(url, {method: "POST", mode: "no-cors",
                     body: JSON.stringify({confirm: "CONFIRM"})});
                   return r.type;
                 } catch (error) { return "blocked"; }
               }""",
            action,
        )
        assert no_cors == "blocked"
        # ... and a request that carries its Origin with the key is refused.
        status, body = _post(action, {"confirm": "CONFIRM"}, **{"X-Baldur-Key": ADMIN_KEY})
        assert status == 200, body  # the same request from no browser acts
        baldur.reset_circuit("payments")
        status, body = _post(
            action, {"confirm": "CONFIRM"}, **{"X-Baldur-Key": ADMIN_KEY, "Origin": evil}
        )
        assert (status, body.get("error")) == (403, "origin_not_allowed")
    assert baldur.circuit_state("payments") == "closed"


def test_a_cross_origin_form_post_gets_nothing(admin: Callable[..., str], page: Page) -> None:
    base = admin()
    charge("o-1")
    with _evil_origin(base) as evil:
        page.goto(evil + "/form")
        with page.expect_navigation() as landed:
            page.click("#go")
        response = landed.value
        assert response is not None
        assert response.status == 403
        assert response.json()["error"] == "origin_not_allowed"
    assert baldur.circuit_state("payments") == "closed"


def test_a_frame_of_another_origin_shows_nothing(admin: Callable[..., str], page: Page) -> None:
    base = admin()
    with _evil_origin(base) as evil:
        page.goto(evil + "/frame")
        [framed] = [frame for frame in page.frames if frame != page.main_frame]
        # frame-ancestors 'none': chromium shows its error page instead.
        assert framed.url.startswith("chrome-error:")
        assert framed.query_selector("#login-form") is None


def test_a_dns_rebinding_name_gets_403(admin: Callable[..., str], page: Page) -> None:
    base = admin()
    charge("o-1")
    port = base.rsplit(":", 1)[1]
    for path in ("/api/baldur/cb/", "/", "/api/baldur/health/"):
        response = page.goto(f"http://rebind.test:{port}{path}")
        assert response is not None
        assert response.status == 403, path
        assert "payments" not in response.text()
