"""Baldur in forty seconds: ``python -m baldur.demo``.

A payment gateway that blips, then goes down, then comes back. One
``@baldur.protected`` callsite rides out the blips with retry, fails fast
once its breaker opens (answering with the fallback), then probes and
closes on its own when the gateway recovers. Runs on the embedded default
store: no Redis, no configuration.

``init()`` also starts the admin server (``BALDUR_ADMIN_HOST``/``_PORT``,
127.0.0.1:9090): the demo says where its console is and where its key was
written, or plainly that there is none (the port taken: another process
serves, ``admin.server_skipped``). ``--serve`` keeps the process running
after the story, so the console can be opened and the ``baldur`` command
pointed at it; ``BALDUR_ADMIN_UNLOCK=1`` lets both act on the breaker.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time

import baldur
import baldur._admin_key as _admin_key
import baldur._admin_server as _admin_server
import baldur._config as _config

RECOVERY_SECONDS = 1.5


class FlakyGateway:
    """A stand-in for a payment API: ``up``, ``blippy`` (every third request
    fails) or ``down``."""

    def __init__(self) -> None:
        self.mode = "up"
        self.requests = 0

    def charge(self, order_id: str) -> dict[str, str]:
        self.requests += 1
        if self.mode == "down" or (self.mode == "blippy" and self.requests % 3 == 1):
            raise ConnectionError(f"gateway unreachable while charging {order_id}")
        return {"order": order_id, "status": "charged"}


gateway = FlakyGateway()


@baldur.protected(
    "charge-customer",
    retry=baldur.RetryPolicy(attempts=3, base_delay=0.05, max_delay=0.2),
    fallback=lambda: {"status": "queued"},
)
def charge(order_id: str) -> dict[str, str]:
    """Charges an order through the gateway."""
    return gateway.charge(order_id)


def call(order_id: str) -> None:
    before = gateway.requests
    started = time.perf_counter()
    try:
        outcome = charge(order_id)["status"]
    except baldur.CircuitOpenError as rejected:
        # An open breaker skips retry and fallback: the caller decides.
        outcome = f"rejected (CircuitOpenError, probing in {rejected.retry_after or 0:.1f}s)"
    elapsed_us = (time.perf_counter() - started) * 1e6
    hits = gateway.requests - before
    state = baldur.circuit_state("charge-customer")
    print(
        f"  {order_id:<9} {hits} gateway request(s) {elapsed_us:9.1f} us"
        f"  breaker {state:<9}  -> {outcome}"
    )


def show_events() -> None:
    """Prints Baldur's own log events, so transitions appear as they happen."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("  >> %(levelname)s %(message)s"))
    log = logging.getLogger("baldur")
    log.addHandler(handler)
    log.setLevel(logging.INFO)


def admin_server() -> str | None:
    """Says where the console is and where its key lives (never the key),
    or why there is none. Returns the console's URL, or ``None``."""
    settings = _config.current()
    where = _admin_server.address()
    if where is None:
        if settings.admin_port == 0:
            print("Admin server off (BALDUR_ADMIN_PORT=0): no console this run.\n")
        else:
            wanted = _admin_server.url_of(settings.admin_host, settings.admin_port)
            print(
                f"No console from this demo: it could not listen on {wanted} (the"
                "\nadmin.server_skipped or _failed line above says why). BALDUR_ADMIN_PORT=<a free"
                "\nport> gives it a console of its own.\n"
            )
        return None
    url = _admin_server.url_of(*where) + "/"
    if _admin_key.configured(settings):
        key = "the admin key is BALDUR_ADMIN_KEY's"
    else:
        key = f"the admin key is in {_admin_key.path(settings)}"
    locked = (
        "actions unlocked" if settings.admin_unlock else "read-only until BALDUR_ADMIN_UNLOCK=1"
    )
    print(f"Console: {url} ({key}; {locked})\n")
    return url


def operate(url: str, unlocked: bool) -> None:
    """What to do with the console while ``--serve`` keeps it up."""
    cli = _cli()
    target = "" if url == "http://127.0.0.1:9090/" else f" --url {url.rstrip('/')}"
    print(
        f"\nServing the console at {url} until Ctrl-C. Open it and paste the key;"
        "\nfrom another shell (same BALDUR_DATA_DIR, where the CLI finds the key):"
        f"\n  {cli}{target} cb list"
        f"\n  {cli}{target} cb force-open charge-customer --yes"
    )
    if unlocked:
        print("and watch the console show the breaker forced open.")
    else:
        print("The second is refused (exit 3) until the demo runs with BALDUR_ADMIN_UNLOCK=1.")


def _cli() -> str:
    """How to run ``baldur`` from here: the script beside this Python, else
    the module."""
    script = os.path.join(os.path.dirname(sys.executable), "baldur")
    if not os.path.exists(script):
        return "python -m baldur"
    return min(script, os.path.relpath(script), key=len)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m baldur.demo",
        description="A payment gateway that blips, goes down and recovers, under one decorator.",
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help="keep running after the story, serving the console until Ctrl-C",
    )
    serve = parser.parse_args(argv).serve
    show_events()
    baldur.init(
        cb_failure_threshold=5,
        cb_minimum_calls=5,
        cb_recovery_timeout=RECOVERY_SECONDS,
        cb_half_open_max_calls=2,
    )
    url = admin_server()

    print("1. The gateway blips: retry rides out each failure, customers see none.")
    gateway.mode = "blippy"
    for n in range(1, 5):
        call(f"order-{n}")

    print("\n2. The gateway goes down. Failures pile up until the breaker opens; the")
    print("   call in flight gets the fallback ('queued'), later calls fail fast.")
    gateway.mode = "down"
    for n in range(5, 10):
        call(f"order-{n}")

    print(f"\n3. The gateway recovers. After {RECOVERY_SECONDS}s the breaker lets probes through,")
    print("   and closes once they succeed.")
    gateway.mode = "up"
    time.sleep(RECOVERY_SECONDS + 0.1)
    for n in range(10, 14):
        call(f"order-{n}")

    snapshot = baldur.circuits()["charge-customer"]
    print(
        f"\nDone. Breaker 'charge-customer' is {snapshot['state']}; "
        f"{snapshot['transitions']} transitions, all automatic."
    )
    if not serve:
        if url is not None:
            print("`python -m baldur.demo --serve` keeps the console up to try it and the CLI.")
        return
    if url is None:
        sys.exit("--serve: no console to serve (see above).")
    operate(url, _config.current().admin_unlock)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print()


if __name__ == "__main__":
    main()
