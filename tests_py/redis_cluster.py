"""A real three-node Redis Cluster for the tests, on free ports."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time

from redis_server import RedisServer, require_redis_server


class RedisCluster:
    """Three masters, no replicas: every slot served."""

    def __init__(self) -> None:
        require_redis_server()
        self.nodes = [self._node() for _ in range(3)]
        self.dir = tempfile.mkdtemp(prefix="baldur-cluster-")

    @staticmethod
    def _node() -> RedisServer:
        """A node whose cluster bus port (its port + 10000) is valid too."""
        while True:
            node = RedisServer()
            if node.port + 10000 <= 65535:
                return node
            node.stop()

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)
        return f"redis+cluster://{hosts}/"

    def start(self) -> None:
        for node in self.nodes:
            node.extra = [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                f"{self.dir}/nodes-{node.port}.conf",
                "--cluster-node-timeout",
                "2000",
            ]
            node.start()
        cli = shutil.which("redis-cli")
        assert cli is not None, "redis-cli comes with redis-server"
        subprocess.run(
            [
                cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{n.port}" for n in self.nodes),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        deadline = time.monotonic() + 30
        while not all(b"cluster_state:ok" in n.command("CLUSTER", "INFO") for n in self.nodes):
            assert time.monotonic() < deadline, "the cluster never became ready"
            time.sleep(0.1)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
