"""Cost of isolating a run, next to a bare `subprocess.run([python, file])` of the same file.

A project of 2,000 files (a package tree of modules and data) with `prog.py` at its root. Each
round times, in rotating order, one run of `prog.py` each way:

- bare: `subprocess.run([python, prog.py], cwd=root, capture_output=True)`, the baseline;
- runner: the runner without isolation (limits, priority, process-group kill), for reference;
- namespaces: a sandbox place (upper layer with the candidate written in it) and the run in
  user, mount, PID and network namespaces over an overlay of the project (unshare, with a shell
  as the namespace's first process mounting the overlay and reporting on its status pipe),
  `prog.py` started as the checker starts it: through the wrapper that reports its end on the
  run's private channel;
- copy: the fallback (the wrapper and its report too), a copy of the 2,000-file project kept
  between runs and brought back in line with the project before each (sandbox/copy_pool.py);
  the first run of a new copy, which copies every file, is timed apart ("first run in a new
  copy", three times, after the rest).

Each figure is the median over repeats of the per-repeat median; the overhead rows subtract the
bare median of the same repeat. Runs of user code get the lowest priority (nice 15, and their
own autogroup at 19); so that the bare baseline is not measured at a higher priority than the
runs it is compared with, this script gives itself that same priority first.

    python bench/isolation.py [--quick] [--repeats N]
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchlib import ROOT, Row, Run, arguments, median, percentile, spread

sys.path.insert(0, str(ROOT / "server"))

from code_evolver.pipeline.runner import python_run_command, run_and_capture
from code_evolver.sandbox import Isolation, Sandbox, isolation_in_force

PROGRAM = "import sys\nprint('hello from', sys.argv[0])\n"
FILES = 2_000


def make_project(root: Path, files: int = FILES) -> None:
    """`files` files: packages of ten modules with a data file each, like a mid-size project."""
    (root / "prog.py").write_text(PROGRAM)
    made = 1
    package = 0
    while made < files:
        folder = root / "src" / f"pkg{package // 10}" / f"sub{package}"
        folder.mkdir(parents=True)
        (folder / "__init__.py").write_text("")
        made += 1
        for n in range(9):
            if made >= files:
                break
            name = f"mod{n}.py" if n < 8 else "data.json"
            (folder / name).write_text(f"# {name}\nVALUE = {n}\n" + "x = 1\n" * 40)
            made += 1
        package += 1


def bare(root: Path) -> Callable[[], None]:
    argv = [sys.executable, str(root / "prog.py")]

    def call() -> None:
        subprocess.run(argv, cwd=root, capture_output=True, check=True)

    return call


def runner(root: Path) -> Callable[[], None]:
    argv = [sys.executable, str(root / "prog.py")]

    def call() -> None:
        result = run_and_capture(argv, cwd=str(root), timeout=60)
        assert result.ok, result

    return call


def sandboxed(root: Path, isolation: Isolation) -> tuple[Callable[[], None], Sandbox]:
    sandbox = Sandbox(str(root), isolation, network=False)

    def call() -> None:
        with sandbox.place({"prog.py": PROGRAM}) as place:
            # As the checker runs a file: through the wrapper that proves it reached its end,
            # with the private report channel (and, with namespaces, the set-up status pipe).
            result = run_and_capture(
                python_run_command(place.path("prog.py")),
                cwd=place.root,
                timeout=60,
                namespace=place.namespace,
                report=True,
            )
        assert result.ok and result.stdout.startswith("hello"), result
        assert result.report == ("end",), result

    return call, sandbox


def first_run_in_a_new_copy(root: Path) -> float:
    """One run in a sandbox of its own: every file of the project is copied for it."""
    call, sandbox = sandboxed(root, Isolation("copy", "bench"))
    try:
        started = time.perf_counter()
        call()
        return time.perf_counter() - started
    finally:
        sandbox.close()


def measure(calls: dict[str, Callable[[], None]], rounds: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in calls}
    order = list(calls)
    for _ in range(3):  # warm up: page cache, the namespace probe, imports
        for call in calls.values():
            call()
    for r in range(rounds):
        shift = r % len(order)
        for name in order[shift:] + order[:shift]:
            started = time.perf_counter()
            calls[name]()
            samples[name].append(time.perf_counter() - started)
    return samples


def lowest_priority() -> None:
    """The priority the runner gives user code, for this process and so for the bare runs."""
    with contextlib.suppress(OSError):
        os.setsid()
    with contextlib.suppress(OSError), open("/proc/self/autogroup", "w") as handle:
        handle.write("19")
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, 15)


def main() -> int:
    args = arguments(__doc__ or "").parse_args()
    lowest_priority()
    repeats = args.repeats or (2 if args.quick else 5)
    rounds = 20 if args.quick else 60
    run = Run("isolation", args.quick)
    found = isolation_in_force()
    with tempfile.TemporaryDirectory(prefix="bench-isolation-") as folder:
        root = Path(folder) / "project"
        root.mkdir()
        make_project(root)
        calls: dict[str, Callable[[], None]] = {"bare": bare(root), "runner": runner(root)}
        sandboxes = []
        if found.namespaces:
            calls["namespaces"], sandbox = sandboxed(root, found)
            sandboxes.append(sandbox)
        calls["copy"], sandbox = sandboxed(root, Isolation("copy", "bench"))
        sandboxes.append(sandbox)
        per_repeat: dict[str, list[dict[str, float]]] = {name: [] for name in calls}
        first_runs: list[float] = []
        try:
            for _ in range(repeats):
                samples = measure(calls, rounds)
                base = percentile(samples["bare"], 50)
                for name, values in samples.items():
                    mid = percentile(values, 50)
                    per_repeat[name].append(
                        {"median": mid, "p90": percentile(values, 90), "overhead": mid - base}
                    )
            # Last: copying and removing 2,000 files keeps the file system's journal busy for
            # seconds after, which slowed the overlay mounts of the repeats that followed
            # (namespace medians 26-36 ms per repeat when this ran between them).
            first_runs = [first_run_in_a_new_copy(root) for _ in range(3)]
        finally:
            for sandbox in sandboxes:
                sandbox.close()
    run.raw = {
        "per_repeat": per_repeat,
        "first_runs": first_runs,
        "files": FILES,
        "isolation": found.kind,
    }
    ms = 1000.0

    def stat(name: str, key: str) -> float:
        return median(r[key] for r in per_repeat[name]) * ms

    rows = [Row("median per run, bare subprocess.run", stat("bare", "median"), None, "ms")]
    rows.append(
        Row(
            "median per run, runner without isolation",
            stat("runner", "median"),
            stat("bare", "median"),
            "ms",
        )
    )
    goals = {"namespaces": 20.0, "copy": 100.0}
    for name, goal in goals.items():
        if name not in calls:
            rows.append(Row(f"{name}: not available here ({found.reason})", None))
            continue
        label = "namespaces + overlay" if name == "namespaces" else f"copy of {FILES} files"
        rows.append(
            Row(f"median per run, {label}", stat(name, "median"), stat("bare", "median"), "ms")
        )
        overhead = stat(name, "overhead")
        rows.append(
            Row(
                f"median overhead, {label}",
                overhead,
                None,
                "ms",
                f"<= {goal:g} ms",
                overhead <= goal,
                ratio=float("nan"),
            )
        )
    rows.append(
        Row(
            f"median first run in a new copy ({FILES} files copied)",
            median(first_runs) * ms,
            stat("bare", "median"),
            "ms",
        )
    )
    notes = [
        f"{name}: per-repeat medians {spread([r['median'] * ms for r in reps])} ms"
        for name, reps in per_repeat.items()
    ]
    notes.append(f"{rounds} runs of each kind per repeat, {repeats} repeats; {FILES} files")
    run.finish("Isolation cost per run (bench/isolation.py)", rows, notes)
    return 0


if __name__ == "__main__":
    os.environ.pop("CODE_EVOLVER_ISOLATION", None)
    sys.exit(main())
