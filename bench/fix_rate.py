#!/usr/bin/env python3
"""Fix-rate benchmark: how many of the small buggy programs in bench/fixrate/ a model fixes.

Each program directory holds `prog.py` (with one bug), `test_prog.py` (pytest tests that fail on
the bug) and `solution.py` (a correct version the tests pass on). For every program this copies
prog.py and its tests to a temporary workspace, runs Code Evolver's FixSession on it (the same
loop as `code-evolver fix`), and then checks the result independently by running the tests on
the original and on the result:

    fixed      every test passes on the result
    improved   more tests pass than before, but not all
    unchanged  FixSession gave up and left the file alone
    worse      fewer tests pass than on the original (must never happen)

    python bench/fix_rate.py --config CONFIG [--attempts N] [--only NAME[,NAME...]]
    python bench/fix_rate.py --verify-corpus   # buggy versions fail, solutions pass

The table goes to stdout, the JSON to bench/results/fix_rate.json (or --json PATH).
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
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CORPUS = HERE / "fixrate" / "programs"
DEFAULT_JSON = HERE / "results" / "fix_rate.json"

try:
    import code_evolver  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT / "server"))

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


# ---------------------------------------------------------------- the benchmark


@dataclass
class Result:
    name: str
    status: str  # fixed, improved, unchanged, worse, error
    attempt: int | None  # the attempt FixSession accepted, when it changed the file
    model_calls: int
    seconds: float
    endpoints: list[str]
    before: str  # "passed/total"
    after: str
    message: str
    worse_than_original: bool = False
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


def fix_one(program: Path, client: OllamaClient, config: ConfigManager, attempts: int) -> Result:
    source = (program / "prog.py").read_text(encoding="utf-8")
    before = run_tests(source, program)
    steps: list[str] = []
    workspace = Path(tempfile.mkdtemp(prefix=f"fixrate-{program.name}-"))
    try:
        shutil.copyfile(program / "prog.py", workspace / "prog.py")
        shutil.copyfile(program / "test_prog.py", workspace / "test_prog.py")
        target = Target(str(workspace / "prog.py"), "python", str(workspace))
        started = time.monotonic()
        try:
            with FixSession(
                client, config.settings, target, on_step=steps.append, max_attempts=attempts
            ) as session:
                outcome = session.fix(source, [], whole_file=False)
        except LLMError as exc:
            return Result(
                program.name,
                "error",
                None,
                0,
                time.monotonic() - started,
                [],
                f"{before.passed}/{before.total}",
                "-",
                f"{type(exc).__name__}: {str(exc).splitlines()[0]}",
                steps=steps,
            )
        seconds = time.monotonic() - started
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    calls = len(outcome.endpoints)
    if outcome.new_source is None:
        return Result(
            program.name,
            "unchanged",
            None,
            calls,
            seconds,
            list(outcome.endpoints),
            f"{before.passed}/{before.total}",
            f"{before.passed}/{before.total}",
            outcome.message,
            steps=steps,
        )
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
        outcome.attempts,
        calls,
        seconds,
        list(outcome.endpoints),
        f"{before.passed}/{before.total}",
        f"{after.passed}/{after.total}",
        outcome.message,
        worse_than_original=worse,
        diff_lines=_diff_size(diff),
        diff="\n".join(diff),
        steps=steps,
    )


def summarize(results: list[Result], attempts: int) -> dict[str, Any]:
    fixed = [r for r in results if r.status == "fixed"]
    times = [r.seconds for r in results if r.status != "error"]
    fix_times = [r.seconds for r in fixed]
    endpoints: dict[str, int] = {}
    for r in results:
        for url in r.endpoints:
            endpoints[url] = endpoints.get(url, 0) + 1
    return {
        "programs": len(results),
        "attempts": attempts,
        "fixed_on_attempt_1": sum(1 for r in fixed if r.attempt == 1),
        f"fixed_by_attempt_{attempts}": len(fixed),
        "improved_not_fixed": sum(1 for r in results if r.status in ("improved", "no gain")),
        "never_fixed": len(results) - len(fixed),
        "worse": sum(1 for r in results if r.worse_than_original),
        "errors": sum(1 for r in results if r.status == "error"),
        "model_calls": sum(r.model_calls for r in results),
        "seconds_total": round(sum(times), 1),
        "seconds_per_program_mean": round(statistics.mean(times), 2) if times else None,
        "seconds_per_fix_mean": round(statistics.mean(fix_times), 2) if fix_times else None,
        "seconds_per_fix_median": round(statistics.median(fix_times), 2) if fix_times else None,
        "requests_per_endpoint": endpoints,
    }


def render(results: list[Result], summary: dict[str, Any]) -> str:
    head = (
        f"{'program':28} {'result':10} {'attempt':>7} {'calls':>5} {'tests':>11} "
        f"{'seconds':>7}  endpoint"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        endpoint = ", ".join(sorted(set(r.endpoints))) or "-"
        lines.append(
            f"{r.name:28} {r.status:10} {r.attempt or '-':>7} {r.model_calls:>5} "
            f"{r.before + '->' + r.after:>11} {r.seconds:>7.1f}  {endpoint}"
        )
    n = summary["attempts"]
    lines += [
        "-" * len(head),
        f"programs: {summary['programs']}   attempts allowed: {n}",
        f"fixed on attempt 1: {summary['fixed_on_attempt_1']}   "
        f"fixed by attempt {n}: {summary[f'fixed_by_attempt_{n}']}   "
        f"never fixed: {summary['never_fixed']} "
        f"(of which improved: {summary['improved_not_fixed']})   "
        f"made worse: {summary['worse']}   errors: {summary['errors']}",
        f"model calls: {summary['model_calls']}   total {summary['seconds_total']} s   "
        f"per program {summary['seconds_per_program_mean']} s   "
        f"per fix {summary['seconds_per_fix_mean']} s (median {summary['seconds_per_fix_median']})",
        "requests per endpoint: "
        + ", ".join(f"{u}: {c}" for u, c in summary["requests_per_endpoint"].items()),
    ]
    return "\n".join(lines)


def run_benchmark(args: argparse.Namespace) -> int:
    try:
        config = ConfigManager(args.config)
    except ConfigError as exc:
        print(f"fix_rate: {exc}", file=sys.stderr)
        return 2
    if args.run_timeout:
        config = config.replace(
            fix=dataclasses.replace(config.settings.fix, run_timeout=args.run_timeout)
        )
    generator = config.settings.role("generator")
    chosen = programs([n for n in (args.only or "").split(",") if n])
    print(
        f"fix rate of {generator.model} at {', '.join(generator.urls)} "
        f"({generator.api} api), {len(chosen)} programs, up to {args.attempts} attempt(s)",
        file=sys.stderr,
    )
    results: list[Result] = []
    with OllamaClient(config.ollama_url, config_manager=config) as client:
        for program in chosen:
            result = fix_one(program, client, config, args.attempts)
            results.append(result)
            print(
                f"  {program.name}: {result.status} ({result.seconds:.1f} s)",
                file=sys.stderr,
                flush=True,
            )
    summary = summarize(results, args.attempts)
    report = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "config": config.source,
        "model": generator.model,
        "api": generator.api,
        "endpoints": generator.urls,
        "options": dict(generator.options),
        "run_timeout": config.settings.fix.run_timeout,
        "python": platform.python_version(),
        "summary": summary,
        "programs": [dataclasses.asdict(r) for r in results],
    }
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(render(results, summary))
    print(f"\nJSON written to {out}", file=sys.stderr)
    return 1 if summary["worse"] else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", help="config.yaml whose generator role does the fixing")
    parser.add_argument("--attempts", type=int, default=3, help="attempts per program (1-10)")
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
    if not args.config:
        parser.error("--config is required (or use --verify-corpus)")
    if not 1 <= args.attempts <= 10:
        parser.error("--attempts must be from 1 to 10")
    with contextlib.suppress(BrokenPipeError):
        return run_benchmark(args)
    return 1


if __name__ == "__main__":
    sys.exit(main())
