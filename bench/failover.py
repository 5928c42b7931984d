"""Failover: requests over 3 endpoints while one refuses connections, or accepts and hangs.

Three FakeOllama endpoints (zero latency, own process); the middle one is made bad with
`fail("refuse")` or `fail("hang")`. One OllamaClient (round_robin, the default cooldown of
5 s doubling, timeouts.first_byte 1 s) serves R requests from 4 threads. Measured against an
all-healthy run of the same size in the same run: failed requests (goal 0), attempts sent to
the bad endpoint (goal: a handful), the latency added to each request once the bad endpoint
is detected (goal < 1 ms for refused), and for the hanging endpoint how many requests paid the
1 s timeout (goal: about one per thread in the first burst, not one per request).

    python bench/failover.py [--quick] [--repeats N]
"""

from __future__ import annotations

import threading
import time
from typing import Any

from benchlib import FakeHost, Row, Run, arguments, make_client, median, percentile, spread

BAD = 1
FIRST_BYTE = 1.0
THREADS = 4
PROMPT = "Write a function that adds two numbers."


def scenario(host: FakeHost, mode: str | None, total: int) -> dict[str, Any]:
    urls = host.urls
    bad_url = urls[BAD]
    host.fail(BAD, None)
    host.reset()
    before = host.stats()[BAD]
    if mode is not None:
        host.fail(BAD, mode)
    client = make_client(urls, first_byte=FIRST_BYTE)
    detected: list[float] = []
    client.add_health_listener(lambda: detected.append(time.perf_counter()))
    lock = threading.Lock()
    issued = [0]
    records: list[tuple[float, float, bool, str]] = []

    def worker() -> None:
        while True:
            with lock:
                if issued[0] >= total:
                    return
                issued[0] += 1
            started = time.perf_counter()
            try:
                endpoint = client.generate_full(prompt=PROMPT, model_key="generator").endpoint
                ok = True
            except Exception as exc:  # a failed request is counted, not raised
                endpoint, ok = repr(exc), False
            ended = time.perf_counter()
            with lock:
                records.append((started, ended, ok, endpoint))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(THREADS)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    makespan = time.perf_counter() - t0
    attempts_bad = client.registry.get(bad_url).requests
    status = client.registry.status(bad_url, "codellama")
    client.close()
    host.fail(BAD, None)
    after = host.stats()[BAD]
    latencies = [end - start for start, end, _, _ in records]
    first = detected[0] if detected else None
    after_detection = [
        end - start for start, end, _, _ in records if first is not None and start >= first
    ]
    return {
        "mode": mode or "healthy",
        "requests": len(records),
        "failed": sum(1 for r in records if not r[2]),
        "failures": [r[3] for r in records if not r[2]][:5],
        "attempts_to_bad": attempts_bad,
        "served_by_bad": sum(1 for r in records if r[2] and r[3] == bad_url),
        "bad_generate_requests_seen": after["generate"],
        "bad_connections_accepted": after["connections"] - before["connections"],
        "bad_state_at_end": status.state,
        "detected_after": None if first is None else first - t0,
        "makespan": makespan,
        "median": percentile(latencies, 50),
        "mean": sum(latencies) / max(1, len(latencies)),
        "p99": percentile(latencies, 99),
        "median_after_detection": percentile(after_detection, 50),
        "mean_after_detection": (
            sum(after_detection) / len(after_detection) if after_detection else float("nan")
        ),
        "p99_after_detection": percentile(after_detection, 99),
        "paid_timeout": sum(1 for x in latencies if x >= 0.9 * FIRST_BYTE),
    }


def main() -> int:
    parser = arguments(__doc__ or "")
    args = parser.parse_args()
    repeats = args.repeats or (1 if args.quick else 3)
    total = 200 if args.quick else 1000
    run = Run("failover", args.quick)
    results: dict[str, list[dict[str, Any]]] = {"healthy": [], "refuse": [], "hang": []}
    with FakeHost(3) as host:
        host.set(latency=0.0, reply="print('hello')")
        scenario(host, None, 50)  # warm-up: imports, first connections
        for rep in range(repeats):
            modes = [None, "refuse", "hang"]
            for mode in modes[rep % 3 :] + modes[: rep % 3]:
                result = scenario(host, mode, total)
                results[result["mode"]].append(result)
    run.raw = {"requests": total, "threads": THREADS, "first_byte": FIRST_BYTE, **results}

    def med(mode: str, key: str) -> float:
        return median(r[key] for r in results[mode])

    ms = 1000.0
    rows: list[Row] = []
    for mode, label in (("refuse", "refused"), ("hang", "hanging")):
        failed = int(max(r["failed"] for r in results[mode]))
        attempts = med(mode, "attempts_to_bad")
        added = (med(mode, "median_after_detection") - med("healthy", "median")) * ms
        added_mean = (med(mode, "mean_after_detection") - med("healthy", "mean")) * ms
        rows += [
            Row(f"{label}: failed requests (worst repeat)", failed, 0, "", "0", failed == 0),
            Row(
                f"{label}: attempts sent to the bad endpoint",
                attempts,
                None,
                "",
                "a handful (<= 10)",
                attempts <= 10,
            ),
            Row(
                f"{label}: median latency after detection",
                med(mode, "median_after_detection") * ms,
                med("healthy", "median") * ms,
                "ms",
                "+< 1 ms" if mode == "refuse" else "-",
                added < 1.0 if mode == "refuse" else None,
            ),
            Row(
                f"{label}: added latency per request after detection (mean)",
                added_mean,
                None,
                "ms",
                "< 1 ms" if mode == "refuse" else "-",
                added_mean < 1.0 if mode == "refuse" else None,
            ),
            Row(
                f"{label}: p99 latency, whole run",
                med(mode, "p99") * ms,
                med("healthy", "p99") * ms,
                "ms",
            ),
            Row(f"{label}: makespan", med(mode, "makespan"), med("healthy", "makespan"), "s"),
        ]
    paid = med("hang", "paid_timeout")
    rows.append(
        Row(
            f"hanging: requests that paid the {FIRST_BYTE:g} s timeout",
            paid,
            None,
            "",
            f"<= {THREADS} (one burst, not per request)",
            paid <= THREADS,
        )
    )
    notes = [
        f"{total} requests from {THREADS} threads over 3 endpoints, endpoint {BAD} bad; "
        f"baseline = an all-healthy run of the same size; {repeats} repeat(s), medians",
        "refused: detected after "
        f"{spread([r['detected_after'] * ms for r in results['refuse'] if r['detected_after']])}"
        f" ms; attempts to bad endpoint per repeat "
        f"{[r['attempts_to_bad'] for r in results['refuse']]}",
        "hanging: detected after "
        f"{spread([r['detected_after'] * ms for r in results['hang'] if r['detected_after']])}"
        f" ms; attempts to bad endpoint per repeat "
        f"{[r['attempts_to_bad'] for r in results['hang']]}"
        f"; paid timeout per repeat {[r['paid_timeout'] for r in results['hang']]}",
        "the bad endpoint stays cooling for the whole run (default cooldown 5 s, doubling), so "
        "no re-probe happens inside it",
    ]
    run.finish("failover: one bad endpoint of 3 (refusing, then hanging)", rows, notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
