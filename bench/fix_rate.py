#!/usr/bin/env python3
"""Fix-rate benchmark: how many of the small buggy programs in bench/fixrate/ a model fixes.

Each program directory holds `prog.py` (with one bug), `test_prog.py` (pytest tests that fail on
the bug) and `solution.py` (a correct version the tests pass on). For every program this copies
prog.py to a temporary workspace, runs Code Evolver's FixSession on it (the same loop as
`code-evolver fix`), and then checks the result independently by running the tests on the
original and on the result. Two modes:

    visible    test_prog.py is in the workspace: the loop runs the tests too
    hidden     only prog.py, as most users' files are; the tests judge the result afterwards

and two loops (--loops), each at the same wall-clock budget per program (--budget):

    sequential   1 candidate per round, 3 rounds, 1 server
    parallel     fix.candidates 4, 3 rounds, 2 servers (the loop asks as many at once as the
                 servers serve: llama.cpp's Python server one each, so 2 per round)
    sequential-pool
                 1 candidate per round, 3 rounds, on the parallel loop's 2 servers: the same
                 endpoints with one candidate at a time, so that only the loop differs

Per run: claimed fixed (the loop's message says "Fixed"), truly fixed (every test passes on
what it returned), the precision of the claim (truly / claimed), edits that made things worse
(must never happen), and wall-clock time.

    python bench/fix_rate.py --local [MODEL] [--loops L,L] [--modes M,M] [--budget S]
    python bench/fix_rate.py --config CONFIG --loops sequential [--attempts N] [--only NAME,...]
    python bench/fix_rate.py --verify-corpus   # buggy versions fail, solutions pass

--local starts the llama.cpp servers itself (scripts/local_model.py; one per core for the
parallel and sequential-pool loops, one with every core for the sequential one). The table
goes to stdout, the JSON to bench/results/fix_rate.json (or --json PATH).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import dataclasses
import datetime
import difflib
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CORPUS = HERE / "fixrate" / "programs"
DEFAULT_JSON = HERE / "results" / "fix_rate.json"

try:
    import code_evolver  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT / "server"))

sys.path.insert(0, str(ROOT / "scripts"))

import local_model  # noqa: E402

from code_evolver.cancel import Cancelled, CancelToken  # noqa: E402
from code_evolver.config import ConfigError, ConfigManager  # noqa: E402
from code_evolver.llm import LLMError, OllamaClient  # noqa: E402
from code_evolver.pipeline.fix_loop import FixSession  # noqa: E402
from code_evolver.values import Target  # noqa: E402

_COUNTS = re.compile(r"(\d+) (passed|failed|errors?)\b")
_TEST_DEF = re.compile(r"^def (test_\w+)", re.MULTILINE)


# ---------------------------------------------------------------- running a program's tests


@dataclass(frozen=True)
class TestRun:
    """The tests of one program run against one version of prog.py."""

    total: int
    passed: int
    failed: int
    timed_out: bool
    seconds: float
    output: str = ""

    @property
    def all_pass(self) -> bool:
        return self.passed == self.total and self.failed == 0 and not self.timed_out


def _has_pytest_timeout() -> bool:
    import importlib.util

    return importlib.util.find_spec("pytest_timeout") is not None


def run_tests(source: str, program: Path, per_test_timeout: float = 5.0) -> TestRun:
    """Run program/test_prog.py against `source` as prog.py, in a fresh temporary directory."""
    tests = (program / "test_prog.py").read_text(encoding="utf-8")
    total = len(_TEST_DEF.findall(tests))
    with tempfile.TemporaryDirectory(prefix="fixrate-tests-") as tmp:
        Path(tmp, "prog.py").write_text(source, encoding="utf-8")
        Path(tmp, "test_prog.py").write_text(tests, encoding="utf-8")
        argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        argv += ["--rootdir", tmp, "--override-ini", "addopts="]
        if _has_pytest_timeout():
            argv.append(f"--timeout={per_test_timeout:g}")
        argv.append("test_prog.py")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONPATH"] = tmp
        started = time.monotonic()
        limit = per_test_timeout * max(total, 1) + 30
        try:
            done = subprocess.run(
                argv, cwd=tmp, env=env, capture_output=True, text=True, timeout=limit, check=False
            )
        except subprocess.TimeoutExpired as exc:
            out = (exc.stdout or b"").decode("utf-8", "replace") if exc.stdout else ""
            return TestRun(total, 0, total, True, time.monotonic() - started, out[-2000:])
        seconds = time.monotonic() - started
    output = done.stdout + done.stderr
    counts: dict[str, int] = {}
    for number, kind in _COUNTS.findall(output[-3000:]):
        counts["error" if kind.startswith("error") else kind] = int(number)
    passed = counts.get("passed", 0)
    failed = counts.get("failed", 0) + counts.get("error", 0)
    if done.returncode != 0 and passed + failed == 0:
        failed = total  # collection failed (a syntax error) or pytest could not start
    timed_out = "Timeout (>" in output
    return TestRun(total, passed, failed, timed_out, seconds, output[-2000:])


def programs(only: Sequence[str] = ()) -> list[Path]:
    found = sorted(p for p in CORPUS.iterdir() if (p / "prog.py").is_file())
    if only:
        wanted = set(only)
        unknown = wanted - {p.name for p in found}
        if unknown:
            raise SystemExit(f"fix_rate: unknown program(s): {', '.join(sorted(unknown))}")
        found = [p for p in found if p.name in wanted]
    return found


# ---------------------------------------------------------------- --verify-corpus


def verify_corpus(only: Sequence[str] = ()) -> int:
    """Every buggy prog.py must fail its tests and every solution.py must pass them."""
    bad = 0
    print(f"{'program':28} {'buggy':>12} {'solution':>12}  verdict")
    chosen = programs(only)

    def both(program: Path) -> tuple[TestRun, TestRun]:
        return (
            run_tests((program / "prog.py").read_text(encoding="utf-8"), program),
            run_tests((program / "solution.py").read_text(encoding="utf-8"), program),
        )

    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        runs = list(pool.map(both, chosen))
    for program, (buggy, good) in zip(chosen, runs, strict=True):
        problems = []
        if buggy.all_pass:
            problems.append("tests pass on the buggy version")
        if not good.all_pass:
            problems.append("tests fail on the solution")
        if buggy.total < 1:
            problems.append("no tests")
        bad += bool(problems)
        print(
            f"{program.name:28} {buggy.passed:>5}/{buggy.total:<6} {good.passed:>5}/{good.total:<6}"
            f"  {'ok' if not problems else 'BAD: ' + '; '.join(problems)}"
        )
        if problems and not good.all_pass:
            print(good.output, file=sys.stderr)
    count = len(chosen)
    print(f"\n{count - bad} of {count} programs are sound" + ("" if not bad else f"; {bad} bad"))
    return 1 if bad else 0


# ---------------------------------------------------------------- one fix loop on one program


@dataclass(frozen=True)
class Loop:
    """How the fix loop runs: candidates per round, rounds, and the servers it gets."""

    name: str
    candidates: int
    attempts: int
    servers: int  # endpoints of the generator role (llama.cpp servers with --local)


LOOPS = {
    "sequential": Loop("sequential", candidates=1, attempts=3, servers=1),
    "parallel": Loop("parallel", candidates=4, attempts=3, servers=2),
    "sequential-pool": Loop("sequential-pool", candidates=1, attempts=3, servers=2),
}
MODES = ("visible", "hidden")  # does the loop see test_prog.py, or only prog.py?


@dataclass
class Result:
    name: str
    status: str  # fixed, improved, no gain, unchanged, worse, error, out of time
    claimed: bool  # the loop said "Fixed"
    truly: bool  # every hidden test passes on what the loop returned
    attempt: int | None  # the attempt (round) FixSession ended on, when it changed the file
    model_calls: int
    seconds: float
    endpoints: list[str]
    before: str  # "passed/total"
    after: str
    message: str
    worse_than_original: bool = False
    loop_verdict: str = ""  # Outcome.verdict: fixed, fixed_here, partial, or "" (no edit)
    diff_lines: int = 0
    diff: str = ""
    steps: list[str] = field(default_factory=list)


def _diff(a: str, b: str) -> list[str]:
    return list(
        difflib.unified_diff(
            a.splitlines(), b.splitlines(), "a/prog.py", "b/prog.py", lineterm="", n=1
        )
    )


def _diff_size(lines: list[str]) -> int:
    return sum(1 for line in lines[2:] if line[:1] in "+-")


def says_fixed(message: str) -> bool:
    """The loop's claim, read as the user reads it: the message starts with "Fixed"."""
    return message.startswith("Fixed")


