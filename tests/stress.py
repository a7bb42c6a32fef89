"""Run the test suite several times in a row while another process keeps one CPU core busy.

``make test-stress`` runs it; ``python tests/stress.py --runs 5 -- tests/client -x`` narrows it.
Every failing test of every run is listed at the end; the exit status is 1 if any run failed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

BUSY = "while True: pass"
FAILED = re.compile(r"^(FAILED|ERROR) (\S+)", re.MULTILINE)


def start_busy_process() -> subprocess.Popen[bytes]:
    """A process spinning on one core (core 0 where the platform can pin it)."""
    busy = subprocess.Popen([sys.executable, "-c", BUSY])
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(busy.pid, {0})
    return busy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("pytest_args", nargs="*", help="after --: arguments for pytest")
    options = parser.parse_args()
    failures: list[tuple[int, str]] = []
    busy = start_busy_process()
    try:
        for run in range(1, options.runs + 1):
            started = time.monotonic()
            print(
                f"== stress run {run}/{options.runs} (one core kept busy by pid {busy.pid})",
                flush=True,
            )
            result = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-rfE", *options.pytest_args],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                check=False,
            )
            tail = result.stdout.strip().splitlines()[-1:] or ["(no output)"]
            print(f"   {tail[0]} [{time.monotonic() - started:.0f} s]", flush=True)
            found = FAILED.findall(result.stdout)
            failures.extend((run, name) for _, name in found)
            for _, name in found:
                print(f"   failed: {name}", flush=True)
            if result.returncode != 0 and not found:
                failures.append((run, f"pytest exited with {result.returncode}"))
                print(result.stdout[-3000:])
    finally:
        busy.kill()
        busy.wait()
    if failures:
        print(f"== {len(failures)} failure(s) in {options.runs} runs:")
        for run, name in failures:
            print(f"   run {run}: {name}")
        return 1
    print(f"== {options.runs} runs passed with one core busy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
