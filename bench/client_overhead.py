"""Time per /api/generate request through OllamaClient, next to a bare requests.Session.

The floor is a kept-alive `requests.Session().post(..., stream=True)` that reads the NDJSON
stream to its end and decodes every line; the official `ollama` Python client is timed on the
same endpoint for reference. All three talk to one FakeOllama (zero latency) that runs in a
process of its own. Requests are interleaved in blocks, the order rotating each round, and every
figure is the median over repeats of a per-repeat statistic.

    python bench/client_overhead.py [--quick] [--repeats N]
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import requests

from benchlib import FakeHost, Row, Run, arguments, make_client, median, percentile, spread

SHORT = "print('hello')"  # 4 pieces + the done line
LONG = "def add(a, b):\n    return a + b\n" * 12  # ~100 pieces of 4 characters + done
PROMPT = "Write a function that adds two numbers."
MODEL = "codellama"


def bare_floor(url: str) -> Callable[[], str]:
    session = requests.Session()
    session.trust_env = False
    endpoint = url + "/api/generate"
    payload = {"model": MODEL, "prompt": PROMPT, "stream": True}

    def call() -> str:
        pieces = []
        with session.post(endpoint, json=payload, stream=True, timeout=(5, 30)) as response:
            response.raise_for_status()
            for line in response.iter_lines(chunk_size=65536):
                if line:
                    pieces.append(json.loads(line).get("response", ""))
        return "".join(pieces)

    return call


def ours(url: str) -> Callable[[], str]:
    client = make_client([url])

    def call() -> str:
        return client.generate(prompt=PROMPT, model_key="generator")

    return call


def official(url: str) -> Callable[[], str]:
    import ollama

    client = ollama.Client(host=url)

    def call() -> str:
        return "".join(
            part.response or "" for part in client.generate(model=MODEL, prompt=PROMPT, stream=True)
        )

    return call


KINDS: dict[str, Callable[[str], Callable[[], str]]] = {
    "ours": ours,
    "bare": bare_floor,
    "ollama": official,
}


def timed_block(call: Callable[[], str], n: int, expected: str, out: list[float]) -> int:
    """Run `call` n times, append each duration; returns how many replies were wrong."""
    wrong = 0
    for _ in range(n):
        started = time.perf_counter()
        text = call()
        out.append(time.perf_counter() - started)
        wrong += text != expected
    return wrong


def measure(host: FakeHost, reply: str, per_kind: int, block: int, repeats: int) -> dict[str, Any]:
    host.set(reply=reply, latency=0.0, chunk_delay=0.0, chunk_size=4)
    url = host.urls[0]
    calls = {name: make(url) for name, make in KINDS.items()}
    wrong = {name: 0 for name in KINDS}
    for name, call in calls.items():  # warm up: connections, imports, caches
        wrong[name] += timed_block(call, 30, reply, [])
    per_repeat: dict[str, list[dict[str, float]]] = {name: [] for name in KINDS}
    connections: dict[str, int] = dict.fromkeys(KINDS, 0)
    order = list(KINDS)
    for rep in range(repeats):
        samples: dict[str, list[float]] = {name: [] for name in KINDS}
        rounds = max(1, per_kind // block)
        for r in range(rounds):
            shift = (rep + r) % len(order)
            for name in order[shift:] + order[:shift]:
                before = host.stats()[0]["connections"]
                wrong[name] += timed_block(calls[name], block, reply, samples[name])
                connections[name] += host.stats()[0]["connections"] - before
        for name, values in samples.items():
            per_repeat[name].append(
                {
                    "median": percentile(values, 50),
                    "p99": percentile(values, 99),
                    "mean": sum(values) / len(values),
                    "n": len(values),
                }
            )
    total = {name: sum(int(r["n"]) for r in reps) for name, reps in per_repeat.items()}
    return {
        "reply_chars": len(reply),
        "per_repeat": per_repeat,
        "wrong_replies": wrong,
        "new_connections": connections,
        "requests": total,
    }


def main() -> int:
    parser = arguments(__doc__ or "")
    args = parser.parse_args()
    repeats = args.repeats or (2 if args.quick else 5)
    per_kind = 100 if args.quick else 400
    run = Run("client_overhead", args.quick)
    rows: list[Row] = []
    notes: list[str] = []
    with FakeHost(1) as host:
        for label, reply in (("short reply, 5 lines", SHORT), ("long reply, 100 lines", LONG)):
            result = measure(host, reply, per_kind, 50, repeats)
            run.raw[label] = result
            reps = result["per_repeat"]

            def stat(kind: str, key: str, reps: Any = reps) -> float:
                return median(r[key] for r in reps[kind])

            ms = 1000.0
            ratio = stat("ours", "median") / stat("bare", "median")
            rows.append(
                Row(
                    f"median per request ({label})",
                    stat("ours", "median") * ms,
                    stat("bare", "median") * ms,
                    "ms",
                    "<= 1.10x bare",
                    ratio <= 1.10,
                )
            )
            rows.append(
                Row(
                    f"mean per request ({label})",
                    stat("ours", "mean") * ms,
                    stat("bare", "mean") * ms,
                    "ms",
                    "<= 1.10x bare",
                    stat("ours", "mean") / stat("bare", "mean") <= 1.10,
                )
            )
            rows.append(
                Row(
                    f"p99 per request ({label})",
                    stat("ours", "p99") * ms,
                    stat("bare", "p99") * ms,
                    "ms",
                )
            )
            rows.append(
                Row(
                    f"median vs official ollama client ({label})",
                    stat("ours", "median") * ms,
                    stat("ollama", "median") * ms,
                    "ms",
                )
            )
            per_k = {
                k: 1000.0 * result["new_connections"][k] / max(1, result["requests"][k])
                for k in KINDS
            }
            rows.append(
                Row(
                    f"new TCP connections per 1000 requests ({label})",
                    round(per_k["ours"], 1),
                    round(per_k["bare"], 1),
                    "",
                    "0 (kept alive)",
                    per_k["ours"] == 0,
                    ratio=float("nan"),
                )
            )
            notes.append(
                f"{label}: per-repeat medians ours "
                f"{spread([r['median'] * ms for r in reps['ours']])}"
                f" ms, bare {spread([r['median'] * ms for r in reps['bare']])} ms, ollama "
                f"{spread([r['median'] * ms for r in reps['ollama']])} ms; wrong replies "
                f"{result['wrong_replies']}"
            )
    notes.append(
        f"{repeats} repeats x {per_kind} requests per client, blocks of 50 interleaved; the fake "
        "server runs in its own process, so its cost is in every column alike"
    )
    run.finish("client_overhead: OllamaClient.generate vs bare requests.Session", rows, notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
