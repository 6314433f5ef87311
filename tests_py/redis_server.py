"""A real redis-server for the tests, on a free port of its own (never the
machine's 6379), that a test can kill, restart and pause."""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from helpers import free_port


def require_redis_server() -> str:
    """The redis-server binary. Missing is a failure in CI, a skip (with the
    reason) on a developer's machine."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is not installed: CI must run the Redis tests")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    return binary


def _encode(*args: str) -> bytes:
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class RedisServer:
    """One redis-server process, persisting nothing; with ``tls=True`` it
    speaks only TLS, with a self-signed certificate (``ca_file``)."""

    def __init__(self, tls: bool = False) -> None:
        self.binary = require_redis_server()
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="baldur-redis-")
        self.process: subprocess.Popen[bytes] | None = None
        self.tls = tls
        #: Extra redis-server arguments (cluster mode, for one).
        self.extra: list[str] = []
        #: Set before start(): the server requires it (``requirepass``).
        self.password: str | None = None
        if tls:
            self._make_certificate()

    @property
    def url(self) -> str:
        scheme = "rediss" if self.tls else "redis"
        return f"{scheme}://127.0.0.1:{self.port}/0"

    @property
    def ca_file(self) -> str:
        return os.path.join(self.dir, "ca.pem")

    def _make_certificate(self) -> None:
        """A test CA, and a server certificate it signed for 127.0.0.1."""

        def openssl(*args: str) -> None:
            subprocess.run(["openssl", *args], check=True, capture_output=True)

        path = functools.partial(os.path.join, self.dir)
        with open(path("server.ext"), "w") as ext:
            ext.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
        openssl(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            path("ca.key"),
            "-out",
            self.ca_file,
            "-subj",
            "/CN=baldur-test-ca",
        )
        openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            path("key.pem"),
            "-out",
            path("server.csr"),
            "-subj",
            "/CN=127.0.0.1",
        )
        openssl(
            "x509",
            "-req",
            "-in",
            path("server.csr"),
            "-CA",
            self.ca_file,
            "-CAkey",
            path("ca.key"),
            "-CAcreateserial",
            "-days",
            "1",
            "-out",
            path("cert.pem"),
            "-extfile",
            path("server.ext"),
        )

    def start(self) -> None:
        if self.tls:
            key = os.path.join(self.dir, "key.pem")
            listen = ["--port", "0", "--tls-port", str(self.port), "--tls-auth-clients", "no"]
            listen += ["--tls-cert-file", os.path.join(self.dir, "cert.pem"), "--tls-key-file", key]
            listen += ["--tls-ca-cert-file", self.ca_file]
        else:
            listen = ["--port", str(self.port)]
        quiet = ["--save", "", "--appendonly", "no", "--dir", self.dir]
        self.process = subprocess.Popen(
            [self.binary, *listen, "--bind", "127.0.0.1", *quiet, *self._auth(), *self.extra],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if (self.tls and self._listening()) or (not self.tls and self.ping()):
                return
            time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        """SIGKILL: the outage a crash or a dropped node looks like."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def _auth(self) -> list[str]:
        return ["--requirepass", self.password] if self.password else []

    def command(self, *args: str) -> bytes:
        """One command over a raw socket (no client library needed),
        authenticated first when the server has a password."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as conn:
            if getattr(self, "password", None):
                conn.sendall(_encode("AUTH", str(self.password)))
                assert conn.recv(64).startswith(b"+OK"), "the test password was refused"
            conn.sendall(_encode(*args))
            return conn.recv(65536)

    def _listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

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
