"""A real Redis Sentinel for the tests: one master, one sentinel watching it."""

from __future__ import annotations

import os
import subprocess
import time

from helpers import free_port
from redis_server import RedisServer

SERVICE = "baldur-test"


class RedisSentinel:
    """A master (a RedisServer) and a sentinel process on free ports."""

    def __init__(self, password: str | None = None) -> None:
        self.master = RedisServer()
        self.master.password = password
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.master.password}@" if self.master.password else ""
        return f"redis+sentinel://{auth}127.0.0.1:{self.port}/{SERVICE}"

    def start(self) -> None:
        self.master.start()
        config = os.path.join(self.master.dir, "sentinel.conf")
        with open(config, "w") as out:
            out.write(
                f"port {self.port}\nbind 127.0.0.1\n"
                f"sentinel monitor {SERVICE} 127.0.0.1 {self.master.port} 1\n"
                f"sentinel down-after-milliseconds {SERVICE} 5000\n"
            )
            if self.master.password:
                out.write(f"sentinel auth-pass {SERVICE} {self.master.password}\n")
        self.process = subprocess.Popen(
            [self.master.binary, config, "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        probe = RedisServer.__new__(RedisServer)
        probe.port = self.port
        deadline = time.monotonic() + 15
        while True:
            try:
                answer = probe.command("SENTINEL", "get-master-addr-by-name", SERVICE)
                if str(self.master.port).encode() in answer:
                    return
            except OSError:
                pass
            assert time.monotonic() < deadline, "the sentinel never saw its master"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None
        self.master.stop()
