"""Shared pieces of the benchmarks: statistics, the result table, JSON output, fake Ollamas.

Nothing here asserts on time: a benchmark measures, prints and writes; it never fails a build.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import platform
import select
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
TESTS = ROOT / "tests"

# ---------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear between the closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100.0
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def median(values: Iterable[float]) -> float:
    items = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.median(items) if items else math.nan


def summary(values: Sequence[float]) -> dict[str, float]:
    """n, median, p90, p99, max, mean of a list of samples."""
    return {
        "n": len(values),
        "median": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": max(values) if values else math.nan,
        "mean": statistics.fmean(values) if values else math.nan,
    }


def summary_ms(values: Sequence[float]) -> dict[str, float]:
    """n, median, p99 and max of durations in seconds, as milliseconds (for the JSON files)."""
    return {
        "n": len(values),
        "median_ms": percentile(values, 50) * 1000,
        "p99_ms": percentile(values, 99) * 1000,
        "max_ms": max(values) * 1000 if values else math.nan,
    }


def spread(values: Sequence[float]) -> str:
    """'min..max' of per-repeat values, for the notes under a table."""
    items = [v for v in values if v is not None and not math.isnan(v)]
    if not items:
        return "-"
    return f"{min(items):.4g}..{max(items):.4g}"


# ---------------------------------------------------------------- the table


@dataclass
class Row:
    """One line of a result table: `ours` against `baseline`, and the goal."""

    metric: str
    ours: float | int | str | None
    baseline: float | int | str | None = None
    unit: str = ""
    goal: str = ""
    met: bool | None = None
    ratio: float | None = None  # default: ours / baseline when both are numbers

    def __post_init__(self) -> None:
        if (
            self.ratio is None
            and isinstance(self.ours, (int, float))
            and isinstance(self.baseline, (int, float))
            and self.baseline
            and not math.isnan(float(self.baseline))
        ):
            self.ratio = float(self.ours) / float(self.baseline)

    def cells(self) -> list[str]:
        met = "-" if self.met is None else ("yes" if self.met else "NO")
        ratio = "-" if self.ratio is None or math.isnan(self.ratio) else f"{self.ratio:.2f}x"
        return [
            self.metric,
            fmt(self.ours, self.unit),
            fmt(self.baseline, self.unit),
            ratio,
            self.goal or "-",
            met,
        ]

    def as_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "ours": _jsonable(self.ours),
            "baseline": _jsonable(self.baseline),
            "unit": self.unit,
            "ratio": _jsonable(self.ratio),
            "goal": self.goal,
            "met": self.met,
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value


def fmt(value: float | int | str | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and unit == ""):
        text = f"{int(value)}"
    elif abs(value) >= 100:
        text = f"{value:.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    return f"{text} {unit}".rstrip()


HEADER = ["metric", "ours", "baseline", "ratio", "goal", "met?"]


def render_table(title: str, rows: Sequence[Row], notes: Sequence[str] = ()) -> str:
    table = [HEADER, *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    out = [f"== {title} =="]
    for n, line in enumerate(table):
        out.append(" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip())
        if n == 0:
            out.append("-+-".join("-" * w for w in widths))
    out.extend(f"  {note}" for note in notes)
    return "\n".join(out)


# ---------------------------------------------------------------- the run and its JSON


@dataclass
class Run:
    """One benchmark run: its options, its rows and raw numbers, written to bench/results/."""

    name: str
    quick: bool
    started: float = field(default_factory=time.time)
    load_start: tuple[float, ...] = field(default_factory=lambda: tuple(os.getloadavg()))
    raw: dict[str, Any] = field(default_factory=dict)

    def finish(self, title: str, rows: Sequence[Row], notes: Sequence[str] = ()) -> Path:
        load_end = tuple(os.getloadavg())
        notes = [
            *notes,
            f"load average at start {self.load_start[0]:.2f}, at end {load_end[0]:.2f} "
            f"({os.cpu_count()} CPUs; other processes share them, so read ratios, not absolutes)",
        ]
        print(render_table(title, rows, notes), flush=True)
        RESULTS.mkdir(parents=True, exist_ok=True)
        data = {
            "bench": self.name,
            "title": title,
            "quick": self.quick,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.started)),
            "seconds": round(time.time() - self.started, 2),
            "machine": {
                "python": platform.python_version(),
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "loadavg_start": self.load_start,
                "loadavg_end": load_end,
            },
            "git": git_revision(),
            "rows": [row.as_json() for row in rows],
            "notes": list(notes),
            "raw": self.raw,
        }
        path = RESULTS / f"{self.name}.json"
        path.write_text(json.dumps(data, indent=2, default=_json_default) + "\n", "utf-8")
        print(f"  results: {path.relative_to(ROOT)}", flush=True)
        return path


def _json_default(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    return repr(value)


def git_revision() -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    rev = out.stdout.strip()
    if not rev:
        return None
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        timeout=5,
        check=False,
    ).stdout.strip()
    return rev + ("-dirty" if dirty else "")


def arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a short run (fewer samples)")
    parser.add_argument(
        "--repeats", type=int, default=None, help="how many times to repeat the measurement"
    )
    return parser


# ---------------------------------------------------------------- fake Ollama in a process


class FakeHost:
    """FakeOllama servers (tests/fake_ollama.py) in a child process, steered over a pipe.

    The fakes run in their own interpreter so that their threads never compete with the client
    under test for the GIL; on a 2-core machine each side then has a core.
    """

    def __init__(self, count: int = 1, *, nagle: bool = False, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self._lock = threading.Lock()
        argv = [sys.executable, str(BENCH / "fake_host.py"), "--count", str(count)]
        self.proc = subprocess.Popen(
            [*argv, "--nagle"] if nagle else argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        hello = self._read()
        self.urls: list[str] = hello["urls"]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> dict[str, Any]:
        stdout = self.proc.stdout
        assert stdout is not None
        ready, _, _ = select.select([stdout], [], [], self.timeout)
        if not ready:
            self.close()
            raise RuntimeError("the fake Ollama host did not answer in time")
        line = stdout.readline()
        if not line:
            raise RuntimeError("the fake Ollama host exited")
        return json.loads(line)

    def call(self, op: str, **args: Any) -> Any:
        with self._lock:
            stdin = self.proc.stdin
            assert stdin is not None
            stdin.write(json.dumps({"op": op, **args}) + "\n")
            stdin.flush()
            reply = self._read()
        if not reply.get("ok"):
            raise RuntimeError(f"fake host {op} failed: {reply.get('error')}")
        return reply.get("result")

    def set(self, index: int | None = None, **attrs: Any) -> None:
        """Set FakeOllama attributes (latency, max_concurrent, reply, ...) on one or all."""
        self.call("set", index=index, attrs=attrs)

    def fail(self, index: int, mode: str | None, **kw: Any) -> None:
        self.call("fail", index=index, mode=mode, kw=kw)

    def stats(self) -> list[dict[str, Any]]:
        return self.call("stats")

    def reset(self) -> None:
        """Forget recorded requests (the counters in stats start again from zero)."""
        self.call("reset")

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(Exception):
                assert self.proc.stdin is not None
                self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.proc.stdin.flush()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(Exception):
                if stream is not None:
                    stream.close()

    def __enter__(self) -> FakeHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------- configs and documents


def client_config(
    urls: Sequence[str],
    *,
    strategy: str = "round_robin",
    first_byte: float = 30.0,
    cooldown: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Config overrides giving the generator role these endpoints (loopback only)."""
    for url in urls:
        assert url.startswith("http://127.0.0.1:"), url
    section: dict[str, Any] = {
        "base_url": urls[0] if urls else "http://127.0.0.1:9",
        "timeouts": {"connect": 2, "first_byte": first_byte, "idle": 10, "total": 120},
        "models": {
            "generator": {"model": "codellama", "endpoints": list(urls), "strategy": strategy},
            "overseer": {"model": "llama3", "endpoints": list(urls)},
            "evaluator": {"model": "llama3", "endpoints": list(urls)},
        },
    }
    if cooldown:
        section["cooldown"] = cooldown
    return {"ollama": section}


