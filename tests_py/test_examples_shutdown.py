"""SIGTERM to an example app on its real server while checkouts are in
flight (held at the gateway): readiness turns 503 with ``Retry-After``, new
checkouts are refused the same way, liveness stays 200 until the process
exits, and the checkouts in flight finish with their 201."""

from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from example_servers import EXAMPLE_APPS, Answer, App, Gateway, new_order, require_server
from helpers import eventually

READY = "/api/baldur/health/ready/"
LIVE = "/api/baldur/health/live/"
#: BALDUR_SHUTDOWN_DRAIN_SECONDS as each example sets it (FastAPI: the default).
DRAIN_SECONDS = {"django": 25, "flask": 25, "fastapi": 30}


@pytest.mark.parametrize("example", EXAMPLE_APPS)
def test_sigterm_drains_checkouts_in_flight_while_readiness_says_503(
    example: str, tmp_path: Path
) -> None:
    require_server(example)
    gateway = Gateway(tmp_path / "gateway.log")
    # The charges wait at the gateway for as long as the test needs.
    app = App(example, gateway, tmp_path, CHARGE_TIMEOUT_SECONDS="120")
    try:
        gateway.behave(hold=1)
        with ThreadPoolExecutor(max_workers=2) as pool:
            in_flight = [pool.submit(app.checkout, new_order()) for _ in range(2)]
            eventually(lambda: gateway.total_requests() == 2, within=30)

            app.signal(signal.SIGTERM)
            eventually(lambda: app.get(READY).status == 503, within=30)
            ready = app.get(READY)
            assert ready.status == 503
            # Seconds left in the drain: within the app's own setting (Django's
            # settings.BALDUR, Flask's app.config), which reached init().
            assert 1 <= int(ready.headers["retry-after"]) <= DRAIN_SECONDS[example]
            assert app.get(LIVE).status == 200
            refused = app.checkout(new_order())
            assert refused.status == 503, refused
            assert int(refused.headers["retry-after"]) >= 1

            gateway.behave(hold=0)
            finished: list[Answer] = [future.result(timeout=60) for future in in_flight]
        assert [answer.status for answer in finished] == [201, 201], finished
        assert gateway.total_requests() == 2  # the refused checkout never reached it

        # Served until the very end: every liveness probe answered is a 200
        # (the server then stops accepting connections and exits).
        assert set(live_answers_until_exit(app)) <= {200}
        assert app.wait() in (0, -signal.SIGTERM), app.output()
        assert "Traceback" not in app.output(), app.output()
    finally:
        gateway.behave(hold=0)
        app.stop()
        gateway.stop()


def live_answers_until_exit(app: App) -> list[int]:
    """Liveness statuses, probed until the server stops accepting."""
    statuses: list[int] = []
    while True:
        try:
            statuses.append(app.get(LIVE).status)
        except OSError:
            return statuses
        if app.popen is not None and app.popen.poll() is not None:
            return statuses
