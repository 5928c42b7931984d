#!/usr/bin/env python3
"""Generate-rate benchmark: of the stubs in bench/generaterate/stubs/, how many does the Generate
pipeline fill in correctly, how often does it say "Generated", and how often is it right then?

Each stub directory holds `stub.py` (a signature and a docstring with `>>>` examples),
`test_hidden.py` (pytest tests the loop never sees) and `solution.py` (a reference that passes
them). For every stub this copies stub.py alone to a temporary workspace, runs Code Evolver's
Generator on its function (the loop behind the editor's "Generate" action), and then runs the
hidden tests against whatever edit was offered:

    claimed    the message said "Generated" (something checked the code)
    offered    an edit was offered at all (claimed, or "not verified")
    truly      the offered edit passes every hidden test
    precision  truly-and-claimed / claimed

    python bench/generate_rate.py --config CONFIG [--candidates N] [--attempts N]
        [--overseer on|off] [--tests on|off] [--label NAME] [--only NAME,...] [--json PATH]
    python bench/generate_rate.py --local-servers 2 ...   # start SmolLM2 servers for the run
    python bench/generate_rate.py --verify-corpus          # references pass, stubs fail
    python bench/generate_rate.py --table A.json B.json [--only ...]  # one table, several runs

The table goes to stdout, the JSON to bench/results/generate_rate.json (or --json PATH).
Not part of bench/run_all.py: every mode but --verify-corpus needs a model.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CORPUS = HERE / "generaterate" / "stubs"
DEFAULT_JSON = HERE / "results" / "generate_rate.json"

try:
    import code_evolver  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT / "server"))

from code_evolver.config import ConfigManager  # noqa: E402
from code_evolver.llm import LLMError, OllamaClient  # noqa: E402
from code_evolver.pipeline.generate_loop import Generator  # noqa: E402
from code_evolver.pipeline.stubs import find_stubs  # noqa: E402
from code_evolver.values import Target  # noqa: E402

_COUNTS = re.compile(r"(\d+) (passed|failed|errors?)\b")


# ---------------------------------------------------------------- the hidden tests


def hidden_tests_pass(source: str, stub: Path, doctests: bool = False) -> tuple[bool, str]:
    """Whether test_hidden.py (and, with `doctests`, the docstring examples) pass on `source`."""
    with tempfile.TemporaryDirectory(prefix="generaterate-") as tmp:
        Path(tmp, "stub.py").write_text(source, encoding="utf-8")
        shutil.copyfile(stub / "test_hidden.py", Path(tmp, "test_hidden.py"))
        argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        argv += ["--rootdir", tmp, "--override-ini", "addopts=", "test_hidden.py"]
        if doctests:
            argv += ["--doctest-modules", "stub.py"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=tmp)
        try:
            done = subprocess.run(
                argv, cwd=tmp, env=env, capture_output=True, text=True, timeout=120, check=False
            )
        except subprocess.TimeoutExpired:
            return False, "timed out"
    counts = {kind: int(n) for n, kind in _COUNTS.findall(done.stdout[-2000:])}
    ok = done.returncode == 0 and counts.get("passed", 0) > 0
    return ok, (done.stdout + done.stderr)[-1500:]


def stubs(only: Sequence[str] = ()) -> list[Path]:
    found = sorted(p for p in CORPUS.iterdir() if (p / "stub.py").is_file())
    if only:
        unknown = set(only) - {p.name for p in found}
        if unknown:
            raise SystemExit(f"generate_rate: unknown stub(s): {', '.join(sorted(unknown))}")
        found = [p for p in found if p.name in only]
    return found


def verify_corpus(only: Sequence[str] = ()) -> int:
    """Every reference must pass its hidden tests and examples; every stub must fail them."""
    bad = 0
    chosen = stubs(only)
    for stub in chosen:
        problems = []
        good, output = hidden_tests_pass((stub / "solution.py").read_text("utf-8"), stub, True)
        if not good:
            problems.append("the reference fails")
        if hidden_tests_pass((stub / "stub.py").read_text("utf-8"), stub)[0]:
            problems.append("the stub passes")
        found = find_stubs((stub / "stub.py").read_text("utf-8"))
        if len(found) != 1 or ">>>" not in (found[0].docstring or ""):
            problems.append("stub.py is not one stub with >>> examples")
        bad += bool(problems)
        print(f"{stub.name:24} {'ok' if not problems else 'BAD: ' + '; '.join(problems)}")
        if not good:
            print(output, file=sys.stderr)
    print(
        f"\n{len(chosen) - bad} of {len(chosen)} stubs are sound" + (f"; {bad} bad" if bad else "")
    )
    return 1 if bad else 0


# ---------------------------------------------------------------- the benchmark


@dataclass
class Result:
    name: str
    claimed: bool  # the message said "Generated"
    offered: bool  # an edit was offered, verified or not
    truly: bool  # the offered edit passes the hidden tests
    attempt: int
    model_calls: int
    seconds: float
    message: str
    endpoints: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)


def generate_one(stub: Path, client: OllamaClient, config: ConfigManager) -> Result:
    source = (stub / "stub.py").read_text(encoding="utf-8")
    target_stub = find_stubs(source)[0]
    steps: list[str] = []
    workspace = Path(tempfile.mkdtemp(prefix=f"generaterate-{stub.name}-"))
    started = time.monotonic()
    try:
        (workspace / "stub.py").write_text(source, encoding="utf-8")
        target = Target(str(workspace / "stub.py"), "python", str(workspace))
        with Generator(client, config.settings, target, on_step=steps.append) as generator:
            outcome = generator.generate(source, target_stub, {})
    except LLMError as exc:
        message = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        return Result(stub.name, False, False, False, 0, 0, time.monotonic() - started, message)
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    seconds = time.monotonic() - started
    truly = outcome.new_source is not None and hidden_tests_pass(outcome.new_source, stub)[0]
    return Result(
        stub.name,
        outcome.changed and outcome.message.startswith("Generated"),
        outcome.changed,
        truly,
        outcome.attempts,
        len(outcome.endpoints),
        seconds,
        outcome.message,
        list(outcome.endpoints),
        steps,
    )


def summarize(results: list[Result]) -> dict[str, Any]:
    claimed = [r for r in results if r.claimed]
    right = [r for r in claimed if r.truly]
    return {
        "stubs": len(results),
        "claimed": len(claimed),
        "offered": sum(r.offered for r in results),
        "truly": sum(r.truly for r in results),
        "claimed_and_true": len(right),
        "precision": round(len(right) / len(claimed), 2) if claimed else None,
        "model_calls": sum(r.model_calls for r in results),
        "seconds": round(sum(r.seconds for r in results), 1),
    }


@contextlib.contextmanager
def local_servers(count: int) -> Iterator[list[str]]:
    """`count` SmolLM2 servers sharing the cores (scripts/local_model.py); their URLs."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import local_model

    threads = max(1, (os.cpu_count() or 2) // count)
    servers = [local_model.LocalModelServer(threads=threads) for _ in range(count)]
    try:
        for server in servers:
            server.start(timeout=180)
        yield [s.url for s in servers]
    finally:
        for server in servers:
            server.stop()


def config_for(args: argparse.Namespace, urls: list[str] | None) -> ConfigManager:
    """The config file, with the generator on `urls` and the run's generate settings."""
    data = yaml.safe_load(Path(args.config).read_text(encoding="utf-8")) or {}
    if urls:
        for role in data.get("ollama", {}).get("models", {}).values():
            role["endpoints"] = list(urls)
    generate = data.setdefault("generate", {})
    generate.update(candidates=args.candidates, max_attempts=args.attempts)
    generate.update(use_overseer=args.overseer == "on", write_tests=args.tests == "on")
    generate["related_functions"] = 0  # each stub is alone in its workspace
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump(data, handle)
    try:
        return ConfigManager(handle.name)
    finally:
        os.unlink(handle.name)


def run_benchmark(args: argparse.Namespace, urls: list[str] | None) -> int:
    config = config_for(args, urls)
    generator = config.settings.role("generator")
    chosen = stubs([n for n in (args.only or "").split(",") if n])
    label = args.label or (
        f"{args.candidates} cand. x {len(generator.urls)} endpoint(s), overseer {args.overseer}, "
        f"tests {args.tests}"
    )
    print(
        f"generate rate: {label}, {len(chosen)} stubs, {args.attempts} attempt(s)", file=sys.stderr
    )
    results: list[Result] = []
    with OllamaClient(config.ollama_url, config_manager=config) as client:
        for stub in chosen:
            result = generate_one(stub, client, config)
            results.append(result)
            verdict = "claimed" if result.claimed else "offered" if result.offered else "none"
            print(
                f"  {stub.name}: {verdict}, hidden tests {'pass' if result.truly else 'fail'} "
                f"({result.seconds:.1f} s)",
                file=sys.stderr,
                flush=True,
            )
    report = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "label": label,
        "model": generator.model,
        "endpoints": generator.urls,
        "settings": dataclasses.asdict(config.settings.generate),
        "summary": summarize(results),
        "stubs": [dataclasses.asdict(r) for r in results],
    }
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(render([report]))
    print(f"\nJSON written to {out}", file=sys.stderr)
    return 0