def fix_one(
    program: Path,
    client: OllamaClient,
    config: ConfigManager,
    attempts: int,
    *,
    mode: str = "visible",
    budget: float | None = None,
) -> Result:
    source = (program / "prog.py").read_text(encoding="utf-8")
    before = run_tests(source, program)
    steps: list[str] = []
    workspace = Path(tempfile.mkdtemp(prefix=f"fixrate-{program.name}-"))
    cancel = CancelToken()
    timer = threading.Timer(budget, cancel.cancel) if budget else None
    started = time.monotonic()

    def failed(status: str, message: str) -> Result:
        score = f"{before.passed}/{before.total}"
        return Result(
            program.name, status, False, False, None, 0, time.monotonic() - started, [],
            score, score, message, steps=steps,
        )  # fmt: skip

    try:
        shutil.copyfile(program / "prog.py", workspace / "prog.py")
        if mode == "visible":
            shutil.copyfile(program / "test_prog.py", workspace / "test_prog.py")
        target = Target(str(workspace / "prog.py"), "python", str(workspace))
        if timer is not None:
            timer.start()
        try:
            with FixSession(
                client,
                config.settings,
                target,
                on_step=steps.append,
                max_attempts=attempts,
                cancel=cancel,
            ) as session:
                outcome = session.fix(source, [], whole_file=False)
        except Cancelled:
            return failed("out of time", f"stopped after the budget of {budget:g} s")
        except LLMError as exc:
            return failed("error", f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
        seconds = time.monotonic() - started
    finally:
        if timer is not None:
            timer.cancel()
        shutil.rmtree(workspace, ignore_errors=True)
    calls = len(outcome.endpoints)
    claimed = says_fixed(outcome.message)
    score = f"{before.passed}/{before.total}"
    if outcome.new_source is None:
        return Result(
            program.name, "unchanged", claimed, False, None, calls, seconds,
            list(outcome.endpoints), score, score, outcome.message, steps=steps,
        )  # fmt: skip
    after = run_tests(outcome.new_source, program)
    diff = _diff(source, outcome.new_source)
    worse = after.passed < before.passed or (after.timed_out and not before.timed_out)
    if worse:
        status = "worse"
    elif after.all_pass:
        status = "fixed"
    elif after.passed > before.passed:
        status = "improved"
    else:
        status = "no gain"  # the run got better (FixSession's view) but no test more passes
    return Result(
        program.name,
        status,
        claimed,
        after.all_pass,
        outcome.attempts,
        calls,
        seconds,
        list(outcome.endpoints),
        score,
        f"{after.passed}/{after.total}",
        outcome.message,
        worse_than_original=worse,
        loop_verdict=getattr(outcome, "verdict", ""),
        diff_lines=_diff_size(diff),
        diff="\n".join(diff),
        steps=steps,
    )


# ---------------------------------------------------------------- totals and tables


def summarize(results: list[Result], attempts: int, wall: float | None = None) -> dict[str, Any]:
    claimed = [r for r in results if r.claimed]
    truly = [r for r in results if r.truly]
    fixed = [r for r in results if r.status == "fixed"]
    times = [r.seconds for r in results if r.status != "error"]
    fix_times = [r.seconds for r in truly]
    endpoints: dict[str, int] = {}
    for r in results:
        for url in r.endpoints:
            endpoints[url] = endpoints.get(url, 0) + 1
    right = sum(1 for r in claimed if r.truly)
    return {
        "programs": len(results),
        "attempts": attempts,
        "claimed_fixed": len(claimed),
        "truly_fixed": len(truly),
        "claimed_and_truly": right,
        "precision": round(right / len(claimed), 3) if claimed else None,
        "truly_not_claimed": sum(1 for r in truly if not r.claimed),
        "fixed_on_attempt_1": sum(1 for r in fixed if r.attempt == 1),
        f"fixed_by_attempt_{attempts}": len(fixed),
        "changed_not_truly": sum(1 for r in results if r.diff and not r.truly),
        "never_fixed": len(results) - len(truly),
        "worse": sum(1 for r in results if r.worse_than_original),
        "errors": sum(1 for r in results if r.status == "error"),
        "out_of_time": sum(1 for r in results if r.status == "out of time"),
        "model_calls": sum(r.model_calls for r in results),
        "seconds_total": round(sum(times), 1),
        "wall_clock": round(wall if wall is not None else sum(times), 1),
        "seconds_per_program_mean": round(statistics.mean(times), 2) if times else None,
        "seconds_per_fix_mean": round(statistics.mean(fix_times), 2) if fix_times else None,
        "seconds_per_fix_median": round(statistics.median(fix_times), 2) if fix_times else None,
        "requests_per_endpoint": endpoints,
    }


def verdict(r: Result) -> str:
    """One cell: what the loop said against what the tests found."""
    if r.status in ("error", "out of time", "worse"):
        return r.status
    if r.claimed:
        return "fixed" if r.truly else "WRONG"  # "Fixed", and a hidden test still fails
    if r.truly:
        return "unclaimed"  # every test passes, but the loop did not say "Fixed"
    return "partial" if r.diff else "-"


def render(columns: dict[str, list[Result]], summaries: dict[str, dict[str, Any]]) -> str:
    """Per program a cell per run, then the totals, one column per run."""
    names = list(columns)
    width = max(12, *(len(n) for n in names))
    head = f"{'program':28}" + "".join(f" {n:>{width}}" for n in names)
    lines = [head, "-" * len(head)]
    first = columns[names[0]]
    for row, result in enumerate(first):
        cells = []
        for name in names:
            r = columns[name][row]
            cells.append(f" {verdict(r) + f' {r.seconds:.0f}s':>{width}}")
        lines.append(f"{result.name:28}" + "".join(cells))
    lines.append("-" * len(head))

    def row(label: str, key: str | None = None, show: Any = None) -> None:
        values = [
            show(summaries[n]) if show else summaries[n].get(key or "") for n in names
        ]  # fmt: skip
        cells = "".join(f" {'-' if v is None else v!s:>{width}}" for v in values)
        lines.append(f"{label:28}" + cells)

    row("programs", "programs")
    row("claimed fixed", "claimed_fixed")
    row("truly fixed", "truly_fixed")
    row("precision (truly/claimed)", "precision")
    row("truly fixed, not claimed", "truly_not_claimed")
    row("changed, not truly fixed", "changed_not_truly")
    row("made worse", "worse")
    row("errors / out of time", show=lambda s: f"{s['errors']} / {s['out_of_time']}")
    row("model calls", "model_calls")
    row("wall-clock (s)", "wall_clock")
    row("per program mean (s)", "seconds_per_program_mean")
    row("per true fix mean (s)", "seconds_per_fix_mean")
    return "\n".join(lines)


# ---------------------------------------------------------------- configs and servers


def local_config(model: str, urls: list[str]) -> dict[str, Any]:
    """A config for the local llama.cpp servers, as scripts/try_local.sh writes it."""
    spec = local_model.MODELS[model]
    return {
        "ollama": {
            "api": "openai",
            "timeouts": {"connect": 5, "first_byte": 120, "idle": 60, "total": 600},
            # A fresh seed per run; the parallel loop gives each candidate its own.
            "options": {
                "num_predict": 512,
                "temperature": 0.2,
                "seed": random.randrange(1, 2**31 - 1),
            },
            "models": {
                role: {"model": model, "endpoints": list(urls)}
                for role in ("generator", "overseer", "evaluator")
            },
        },
        # pytest alone takes 5-7 s to start on a 2-core machine under a load of 10; a shorter
        # limit fails every test run (the infinite-loop programs pay this per candidate).
        "fix": {"run_timeout": 15},
        # About 3 characters a token; the reply gets up to 512 tokens of the context.
        "max_prompt_chars": 4000 if spec.n_ctx <= 2048 else 8000,
    }


def configure(config: ConfigManager, loop: Loop, run_timeout: float | None) -> ConfigManager:
    """`config` with the loop's candidates and attempts and its first `loop.servers` endpoints."""
    fix = config.settings.fix
    changes: dict[str, Any] = {"max_attempts": loop.attempts}
    if run_timeout:
        changes["run_timeout"] = run_timeout
    if hasattr(fix, "candidates"):
        changes["candidates"] = loop.candidates
    elif loop.candidates > 1:
        raise SystemExit(
            f"fix_rate: the {loop.name} loop needs fix.candidates, which this checkout's "
            "fix loop does not have yet"
        )
    roles = dict(config.settings.roles)
    generator = roles["generator"]
    if len(generator.endpoints) < loop.servers:
        raise SystemExit(
            f"fix_rate: the {loop.name} loop needs {loop.servers} generator endpoint(s); "
            f"the config lists {len(generator.endpoints)}"
        )
    roles["generator"] = dataclasses.replace(
        generator, endpoints=generator.endpoints[: loop.servers]
    )
    return config.replace(fix=dataclasses.replace(fix, **changes), roles=MappingProxyType(roles))


@contextlib.contextmanager
def local_servers(model: str, count: int) -> Iterator[list[str]]:
    """`count` llama.cpp servers with `model`, the cores shared out between them."""
    threads = max(1, (os.cpu_count() or 1) // count)
    servers = [local_model.LocalModelServer(model=model, threads=threads) for _ in range(count)]
    try:
        yield [server.start() for server in servers]
    finally:
        for server in servers:
            server.stop()


# ---------------------------------------------------------------- the benchmark


def run_loop(
    args: argparse.Namespace, config: ConfigManager, loop: Loop, mode: str, chosen: list[Path]
) -> tuple[list[Result], float]:
    generator = config.settings.role("generator")
    print(
        f"{loop.name} / {mode}: {generator.model} at {', '.join(generator.urls)}, "
        f"{loop.candidates} candidate(s), {loop.attempts} attempt(s), "
        f"budget {args.budget or 'none'} s per program, {len(chosen)} programs",
        file=sys.stderr,
    )
    results: list[Result] = []
    started = time.monotonic()
    with OllamaClient(config.ollama_url, config_manager=config) as client:
        for program in chosen:
            result = fix_one(program, client, config, loop.attempts, mode=mode, budget=args.budget)
            results.append(result)
            print(
                f"  {program.name}: {verdict(result)} ({result.status}, {result.seconds:.1f} s)",
                file=sys.stderr,
                flush=True,
            )
    return results, time.monotonic() - started


def run_benchmark(args: argparse.Namespace) -> int:
    chosen = programs([n for n in (args.only or "").split(",") if n])
    loops = [LOOPS[name] for name in args.loops.split(",")]
    modes = args.modes.split(",")
    if args.attempts:
        loops = [dataclasses.replace(loop, attempts=args.attempts) for loop in loops]
    if args.candidates:
        loops = [dataclasses.replace(loop, candidates=args.candidates) for loop in loops]
    load_start = os.getloadavg()
    columns: dict[str, list[Result]] = {}
    summaries: dict[str, dict[str, Any]] = {}
    loads: dict[str, list[float]] = {}
    info: dict[str, Any] = {}
    for loop in loops:
        with contextlib.ExitStack() as stack:
            if args.local:
                urls = stack.enter_context(local_servers(args.local, loop.servers))
                path = stack.enter_context(tempfile.TemporaryDirectory(prefix="fixrate-cfg-"))
                config_path = Path(path, "config.yaml")
                config_path.write_text(json.dumps(local_config(args.local, urls)), encoding="utf-8")
                config = ConfigManager(str(config_path))
            else:
                try:
                    config = ConfigManager(args.config)
                except ConfigError as exc:
                    print(f"fix_rate: {exc}", file=sys.stderr)
                    return 2
            config = configure(config, loop, args.run_timeout)
            generator = config.settings.role("generator")
            info = {
                "config": args.config or f"--local {args.local}",
                "model": generator.model,
                "api": generator.api,
                "options": dict(generator.options),
                "run_timeout": config.settings.fix.run_timeout,
            }
            for mode in modes:
                name = f"{loop.name}/{mode}"
                before = os.getloadavg()[0]
                results, wall = run_loop(args, config, loop, mode, chosen)
                columns[name] = results
                summaries[name] = summarize(results, loop.attempts, wall)
                summaries[name].update(
                    {"loop": dataclasses.asdict(loop), "mode": mode, "endpoints": generator.urls}
                )
                loads[name] = [round(before, 2), round(os.getloadavg()[0], 2)]
    load_end = os.getloadavg()
    report = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **info,
        "budget_seconds": args.budget,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "load_average_start": [round(x, 2) for x in load_start],
        "load_average_end": [round(x, 2) for x in load_end],
        "load_1min_per_run": loads,
        "summaries": summaries,
        "programs": {name: [dataclasses.asdict(r) for r in rs] for name, rs in columns.items()},
    }
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(render(columns, summaries))
    print(
        f"model {info['model']} ({info['config']}); budget {args.budget or 'none'} s per "
        f"program; {os.cpu_count()} cores; load average (1/5/15 min) "
        f"{' '.join(f'{x:.2f}' for x in load_start)} at the start, "
        f"{' '.join(f'{x:.2f}' for x in load_end)} at the end; 1-minute load per run: "
        + ", ".join(f"{n} {a}->{b}" for n, (a, b) in loads.items())
    )
    print(f"\nJSON written to {out}", file=sys.stderr)
    return 1 if any(s["worse"] for s in summaries.values()) else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--config", help="config.yaml whose generator role does the fixing")
    source.add_argument(
        "--local",
        metavar="MODEL",
        nargs="?",
        const=local_model.DEFAULT_MODEL,
        choices=sorted(local_model.MODELS),
        help="start llama.cpp servers with this local model for each loop "
        f"(default {local_model.DEFAULT_MODEL})",
    )
    parser.add_argument(
        "--loops",
        default="sequential,parallel",
        help="which loops to run: "
        + "; ".join(
            f"{n} ({lp.candidates} candidate(s), {lp.attempts} attempts, {lp.servers} server(s))"
            for n, lp in LOOPS.items()
        ),
    )
    parser.add_argument(
        "--modes", default="visible,hidden", help="visible: the loop sees test_prog.py; hidden: not"
    )
    parser.add_argument("--attempts", type=int, help="attempts (rounds) per program, 1-10")
    parser.add_argument("--candidates", type=int, help="candidates per round (fix.candidates)")
    parser.add_argument(
        "--budget", type=float, help="wall-clock seconds per program; the loop is stopped then"
    )
    parser.add_argument("--only", metavar="NAME[,NAME]", help="run only these programs")
    parser.add_argument("--json", default=str(DEFAULT_JSON), help="where to write the JSON")
    parser.add_argument(
        "--run-timeout", type=float, help="seconds a run may take (default: fix.run_timeout)"
    )
    parser.add_argument(
        "--verify-corpus",
        action="store_true",
        help="check the corpus instead: tests fail on each prog.py and pass on its solution.py",
    )
    args = parser.parse_args(argv)
    if args.verify_corpus:
        return verify_corpus([n for n in (args.only or "").split(",") if n])
    if not args.config and not args.local:
        parser.error("--config or --local is required (or use --verify-corpus)")
    if args.attempts is not None and not 1 <= args.attempts <= 10:
        parser.error("--attempts must be from 1 to 10")
    unknown = set(args.loops.split(",")) - set(LOOPS) or set(args.modes.split(",")) - set(MODES)
    if unknown:
        parser.error(f"unknown loop or mode: {', '.join(sorted(unknown))}")
    with contextlib.suppress(BrokenPipeError):
        return run_benchmark(args)
    return 1


if __name__ == "__main__":
    sys.exit(main())
