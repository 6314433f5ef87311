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
import socket
import sys
import time
import timeit
import urllib.parse
from collections.abc import Callable
from pathlib import Path
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
    # Beside the row above, the cost of a bulkhead permit (taken and returned).
    bulkheaded = baldur.protected("bench-bulkhead", bulkhead="database")(target)
    rows.append(("baldur breaker+bulkhead permit", "f(1)", {"f": bulkheaded}))
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


def median_latency(call: Callable[[], Any], calls: int = 500) -> float:
    """Median nanoseconds of one ``call()``, with 1 ms between calls (what
    runs in the background after a call has settled by the next)."""
    samples = []
    for _ in range(calls):
        started = time.perf_counter_ns()
        call()
        samples.append(time.perf_counter_ns() - started)
        time.sleep(0.001)
    samples.sort()
    return float(samples[len(samples) // 2])


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
        ratio = results[WITH_KEY] / results[NO_KEY]
        print(
            f"\nidempotency (memory store, a new key per call): {cost:+.1f} ns/call,"
            f" {ratio:.2f}x the same call without it (issue 14: <= 2x)"
        )
    print_async(repeats)
    print_redis(repeats)
    print_dlq(repeats)
    return 0


def start_redis() -> tuple[Any, str] | None:
    """A redis-server of the benchmark's own on a free port, persisting
    nothing: (process, URL), or None when redis-server is missing."""
    import shutil
    import socket
    import subprocess
    import tempfile

    binary = shutil.which("redis-server")
    if binary is None:
        return None
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    workdir = tempfile.mkdtemp(prefix="baldur-bench-redis-")
    server = subprocess.Popen(
        [binary, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.3)
    return server, f"redis://127.0.0.1:{port}/0"


#: The idempotency claim, as Baldur sends it (the yardstick of the Redis rows).
CLAIM_SCRIPT = (
    Path(__file__).resolve().parent.parent / "src/core/idempotency/lua/claim.lua"
).read_text()


def resp(*args: str) -> bytes:
    """One Redis command in the wire protocol (RESP)."""
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        out.append(f"${len(data)}\r\n".encode() + data + b"\r\n")
    return b"".join(out)


def failing_call() -> None:
    raise ConnectionError("down")


def dead_letter_ns(zone: str, dlq: bool, repeats: int, number: int = 500) -> float:
    """Best-of-``repeats`` ns per failing call of a function protected as a
    user protects it (``@baldur.protected(zone, dlq=...)``, so its entries
    are replayable), the queue emptied between repeats (its caps never
    evict here)."""
    protected = baldur.protected(zone, dlq=dlq)(failing_call)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(number):
            try:
                protected()
            except ConnectionError:
                pass
        best = min(best, time.perf_counter() - started)
        if dlq:
            baldur.dlq.purge(domain=zone, confirm=True)
    return best / number * 1e9


def dead_letter_rate(zone: str, threads: int, repeats: int, calls: int = 1600) -> float:
    """Best-of-``repeats`` failing ``dlq=True`` calls per second, ``calls``
    shared among ``threads`` threads started together (the queue emptied
    between repeats): what concurrent recorders get from the local queue's
    shared commit."""
    import threading

    protected = baldur.protected(zone, dlq=True)(failing_call)
    best = 0.0
    for _ in range(repeats):
        start = threading.Barrier(threads + 1)

        def work(start: threading.Barrier) -> None:
            start.wait()
            for _ in range(calls // threads):
                try:
                    protected()
                except ConnectionError:
                    pass

        workers = [threading.Thread(target=work, args=(start,)) for _ in range(threads)]
        for worker in workers:
            worker.start()
        start.wait()
        started = time.perf_counter()
        for worker in workers:
            worker.join()
        best = max(best, calls // threads * threads / (time.perf_counter() - started))
        baldur.dlq.purge(domain=zone, confirm=True)
    return best


def claim_round_trip_ns(url: str, repeats: int, number: int = 2000) -> float:
    """Best-of-``repeats`` ns of the idempotency claim script's round trip,
    sent as EVAL on a raw socket: the Redis rows' yardstick."""
    port = urllib.parse.urlsplit(url).port or 6379
    keys = itertools.count()
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def claim() -> None:
            key = f"baldur:idem:bench-dlq-yardstick:{next(keys)}"
            conn.sendall(resp("EVAL", CLAIM_SCRIPT, "1", key, "1", "", "30000"))
            conn.recv(64)

        return min(timeit.Timer(claim).repeat(repeat=repeats, number=number)) / number * 1e9


def print_dlq(repeats: int) -> None:
    """What recording a dead letter costs the failing caller: the same failing
    call with and without ``dlq=True``, on the local SQLite queue (a durable,
    fsynced write, shared by concurrent recorders) and on Redis Streams (one
    round trip, set beside the idempotency claim script's)."""
    import logging
    import tempfile

    logging.getLogger("baldur").setLevel(logging.ERROR)  # no per-record log lines
    baldur.init(data_dir=tempfile.mkdtemp(prefix="baldur-bench-dlq-"), cb_failure_threshold=10**6)
    plain = dead_letter_ns("bench-dlq-plain", False, repeats)
    sqlite = dead_letter_ns("bench-dlq-sqlite", True, repeats)
    one_thread = dead_letter_rate("bench-dlq-sqlite-1", 1, repeats)
    eight_threads = dead_letter_rate("bench-dlq-sqlite-8", 8, repeats)
    started = start_redis()
    redis = claim = None
    if started is not None:
        server, url = started
        try:
            baldur.init(redis_url=url)
            # Taken in turns, best of each: a neighbour's load that comes and
            # goes weighs on both sides of the ratio alike.
            redis_runs, claim_runs = [], []
            for _ in range(repeats):
                redis_runs.append(dead_letter_ns("bench-dlq-redis", True, 1))
                claim_runs.append(claim_round_trip_ns(url, 1))
            redis, claim = min(redis_runs), min(claim_runs)
        finally:
            baldur.init(redis_url=None)
            server.kill()
            server.wait()
    print(f"\n{'dead-letter row (a failing call)':42} {'ns/call':>10} {'record':>10}")
    print(f"{'dlq=False':42} {plain:10.1f} {0.0:10.1f}")
    print(f"{'dlq=True, local SQLite (fsync)':42} {sqlite:10.1f} {sqlite - plain:10.1f}")
    if redis is None or claim is None:
        print("dlq=True, Redis Streams: missing (apt-get install redis-server)")
    else:
        print(f"{'dlq=True, Redis Streams':42} {redis:10.1f} {redis - plain:10.1f}")
        print(f"{'claim script round trip, raw socket':42} {claim:10.1f}")
        print(
            f"{'one dlq=True record on Redis Streams':42} {'':10} {redis - plain:10.1f}"
            f"   {(redis - plain) / claim:.2f}x the claim script's round trip"
        )
    print(f"\n{'failing dlq=True calls, local SQLite':42} {'calls/s':>10}")
    print(f"{'1 thread':42} {one_thread:10.0f}")
    print(f"{'8 threads':42} {eight_threads:10.0f}   {eight_threads / one_thread:.2f}x 1 thread")


def print_redis(repeats: int) -> None:
    """The same calls with breaker state and idempotency in Redis: a
    redis-server of the benchmark's own, on a free port."""
    started = start_redis()
    if started is None:
        print("\nredis rows: missing (apt-get install redis-server)")
        return
    server, url = started
    try:
        memory_full = baldur.protected("bench-redis-full", retry=True, fallback=lambda: 0)(target)
        memory_ns = measure("f(1)", {"f": memory_full}, repeats)
        baldur.init(redis_url=url, idempotency_gate_memory_ttl_seconds=60)
        memory_full(1)  # the worker's first call: its first sync
        redis_ns = measure("f(1)", {"f": memory_full}, repeats)
        keyed = baldur.protected(
            "bench-redis-idem", retry=True, fallback=lambda: 0, idempotency_key="x"
        )(target)
        timer = timeit.Timer("f(k())", globals={"f": keyed, "k": new_keys()})
        idem_ns = min(timer.repeat(repeat=repeats, number=2000)) / 2000 * 1e9
        # Yardsticks from Python on a raw socket: a bare PING, and the claim
        # itself (the same Lua script, sent as EVAL): what one round trip
        # of an idempotent call costs at the least.
        port = urllib.parse.urlsplit(url).port or 6379
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            raw_keys = itertools.count()

            def ping() -> None:
                conn.sendall(b"PING\r\n")
                conn.recv(16)

            def raw_claim() -> None:
                key = f"baldur:idem:bench-raw:{next(raw_keys)}"
                conn.sendall(resp("EVAL", CLAIM_SCRIPT, "1", key, "1", "", "30000"))
                conn.recv(64)

            rtt_ns = min(timeit.Timer(ping).repeat(repeat=repeats, number=2000)) / 2000 * 1e9
            claim_ns = min(timeit.Timer(raw_claim).repeat(repeat=repeats, number=2000)) / 2000
            claim_ns *= 1e9
            # Back to back, each call also competes with the completions of
            # the calls before it (they run in the background). A caller
            # with a moment between calls sees only the claim's round trip:
            # median latencies, calls 1 ms apart.
            rtt_latency = median_latency(ping)
            claim_latency = median_latency(raw_claim)
        spaced = itertools.count()
        idem_latency = median_latency(lambda: keyed(f"spaced-{next(spaced)}"))
    finally:
        baldur.init(redis_url=None)
        server.kill()
        server.wait()
    print(f"\n{'redis row':42} {'ns/call':>10} {'x memory':>9}")
    print(f"{'retry+fallback+breaker, memory mode':42} {memory_ns:10.1f} {1.0:9.2f}")
    print(
        f"{'retry+fallback+breaker, Redis-shared':42} {redis_ns:10.1f} {redis_ns / memory_ns:9.2f}"
    )
    print(f"{'one bare round trip (PING), raw socket':42} {rtt_ns:10.1f}")
    print(f"{'one claim script round trip, raw socket':42} {claim_ns:10.1f}")
    print(
        f"{'+ idempotency in Redis, back to back':42} {idem_ns:10.1f}"
        f"   {idem_ns / claim_ns:.2f}x a claim round trip"
    )
    print(f"{'PING, median latency (spaced)':42} {rtt_latency:10.1f}")
    print(f"{'claim script, median latency (spaced)':42} {claim_latency:10.1f}")
    print(
        f"{'idempotent call, median latency (spaced)':42} {idem_latency:10.1f}"
        f"   {idem_latency / claim_latency:.2f}x a claim round trip,"
        f" {idem_latency / rtt_latency:.2f}x a PING"
    )


def print_async(repeats: int) -> None:
    results = {
        label: None if func is None else measure_async(func, repeats)
        for label, func in build_async_rows()
    }
    bare = results["bare await"] or 0.0
    full = results["baldur async retry+fallback+breaker"] or 1.0
    empty = results["empty async decorator"] or 1.0
    print(f"\n{'async row':42} {'ns/call':>10} {'over bare':>10} {'x baldur':>9}")
    for label, ns in results.items():
        if ns is None:
            print(f"{label:42} {'missing: pip install hyx tenacity':>30}")
            continue
        print(f"{label:42} {ns:10.1f} {ns - bare:10.1f} {(ns - bare) / (full - bare):9.2f}")
    print(
        f"async pipeline overhead: {(full - bare) / (empty - bare):.2f}x an empty async"
        " decorator's, both over a bare await (issue 14: <= 2x)"
    )


if __name__ == "__main__":
    sys.exit(main())
