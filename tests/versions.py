"""Run the test suite on several Python versions side by side, one virtualenv each.

``make test`` runs it with every supported Python it found (``.venv`` for the default one,
``.venv-3.X`` for the others). The suites mostly wait on sockets, timers and peer processes (the
load average stays under one on this 2-core machine while one runs), so running them side by side
takes about as long as the slowest one. Each writes its own log under ``build/test-logs``; the logs
are printed one after the other when all have finished, the summary names the versions that ran, and
the exit status is 1 if any run failed.

    python tests/versions.py .venv .venv-3.12 .venv-3.13
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

LOGS = Path("build/test-logs")


def version_of(venv: Path) -> str:
    """The full Python version of a virtualenv's interpreter."""
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("venvs", nargs="+", type=Path, help="virtualenvs with the dev extra")
    options = parser.parse_args()
    LOGS.mkdir(parents=True, exist_ok=True)
    runs: list[tuple[str, Path, subprocess.Popen[bytes]]] = []
    started = time.monotonic()
    for venv in options.venvs:
        version = version_of(venv)
        log = LOGS / f"python-{version}.log"
        print(f"== tests on Python {version} ({venv}), log: {log}", flush=True)
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(venv / "bin" / "pytest")],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        runs.append((version, log, proc))
    failed: list[str] = []
    passed: list[str] = []
    for version, log, proc in runs:
        code = proc.wait()
        print(f"\n== Python {version}: exit {code}\n", flush=True)
        sys.stdout.write(log.read_text(errors="replace"))
        sys.stdout.flush()
        (passed if code == 0 else failed).append(version)
    took = time.monotonic() - started
    print(
        f"\n== {len(runs)} Python versions in {took:.0f} s: passed on {', '.join(passed) or 'none'}"
    )
    if failed:
        print(f"== FAILED on {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
