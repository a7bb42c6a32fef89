"""A local Redis Cluster of three masters for the tests (``redis-server --cluster-enabled yes`` on free ports
in a temporary directory, joined by ``redis-cli --cluster create``)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time

from tests.support.ports import free_port
from tests.support.redis import ping

__all__ = ["RedisCluster"]


def _port_with_bus_port() -> int:
    """A free port whose cluster bus port (port + 10000) is a valid port and free too."""
    while True:
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


class RedisCluster:
    """Three masters (no replicas unless asked) on 127.0.0.1; ``start()`` blocks until
    ``cluster_state:ok``. ``node_timeout`` (ms) is how long a master must be silent to fail over."""

    def __init__(self, masters: int = 3, replicas: int = 0, node_timeout: int = 2000) -> None:
        self.replicas = replicas
        self.node_timeout = node_timeout
        self.ports = [_port_with_bus_port() for _ in range(masters * (1 + replicas))]
        self._tmp = tempfile.TemporaryDirectory(prefix="aiosio-rc-")
        self._procs: list[subprocess.Popen[bytes]] = []

    @staticmethod
    def available() -> bool:
        """True when ``redis-server`` and ``redis-cli`` are on the PATH."""
        return shutil.which("redis-server") is not None and shutil.which("redis-cli") is not None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<first port>`` (any node serves as a startup node)."""
        return f"redis://127.0.0.1:{self.ports[0]}"

    def _cli(self, *args: str, port: int | None = None) -> str:
        command = ["redis-cli", "-h", "127.0.0.1", "-p", str(port or self.ports[0]), *args]
        done = subprocess.run(command, capture_output=True, check=False, timeout=30)
        return done.stdout.decode(errors="replace")

    def start(self, timeout: float = 20.0) -> None:
        """Start the nodes, create the cluster, wait until every node says ``cluster_state:ok``."""
        for port in self.ports:
            workdir = os.path.join(self._tmp.name, str(port))
            os.mkdir(workdir)
            self._procs.append(
                subprocess.Popen(
                    [
                        *("redis-server", "--port", str(port), "--bind", "127.0.0.1"),
                        *("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"),
                        *("--cluster-node-timeout", str(self.node_timeout), "--dir", workdir),
                        *("--save", "", "--appendonly", "no"),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        deadline = time.monotonic() + timeout
        while not all(ping(port) for port in self.ports):
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the cluster nodes did not start")
            time.sleep(0.02)
        nodes = [f"127.0.0.1:{port}" for port in self.ports]
        done = subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *nodes,
                "--cluster-replicas",
                str(self.replicas),
                "--cluster-yes",
            ],
            capture_output=True,
            check=False,
            timeout=30,
        )
        if done.returncode != 0:
            self.stop()
            raise RuntimeError(f"redis-cli --cluster create failed: {done.stdout!r}")
        while not all(
            "cluster_state:ok" in self._cli("CLUSTER", "INFO", port=port) for port in self.ports
        ):
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the cluster did not reach cluster_state:ok")
            time.sleep(0.05)

    def kill(self, port: int) -> None:
        """SIGKILL the node on ``port`` (its replica, if any, takes over after the node timeout)."""
        proc = self._procs[self.ports.index(port)]
        proc.kill()
        proc.wait()

    def stop(self) -> None:
        """Kill every node and remove the directory."""
        for proc in self._procs:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait()
        self._procs.clear()
        self._tmp.cleanup()
