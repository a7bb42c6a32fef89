"""Backoff: the reference's delays, checked against fixed draws and against the npm module itself."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator

from aiosio.client import Backoff
from tests.support.requires import require, require_node

from .servers import ROOT

BACKO2 = ROOT / "node_modules" / "socket.io-client" / "build" / "cjs" / "contrib" / "backo2.js"


def draws(values: list[float]) -> Callable[[], float]:
    it: Iterator[float] = iter(values)
    return lambda: next(it)


def test_exponential_without_jitter() -> None:
    backoff = Backoff(min_delay=0.05, max_delay=0.3, jitter=0)
    assert [backoff.duration() for _ in range(5)] == [0.05, 0.1, 0.2, 0.3, 0.3]
    assert backoff.attempts == 5
    backoff.reset()
    assert backoff.attempts == 0
    assert backoff.duration() == 0.05


def test_jitter_adds_or_subtracts_by_the_draw() -> None:
    backoff = Backoff(
        min_delay=1.0, max_delay=5.0, jitter=0.5, random=draws([0.1, 0.25, 0.9, 0.0, 0.2])
    )
    # 1000 + 50 (odd tenth), 2000 - 250 (even), 4000 + 1800 capped, 8000 capped, 16000 - 1600 capped
    assert [backoff.duration() for _ in range(5)] == [1.05, 1.75, 5.0, 5.0, 5.0]
    backoff.reset()
    backoff.random = draws([0.2, 0.3])
    assert [backoff.duration(), backoff.duration()] == [0.9, 2.3]


def test_huge_attempt_counts_stay_at_the_maximum() -> None:
    backoff = Backoff(min_delay=1.0, max_delay=5.0, jitter=0.5, random=lambda: 0.7)
    backoff.attempts = 5000
    assert backoff.duration() == 5.0


def test_same_delays_as_the_reference_module() -> None:
    node = require_node("socket.io-client")
    require(f"{BACKO2} (npm socket.io-client)", BACKO2.exists())
    values = [i / 37 for i in range(37)] * 2
    script = f"""
const {{ Backoff }} = require({json.dumps(str(BACKO2))});
const values = {json.dumps(values)};
let i = 0;
Math.random = () => values[i++];
const out = [];
for (const [min, max, jitter] of [[1000, 5000, 0.5], [50, 2000, 0.3], [100, 100000, 1]]) {{
  const b = new Backoff({{ min, max, jitter }});
  for (let n = 0; n < 12; n++) out.push(b.duration());
}}
console.log(JSON.stringify(out));
"""
    result = subprocess.run([node, "-e", script], capture_output=True, text=True, check=True)
    expected = [ms / 1000 for ms in json.loads(result.stdout)]
    it = iter(values)
    ours: list[float] = []
    for low, high, jitter in [(1.0, 5.0, 0.5), (0.05, 2.0, 0.3), (0.1, 100.0, 1.0)]:
        backoff = Backoff(min_delay=low, max_delay=high, jitter=jitter, random=lambda: next(it))
        ours.extend(backoff.duration() for _ in range(12))
    assert ours == expected
