"""K concurrent generations over N endpoints that each serve one request at a time.

K=32 threads each make one OllamaClient.generate call against N = 1, 2, 4, 8 FakeOllama
endpoints (max_concurrent=1, latency 0.2 s, in a process of their own). The ideal makespan is
K * latency / N; efficiency = ideal / measured (goal >= 0.95 at every N). The baseline measured
in the same run is bare requests sessions with a perfect static assignment (thread i to
endpoint i mod N). Also checks that round_robin spreads the K requests evenly, and draws
bench/scaling.png: throughput against N, the ideal line beside the measured ones.

    python bench/scaling.py [--quick] [--repeats N]
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import requests

from benchlib import BENCH, FakeHost, Row, Run, arguments, make_client, median, spread

K = 32
LATENCY = 0.2
NS = (1, 2, 4, 8)
PROMPT = "Write a function that adds two numbers."


def run_threads(k: int, work: Callable[[int], None]) -> tuple[float, list[float]]:
    """Start k threads at one barrier; returns (makespan, per-request latencies)."""
    barrier = threading.Barrier(k + 1)
    latencies: list[float] = [0.0] * k
    errors: list[BaseException] = []
    ends: list[float] = [0.0] * k

    def body(i: int) -> None:
        barrier.wait()
        started = time.perf_counter()
        try:
            work(i)
        except BaseException as exc:  # counted and shown, never raised out of the thread
            errors.append(exc)
        ends[i] = time.perf_counter()
        latencies[i] = ends[i] - started

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(k)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join(120)
    if errors:
        raise RuntimeError(f"{len(errors)} requests failed, first: {errors[0]!r}")
    return max(ends) - t0, latencies


def ours_trial(urls: Sequence[str]) -> dict[str, Any]:
    client = make_client(urls)
    try:
        makespan, lat = run_threads(
            K, lambda i: client.generate(prompt=PROMPT, model_key="generator")
        )
    finally:
        client.close()
    return {"makespan": makespan, "latencies": lat}


def bare_trial(urls: Sequence[str]) -> dict[str, Any]:
    sessions = [requests.Session() for _ in range(K)]
    for s in sessions:
        s.trust_env = False
    payload = {"model": "codellama", "prompt": PROMPT, "stream": True}

    def work(i: int) -> None:
        url = urls[i % len(urls)] + "/api/generate"
        with sessions[i].post(url, json=payload, stream=True, timeout=(5, 60)) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if line:
                    json.loads(line)

    try:
        makespan, lat = run_threads(K, work)
    finally:
        for s in sessions:
            s.close()
    return {"makespan": makespan, "latencies": lat}


def plot(path: Any, results: dict[int, dict[str, float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = sorted(results)
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    ax.plot(ns, [n / LATENCY for n in ns], "k--", label=f"ideal (N / {LATENCY:g} s)")
    ax.plot(ns, [results[n]["ours"] for n in ns], "o-", label="OllamaClient (round_robin)")
    ax.plot(ns, [results[n]["bare"] for n in ns], "s:", label="bare sessions, static split")
    ax.set_xscale("log", base=2)
    ax.set_xticks(ns)
    ax.set_xticklabels([str(n) for n in ns])
    ax.set_xlabel("endpoints N (each serves 1 request at a time)")
    ax.set_ylabel("throughput (requests / s)")
    ax.set_title(f"K={K} concurrent generations, {LATENCY:g} s each")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> int:
    parser = arguments(__doc__ or "")
    args = parser.parse_args()
    repeats = args.repeats or (1 if args.quick else 3)
    run = Run("scaling", args.quick)
    rows: list[Row] = []
    notes: list[str] = []
    plotted: dict[int, dict[str, float]] = {}
    with FakeHost(max(NS)) as host:
        host.set(latency=LATENCY, max_concurrent=1, reply="print('hello')")
        for n in NS:
            urls = host.urls[:n]
            per_rep: dict[str, list[float]] = {"ours": [], "bare": []}
            spread_counts: list[list[int]] = []
            peaks: list[int] = []
            for rep in range(repeats):
                order = (("ours", ours_trial), ("bare", bare_trial))
                for name, trial in order if rep % 2 == 0 else order[::-1]:
                    host.reset()
                    result = trial(urls)
                    per_rep[name].append(result["makespan"])
                    stats = host.stats()[:n]
                    if name == "ours":
                        spread_counts.append([s["generate"] for s in stats])
                        peaks.append(max(s["peak_active"] for s in stats))
            ideal = K * LATENCY / n
            ours_m, bare_m = median(per_rep["ours"]), median(per_rep["bare"])
            eff_ours, eff_bare = ideal / ours_m, ideal / bare_m
            even = all(c == [K // n] * n for c in spread_counts)
            plotted[n] = {"ours": K / ours_m, "bare": K / bare_m}
            run.raw[f"N={n}"] = {
                "ideal_makespan": ideal,
                "makespan_ours": per_rep["ours"],
                "makespan_bare": per_rep["bare"],
                "requests_per_endpoint": spread_counts,
                "peak_active_per_endpoint": peaks,
            }
            rows.append(Row(f"N={n} makespan", ours_m, bare_m, "s", f"ideal {ideal:.2f} s"))
            rows.append(
                Row(
                    f"N={n} throughput",
                    K / ours_m,
                    K / bare_m,
                    "req/s",
                    f"ideal {K / ideal:.1f} req/s",
                )
            )
            rows.append(
                Row(
                    f"N={n} efficiency (ideal/measured)",
                    eff_ours,
                    eff_bare,
                    "",
                    ">= 0.95",
                    eff_ours >= 0.95,
                )
            )
            rows.append(
                Row(
                    f"N={n} requests per endpoint (round_robin)",
                    "/".join(str(c) for c in spread_counts[-1]),
                    "/".join([str(K // n)] * n),
                    "",
                    "even",
                    even,
                    ratio=float("nan"),
                )
            )
            notes.append(
                f"N={n}: makespans ours {spread(per_rep['ours'])} s, bare "
                f"{spread(per_rep['bare'])} s over {repeats} repeat(s); counts {spread_counts}"
            )
    png = BENCH / "scaling.png"
    plot(png, plotted)
    run.raw["throughput"] = plotted
    notes.append(f"plot: {png.relative_to(BENCH.parent)}")
    notes.append(
        f"K={K} threads released together; fakes serve 1 at a time with {LATENCY:g} s latency; "
        "baseline = bare requests sessions, thread i pinned to endpoint i mod N"
    )
    run.finish("scaling: K=32 generations over N single-slot endpoints", rows, notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
