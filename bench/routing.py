"""Routing: our client against LiteLLM's Router, same request mix, same fake endpoints, same run.

Three FakeOllama endpoints in their own process (benchlib.FakeHost); each serves `slots`
requests at once (max_concurrent, Ollama's OLLAMA_NUM_PARALLEL) and queues the rest itself.
48 chat requests from 8 threads, released together at a barrier, go through one router per trial:
- ours: `strategy: fastest`, each endpoint's `max_parallel` set to its slots (what a user who
  knows OLLAMA_NUM_PARALLEL writes); also round_robin and least_busy, with the same slots and
  `weight: 5` on a 5x faster endpoint;
- LiteLLM `Router` (pinned in the `bench` extra): simple-shuffle (with the same weights),
  least-busy and latency-based-routing, `num_retries=2`, `allowed_fails=1`, `cooldown_time=30`.
  Its `max_parallel_requests` is left unset: in this version a full deployment answers 429 and
  fails the attempt instead of queueing, which would only add failures.
Scenarios: equal endpoints; unequal (one 4-slot endpoint at 0.2 s a request, two 1-slot ones
at 1.0 s); one of three dying (connections refused and dropped) after a third of the requests
finished; one of three without the model loaded (Ollama: 1 s requests, 20 s cold load, scaled
by 1/4 here to keep the run short: 0.25 s and 5 s). Per scenario and router: p50, p99,
makespan and failed requests, each the median over repeats; the capacity limit is the makespan
of an oracle that knows every endpoint's slots, speed, load time and death.

    python bench/routing.py [--quick] [--repeats N]

bench/routing.png: p99 and makespan per scenario, ours against LiteLLM's best, and the limit.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from benchlib import BENCH, FakeHost, Row, Run, arguments, median, percentile, quiet_client_logs

REQUESTS = 48
THREADS = 8
MESSAGES = [{"role": "user", "content": "Write a function that adds two numbers."}]
LITELLM_VERSION = "1.110.2"


@dataclass(frozen=True)
class Scenario:
    name: str
    latency: tuple[float, ...]  # seconds per request, per endpoint
    slots: tuple[int, ...]
    loaded: tuple[bool, ...] = (True, True, True)
    cold_load: float = 0.0
    dies: int | None = None  # endpoint refusing after a third of the requests finished
    weights: tuple[float, ...] = (1, 1, 1)


SCENARIOS = (
    Scenario("equal", (0.3, 0.3, 0.3), (2, 2, 2)),
    Scenario("unequal", (0.2, 1.0, 1.0), (4, 1, 1), weights=(5, 1, 1)),
    Scenario("one dies", (0.3, 0.3, 0.3), (2, 2, 2), dies=2),
    Scenario("cold model", (0.25, 0.25, 0.25), (2, 2, 2), (True, True, False), cold_load=5.0),
)
OURS = ("fastest", "least_busy", "round_robin")
THEIRS = ("simple-shuffle", "least-busy", "latency-based-routing")


# ---------------------------------------------------------------- the oracle


def capacity_limit(s: Scenario, died_at: float | None) -> float:
    """The shortest makespan any router could reach: the first T at which the endpoints'
    slots, each starting after the model load and stopping at the death, fit every request
    (only the THREADS fastest slots count: no more requests are ever in flight)."""
    units = []
    for i, (latency, slots) in enumerate(zip(s.latency, s.slots, strict=True)):
        start = 0.0 if s.loaded[i] else s.cold_load
        stop = died_at if (s.dies == i and died_at is not None) else math.inf
        units += [(latency, start, stop)] * slots
    units = sorted(units)[:THREADS]
    t = 0.0
    while True:
        t += 0.01
        done = sum(
            max(0, math.floor((min(t, stop) - start) / latency + 1e-9))
            for latency, start, stop in units
        )
        if done >= REQUESTS:
            return t


# ---------------------------------------------------------------- the two routers


def our_client(urls: list[str], s: Scenario, strategy: str) -> Any:
    from code_evolver import ConfigManager, OllamaClient

    quiet_client_logs()
    endpoints = [
        {"url": url, "max_parallel": slots, "weight": weight}
        for url, slots, weight in zip(urls, s.slots, s.weights, strict=True)
    ]
    section = {
        "base_url": urls[0],
        "timeouts": {"connect": 2, "first_byte": 30, "idle": 10, "total": 120},
        "models": {"generator": {"model": "codellama", "endpoints": endpoints}},
        "strategy": strategy,
    }
    config = ConfigManager(overrides={"ollama": section}, discover=False)
    client = OllamaClient(config_manager=config)

    def send() -> str:
        return client.chat_full(messages=MESSAGES, model_key="generator").endpoint

    return send, client.close


def litellm_router(urls: list[str], s: Scenario, strategy: str) -> Any:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no download at import
    from litellm import Router

    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    model_list = [
        {
            "model_name": "codellama",
            "litellm_params": {
                "model": "ollama_chat/codellama",
                "api_base": url,
                "timeout": 30,
                **({"weight": weight} if strategy == "simple-shuffle" else {}),
            },
        }
        for url, weight in zip(urls, s.weights, strict=True)
    ]
    router = Router(
        model_list=model_list,
        routing_strategy=strategy,
        num_retries=2,
        allowed_fails=1,
        cooldown_time=30,
    )

    def send() -> str:
        reply = router.completion(model="codellama", messages=MESSAGES)
        return str(reply.choices[0].message.content)

    return send, lambda: None


# ---------------------------------------------------------------- one trial


def prepare(host: FakeHost, s: Scenario) -> None:
    for i, url in enumerate(host.urls):
        del url
        host.fail(i, None)
        host.set(
            i,
            latency=s.latency[i],
            max_concurrent=s.slots[i],
            cold_load=s.cold_load,
            loaded=["codellama:latest"] if s.loaded[i] else [],
        )
    host.reset()


def trial(host: FakeHost, s: Scenario, router: str, strategy: str) -> dict[str, Any]:
    prepare(host, s)
    make = our_client if router == "ours" else litellm_router
    send, close = make(host.urls, s, strategy)
    lock = threading.Lock()
    issued = [0]
    finished = [0]
    latencies: list[float] = []
    errors: list[str] = []
    died_at: list[float] = []
    # "At once": every thread sends its first request when all are ready. Started one after
    # another, later threads begin late by however long the earlier ones hold the GIL, which
    # shortens their measured wait for a slot (LiteLLM's: up to 26 ms) and not the real one.
    starts: list[float] = []
    gate = threading.Barrier(THREADS, action=lambda: starts.append(time.perf_counter()))

    def worker() -> None:
        gate.wait()
        while True:
            with lock:
                if issued[0] >= REQUESTS:
                    return
                issued[0] += 1
            started = time.perf_counter()
            try:
                send()
            except Exception as exc:  # counted, never raised out of the thread
                with lock:
                    errors.append(f"{type(exc).__name__}: {str(exc)[:120]}")
            else:
                with lock:
                    latencies.append(time.perf_counter() - started)
            with lock:
                finished[0] += 1
                kill = s.dies is not None and not died_at and finished[0] >= REQUESTS // 3
                if kill:
                    died_at.append(time.perf_counter() - starts[0])
            if kill:
                host.fail(s.dies, "refuse")  # type: ignore[arg-type]

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    makespan = time.perf_counter() - starts[0]
    close()
    return {
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "makespan": makespan,
        "failed": len(errors),
        "errors": errors[:5],
        "died_at": died_at[0] if died_at else None,
        "served": [st["generate"] for st in host.stats()],
    }


# ---------------------------------------------------------------- the table and the plot


def plot(path: Any, summary: dict[str, dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    width = 0.27
    panels = ((axes[0], "p99", "p99 latency (s)"), (axes[1], "makespan", "makespan (s)"))
    for ax, key, title in panels:
        xs = range(len(names))
        ours = [summary[n]["ours"][key] for n in names]
        theirs = [summary[n]["litellm"][key] for n in names]
        ax.bar([x - width / 2 for x in xs], ours, width, label="ours (fastest)")
        ax.bar([x + width / 2 for x in xs], theirs, width, label="LiteLLM, best strategy")
        if key == "makespan":
            limit = [summary[n]["limit"] for n in names]
            ax.scatter(list(xs), limit, marker="_", s=900, color="black", label="capacity limit")
        ax.set_xticks(list(xs), names)
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.suptitle(f"{REQUESTS} requests from {THREADS} threads over 3 endpoints")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    args = arguments(__doc__ or "").parse_args()
    repeats = args.repeats or (1 if args.quick else 3)
    run = Run("routing", args.quick)
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    with FakeHost(3) as host:
        for s in SCENARIOS:
            results[s.name] = {}
            for rep in range(repeats):
                pairs = [("ours", x) for x in OURS] + [("litellm", x) for x in THEIRS]
                for router, strategy in pairs if rep % 2 == 0 else pairs[::-1]:
                    key = f"{router} {strategy}"
                    results[s.name].setdefault(key, []).append(trial(host, s, router, strategy))
    rows: list[Row] = []
    notes: list[str] = []
    summary: dict[str, dict[str, Any]] = {}
    for s in SCENARIOS:
        runs = results[s.name]

        def med(key: str, metric: str, runs: dict[str, list[dict[str, Any]]] = runs) -> float:
            return median(r[metric] for r in runs[key])

        died = median(r["died_at"] for r in runs["ours fastest"]) if s.dies is not None else None
        limit = capacity_limit(s, died)
        theirs = min(
            (f"litellm {x}" for x in THEIRS), key=lambda k: (med(k, "failed"), med(k, "makespan"))
        )
        ours = "ours fastest"
        p99, makespan, failed = med(ours, "p99"), med(ours, "makespan"), med(ours, "failed")
        their_p99, their_makespan = med(theirs, "p99"), med(theirs, "makespan")
        summary[s.name] = {
            "ours": {"p99": p99, "makespan": makespan},
            "litellm": {"p99": their_p99, "makespan": their_makespan, "strategy": theirs},
            "limit": limit,
        }
        label = theirs.removeprefix("litellm ")
        rows += [
            Row(f"{s.name}: p99 (LiteLLM {label})", p99, their_p99, "s", "<= 1x", p99 <= their_p99),
            Row(
                f"{s.name}: makespan (LiteLLM {label})",
                makespan,
                their_makespan,
                "s",
                "<= 1x",
                makespan <= their_makespan,
            ),
            Row(
                f"{s.name}: makespan vs capacity limit",
                makespan,
                limit,
                "s",
                "<= 1.5x",
                makespan <= 1.5 * limit,
            ),
            Row(
                f"{s.name}: failed requests",
                int(failed),
                int(med(theirs, "failed")),
                "",
                "0",
                failed == 0,
                ratio=float("nan"),
            ),
        ]
        for key in runs:
            notes.append(
                f"{s.name:<10} {key:<32} p50 {med(key, 'p50'):6.2f}  p99 {med(key, 'p99'):6.2f}  "
                f"makespan {med(key, 'makespan'):6.2f}  failed {med(key, 'failed'):4.0f}  "
                f"served {runs[key][-1]['served']}"
            )
    png = BENCH / "routing.png"
    plot(png, summary)
    notes += [
        f"{REQUESTS} chat requests from {THREADS} threads; ours = strategy fastest with "
        f"max_parallel = the server's slots; LiteLLM {LITELLM_VERSION}, its best strategy per "
        "scenario (fewest failed, then shortest makespan); medians over "
        f"{repeats} repeat(s)",
        "cold model: times scaled by 1/4 (Ollama's 1 s requests and 20 s cold load run as "
        "0.25 s and 5 s); one dies: refused and dropped after a third of the requests finished",
        f"plot: {png.relative_to(BENCH.parent)}",
    ]
    run.raw = {"results": results, "summary": summary}
    run.finish("routing: ours against LiteLLM's Router", rows, notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
