"""The package people install: sdist and wheel build, pass ``twine check``, and work from a fresh venv.

The wheel is installed into a new virtualenv with nothing but its declared dependencies (pip resolves
them), every public module is imported from there, and the README's examples run against each other.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

IMPORT_ALL = """
import importlib, pkgutil, sys, aiosio
names = [m.name for m in pkgutil.walk_packages(aiosio.__path__, "aiosio.")
         if not any(part.startswith("_") for part in m.name.split("."))]
for name in names:
    importlib.import_module(name)
assert "site-packages" in aiosio.__file__, aiosio.__file__
print(len(names), aiosio.__version__)
"""


def _run(*args: str | Path, cwd: Path, timeout: float = 300) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _readme_blocks() -> tuple[str, str]:
    blocks: list[str] = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    server = next(b for b in blocks if "aiosio.run(main())" in b)
    client = next(b for b in blocks if "from aiosio.client import connect" in b)
    return server, client


@pytest.mark.timeout(900)
def test_wheel_installs_and_runs_the_readme_examples(tmp_path: Path) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    version = project["version"]
    dist = tmp_path / "dist"
    _run(sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, ROOT, cwd=tmp_path)
    wheel = next(dist.glob("aiosio-*.whl"))
    sdist = next(dist.glob("aiosio-*.tar.gz"))
    assert wheel.name == f"aiosio-{version}-py3-none-any.whl"
    assert sdist.name == f"aiosio-{version}.tar.gz"
    assert "PASSED" in _run(sys.executable, "-m", "twine", "check", wheel, sdist, cwd=tmp_path)

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    pip = (python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check")

    # The core install: the server alone, typed.
    _run(*pip, wheel, cwd=tmp_path)
    out = _run(
        python,
        "-c",
        "import aiosio, pathlib; import aiosio.server, aiosio.adapters, aiosio.asgi;"
        "print(aiosio.__version__, (pathlib.Path(aiosio.__file__).parent / 'py.typed').exists())",
        cwd=tmp_path,
    )
    assert out.split() == [version, "True"]

    # With every extra users install (not the tooling ones): every public module imports.
    extras = sorted(set(project["optional-dependencies"]) - {"dev", "docs", "fuzz"})
    _run(*pip, f"{wheel}[{','.join(extras)}]", cwd=tmp_path)
    count, installed_version = _run(python, "-c", IMPORT_ALL, cwd=tmp_path).split()
    assert int(count) >= 20
    assert installed_version == version

    # The README's server, and its client talking to it.
    server_code, client_code = _readme_blocks()
    port = free_port()
    (tmp_path / "server.py").write_text(server_code.replace("listen(3000)", f"listen({port})"))
    client_body = client_code.replace("127.0.0.1:3000", f"127.0.0.1:{port}")
    (tmp_path / "client.py").write_text(
        "import asyncio\n\nasync def main() -> None:\n"
        + "".join(f"    {line}\n" for line in client_body.splitlines())
        + "    await socket.disconnect()\n\nasyncio.run(main())\n"
    )
    server = subprocess.Popen([str(python), "server.py"], cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            done = subprocess.run(
                [str(python), "client.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60
            )
            if done.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "ok"
    finally:
        server.terminate()
        server.wait(10)
