"""Run the benchmark suite: aiosio side by side with Node's socket.io and python-socketio.

    python bench/run.py                       # every scenario, every server, 3 runs each
    python bench/run.py --quick               # small sizes, short windows, 1 run: a smoke test
    python bench/run.py --scenario echo,bcast --servers node,aiosio

Each measurement starts a fresh server pinned to one core (``taskset -c 0``), runs the Node load
generator (bench/gen/loadgen.js) pinned to the other core, and stops the server. All traffic goes
to 127.0.0.1. Results: a Markdown table on stdout, bench/results/latest.json, and the throughput
plot (docs/img/throughput.png; bench/results/throughput-quick.png for --quick runs).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import math
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
LOGS = RESULTS / "logs"
GENERATOR = BENCH / "gen" / "loadgen.js"
PLOT_FULL = ROOT / "docs" / "img" / "throughput.png"
PLOT_QUICK = RESULTS / "throughput-quick.png"

SERVER_START_TIMEOUT_S = 20.0
SERVER_STOP_TIMEOUT_S = 5.0
SATURATED = 0.9

# ---------------------------------------------------------------------------------- servers


@dataclass(frozen=True)
class ServerSpec:
    """How to start one server under test; ``argv`` gets ``--port N`` appended."""

    name: str
    label: str
    argv: tuple[str, ...]
    env: dict[str, str | None] = field(default_factory=dict)


def server_specs() -> dict[str, ServerSpec]:
    """Every server the runner knows, by name."""
    py = sys.executable
    servers = BENCH / "servers"
    node = str(servers / "node_server.js")
    return {
        spec.name: spec
        for spec in (
            ServerSpec("node", "socket.io (Node)", ("node", node), {"WS_NO_BUFFER_UTIL": "1"}),
            ServerSpec(
                "node-bu",
                "socket.io (Node) + bufferutil",
                ("node", node),
                {"WS_NO_BUFFER_UTIL": None},
            ),
            ServerSpec("psio", "python-socketio (uvicorn)", (py, str(servers / "psio_server.py"))),
            ServerSpec("aiosio", "aiosio (embedded)", (py, str(servers / "aiosio_server.py"))),
            ServerSpec(
                "aiosio-async",
                "aiosio (embedded, async def handlers)",
                (py, str(servers / "aiosio_server.py"), "--async-handlers"),
            ),
            ServerSpec(
                "aiosio-metrics",
                "aiosio (embedded) + metrics",
                (py, str(servers / "aiosio_server.py"), "--metrics"),
            ),
            ServerSpec(
                "aiosio-asgi",
                "aiosio (ASGI, uvicorn)",
                (py, str(servers / "aiosio_server.py"), "--asgi"),
            ),
        )
    }


DEFAULT_SERVERS = ("node", "node-bu", "psio", "aiosio")

# ---------------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Metric:
    """One number taken from the generator's result (``path`` is dotted into the JSON)."""

    path: str
    name: str
    unit: str
    higher_is_better: bool


@dataclass(frozen=True)
class Point:
    """One measurement: a generator mode with fixed arguments, run against several servers."""

    scenario: str
    key: str
    title: str
    mode: str
    gen_args: dict[str, float]
    metrics: tuple[Metric, ...]
    servers: tuple[str, ...] | None = None
    subject: str = "aiosio"
    timed: bool = True


MSGS = Metric("per_s", "throughput", "msgs/s", True)
CPU_MSG = Metric("server_cpu_us_per_msg", "server CPU", "µs/msg", False)
P99 = Metric("latency.p99_ms", "p99 round trip", "ms", False)
ACKS = (
    Metric("per_s", "throughput", "acks/s", True),
    Metric("server_cpu_us_per_msg", "server CPU", "µs/ack", False),
)


