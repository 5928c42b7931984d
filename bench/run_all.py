"""Run every benchmark, one after the other, and print a summary of the goals.

    python bench/run_all.py [--quick] [--only NAME ...]

Each benchmark runs in its own interpreter (never two at once: on a 2-core machine they would
measure each other) and writes bench/results/<name>.json; this script then writes
bench/results/summary.json with every row and prints the goals that were missed. It exits 0
even when goals are missed (benchmarks never fail a build), and 1 only if a script crashed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from benchlib import BENCH, RESULTS, ROOT, Row, render_table

BENCHMARKS = (
    "editor_latency",
    "client_overhead",
    "scaling",
    "uneven",
    "failover",
    "routing",
    "server_load",
    "isolation",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short runs of every benchmark")
    parser.add_argument("--only", nargs="*", choices=BENCHMARKS, help="run just these")
    args = parser.parse_args()
    names = args.only or list(BENCHMARKS)
    crashed: list[str] = []
    summary: dict[str, object] = {"quick": args.quick, "benchmarks": {}}
    started = time.time()
    for name in names:
        print(f"\n### {name}{' --quick' if args.quick else ''}", flush=True)
        argv = [sys.executable, str(BENCH / f"{name}.py"), *(["--quick"] if args.quick else [])]
        t0 = time.time()
        code = subprocess.call(argv, cwd=ROOT)
        took = time.time() - t0
        path = RESULTS / f"{name}.json"
        if code != 0 or not path.exists() or path.stat().st_mtime < t0:
            crashed.append(name)
            print(f"!!! {name} exited with {code} after {took:.0f} s", flush=True)
            continue
        summary["benchmarks"][name] = json.loads(path.read_text("utf-8"))  # type: ignore[index]
    missed = []
    for name, data in summary["benchmarks"].items():  # type: ignore[union-attr]
        for row in data["rows"]:
            if row["met"] is False:
                missed.append(
                    Row(
                        f"{name}: {row['metric']}",
                        row["ours"],
                        row["baseline"],
                        row["unit"],
                        row["goal"],
                        False,
                        row["ratio"],
                    )
                )
    summary["seconds"] = round(time.time() - started, 1)
    summary["crashed"] = crashed
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", "utf-8")
    print()
    if missed:
        print(render_table("goals missed", missed))
    else:
        print("== every goal met ==")
    print(
        f"  {len(names) - len(crashed)} of {len(names)} benchmarks ran in "
        f"{summary['seconds']} s; crashed: {crashed or 'none'}"
    )
    print(f"  summary: {(RESULTS / 'summary.json').relative_to(ROOT)}")
    return 1 if crashed else 0


if __name__ == "__main__":
    raise SystemExit(main())
