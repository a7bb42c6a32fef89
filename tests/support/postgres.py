"""A real PostgreSQL for the tests: 127.0.0.1:5432 (database ``test``) if it answers, else a private one.

:class:`PostgresServer` runs a private cluster from the Debian binaries (``initdb``, ``postgres``) in a
temporary directory on a free port, with trust authentication; a test may stop and start it again (same
data directory, same port) to see what the adapters do across a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from tests.support.ports import free_port

__all__ = ["DEFAULT_DSN", "PostgresServer", "answers", "binaries"]

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"


def answers(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on ``host:port`` and speaks the PostgreSQL protocol
    (an SSLRequest gets its one-byte answer)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(b"\x00\x00\x00\x08\x04\xd2\x16\x2f")
            return sock.recv(1) in (b"S", b"N")
    except OSError:
        return False


def binaries() -> str | None:
    """The directory of the newest Debian PostgreSQL binaries (``/usr/lib/postgresql/<v>/bin``)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(path.split("/")[4]) if path.split("/")[4].isdigit() else 0,
    )
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


class PostgresServer:
    """A private PostgreSQL on a free port in a temporary directory (database ``test``)."""

    def __init__(self) -> None:
        bindir = binaries()
        if bindir is None:
            raise RuntimeError("no PostgreSQL binaries (install postgresql)")
        self.bindir = bindir
        self.port = free_port()
        self._tmp = tempfile.TemporaryDirectory(prefix="aiosio-pg-")
        self.datadir = os.path.join(self._tmp.name, "data")
        self._proc: subprocess.Popen[bytes] | None = None
        self._initialized = False

    @property
    def dsn(self) -> str:
        """``postgresql://postgres@127.0.0.1:<port>/test``."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/test"

    def _owner(self) -> tuple[int | None, int | None]:
        """(uid, gid) to run PostgreSQL as: the ``postgres`` user when we are root (it refuses root)."""
        if os.geteuid() != 0:
            return None, None
        import pwd

        entry = pwd.getpwnam("postgres")
        os.chown(self._tmp.name, entry.pw_uid, entry.pw_gid)
        return entry.pw_uid, entry.pw_gid

    def _initdb(self) -> None:
        user, group = self._owner()
        initdb = os.path.join(self.bindir, "initdb")
        done = subprocess.run(
            [initdb, "-D", self.datadir, "-U", "postgres", "--auth=trust", "--no-sync"],
            capture_output=True,
            check=False,
            user=user,
            group=group,
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr.decode(errors='replace')}")
        self._initialized = True

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def _spawn(self) -> None:
        if not self._initialized:
            self._initdb()
        user, group = self._owner()
        self._proc = subprocess.Popen(
            [
                os.path.join(self.bindir, "postgres"),
                *("-D", self.datadir, "-p", str(self.port), "-h", "127.0.0.1"),
                *("-k", self._tmp.name, "-c", "fsync=off", "-c", "full_page_writes=off"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            user=user,
            group=group,
        )

    def _psql(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        psql = os.path.join(self.bindir, "psql")
        if not os.path.exists(psql):
            psql = "psql"
        command = [
            psql,
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            "postgres",
        ]
        return subprocess.run([*command, *args], capture_output=True, check=False)

    def _create_database(self) -> bool:
        """True once the server accepts queries and database ``test`` exists."""
        done = self._psql("-tAc", "SELECT 1 FROM pg_database WHERE datname = 'test'")
        if done.returncode != 0:
            return False
        if done.stdout.strip() != b"1":
            self._psql("-c", "CREATE DATABASE test")
        return True

    def start_sync(self, timeout: float = 30.0) -> None:
        """Start (initdb the first time) and wait until database ``test`` answers (blocking)."""
        if self.running:
            return
        self._spawn()
        deadline = time.monotonic() + timeout
        while not (answers(self.port) and self._create_database()):
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise RuntimeError(f"postgres exited with status {self._proc.returncode}")
            if time.monotonic() > deadline:
                self.stop_sync()
                raise RuntimeError(f"postgres did not answer on port {self.port}")
            time.sleep(0.05)

    async def start(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109 (the documented test API)
        """Start (initdb the first time) and wait until database ``test`` answers."""
        await asyncio.to_thread(self.start_sync, timeout)

    def kill_sync(self) -> None:
        """SIGKILL the postmaster and wait until nothing answers on its port any more."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()
        # orphaned backends notice the dead postmaster and exit
        for _ in range(250):
            if not answers(self.port):
                break
            time.sleep(0.02)

    async def kill(self) -> None:
        """SIGKILL the postmaster (a crash, as clients see it; its backends exit with it)."""
        await asyncio.to_thread(self.kill_sync)

    def stop_sync(self) -> None:
        """A fast shutdown (SIGINT: clients are disconnected), SIGKILL after 5 s (blocking)."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(5.0)
        except subprocess.TimeoutExpired:
            self.kill_sync()

    async def stop(self) -> None:
        """A fast shutdown (SIGINT: clients are disconnected), SIGKILL after 5 s."""
        await asyncio.to_thread(self.stop_sync)

    def close_sync(self) -> None:
        """Stop the server and remove its directory."""
        self.stop_sync()
        self._tmp.cleanup()