def build_points(quick: bool) -> list[Point]:
    """The scenario table; ``quick`` shrinks every size so a smoke run takes a few seconds each."""
    curve = (10, 50) if quick else (10, 50, 100, 200)
    points: list[Point] = []
    for n in curve:
        metrics = (MSGS, CPU_MSG, P99) if n in (10, 100) else (MSGS, CPU_MSG)
        points.append(
            Point("echo", f"echo-{n}", f"echo, {n} clients", "echo", {"clients": n}, metrics)
        )
    n = 20 if quick else 100
    # The plain ack point, then echo and ack with async def handlers beside Node (plain functions)
    # and python-socketio (whose handlers are all coroutines).
    points.append(
        Point("ack", f"ack-{n}", f"ack round trips, {n} clients", "ack", {"clients": n}, ACKS)
    )
    for mode, what, metrics in (("echo", "echo", (MSGS, CPU_MSG)), ("ack", "ack", ACKS)):
        points.append(
            Point(
                "async",
                f"{mode}-async-{n}",
                f"{what} with async def handlers, {n} clients",
                mode,
                {"clients": n},
                metrics,
                servers=("node", "psio", "aiosio", "aiosio-async"),
                subject="aiosio-async",
            )
        )
    n = 5 if quick else 10
    points.append(
        Point(
            "binary",
            f"binary-{n}",
            f"64 KiB binary echo, {n} clients",
            "binary",
            {"clients": n, "payload-size": 65536},
            (MSGS, CPU_MSG, Metric("mib_per_s_each_way", "bandwidth", "MiB/s", True)),
        )
    )
    n = 200 if quick else 1000
    points.append(
        Point(
            "bcast",
            f"bcast-{n}",
            f"broadcast to {n} clients",
            "bcast",
            {"clients": n, "round-timeout": 2},
            (
                Metric("server_cpu_us_per_delivery", "server CPU", "µs/delivery", False),
                Metric("deliveries_per_s", "deliveries", "/s", True),
                Metric("time_to_all.p99_ms", "p99 time to all", "ms", False),
                Metric("lost_deliveries", "lost deliveries", "count", False),
            ),
        )
    )
    for n in (500,) if quick else (5000, 10000):
        points.append(
            Point(
                "idle",
                f"idle-{n}",
                f"{n} idle connections",
                "idle",
                {"clients": n, "concurrency": 100, "settle": 1 if quick else 3},
                (
                    Metric("rss_per_conn", "RSS", "bytes/conn", False),
                    Metric("server_cpu_us_per_connect", "server CPU", "µs/connect", False),
                ),
                timed=False,
            )
        )
    n = 20 if quick else 50
    points.append(
        Point(
            "connrate",
            f"connrate-{n}",
            f"handshakes, {n} concurrent",
            "connrate",
            {"concurrency": n},
            (
                Metric("per_s", "rate", "handshakes/s", True),
                Metric("server_cpu_us_per_handshake", "server CPU", "µs/handshake", False),
            ),
        )
    )
    n, rate = (20, 1000) if quick else (100, 2000)
    points.append(
        Point(
            "latency",
            f"latency-{n}",
            f"echo latency, {n} clients at {rate} msgs/s",
            "latency",
            {"clients": n, "rate": rate},
            (
                Metric("latency.p50_ms", "p50", "ms", False),
                Metric("latency.p99_ms", "p99", "ms", False),
                Metric("latency.max_ms", "max", "ms", False),
            ),
        )
    )
    n = 5 if quick else 50
    points.append(
        Point(
            "polling",
            f"polling-{n}",
            f"long-polling echo, {n} clients",
            "polling",
            {"clients": n},
            (MSGS, CPU_MSG),
        )
    )
    n = 20 if quick else 100
    points.append(
        Point(
            "asgi",
            f"asgi-{n}",
            f"ASGI on uvicorn: echo, {n} clients",
            "echo",
            {"clients": n},
            (MSGS, CPU_MSG),
            servers=("psio", "aiosio-asgi"),
            subject="aiosio-asgi",
        )
    )
    return points


