"""What a fleet of workers asks of Redis: commands/s, script round trips/s
and Redis CPU, for zones x workers, idle and busy.

    python benches/fleet.py                       # zones 10,100,1000 x workers 1,2
    python benches/fleet.py --zones 10,100,1000,10000 --workers 1,2,4 --seconds 5

Each worker is a process of its own (as under gunicorn) that shares breaker
state through one redis-server the benchmark starts on a free port. Every
worker first calls each of its zones once (so it holds every breaker, as a
long-running worker does), then either does nothing (idle) or calls its
zones round-robin as fast as one thread can (busy). Redis's own counters
(``INFO stats``, ``INFO commandstats``, ``INFO cpu``) are read before and
after the measured window. Measurements, not pass/fail: timings belong here,
never in tests.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager

WORKER = textwrap.dedent(
    """
    import sys, time
    import baldur

    url, zones, busy = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "busy"
    baldur.init(redis_url=url)
    calls = [baldur.protected(f"fleet-{i}")(lambda: None) for i in range(zones)]
    for call in calls:
        call()
    print("ready", flush=True)
    while True:
        if busy:
            for call in calls:
                call()
        else:
            time.sleep(1)
    """
)


class Redis:
    """A redis-server of the benchmark's own, persisting nothing."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server is missing (apt-get install redis-server)")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process = subprocess.Popen(
            [
                binary,
                *("--port", str(self.port), "--save", "", "--appendonly", "no"),
                *("--dir", tempfile.mkdtemp(prefix="baldur-fleet-")),
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                self.info("server")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self, *args: str) -> bytes:
        """One command, its reply's raw bytes (a bulk string's payload)."""
        wire = f"*{len(args)}\r\n" + "".join(f"${len(a)}\r\n{a}\r\n" for a in args)
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as connection:
            connection.sendall(wire.encode())
            reply = b""
            while True:
                chunk = connection.recv(1 << 16)
                if not chunk:
                    break
                reply += chunk
                if reply.startswith(b"$"):
                    header, _, rest = reply.partition(b"\r\n")
                    if len(rest) >= int(header[1:]) + 2:
                        return rest[: int(header[1:])]
                elif reply.endswith(b"\r\n"):
                    return reply

    def info(self, section: str) -> dict[str, str]:
        fields = {}
        for line in self.command("INFO", section).decode().splitlines():
            if ":" in line and not line.startswith("#"):
                key, _, value = line.partition(":")
                fields[key] = value
        return fields

    def counters(self) -> tuple[float, int, int, float]:
        """(now, commands processed, script calls, Redis CPU seconds)."""
        stats = self.info("stats")
        scripts = 0
        for key, value in self.info("commandstats").items():
            if key in ("cmdstat_evalsha", "cmdstat_eval", "cmdstat_fcall"):
                scripts += int(value.split(",")[0].split("=")[1])
        cpu = self.info("cpu")
        seconds = float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"])
        return time.monotonic(), int(stats["total_commands_processed"]), scripts, seconds

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@contextmanager
def workers(redis: Redis, count: int, zones: int, busy: bool) -> Iterator[None]:
    """``count`` worker processes, each holding ``zones`` breakers, ready."""
    mode = "busy" if busy else "idle"
    started = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, redis.url, str(zones), mode],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    try:
        for worker in started:
            assert worker.stdout is not None
            if worker.stdout.readline().strip() != "ready":
                raise RuntimeError("a worker did not start")
        yield
    finally:
        for worker in started:
            worker.kill()
            worker.wait()


def settle(redis: Redis, limit: float = 60.0) -> None:
    """Waits out the start: the workers' first rounds, and each refreshing
    the breakers the others created (a burst that grows with zones x
    workers), until the command rate holds steady for a second."""
    deadline = time.monotonic() + limit
    last = None
    while time.monotonic() < deadline:
        before = redis.counters()
        time.sleep(1)
        after = redis.counters()
        rate = (after[1] - before[1]) / (after[0] - before[0])
        if last is not None and abs(rate - last) <= 0.15 * max(last, 100.0):
            return
        last = rate


def measure(redis: Redis, count: int, zones: int, busy: bool, seconds: float) -> str:
    redis.command("FLUSHALL")
    with workers(redis, count, zones, busy):
        settle(redis)  # the first sync rounds are not the steady state
        before = redis.counters()
        time.sleep(seconds)
        after = redis.counters()
    wall = after[0] - before[0]
    commands = (after[1] - before[1]) / wall
    scripts = (after[2] - before[2]) / wall
    cpu = (after[3] - before[3]) / wall * 100
    mode = "busy" if busy else "idle"
    return f"{zones:>7} {count:>7} {mode:>5} {commands:>12.0f} {scripts:>12.0f} {cpu:>9.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zones", default="10,100,1000")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--seconds", type=float, default=3.0)
    options = parser.parse_args()
    zone_counts = [int(z) for z in options.zones.split(",")]
    worker_counts = [int(w) for w in options.workers.split(",")]
    redis = Redis()
    try:
        header = ("zones", "workers", "mode", "commands/s", "scripts/s", "redis %")
        widths = (7, 7, 5, 12, 12, 9)
        print(" ".join(f"{name:>{width}}" for name, width in zip(header, widths, strict=True)))
        for busy in (False, True):
            for zones in zone_counts:
                for count in worker_counts:
                    print(measure(redis, count, zones, busy, options.seconds), flush=True)
    finally:
        redis.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
