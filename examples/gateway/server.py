"""The flaky payment gateway: ``POST /charge`` with an ``Idempotency-Key``
header moves money at most once per key, like a real provider's API, and
fails on purpose: a share of requests answer 503, another share 429 with
``Retry-After``, and each takes ``latency`` seconds.

Endpoints:

- ``POST /charge`` (header ``Idempotency-Key``, JSON ``{"amount_cents": 1250,
  "customer": "c-1"}``): 200 ``{"charge_id", "key", "amount_cents",
  "replayed"}``; a repeated key answers the first charge, ``replayed: true``;
  402 for an amount over ``decline_above_cents`` (a declined card).
- ``GET /charges/<key>``: how often the key was asked for (``requests``) and
  how many charges it made (``charges``, 0 or 1).
- ``GET /stats``: totals over every key.
- ``POST /control`` (JSON, any of the :class:`Behaviour` fields): changes
  how the gateway misbehaves from now on (``{"hold": 1}`` keeps charge
  requests waiting until ``{"hold": 0}``); answers the behaviour in force.
- ``GET /health``: 200 while serving.
"""

from __future__ import annotations

import dataclasses
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: The longest a held charge request waits for the hold to be lifted.
MAX_HOLD_SECONDS = 120.0


@dataclass
class Behaviour:
    """How the gateway misbehaves. Rates are shares of ``/charge`` requests
    (0.0 to 1.0); ``latency`` is seconds per charge request."""

    failure_rate: float = 0.0
    rate_limit_rate: float = 0.0
    retry_after: int = 1
    latency: float = 0.0
    #: Larger charges are declined: 402, the caller's problem, not a failure.
    decline_above_cents: int = 1_000_000
    #: Non-zero: charge requests wait (up to ``MAX_HOLD_SECONDS``) until it
    #: is set back to 0, so a test can keep requests in flight as long as it needs.
    hold: float = 0.0

    def update(self, changes: dict[str, Any]) -> None:
        known = {f.name: f.type for f in dataclasses.fields(self)}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown behaviour {name!r}; known: {sorted(known)}")
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a number >= 0, not {value!r}")
            whole = name in ("retry_after", "decline_above_cents")
            setattr(self, name, int(value) if whole else float(value))


@dataclass
class Ledger:
    """What the gateway was asked and what it charged, per idempotency key."""

    requests: dict[str, int] = field(default_factory=dict)
    charges: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def asked(self, key: str) -> None:
        with self.lock:
            self.requests[key] = self.requests.get(key, 0) + 1

    def charge(self, key: str, amount_cents: int, customer: str) -> tuple[dict[str, Any], bool]:
        """The charge for ``key``, made now unless it exists; and whether it existed."""
        with self.lock:
            existing = self.charges.get(key)
            if existing is not None:
                return existing, True
            made = {
                "charge_id": "ch_" + uuid.uuid4().hex[:16],
                "key": key,
                "amount_cents": amount_cents,
                "customer": customer,
            }
            self.charges[key] = made
            return made, False

    def about(self, key: str) -> dict[str, Any]:
        with self.lock:
            charge = self.charges.get(key)
            return {
                "key": key,
                "requests": self.requests.get(key, 0),
                "charges": 0 if charge is None else 1,
                "charge": charge,
            }

    def totals(self) -> dict[str, int]:
        with self.lock:
            return {"requests": sum(self.requests.values()), "charges": len(self.charges)}


class GatewayServer(ThreadingHTTPServer):
    daemon_threads = True
    # Many example workers connect at once; the default backlog (5) refuses some.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], behaviour: Behaviour, seed: int | None) -> None:
        super().__init__(address, GatewayHandler)
        self.behaviour = behaviour
        self.ledger = Ledger()
        self.dice = random.Random(seed)
        self.dice_lock = threading.Lock()
        self.hold_lifted = threading.Condition()

    def change(self, changes: dict[str, Any]) -> None:
        with self.hold_lifted:
            self.behaviour.update(changes)
            self.hold_lifted.notify_all()

    def wait_while_held(self) -> None:
        with self.hold_lifted:
            self.hold_lifted.wait_for(lambda: not self.behaviour.hold, MAX_HOLD_SECONDS)

    def roll(self) -> float:
        with self.dice_lock:
            return self.dice.random()


class GatewayHandler(BaseHTTPRequestHandler):
    server: GatewayServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a test starts thousands of requests."""

    def do_GET(self) -> None:
        if self.path == "/health":
            self._answer(HTTPStatus.OK, {"status": "ok"})
        elif self.path == "/stats":
            self._answer(HTTPStatus.OK, self.server.ledger.totals())
        elif self.path.startswith("/charges/"):
            self._answer(HTTPStatus.OK, self.server.ledger.about(self.path[len("/charges/") :]))
        else:
            self._answer(HTTPStatus.NOT_FOUND, {"error": f"no such path {self.path}"})

    def do_POST(self) -> None:
        try:
            body = self._json_body()
        except ValueError as bad:
            self._answer(HTTPStatus.BAD_REQUEST, {"error": str(bad)})
            return
        if self.path == "/charge":
            self._charge(body)
        elif self.path == "/control":
            try:
                self.server.change(body)
            except ValueError as bad:
                self._answer(HTTPStatus.BAD_REQUEST, {"error": str(bad)})
                return
            self._answer(HTTPStatus.OK, dataclasses.asdict(self.server.behaviour))
        else:
            self._answer(HTTPStatus.NOT_FOUND, {"error": f"no such path {self.path}"})

    def _charge(self, body: dict[str, Any]) -> None:
        key = self.headers.get("Idempotency-Key")
        amount = body.get("amount_cents")
        if not key or not isinstance(amount, int) or amount <= 0:
            error = "an Idempotency-Key header and a positive integer amount_cents are required"
            self._answer(HTTPStatus.BAD_REQUEST, {"error": error})
            return
        behaviour = self.server.behaviour
        self.server.ledger.asked(key)
        self.server.wait_while_held()
        time.sleep(behaviour.latency)
        if amount > behaviour.decline_above_cents:
            self._answer(HTTPStatus.PAYMENT_REQUIRED, {"error": "card declined"})
            return
        roll = self.server.roll()
        if roll < behaviour.rate_limit_rate:
            headers = {"Retry-After": str(behaviour.retry_after)}
            self._answer(HTTPStatus.TOO_MANY_REQUESTS, {"error": "slow down"}, headers)
            return
        if roll < behaviour.rate_limit_rate + behaviour.failure_rate:
            self._answer(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "gateway hiccup, try again"})
            return
        charge, replayed = self.server.ledger.charge(key, amount, str(body.get("customer", "")))
        self._answer(HTTPStatus.OK, {**charge, "replayed": replayed})

    def _json_body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        try:
            parsed = json.loads(raw or b"{}")
        except json.JSONDecodeError as bad:
            raise ValueError(f"the body is not JSON: {bad}") from bad
        if not isinstance(parsed, dict):
            raise ValueError("the body must be a JSON object")
        return parsed

    def _answer(
        self, status: HTTPStatus, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def serve(host: str, port: int, behaviour: Behaviour, seed: int | None = None) -> GatewayServer:
    """A bound gateway; call ``serve_forever()`` on it (port 0 picks a free one)."""
    return GatewayServer((host, port), behaviour, seed)