SCENARIOS = (
    "echo",
    "async",
    "ack",
    "binary",
    "bcast",
    "idle",
    "connrate",
    "latency",
    "polling",
    "asgi",
)

# ---------------------------------------------------------------------------------- processes


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def pinned(cpu: int | None, argv: Sequence[str]) -> list[str]:
    """Prefix ``argv`` with ``taskset -c cpu`` when pinning is possible."""
    if cpu is None:
        return list(argv)
    return ["taskset", "-c", str(cpu), *argv]


class ServerStartError(Exception):
    """The server under test did not start (or died)."""


class RunningServer:
    """A started server process; ``stop()`` is bounded and idempotent."""

    def __init__(self, spec: ServerSpec, cpu: int | None, log_path: Path) -> None:
        self.spec = spec
        self.port = free_port()
        self.log_path = log_path
        env = dict(os.environ)
        for key, value in spec.env.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            pinned(cpu, [*spec.argv, "--port", str(self.port)]),
            cwd=BENCH,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        # taskset execs the server, so the child's pid is the server's pid.
        return self.proc.pid

    def wait_ready(self, timeout: float = SERVER_START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerStartError(
                    f"{self.spec.name} exited ({self.proc.returncode}): {self.tail()}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    pass
            except OSError:
                time.sleep(0.05)
                continue
            time.sleep(0.2)  # let the server finish whatever follows bind()
            return
        raise ServerStartError(f"{self.spec.name} not listening after {timeout}s: {self.tail()}")

    def tail(self, size: int = 1500) -> str:
        self._log.flush()
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return ""
        return data[-size:].decode(errors="replace").strip()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(SERVER_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(SERVER_STOP_TIMEOUT_S)
        self._log.close()


@contextlib.contextmanager
def started(spec: ServerSpec, cpu: int | None, log_path: Path) -> Iterator[RunningServer]:
    """Start ``spec``, wait for its port, and always stop it afterwards."""
    server = RunningServer(spec, cpu, log_path)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def run_generator(
    point: Point, server: RunningServer, cpu: int | None, duration: float, warmup: float
) -> dict[str, Any]:
    """Run the load generator once against ``server``; return its result object."""
    connect_timeout = 120 if point.mode == "idle" else 60
    argv = [
        "node",
        str(GENERATOR),
        "--mode",
        point.mode,
        "--port",
        str(server.port),
        "--server-pid",
        str(server.pid),
        "--clk-tck",
        str(os.sysconf("SC_CLK_TCK")),
        "--duration",
        str(duration),
        "--warmup",
        str(warmup),
        "--connect-timeout",
        str(connect_timeout),
    ]
    for key, value in point.gen_args.items():
        argv += [f"--{key}", f"{value:g}"]
    limit = connect_timeout + duration + warmup + point.gen_args.get("settle", 0) * 2 + 90
    try:
        out = subprocess.run(
            pinned(cpu, argv),
            cwd=BENCH,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=limit,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"generator exceeded {limit:.0f}s"}
    for line in reversed(out.stdout.decode(errors="replace").splitlines()):
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line[len("RESULT ") :])
            if not result.get("ok"):
                result["stderr"] = out.stderr.decode(errors="replace")[-1500:]
            return result
    return {
        "ok": False,
        "error": f"generator exited {out.returncode} without a result",
        "stderr": out.stderr.decode(errors="replace")[-1500:],
    }


# ---------------------------------------------------------------------------------- results


def lookup(result: dict[str, Any], path: str) -> float | None:
    """The number at dotted ``path`` in ``result``, or None."""
    value: Any = result
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def summarize(point: Point, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of each metric over the successful runs, plus the flags worth a note."""
    good = [r for r in runs if r.get("ok")]
    medians: dict[str, float | None] = {}
    for metric in point.metrics:
        values = [v for r in good if (v := lookup(r, metric.path)) is not None]
        medians[metric.path] = statistics.median(values) if values else None
    notes: list[str] = []
    if len(good) < len(runs):
        notes.append(f"{len(runs) - len(good)}/{len(runs)} runs failed")
    if any(r.get("gen_saturated") for r in good):
        notes.append("generator saturated")
    for key, label in (
        ("errors", "errors"),
        ("mismatches", "unexpected packets"),
        ("unexpected_closes", "disconnects"),
        ("connect_failures", "connect failures"),
        ("failures", "handshake failures"),
        ("round_timeouts", "round timeouts"),
    ):
        total = sum(int(r.get(key) or 0) for r in good)
        if total:
            notes.append(f"{label}: {total}")
    utils = [u for r in good if (u := lookup(r, "server_cpu_util")) is not None]
    gens = [u for r in good if (u := lookup(r, "gen_cpu_util")) is not None]
    return {
        "median": medians,
        "server_cpu_util": statistics.median(utils) if utils else None,
        "gen_cpu_util": statistics.median(gens) if gens else None,
        "notes": notes,
    }


def fmt(value: float | None, unit: str) -> str:
    """A table cell for ``value``."""
    if value is None:
        return "n/a"
    if unit in ("ms", "µs/msg", "µs/ack", "µs/delivery", "MiB/s"):
        return f"{value:,.2f}" if value < 10 else f"{value:,.1f}"
    return f"{value:,.0f}"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:.2f}"


def markdown(points: list[Point], results: dict[str, dict[str, Any]], servers: list[str]) -> str:
    """The results table: one row per metric, one column per server, then the ratios."""
    specs = server_specs()
    head = ["scenario", "metric", *[specs[s].name for s in servers]]
    head += ["aiosio/node", "aiosio/psio", "notes"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for point in points:
        per_server = results.get(point.key, {})
        if not per_server:
            continue
        for metric in point.metrics:
            cells = [point.title, f"{metric.name} ({metric.unit}, {better(metric)})"]
            for s in servers:
                summary = per_server.get(s)
                cells.append(fmt(summary["median"][metric.path], metric.unit) if summary else "")
            subject = per_server.get(point.subject, {}).get("median", {}).get(metric.path)
            node = per_server.get("node") or per_server.get("node-bu")
            psio = per_server.get("psio")
            cells.append(ratio(subject, node["median"][metric.path] if node else None))
            cells.append(ratio(subject, psio["median"][metric.path] if psio else None))
            notes = []
            if metric is point.metrics[0]:
                for s in servers:
                    summary = per_server.get(s)
                    if summary and summary["notes"]:
                        notes.append(f"{s}: {', '.join(summary['notes'])}")
            cells.append("; ".join(notes))
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def better(metric: Metric) -> str:
    return "higher is better" if metric.higher_is_better else "lower is better"


def plot(points: list[Point], results: dict[str, dict[str, Any]], path: Path) -> str:
    """Echo throughput against client count, one line per server; returns a status line."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        return "plot skipped: matplotlib is not installed (make bench installs it)"
    specs = server_specs()
    echo = [p for p in points if p.scenario == "echo" and p.key in results]
    if not echo:
        return "plot skipped: no echo results"
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    saturated_any = False
    styles = {"aiosio": "o-", "node": "s-", "node-bu": "s--", "psio": "^-", "aiosio-asgi": "o--"}
    for name in ("aiosio", "node", "node-bu", "psio"):
        xs, ys, sat_x, sat_y = [], [], [], []
        for p in echo:
            summary = results[p.key].get(name)
            value = summary["median"].get("per_s") if summary else None
            if value is not None:
                xs.append(p.gen_args["clients"])
                ys.append(value)
                if summary is not None and "generator saturated" in summary["notes"]:
                    sat_x.append(xs[-1])
                    sat_y.append(value)
        if xs:
            (line,) = ax.plot(xs, ys, styles[name], label=specs[name].label)
            if sat_x:
                saturated_any = True
                ax.plot(sat_x, sat_y, "o", ms=13, mfc="none", color=line.get_color())
    if saturated_any:
        ax.annotate(
            "circled: load generator saturated (a lower bound)",
            (0.01, 0.01),
            xycoords="axes fraction",
            fontsize=8,
        )
    ax.yaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
    ax.set_xlabel("clients (one message in flight each)")
    ax.set_ylabel("echo messages per second")
    ax.set_title("Socket.IO echo over WebSocket, server on one core")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return f"plot written to {path.relative_to(ROOT)}"


# ---------------------------------------------------------------------------------- environment


def command_output(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, timeout=10, check=False, cwd=ROOT)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.decode(errors="replace").strip()


def environment(quick: bool, cpus: tuple[int | None, int | None]) -> dict[str, Any]:
    """What a reader needs to judge the numbers."""
    versions: dict[str, str] = {}
    for dist in (
        "aiosio",
        "python-socketio",
        "python-engineio",
        "uvicorn",
        "websockets",
        "uvloop",
        "httptools",
        "orjson",
    ):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = "missing"
    for pkg in ("socket.io", "engine.io", "ws", "bufferutil"):
        try:
            manifest = json.loads((BENCH / "node_modules" / pkg / "package.json").read_text())
            versions[f"npm:{pkg}"] = manifest["version"]
        except (OSError, ValueError, KeyError):
            versions[f"npm:{pkg}"] = "missing"
    cpu_model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": quick,
        "git_commit": command_output(["git", "rev-parse", "HEAD"]),
        "python": platform.python_version(),
        "node": command_output(["node", "--version"]),
        "kernel": platform.release(),
        "cpu_model": cpu_model,
        "cpu_count": os.cpu_count(),
        "server_cpu": cpus[0],
        "generator_cpu": cpus[1],
        "loadavg_at_start": os.getloadavg(),
        "versions": versions,
    }


def choose_cpus(server_cpu: int, gen_cpu: int, pin: bool) -> tuple[int | None, int | None]:
    """The cores to pin to, or (None, None) when taskset or a second core is missing."""
    if not pin:
        return None, None
    available = os.sched_getaffinity(0)
    if shutil.which("taskset") is None or {server_cpu, gen_cpu} - available:
        print("warning: cannot pin (taskset or cores missing); running unpinned", file=sys.stderr)
        return None, None
    return server_cpu, gen_cpu


# ---------------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, short windows, 1 run")
    parser.add_argument("--scenario", default="", help=f"comma list of: {', '.join(SCENARIOS)}")
    parser.add_argument(
        "--servers", default="", help=f"comma list (default {','.join(DEFAULT_SERVERS)})"
    )
    parser.add_argument("--runs", type=int, help="runs per measurement (default 3; 1 with --quick)")
    parser.add_argument(
        "--duration", type=float, help="measured seconds (default 5; 2 with --quick)"
    )
    parser.add_argument(
        "--warmup", type=float, help="warm-up seconds (default 1; 0.5 with --quick)"
    )
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--gen-cpu", type=int, default=1)
    parser.add_argument("--no-pin", action="store_true", help="do not use taskset")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)
    args.runs = args.runs or (1 if args.quick else 3)
    args.duration = args.duration or (2.0 if args.quick else 5.0)
    args.warmup = args.warmup if args.warmup is not None else (0.5 if args.quick else 1.0)
    if not 1 <= args.runs <= 20 or not 0.5 <= args.duration <= 120 or not 0 <= args.warmup <= 60:
        parser.error("--runs 1..20, --duration 0.5..120, --warmup 0..60")
    return args


def select(items: str, known: Sequence[str], default: Sequence[str], what: str) -> list[str]:
    if not items:
        return list(default)
    chosen = [s.strip() for s in items.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in known]
    if unknown:
        raise SystemExit(f"unknown {what}: {', '.join(unknown)} (known: {', '.join(known)})")
    return chosen


def point_servers(point: Point, servers: list[str], *, explicit: bool) -> list[str]:
    """The servers to run ``point`` against: its own pair, or the chosen ones."""
    if point.servers is None:
        return servers
    if not explicit:
        return list(point.servers)
    wanted = set(servers) | ({"aiosio-asgi", "aiosio-async"} if "aiosio" in servers else set())
    return [s for s in point.servers if s in wanted]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    specs = server_specs()
    scenarios = select(args.scenario, SCENARIOS, SCENARIOS, "scenario")
    servers = select(args.servers, list(specs), DEFAULT_SERVERS, "server")
    if not GENERATOR.exists() or not (BENCH / "node_modules" / "ws").exists():
        raise SystemExit("run `npm ci --prefix bench` first (or `make bench`)")
    cpus = choose_cpus(args.server_cpu, args.gen_cpu, not args.no_pin)
    meta = environment(args.quick, cpus)
    load1 = meta["loadavg_at_start"][0]
    if load1 > 0.5:
        print(f"warning: load average {load1:.2f}; numbers will be noisy", file=sys.stderr)

    points = [p for p in build_points(args.quick) if p.scenario in scenarios]
    broken: dict[str, str] = {}
    raw: dict[str, dict[str, list[dict[str, Any]]]] = {}
    summaries: dict[str, dict[str, Any]] = {}
    for point in points:
        targets = point_servers(point, servers, explicit=bool(args.servers))
        for name in targets:
            runs = raw.setdefault(point.key, {}).setdefault(name, [])
            for i in range(args.runs):
                if name in broken:
                    break
                log_path = LOGS / f"{point.key}-{name}-{i + 1}.log"
                started_at = time.monotonic()
                try:
                    with started(specs[name], cpus[0], log_path) as server:
                        result = run_generator(point, server, cpus[1], args.duration, args.warmup)
                except ServerStartError as exc:
                    broken[name] = str(exc)
                    print(
                        f"{point.key:>14} {name:<12} server failed, skipped from now on: "
                        f"{str(exc).splitlines()[-1]}",
                        file=sys.stderr,
                    )
                    break
                runs.append(result)
                progress(point, name, i, result, time.monotonic() - started_at)
            if runs:
                summaries.setdefault(point.key, {})[name] = summarize(point, runs)

    ran = {name for per_point in raw.values() for name in per_point}
    shown = [*servers, *(s for s in specs if s in ran and s not in servers)]
    table = markdown(points, summaries, shown)
    print()
    print(table)
    for name, why in broken.items():
        print(f"\n{name} unavailable: {why.splitlines()[-1] if why else ''}")

    report = {
        "meta": meta | {"runs": args.runs, "duration_s": args.duration, "warmup_s": args.warmup},
        "servers": {s: specs[s].label for s in shown},
        "broken": broken,
        "points": [
            {
                "key": p.key,
                "scenario": p.scenario,
                "title": p.title,
                "mode": p.mode,
                "gen_args": p.gen_args,
                "metrics": [m.__dict__ for m in p.metrics],
                "summary": summaries.get(p.key, {}),
                "runs": raw.get(p.key, {}),
            }
            for p in points
        ],
        "table_markdown": table,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, default=str) + "\n")
    print(f"\nresults written to {args.out}")
    if not args.no_plot and "echo" in scenarios:
        print(plot(points, summaries, PLOT_QUICK if args.quick else PLOT_FULL))
    return 0


def progress(point: Point, name: str, i: int, result: dict[str, Any], took: float) -> None:
    """One line per run on stderr, so a long run shows where it is."""
    first = point.metrics[0]
    value = lookup(result, first.path)
    status = fmt(value, first.unit) + f" {first.unit}" if result.get("ok") else result.get("error")
    extra = ""
    util = lookup(result, "server_cpu_util")
    gen = lookup(result, "gen_cpu_util")
    if util is not None and gen is not None:
        extra = f" (server CPU {util:.0%}, generator CPU {gen:.0%})"
    print(f"{point.key:>14} {name:<12} run {i + 1}: {status}{extra} [{took:.1f}s]", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
