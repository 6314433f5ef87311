"""A real redis-server for the tests, on a free port of its own (never the
machine's 6379), that a test can kill, restart and pause."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def require_redis_server() -> str:
    """The redis-server binary. Missing is a failure in CI, a skip (with the
    reason) on a developer's machine."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is not installed: CI must run the Redis tests")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    return binary


class RedisServer:
    """One redis-server process, persisting nothing."""

    def __init__(self) -> None:
        self.binary = require_redis_server()
        self.port = _free_port()
        self.dir = tempfile.mkdtemp(prefix="baldur-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.ping():
                return
            time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        """SIGKILL: the outage a crash or a dropped node looks like."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def command(self, *args: str) -> bytes:
        """One command over a raw socket (no client library needed)."""
        parts = [f"*{len(args)}\r\n".encode()]
        for arg in args:
            data = arg.encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as conn:
            conn.sendall(b"".join(parts))
            return conn.recv(65536)

    def ping(self) -> bool:
        try:
            return self.command("PING").startswith(b"+PONG")
        except OSError:
            return False

    def pause(self, millis: int) -> None:
        """CLIENT PAUSE: the server stops answering, the connection stays up."""
        assert self.command("CLIENT", "PAUSE", str(millis), "ALL").startswith(b"+OK")

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
