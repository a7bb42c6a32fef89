"""A short coverage-guided fuzz run (atheris) over every target; ``make fuzz`` runs 10^6 inputs each."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fuzz.targets import TARGETS, seeds

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_targets_take_their_seeds(name: str) -> None:
    for seed in seeds():
        TARGETS[name](seed)


@pytest.mark.timeout(120)
def test_short_fuzz_run_finds_nothing() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "fuzz" / "run.py"), "--seconds", "4", "all"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    line = proc.stdout.strip().splitlines()[-1]
    assert line.startswith("all: exit 0, ")
    inputs = int(line.split(", ")[1].split()[0])
    assert inputs > 1000, line
