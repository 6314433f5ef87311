"""Real server processes for the example apps' tests: the flaky gateway
(``examples/gateway``) and an example app under gunicorn or uvicorn, each on
a free port of its own, talked to over HTTP with a fresh connection per
request (so a multi-worker server spreads them over its workers)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

from helpers import free_port, require_module

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

#: Seconds a server gets to start, and a request to be answered: generous,
#: since CI machines are shared and slow.
STARTUP_SECONDS = 60.0
REQUEST_SECONDS = 30.0


#: The example apps, and what each needs installed: its framework and server.
NEEDS = {
    "django": ("django", "gunicorn"),
    "fastapi": ("fastapi", "uvicorn"),
    "flask": ("flask", "gunicorn"),
}
EXAMPLE_APPS = sorted(NEEDS)


def require_server(example: str) -> None:
    """The framework and the server; missing fails in CI (``CI=true``)."""
    framework, server = NEEDS[example]
    require_module(framework, framework)
    require_module(server, "dev")


def new_order() -> str:
    return uuid.uuid4().hex[:12]


@dataclass
class Answer:
    status: int
    #: Header names in lower case (servers differ in how they spell them).
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def pid(self) -> str:
        """The worker that answered (the examples' ``X-Served-By``)."""
        return self.headers.get("x-served-by", "")


def call(
    url: str, method: str = "GET", payload: object = None, headers: dict[str, str] | None = None
) -> Answer:
    """One request on a fresh connection; an HTTP error status is an
    answer, a refused connection raises ``OSError``."""
    data = None if payload is None else json.dumps(payload).encode()
    sent = {"Content-Type": "application/json", **(headers or {})}
    request = urllib.request.Request(url, data=data, method=method, headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_SECONDS) as response:
            return Answer(response.status, _lower(response.headers), _json(response.read()))
    except urllib.error.HTTPError as error:
        with error:
            return Answer(error.code, _lower(error.headers), _json(error.read()))


def _lower(headers: Message) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _json(raw: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {"text": raw.decode(errors="replace")}
    return parsed if isinstance(parsed, dict) else {"value": parsed}


def _environment(extra: dict[str, str]) -> dict[str, str]:
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join([str(EXAMPLES), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Process:
    """A server process whose output goes to a file (read on failure)."""

    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    port: int = field(default_factory=free_port)
    popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_path: str) -> None:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.command,
                env=self.env,
                cwd=EXAMPLES,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a signal to it reaches no test runner
            )
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert self.popen.poll() is None, f"{self.name} exited at startup:\n{self.output()}"
            try:
                if call(self.url + ready_path).status == 200:
                    return
            except OSError:
                pass
            assert time.monotonic() < deadline, f"{self.name} never answered:\n{self.output()}"
            time.sleep(0.1)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def signal(self, signum: int) -> None:
        assert self.popen is not None
        self.popen.send_signal(signum)

    def wait(self, timeout: float = STARTUP_SECONDS) -> int:
        assert self.popen is not None
        return self.popen.wait(timeout)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL for the whole process group if it lingers."""
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(STARTUP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)


class Gateway(Process):
    """``python -m gateway``, healthy and instant until told otherwise."""

    def __init__(self, log: Path) -> None:
        super().__init__("gateway", [], _environment({}), log)
        self.command = [
            sys.executable,
            "-m",
            "gateway",
            "--port",
            str(self.port),
            "--failure-rate",
            "0",
            "--rate-limit-rate",
            "0",
            "--latency",
            "0",
        ]
        self.start("/health")

    def behave(self, **behaviour: float) -> None:
        answer = call(self.url + "/control", "POST", behaviour)
        assert answer.status == 200, answer

    def heal(self) -> None:
        self.behave(failure_rate=0, rate_limit_rate=0, latency=0)

    def asked(self, order_id: str) -> int:
        """How often the gateway was asked to charge this order."""
        return int(call(f"{self.url}/charges/order-{order_id}").body["requests"])

    def charged(self, order_id: str) -> int:
        return int(call(f"{self.url}/charges/order-{order_id}").body["charges"])

    def total_requests(self) -> int:
        return int(call(self.url + "/stats").body["requests"])


#: How each example is served. ``{port}`` is filled in.
GUNICORN = [sys.executable, "-m", "gunicorn", "-b", "127.0.0.1:{port}", "--graceful-timeout", "60"]
SERVERS: dict[str, list[str]] = {
    "django": [*GUNICORN, "django_app.wsgi"],
    "flask": [*GUNICORN, "flask_app.app:app"],
    "fastapi": [
        sys.executable,
        "-m",
        "uvicorn",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "fastapi_app.main:app",
    ],
}


class App(Process):
    """An example app on a real server. ``workers`` > 1 wants a shared
    store (``BALDUR_REDIS_URL`` in ``env``); gunicorn workers get threads so
    health probes are answered while checkouts are in flight."""

    def __init__(
        self, example: str, gateway: Gateway, tmp: Path, workers: int = 1, **env: str
    ) -> None:
        data = tmp / f"{example}-data"
        data.mkdir(exist_ok=True)
        settings = {
            "GATEWAY_URL": gateway.url,
            "BALDUR_DATA_DIR": str(data),
            "SHOP_DB": str(tmp / f"{example}-shop.sqlite3"),
            "DJANGO_DB": str(tmp / f"{example}-django.sqlite3"),
            **env,
        }
        super().__init__(example, [], _environment(settings), tmp / f"{example}.log")
        command = [part.format(port=self.port) for part in SERVERS[example]]
        if example == "fastapi":
            command[-1:-1] = ["--workers", str(workers)] if workers > 1 else []
        else:
            command[-1:-1] = ["-w", str(workers), "--threads", "4"]
        self.command = command
        if example == "django":
            migrate = [sys.executable, "-m", "django", "migrate", "--noinput"]
            env_django = {**self.env, "DJANGO_SETTINGS_MODULE": "django_app.settings"}
            done = subprocess.run(
                migrate, env=env_django, cwd=EXAMPLES, capture_output=True, text=True, timeout=120
            )
            assert done.returncode == 0, done.stdout + done.stderr
        self.start("/api/baldur/health/ping/")

    def checkout(self, order_id: str, amount_cents: int = 1250) -> Answer:
        payload = {"order_id": order_id, "customer": "c-42", "amount_cents": amount_cents}
        return call(self.url + "/checkout", "POST", payload)

    def get(self, path: str) -> Answer:
        return call(self.url + path)

    def call(self, method: str, path: str, payload: object = None) -> Answer:
        return call(self.url + path, method, payload)
