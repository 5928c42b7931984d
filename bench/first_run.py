#!/usr/bin/env python3
"""First-run check: how often `bash scripts/try_local.sh` shows a verified, correct diff.

Runs the script N times as a new user would (each run starts its own llama.cpp servers and
picks new seeds), after one install; for each run it records:

    verified   the script ended with a diff, "Fixed on attempt ..." and "the diff above was
               verified" (exit code 0); a partial fix does not count
    correct    the diff, applied to a copy of examples/buggy.py, makes it print 2.5
               (the average of [1, 2, 3, 4]) and exit cleanly
    seconds    wall-clock time of the whole run, servers' start and stop included

    python bench/first_run.py [--runs 10] [--json PATH] [-- EXTRA try_local.sh ARGS]

Environment for the script (LOCAL_MODEL, LOCAL_SERVERS) passes through. The table goes to
stdout, per-run progress to stderr, the JSON to bench/results/first_run.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SCRIPT = ROOT / "scripts" / "try_local.sh"
EXAMPLE = "examples/buggy.py"
EXPECTED = "2.5"
VERIFIED = "the diff above was verified"


@dataclass
class FirstRun:
    run: int
    verified: bool
    correct: bool
    seconds: float
    exit_code: int
    printed: str  # what the fixed program printed ("" without a diff)
    load_before: float  # 1-minute load average when the run started
    diff: str
    message: str  # the fix command's last line of stderr


def apply_diff(diff: str) -> str | None:
    """examples/buggy.py with `diff` applied (in a scratch copy), or None when it does not apply."""
    with tempfile.TemporaryDirectory(prefix="first-run-") as tmp:
        copy = Path(tmp, EXAMPLE)
        copy.parent.mkdir(parents=True)
        shutil.copyfile(ROOT / EXAMPLE, copy)
        done = subprocess.run(
            ["patch", "-s", "-p1", "--no-backup-if-mismatch", "-i", "-"],
            cwd=tmp,
            input=diff,
            capture_output=True,
            text=True,
            check=False,
        )
        return copy.read_text(encoding="utf-8") if done.returncode == 0 else None


def program_output(source: str) -> str:
    """What the program prints (stdout, stripped), or a short note when it fails."""
    with tempfile.TemporaryDirectory(prefix="first-run-") as tmp:
        path = Path(tmp, "buggy.py")
        path.write_text(source, encoding="utf-8")
        try:
            done = subprocess.run(
                [sys.executable, str(path)],
                cwd=tmp,
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return "<timed out>"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return f"<exit {done.returncode}: {last}>"
    return done.stdout.strip()


def _diff_in(stdout: str) -> str:
    """The unified diff the fix command printed, between the script's own "==>" lines."""
    lines = stdout.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("--- ")), None)
    if start is None:
        return ""
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("==>")), len(lines))
    return "".join(line + "\n" for line in lines[start:end])


def one_run(number: int, extra: list[str], env: dict[str, str]) -> FirstRun:
    load = os.getloadavg()[0]
    started = time.monotonic()
    done = subprocess.run(
        ["bash", str(SCRIPT), EXAMPLE, *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    seconds = time.monotonic() - started
    diff = _diff_in(done.stdout)
    lines = [line for line in done.stderr.splitlines() if line and not line.startswith("...")]
    said = lines[-1] if lines else ""
    claimed = said.startswith("Fixed")  # not "Partial fix, ..." nor "... the rest still fails"
    verified = done.returncode == 0 and bool(diff) and VERIFIED in done.stdout and claimed
    printed = ""
    if diff:
        fixed = apply_diff(diff)
        printed = "<diff does not apply>" if fixed is None else program_output(fixed)
    return FirstRun(
        number,
        verified,
        verified and printed == EXPECTED,
        round(seconds, 1),
        done.returncode,
        printed,
        round(load, 2),
        diff,
        said,
    )


def render(runs: list[FirstRun], model: str, servers: str) -> str:
    head = (
        f"{'run':>3} {'verified':>8} {'correct':>7} {'seconds':>7} {'load':>5} printed or why not"
    )
    out = [head, "-" * len(head)]
    for r in runs:
        note = r.printed if r.diff else r.message[:70]
        out.append(
            f"{r.run:>3} {'yes' if r.verified else 'no':>8} {'yes' if r.correct else 'no':>7} "
            f"{r.seconds:>7.1f} {r.load_before:>5.2f}  {note}"
        )
    times = sorted(r.seconds for r in runs)
    correct = sum(r.correct for r in runs)
    out += [
        "-" * len(head),
        f"model {model}, {servers} server(s): verified and correct in {correct} of {len(runs)} "
        f"runs; verified {sum(r.verified for r in runs)}; seconds median "
        f"{times[len(times) // 2]:.1f}, max {times[-1]:.1f}",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--json", default=str(HERE / "results" / "first_run.json"))
    parser.add_argument("extra", nargs="*", help="more arguments for try_local.sh (after --)")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    # The one-time install happens before the first run (a first run of the script does it).
    env["SKIP_INSTALL"] = env.get("SKIP_INSTALL", "1")
    model = env.get("LOCAL_MODEL", "qwen2.5-coder-1.5b")
    servers = env.get("LOCAL_SERVERS", "1")
    runs = []
    for number in range(1, args.runs + 1):
        run = one_run(number, args.extra, env)
        runs.append(run)
        print(
            f"  run {number}: verified={run.verified} correct={run.correct} "
            f"{run.seconds:.1f} s load {run.load_before:.2f} {run.printed or run.message[:60]}",
            file=sys.stderr,
            flush=True,
        )
    print(render(runs, model, servers))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "model": model,
        "servers": servers,
        "cpu_count": os.cpu_count(),
        "correct": sum(r.correct for r in runs),
        "runs": [asdict(r) for r in runs],
    }
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"JSON written to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
