"""Slow consumers: clients that stop reading while others read a stream of large broadcasts.

    python bench/slow_consumers.py                     # aiosio and Node's socket.io, 200 + 10 clients
    python bench/slow_consumers.py --servers aiosio --duration 5 --max-write-buffer-size 4194304

``--stalled`` clients connect and then stop reading; ``--readers`` clients keep reading while the
first reader keeps ``--window`` broadcasts of ``--payload-size`` characters in flight (a new one each
time one of its own comes back), for ``--duration`` seconds after a warm-up. Each server runs
pinned to one core, the load generator (bench/gen/loadgen.js, mode ``stall``) to the other; the
generator samples the server's RSS every 250 ms. Results: a table on stdout, the RSS series in
bench/results/slow_consumers.json and a plot in docs/img/slow_consumers.png (when matplotlib is
installed).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from run import (
    LOGS,
    RESULTS,
    ROOT,
    Point,
    choose_cpus,
    run_generator,
    server_specs,
    started,
)

PLOT = ROOT / "docs" / "img" / "slow_consumers.png"
MIB = 1024 * 1024


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--servers", default="aiosio,node", help="comma-separated server names")
    parser.add_argument("--stalled", type=int, default=200)
    parser.add_argument("--readers", type=int, default=10)
    parser.add_argument("--payload-size", type=int, default=16 * 1024)
    parser.add_argument("--window", type=int, default=8)
    parser.add_argument("--duration", type=float, default=12.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument(
        "--max-write-buffer-size",
        type=int,
        default=None,
        help="aiosio's per-socket bound on queued bytes (default: the server's default)",
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and generator")
    parser.add_argument("--no-plot", action="store_true")
    return parser.parse_args(argv)


def run_one(
    name: str, args: argparse.Namespace, cpus: tuple[int | None, int | None]
) -> dict[str, Any]:
    spec = server_specs()[name]
    if name.startswith("aiosio") and args.max_write_buffer_size is not None:
        spec = replace(
            spec, argv=(*spec.argv, "--max-write-buffer-size", str(args.max_write_buffer_size))
        )
    point = Point(
        scenario="slow_consumers",
        key="slow_consumers",
        title="slow consumers",
        mode="stall",
        gen_args={
            "clients": args.readers,
            "stalled": args.stalled,
            "payload-size": args.payload_size,
            "window": args.window,
        },
        metrics=(),
    )
    with started(spec, cpus[0], LOGS / f"slow_consumers-{name}.log") as server:
        result: dict[str, Any] = run_generator(point, server, cpus[1], args.duration, args.warmup)
    return result


def plot(results: dict[str, dict[str, Any]]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no plot)")
        return
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for name, result in results.items():
        series = result.get("rss_series") or []
        if series:
            ax.plot([t for t, _ in series], [rss / MIB for _, rss in series], label=name)
    ax.set_xlabel("seconds")
    ax.set_ylabel("server RSS (MiB)")
    ax.set_title("200 stalled + 10 reading clients, 16 KiB broadcasts")
    ax.legend()
    fig.tight_layout()
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(PLOT, dpi=100)
    print(f"plot: {PLOT.relative_to(ROOT)}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    cpus = choose_cpus(0, 1, not args.no_pin)
    results: dict[str, dict[str, Any]] = {}
    for name in args.servers.split(","):
        result = run_one(name, args, cpus)
        results[name] = result
        if not result.get("ok"):
            print(
                f"{name}: FAILED {result.get('error')}\n{result.get('stderr', '')}", file=sys.stderr
            )
    print(
        f"\n{args.stalled} stalled + {args.readers} reading clients, "
        f"{args.payload_size} B broadcasts, window {args.window}, {args.duration:g} s\n"
    )
    print(
        "| server | RSS before | RSS peak | growth | per reader (median) | msgs/s | stalled cut off |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        if not r.get("ok"):
            continue
        print(
            f"| {name} | {r['rss_before_bytes'] / MIB:.0f} MiB | {r['rss_peak_bytes'] / MIB:.0f} MiB "
            f"| {r['rss_growth_bytes'] / MIB:+.0f} MiB | {r['per_reader_median']} "
            f"| {r['per_reader_per_s']:.0f} | {r['stalled_cut_off']} / {r['stalled']} |"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "slow_consumers.json"
    out.write_text(json.dumps({"args": vars(args), "results": results}, indent=1))
    print(f"\nresults: {out.relative_to(ROOT)}")
    if not args.no_plot:
        plot(results)
    return 0 if all(r.get("ok") for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
