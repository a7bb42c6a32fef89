"""Run the fuzz targets under atheris (coverage-guided).

    python fuzz/run.py                        # every target, 1,000,000 inputs each
    python fuzz/run.py --runs 20000 http      # one target, fewer inputs
    python fuzz/run.py --seconds 3            # every target for 3 s each (the short run in the tests)

Each target runs in its own process (atheris ends the process it runs in). A crash prints the input
and saves it as ``crash-*`` under fuzz/crashes/; turn it into a regression test.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def child(name: str, runs: int, seconds: float) -> None:
    """Fuzz one target in this process (never returns)."""
    import atheris

    with atheris.instrument_imports(include=["aiosio"]):
        sys.path.insert(0, str(ROOT))
        from fuzz.targets import TARGETS, seeds

    target = TARGETS[name]
    corpus = HERE / "corpus" / name
    corpus.mkdir(parents=True, exist_ok=True)
    for i, seed in enumerate(seeds()):
        (corpus / f"seed-{i}").write_bytes(seed)
    crashes = HERE / "crashes"
    crashes.mkdir(exist_ok=True)
    argv = [
        sys.argv[0],
        f"-runs={runs}",
        f"-artifact_prefix={crashes}/{name}-",
        "-max_len=4096",
        "-print_final_stats=1",
        str(corpus),
    ]
    if seconds:
        argv.insert(1, f"-max_total_time={max(1, round(seconds))}")
    atheris.Setup(argv, target)
    atheris.Fuzz()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "targets",
        nargs="*",
        help="engineio, socketio, frames, http, all (default: each of the four)",
    )
    parser.add_argument("--runs", type=int, default=1_000_000, help="inputs per target")
    parser.add_argument("--seconds", type=float, default=0, help="time limit per target")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.runs, args.seconds)
        return 0
    names = args.targets or ["engineio", "socketio", "frames", "http"]
    failed = []
    for name in names:
        started = time.monotonic()
        cmd = [sys.executable, __file__, "--child", name, "--runs", str(args.runs)]
        if args.seconds:
            cmd += ["--seconds", str(args.seconds)]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
        stats = [line for line in proc.stderr.splitlines() if line.startswith("stat::")]
        done = next((line.split()[-1] for line in stats if "number_of_executed_units" in line), "?")
        took = time.monotonic() - started
        print(f"{name}: exit {proc.returncode}, {done} inputs in {took:.0f} s", flush=True)
        if proc.returncode != 0:
            failed.append(name)
            print(proc.stderr[-4000:], file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
