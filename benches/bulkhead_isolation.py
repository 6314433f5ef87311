"""Bulkhead isolation: one compartment overloaded tenfold (threads and
asyncio tasks far beyond its capacity) against another compartment's calls'
latency, measured alone and then beside the overload.

    python benches/bulkhead_isolation.py            # 2,000 calls a phase
    python benches/bulkhead_isolation.py --quick    # 500

Every call of the measured compartment sleeps 1 ms (an I/O-bound
dependency); the report is its p50 and p99 in each phase and their ratio
(issue 18: the p99 moves by less than 10 %). The overloaded compartment's
callers back off 1 ms after a refusal, as a client would. Timings belong
here, never in pass/fail tests.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
import time

import baldur

CAPACITY = 4
OVERLOAD = 10  # callers per permit of the overloaded compartment


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(calls: int) -> list[float]:
    @baldur.protected("iso-cold", bulkhead="iso-cold")
    def cold() -> None:
        time.sleep(0.001)

    latencies = []
    for _ in range(calls):
        started = time.perf_counter()
        cold()
        latencies.append(time.perf_counter() - started)
    return latencies


def overload(stop: threading.Event) -> list[threading.Thread]:
    """Threads and asyncio tasks, OVERLOAD times the hot compartment's capacity."""

    @baldur.protected("iso-hot", bulkhead="iso-hot")
    def hot() -> None:
        time.sleep(0.002)

    @baldur.protected("iso-hot-async", bulkhead="iso-hot")
    async def hot_async() -> None:
        await asyncio.sleep(0.002)

    def thread_caller() -> None:
        while not stop.is_set():
            try:
                hot()
            except baldur.BulkheadFullError:
                time.sleep(0.001)

    async def task_caller() -> None:
        while not stop.is_set():
            try:
                await hot_async()
            except baldur.BulkheadFullError:
                await asyncio.sleep(0.001)

    async def tasks() -> None:
        await asyncio.gather(*(task_caller() for _ in range(CAPACITY * OVERLOAD // 2)))

    threads = [threading.Thread(target=thread_caller) for _ in range(CAPACITY * OVERLOAD // 2)]
    threads.append(threading.Thread(target=lambda: asyncio.run(tasks())))
    for thread in threads:
        thread.start()
    return threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="500 calls a phase")
    calls = 500 if parser.parse_args().quick else 2000
    baldur.register_compartment("iso-cold", max_concurrent=CAPACITY)
    baldur.register_compartment(
        "iso-hot", max_concurrent=CAPACITY, max_waiting=2 * CAPACITY, wait_timeout=0.05
    )
    measure(50)  # warm up
    alone = measure(calls)
    stop = threading.Event()
    threads = overload(stop)
    time.sleep(0.2)  # the overload at full strength
    loaded = measure(calls)
    hot = baldur.compartments()["iso-hot"]
    stop.set()
    for thread in threads:
        thread.join()
    print(f"{'phase':32s} {'p50 ms':>8s} {'p99 ms':>8s}")
    for label, samples in (("iso-cold alone", alone), ("iso-cold beside iso-hot x10", loaded)):
        p50 = statistics.median(samples) * 1e3
        print(f"{label:32s} {p50:8.3f} {percentile(samples, 0.99) * 1e3:8.3f}")
    ratio = percentile(loaded, 0.99) / percentile(alone, 0.99)
    print(f"p99 beside the overload: {ratio:.3f}x alone (issue 18: < 1.10x)")
    callers = CAPACITY * OVERLOAD
    print(f"iso-hot turned away {hot.rejected} calls ({callers} callers, {CAPACITY} permits)")


if __name__ == "__main__":
    main()