def quiet_client_logs() -> None:
    """Keep the client's per-failure warnings off the table output (they are counted instead)."""
    logger = logging.getLogger("code_evolver")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
        logger.propagate = False


def make_client(urls: Sequence[str], **kw: Any) -> Any:
    """An OllamaClient over `urls` built from overrides only (no config file is looked for)."""
    from code_evolver import ConfigManager, OllamaClient

    quiet_client_logs()
    config = ConfigManager(overrides=client_config(urls, **kw), discover=False)
    return OllamaClient(config_manager=config)


def server_env(home: Path) -> dict[str, str]:
    """Environment for a language server under test: no user config, no proxies."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "CODE_EVOLVER_CONFIG" and "proxy" not in k.lower()
    }
    env["XDG_CONFIG_HOME"] = str(home / "xdg")
    env["HOME"] = str(home)
    env["NO_PROXY"] = "127.0.0.1,localhost"
    return env


def big_python_file(total_lines: int = 2000) -> tuple[str, list[int], int]:
    """A Python module of `total_lines` lines with many functions, some stubs and one bug.

    Returns (text, lines of the stubs' `def`, line of the bug), lines 0-based.
    """
    lines = [
        '"""A generated module for the editor benchmarks."""',
        "",
        "from __future__ import annotations",
        "",
        "import math",
        "",
        "",
    ]
    stubs: list[int] = []
    bug = -1
    n = 0
    while len(lines) < total_lines - 12:
        n += 1
        if n % 7 == 0:
            stubs.append(len(lines))
            lines += [
                f"def stub_{n}(items: list[str], limit: int = {n}) -> list[str]:",
                f'    """Return at most limit items of group {n}, longest first."""',
                "    pass",
                "",
                "",
            ]
        elif n % 23 == 0:
            stubs.append(len(lines))
            lines += [f"# generate: a function that returns the median of {n} floats", "", ""]
        elif n == 97:
            lines += [
                f"def ratio_{n}(total: float, count: int) -> float:",
                '    """The average, or a crash when count is zero."""',
                "    return total / (count - count)",
            ]
            bug = len(lines) - 1
            lines += ["", ""]
        else:
            lines += [
                f"def func_{n}(values: list[int], scale: int = {n % 5 + 1}) -> float:",
                f'    """The scaled total of values for case {n}."""',
                "    total = 0",
                "    for value in values:",
                f"        if value % 3 == {n % 3}:",
                "            total += value * scale",
                "        else:",
                "            total -= math.floor(value / 2)",
                f"    return total + {n}",
                "",
                "",
            ]
    while len(lines) < total_lines - 1:
        lines.append(f"CONSTANT_{len(lines)} = {len(lines)}")
    lines.append('print("done")')
    return "\n".join(lines) + "\n", stubs, bug
