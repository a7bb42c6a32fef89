"""Headless Chromium driven by ``playwright-core`` from Node: run a script from ``tests/browser``.

The Makefile installs Debian's ``chromium`` (when root) and ``playwright-core`` (npm). A test that
needs them fails under CI=true when they are missing and is skipped (saying why) elsewhere.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

__all__ = ["CHROMIUM", "BrowserScript", "require_browser"]

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "tests" / "browser"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def require_browser() -> None:
    """Fail (CI) or skip unless chromium, node and playwright-core are installed."""
    missing = []
    if not Path(CHROMIUM).is_file():
        missing.append(f"chromium ({CHROMIUM}; apt-get install chromium)")
    if shutil.which("node") is None:
        missing.append("node")
    if not (ROOT / "node_modules" / "playwright-core").is_dir():
        missing.append("node_modules/playwright-core (npm ci)")
    if not missing:
        return
    message = "browser tests need " + ", ".join(missing)
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


class BrowserScript:
    """``node tests/browser/<name>.js '<json options>'``: JSON lines out, one per step."""

    def __init__(self, proc: asyncio.subprocess.Process, name: str) -> None:
        self.proc = proc
        self.name = name
        self.stderr = b""

    @classmethod
    async def start(cls, name: str, **options: Any) -> BrowserScript:
        """Start the script with ``options`` (plus ``chromium``: the browser's path)."""
        proc = await asyncio.create_subprocess_exec(
            "node",
            str(SCRIPTS / f"{name}.js"),
            json.dumps({"chromium": CHROMIUM, **options}),
            cwd=str(ROOT),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "NODE_PATH": str(ROOT / "node_modules")},
        )
        return cls(proc, name)

    async def step(self, timeout: float = 30.0) -> dict[str, Any]:  # noqa: ASYNC109 (test API)
        """The next step the script reports; fails with its stderr when it ends or errs instead."""
        assert self.proc.stdout is not None
        async with asyncio.timeout(timeout):
            line = await self.proc.stdout.readline()
        if not line:
            await self.close()
            raise AssertionError(f"{self.name}.js ended:\n{self.stderr.decode(errors='replace')}")
        report: dict[str, Any] = json.loads(line)
        if "error" in report:
            await self.close()
            raise AssertionError(f"{self.name}.js: {report['error']}")
        return report

    async def tell(self, **command: Any) -> None:
        """Send one command line to the script."""
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(command) + "\n").encode())
        await self.proc.stdin.drain()

    async def close(self) -> None:
        """Stop the script (its browser goes with it)."""
        if self.proc.returncode is None:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            try:
                async with asyncio.timeout(10):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self.proc.stderr is not None:
            self.stderr += await self.proc.stderr.read()
