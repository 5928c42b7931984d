"""Four endpoints, one five times slower: round_robin against least_busy.

Three FakeOllama endpoints answer in 0.1 s and one in 0.5 s; each serves one request at a time
(max_concurrent=1, like an Ollama with one GPU slot). C worker threads pull R requests from a
shared counter through one OllamaClient whose generator role uses `strategy: round_robin`
(the baseline) or `least_busy` (ours). Reported: p99 request latency, makespan, and the share
of requests sent to the slow endpoint, each the median over repeats; the two strategies
alternate in the same run. The ideal makespan spreads R over the fleet's capacity
(3/0.1 + 1/0.5 = 32 requests/s).

    python bench/uneven.py [--quick] [--repeats N]
"""

from __future__ import annotations

import threading
import time
from typing import Any

from benchlib import FakeHost, Row, Run, arguments, make_client, median, percentile, spread

FAST, SLOW = 0.1, 0.5
LATENCIES = (FAST, FAST, FAST, SLOW)
PROMPT = "Write a function that adds two numbers."


def trial(urls: list[str], strategy: str, total: int, workers: int) -> dict[str, Any]:
    client = make_client(urls, strategy=strategy)
    lock = threading.Lock()
    issued = [0]
    latencies: list[float] = []
    served: dict[str, int] = {}
    errors: list[str] = []

    def worker() -> None:
        while True:
            with lock:
                if issued[0] >= total:
                    return
                issued[0] += 1
            started = time.perf_counter()
            try:
                reply = client.generate_full(prompt=PROMPT, model_key="generator")
            except Exception as exc:  # counted, never raised out of the thread
                with lock:
                    errors.append(repr(exc))
                continue
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                served[reply.endpoint] = served.get(reply.endpoint, 0) + 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    makespan = time.perf_counter() - t0
    client.close()
    return {
        "makespan": makespan,
        "p99": percentile(latencies, 99),
        "median": percentile(latencies, 50),
        "slow_share": served.get(urls[-1], 0) / max(1, len(latencies)),
        "served": [served.get(u, 0) for u in urls],
        "errors": errors,
    }


def main() -> int:
    parser = arguments(__doc__ or "")
    args = parser.parse_args()
    repeats = args.repeats or (1 if args.quick else 3)
    total = 48 if args.quick else 160
    workers = 8
    run = Run("uneven", args.quick)
    results: dict[str, list[dict[str, Any]]] = {"round_robin": [], "least_busy": []}
    with FakeHost(len(LATENCIES)) as host:
        host.set(max_concurrent=1, reply="print('hello')")
        for i, latency in enumerate(LATENCIES):
            host.set(i, latency=latency)
        for rep in range(repeats):
            order = ["round_robin", "least_busy"]
            for strategy in order if rep % 2 == 0 else order[::-1]:
                results[strategy].append(trial(host.urls, strategy, total, workers))
    run.raw = {"requests": total, "workers": workers, "latencies": LATENCIES, **results}

    def med(strategy: str, key: str) -> float:
        return median(r[key] for r in results[strategy])

    ideal = total / sum(1 / lat for lat in LATENCIES)
    errors = sum(len(r["errors"]) for rs in results.values() for r in rs)
    rows = [
        Row(
            "p99 latency",
            med("least_busy", "p99"),
            med("round_robin", "p99"),
            "s",
            "< 1x (least_busy better)",
            med("least_busy", "p99") < med("round_robin", "p99"),
        ),
        Row("median latency", med("least_busy", "median"), med("round_robin", "median"), "s"),
        Row(
            "makespan",
            med("least_busy", "makespan"),
            med("round_robin", "makespan"),
            "s",
            "< 1x (least_busy better)",
            med("least_busy", "makespan") < med("round_robin", "makespan"),
        ),
        Row(
            "makespan vs ideal (least_busy / ideal)",
            med("least_busy", "makespan"),
            ideal,
            "s",
        ),
        Row(
            "share of requests on the slow endpoint",
            med("least_busy", "slow_share"),
            med("round_robin", "slow_share"),
            "",
            f"ideal {(1 / SLOW) / sum(1 / lat for lat in LATENCIES):.3f}",
        ),
        Row("failed requests", errors, None, "", "0", errors == 0, ratio=float("nan")),
    ]
    notes = [
        "ours = strategy least_busy, baseline = round_robin (same client, same fakes, same run)",
        f"{total} requests from {workers} threads; endpoints "
        f"{', '.join(f'{x:g}' for x in LATENCIES)} s, one request at a time each; "
        f"ideal makespan {ideal:.2f} s",
        "p99 per repeat: least_busy "
        f"{spread([r['p99'] for r in results['least_busy']])} s, round_robin "
        f"{spread([r['p99'] for r in results['round_robin']])} s; makespan least_busy "
        f"{spread([r['makespan'] for r in results['least_busy']])} s, round_robin "
        f"{spread([r['makespan'] for r in results['round_robin']])} s",
        f"requests per endpoint (last repeat): least_busy {results['least_busy'][-1]['served']}, "
        f"round_robin {results['round_robin'][-1]['served']}",
    ]
    run.finish("uneven: 4 endpoints, one 5x slower; least_busy vs round_robin", rows, notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
