"""Baldur in forty seconds: ``python -m baldur.demo``.

A payment gateway that blips, then goes down, then comes back. One
``@baldur.protected`` callsite rides out the blips with retry, fails fast
once its breaker opens (answering with the fallback), then probes and
closes on its own when the gateway recovers. Runs on the embedded default
store: no Redis, no configuration.
"""

from __future__ import annotations

import logging
import sys
import time

import baldur

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


def main() -> None:
    baldur.init(
        cb_failure_threshold=5,
        cb_minimum_calls=5,
        cb_recovery_timeout=RECOVERY_SECONDS,
        cb_half_open_max_calls=2,
    )
    show_events()

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


if __name__ == "__main__":
    main()
