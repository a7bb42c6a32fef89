"""A local Redis Sentinel setup for the tests: a master, a replica and one sentinel (quorum 1) on free ports
in a temporary directory; :meth:`RedisSentinelSetup.failover` promotes the replica."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import time

from tests.support.ports import free_port
from tests.support.redis import ping

__all__ = ["SERVICE", "RedisSentinelSetup"]

SERVICE = "mymaster"


class RedisSentinelSetup:
    """``master_port``, ``replica_port`` and ``sentinel_port``; ``start()`` blocks until the sentinel
    knows the replica."""

    def __init__(self) -> None:
        self.master_port = free_port()
        self.replica_port = free_port()
        self.sentinel_port = free_port()
        self._tmp = tempfile.TemporaryDirectory(prefix="aiosio-sentinel-")
        self._procs: list[subprocess.Popen[bytes]] = []

    @staticmethod
    def available() -> bool:
        """True when ``redis-server`` and ``redis-cli`` are on the PATH."""
        return shutil.which("redis-server") is not None and shutil.which("redis-cli") is not None

    def _server(self, port: int, *extra: str) -> None:
        workdir = os.path.join(self._tmp.name, str(port))
        os.mkdir(workdir)
        self._procs.append(
            subprocess.Popen(
                [
                    *("redis-server", "--port", str(port), "--bind", "127.0.0.1"),
                    *("--dir", workdir, "--save", "", "--appendonly", "no", *extra),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )

    def cli(self, port: int, *args: str) -> str:
        """``redis-cli -p port args...``'s output."""
        command = ["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args]
        done = subprocess.run(command, capture_output=True, check=False, timeout=10)
        return done.stdout.decode(errors="replace")

    def master_address(self) -> int:
        """The port of the master the sentinel names now (0 when it names none)."""
        reply = self.cli(self.sentinel_port, "SENTINEL", "get-master-addr-by-name", SERVICE).split()
        return int(reply[1]) if len(reply) == 2 else 0

    def start(self, timeout: float = 20.0) -> None:
        """Start master, replica and sentinel; wait until the sentinel sees the replica."""
        self._server(self.master_port)
        self._server(self.replica_port, "--replicaof", "127.0.0.1", str(self.master_port))
        config = os.path.join(self._tmp.name, "sentinel.conf")
        with open(config, "w") as file:
            file.write(
                f"port {self.sentinel_port}\n"
                "bind 127.0.0.1\n"
                f"dir {self._tmp.name}\n"
                f"sentinel monitor {SERVICE} 127.0.0.1 {self.master_port} 1\n"
                f"sentinel down-after-milliseconds {SERVICE} 1000\n"
                f"sentinel failover-timeout {SERVICE} 5000\n"
            )
        self._procs.append(
            subprocess.Popen(
                ["redis-server", config, "--sentinel"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        deadline = time.monotonic() + timeout
        ports = (self.master_port, self.replica_port, self.sentinel_port)
        while not all(ping(port) for port in ports) or not self._replica_known():
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the sentinel setup did not come up")
            time.sleep(0.05)

    def _replica_known(self) -> bool:
        replicas = self.cli(self.sentinel_port, "SENTINEL", "REPLICAS", SERVICE)
        link = self.cli(self.replica_port, "INFO", "replication")
        return str(self.replica_port) in replicas and "master_link_status:up" in link

    async def failover(self, timeout: float = 20.0, kill: bool = False) -> int:  # noqa: ASYNC109
        """``SENTINEL FAILOVER`` (or, with ``kill``, SIGKILL of the master: the sentinel notices after
        1 s); returns the new master's port once the sentinel names it."""
        old = self.master_address()
        if kill:
            proc = self._procs[0]  # the master is started first
            proc.kill()
            await asyncio.to_thread(proc.wait)
        else:
            await asyncio.to_thread(self.cli, self.sentinel_port, "SENTINEL", "FAILOVER", SERVICE)
        deadline = time.monotonic() + timeout
        while True:
            new = await asyncio.to_thread(self.master_address)
            if new and new != old:
                return new
            if time.monotonic() > deadline:
                raise RuntimeError("the failover did not happen")
            await asyncio.sleep(0.05)

    def stop(self) -> None:
        """Kill every process and remove the directory."""
        for proc in self._procs:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait()
        self._procs.clear()
        self._tmp.cleanup()