def render(reports: list[dict[str, Any]]) -> str:
    head = (
        "| mode | stubs | claimed | truly passing | precision | offered | candidates | wall-clock |"
    )
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for report in reports:
        s = report["summary"]
        precision = "-" if s["precision"] is None else f"{s['precision']:.2f}"
        lines.append(
            f"| {report['label']} | {s['stubs']} | {s['claimed']} | {s['truly']} | {precision} "
            f"| {s['offered']} | {s['model_calls']} | {s['seconds']:.0f} s |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--config", help="config.yaml whose generator role writes the code")
    parser.add_argument("--local-servers", type=int, default=0, help="start N SmolLM2 servers")
    parser.add_argument("--candidates", type=int, default=1, help="generate.candidates")
    parser.add_argument("--attempts", type=int, default=3, help="generate.max_attempts")
    parser.add_argument("--overseer", choices=("on", "off"), default="off")
    parser.add_argument("--tests", choices=("on", "off"), default="off")
    parser.add_argument("--label", help="the row's name in the table")
    parser.add_argument("--only", metavar="NAME[,NAME]", help="run only these stubs")
    parser.add_argument("--json", default=str(DEFAULT_JSON), help="where to write the JSON")
    parser.add_argument("--verify-corpus", action="store_true", help="check the corpus only")
    parser.add_argument("--table", nargs="+", metavar="JSON", help="render these results")
    args = parser.parse_args(argv)
    if args.verify_corpus:
        return verify_corpus([n for n in (args.only or "").split(",") if n])
    if args.table:
        reports = [json.loads(Path(p).read_text("utf-8")) for p in args.table]
        only = {n for n in (args.only or "").split(",") if n}
        if only:  # the same stubs in every row
            for report in reports:
                kept = [Result(**r) for r in report["stubs"] if r["name"] in only]
                report["summary"] = summarize(kept)
        print(render(reports))
        return 0
    if not args.config:
        parser.error("--config is required (or use --verify-corpus / --table)")
    with contextlib.suppress(BrokenPipeError):
        if args.local_servers:
            with local_servers(args.local_servers) as urls:
                return run_benchmark(args, urls)
        return run_benchmark(args, None)
    return 1


if __name__ == "__main__":
    sys.exit(main())
