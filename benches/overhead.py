"""Baldur's overhead benchmark: what a protected call costs, beside its peers.

    python benches/overhead.py            # the whole table
    python benches/overhead.py --quick    # fewer repeats

Every row is measured in this one run, on this machine, with ``timeit``
(best of several repeats, nanoseconds per call). Peers that are not
installed are reported as missing, never silently dropped:
``pip install "baldur-framework[bench]"`` brings pybreaker, tenacity and
stamina. Timings belong here, never in pass/fail tests.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
import timeit
from collections.abc import Callable
from typing import Any

import baldur


def target(x: int) -> int:
    return x


def empty_decorator(func: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return wrapper


NO_KEY = "baldur retry+fallback+breaker (new str)"
WITH_KEY = "baldur retry+fallback+breaker+idempotency"


def new_keys() -> Callable[[], str]:
    """A fresh string on every call: "0", "1", "2", ..."""
    return map(str, itertools.count()).__next__


def build_rows() -> list[tuple[str, str, dict[str, Any] | None]]:
    """(label, statement, globals or None when the peer is missing)."""
    # Millions of keys pass through the idempotency rows: a short memory TTL
    # lets the store's sweeps keep it flat (their cost is in the numbers).
    baldur.init(idempotency_gate_memory_ttl_seconds=0.1)
    rows: list[tuple[str, str, dict[str, Any] | None]] = []
    rows.append(("bare call", "f(1)", {"f": target}))
    rows.append(("empty Python decorator", "f(1)", {"f": empty_decorator(target)}))
    rows.append(("baldur breaker only", "f(1)", {"f": baldur.protected("bench-breaker")(target)}))
    full = baldur.protected("bench-full", retry=True, fallback=lambda: 0)(target)
    rows.append(("baldur retry+fallback+breaker", "f(1)", {"f": full}))
    # An idempotent call needs a new key each time (a repeated one is a
    # duplicate), so the two rows below generate keys the same way: the
    # difference between them is what idempotency costs.
    rows.append((NO_KEY, "f(k())", {"f": full, "k": new_keys()}))
    keyed = baldur.protected(
        "bench-idempotency", retry=True, fallback=lambda: 0, idempotency_key="x"
    )(target)
    rows.append((WITH_KEY, "f(k())", {"f": keyed, "k": new_keys()}))
    opened = baldur.protected("bench-open")(target)
    baldur.force_open_circuit("bench-open")
    rows.append(
        (
            "baldur open breaker (raises)",
            "try:\n    f(1)\nexcept E:\n    pass",
            {"f": opened, "E": baldur.CircuitOpenError},
        )
    )
    rows.append(
        (
            "baldur open breaker (protect_with_meta)",
            "pwm('bench-open', g)",
            {"pwm": baldur.protect_with_meta, "g": lambda: 1},
        )
    )
    rows.append(
        (
            "baldur protect() inline",
            "p('bench-inline', g)",
            {"p": baldur.protect, "g": lambda: 1},
        )
    )
    rows.extend(peer_rows())
    return rows


def peer_rows() -> list[tuple[str, str, dict[str, Any] | None]]:
    rows: list[tuple[str, str, dict[str, Any] | None]] = []
    try:
        import pybreaker

        breaker = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=60)
        rows.append(("pybreaker", "f(1)", {"f": breaker(target)}))
    except ImportError:
        rows.append(("pybreaker", "", None))
    try:
        import tenacity

        retried = tenacity.retry(
            stop=tenacity.stop_after_attempt(3), wait=tenacity.wait_exponential_jitter()
        )(target)
        rows.append(("tenacity retry", "f(1)", {"f": retried}))
        if "pybreaker" in sys.modules:
            breaker = sys.modules["pybreaker"].CircuitBreaker(fail_max=5, reset_timeout=60)
            rows.append(("pybreaker around tenacity", "f(1)", {"f": breaker(retried)}))
    except ImportError:
        rows.append(("tenacity retry", "", None))
    try:
        import stamina

        rows.append(
            ("stamina retry", "f(1)", {"f": stamina.retry(on=Exception, attempts=3)(target)})
        )
    except ImportError:
        rows.append(("stamina retry", "", None))
    return rows


async def async_target(x: int) -> int:
    return x


def empty_async_decorator(func: Callable[..., Any]) -> Callable[..., Any]:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        return await func(*args, **kwargs)

    return wrapper


def build_async_rows() -> list[tuple[str, Callable[..., Any] | None]]:
    """(label, async callable or None when the peer is missing)."""
    rows: list[tuple[str, Callable[..., Any] | None]] = [
        ("bare await", async_target),
        ("empty async decorator", empty_async_decorator(async_target)),
        ("baldur async breaker only", baldur.protected("bench-async-breaker")(async_target)),
        (
            "baldur async retry+fallback+breaker",
            baldur.protected("bench-async-full", retry=True, fallback=lambda: 0)(async_target),
        ),
    ]
    try:
        from hyx.circuitbreaker import consecutive_breaker
        from hyx.fallback import fallback
        from hyx.retry import retry

        async def zero() -> int:
            return 0

        breaker = consecutive_breaker()
        rows.append(
            (
                "hyx breaker+retry+fallback",
                breaker(retry(attempts=3)(fallback(lambda *a, **k: zero())(async_target))),
            )
        )
    except ImportError:
        rows.append(("hyx breaker+retry+fallback", None))
    try:
        import tenacity

        rows.append(
            (
                "tenacity async retry",
                tenacity.retry(stop=tenacity.stop_after_attempt(3))(async_target),
            )
        )
    except ImportError:
        rows.append(("tenacity async retry", None))
    return rows


def measure_async(func: Callable[..., Any], repeats: int, number: int = 20_000) -> float:
    """Best-of-``repeats`` nanoseconds per ``await func(1)`` on one loop."""
    import asyncio

    async def loop() -> float:
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            for _ in range(number):
                await func(1)
            best = min(best, time.perf_counter() - started)
        return best / number * 1e9

    return asyncio.run(loop())


def measure(stmt: str, namespace: dict[str, Any], repeats: int) -> float:
    """Best-of-``repeats`` nanoseconds per execution of ``stmt``."""
    timer = timeit.Timer(stmt, globals=namespace)
    number, _ = timer.autorange()
    number = max(number, 10_000)
    return min(timer.repeat(repeat=repeats, number=number)) / number * 1e9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 7")
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    results: dict[str, float | None] = {}
    for label, stmt, namespace in build_rows():
        results[label] = None if namespace is None else measure(stmt, namespace, repeats)
    bare = results["bare call"] or 1.0
    empty = results["empty Python decorator"] or 1.0
    full = results["baldur retry+fallback+breaker"] or 1.0
    print(f"{'row':42} {'ns/call':>10} {'x bare':>8} {'x empty':>8} {'x baldur':>9}")
    for label, ns in results.items():
        if ns is None:
            print(f"{label:42} {'missing: pip install baldur-framework[bench]':>38}")
            continue
        print(f"{label:42} {ns:10.1f} {ns / bare:8.2f} {ns / empty:8.2f} {ns / full:9.2f}")
    if results[NO_KEY] is not None and results[WITH_KEY] is not None:
        cost = results[WITH_KEY] - results[NO_KEY]
        print(f"\nidempotency (memory store, a new key per call): {cost:+.1f} ns/call")
    print_async(repeats)
    print_redis(repeats)
    return 0


def print_redis(repeats: int) -> None:
    """The same calls with breaker state and idempotency in Redis: a
    redis-server of the benchmark's own, on a free port."""
    import shutil
    import socket
    import subprocess
    import tempfile

    binary = shutil.which("redis-server")
    if binary is None:
        print("\nredis rows: missing (apt-get install redis-server)")
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    workdir = tempfile.mkdtemp(prefix="baldur-bench-redis-")
    server = subprocess.Popen(
        [binary, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.3)
        memory_full = baldur.protected("bench-redis-full", retry=True, fallback=lambda: 0)(target)
        memory_ns = measure("f(1)", {"f": memory_full}, repeats)
        baldur.init(redis_url=f"redis://127.0.0.1:{port}/0", idempotency_gate_memory_ttl_seconds=60)
        memory_full(1)  # the worker's first call: its first sync
        redis_ns = measure("f(1)", {"f": memory_full}, repeats)
        keyed = baldur.protected(
            "bench-redis-idem", retry=True, fallback=lambda: 0, idempotency_key="x"
        )(target)
        timer = timeit.Timer("f(k())", globals={"f": keyed, "k": new_keys()})
        idem_ns = min(timer.repeat(repeat=repeats, number=2000)) / 2000 * 1e9
    finally:
        baldur.init(redis_url=None)
        server.kill()
        server.wait()
    print(f"\n{'redis row':42} {'ns/call':>10} {'x memory':>9}")
    print(f"{'retry+fallback+breaker, memory mode':42} {memory_ns:10.1f} {1.0:9.2f}")
    print(
        f"{'retry+fallback+breaker, Redis-shared':42} {redis_ns:10.1f} {redis_ns / memory_ns:9.2f}"
    )
    print(f"{'+ idempotency in Redis (claim+complete)':42} {idem_ns:10.1f}")


def print_async(repeats: int) -> None:
    results = {
        label: None if func is None else measure_async(func, repeats)
        for label, func in build_async_rows()
    }
    bare = results["bare await"] or 0.0
    full = results["baldur async retry+fallback+breaker"] or 1.0
    print(f"\n{'async row':42} {'ns/call':>10} {'over bare':>10} {'x baldur':>9}")
    for label, ns in results.items():
        if ns is None:
            print(f"{label:42} {'missing: pip install hyx tenacity':>30}")
            continue
        print(f"{label:42} {ns:10.1f} {ns - bare:10.1f} {(ns - bare) / (full - bare):9.2f}")


if __name__ == "__main__":
    sys.exit(main())
