"""Code actions while fix commands wait on a slow model: the event loop must stay free.

One `python -m code_evolver lsp` over stdio, its generator on a FakeOllama (own process) that
answers after LATENCY seconds. The client (pygls LanguageClient, VS Code capabilities) answers
workspace/applyEdit and window/workDoneProgress/create like an editor. Measured in one run:

  idle     code actions on a 2,000-line file (same version, varied positions), nothing else
  load     the same number of code actions, paced to fall inside the first wave of FIXES
           `workspace/executeCommand codeEvolver.fixDiagnostics` commands on small crashing
           files (each runs the file, waits on the model, verifies, applies the edit)

An unmeasured round of the same fixes comes first (it starts the worker's threads), and its
duration paces the code actions so that all of them fall inside the measured round. The
language server's own threads are sampled while the fixes run: the work happens in its worker
process, so the event loop's thread should be alone. After every fix finished, the threads of
both processes and the user programs left running are counted; a last round of fixes shows
whether they stay bounded.

    python bench/server_load.py [--quick] [--repeats N]
"""

from __future__ import annotations

import asyncio
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from benchlib import (
    FakeHost,
    Row,
    Run,
    arguments,
    big_python_file,
    median,
    percentile,
    server_env,
    spread,
    summary_ms,
)
from lsp_client import (
    OURS,
    Editor,
    code_action_params,
    diagnostic,
    thread_count,
    user_processes,
    worker_of,
)

FIX = "codeEvolver.fixDiagnostics"
BUGGY = "def compute(x):\n    return x / 0\n\n\nprint(compute(1))\n"
REPLY = "Here is the fix:\n```python\ndef compute(x):\n    return x / 1\n```\n"


def plan(count: int, lines: int, stubs: list[int], seed: int) -> list[tuple[int, int]]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        line = rng.choice(stubs) if rng.random() < 0.2 else rng.randrange(0, lines)
        out.append((line, rng.randrange(0, 12)))
    return out


async def code_actions(
    editor: Editor, uri: str, where: list[tuple[int, int]], gap: float, busy: Any = None
) -> list[tuple[float, int, float]]:
    """(latency, fixes in flight at the start, start time) per request, one every `gap` s."""
    out = []
    loop = asyncio.get_running_loop()
    next_at = loop.time()
    for line, char in where:
        in_flight = busy() if busy else 0
        params = code_action_params(uri, line, char, None, [diagnostic(line, "possible error")])
        started = time.perf_counter()
        await editor.code_action(params)
        out.append((time.perf_counter() - started, in_flight, started))
        next_at += gap
        await asyncio.sleep(max(0.0, next_at - loop.time()))
    return out


def fix_args(uri: str) -> dict[str, Any]:
    diag = {
        "range": {"start": {"line": 1, "character": 4}, "end": {"line": 1, "character": 16}},
        "message": "ZeroDivisionError: division by zero",
        "severity": 1,
        "source": "bench",
    }
    return {"uri": uri, "range": diag["range"], "diagnostics": [diag]}


def threads(pid: int) -> tuple[int, int]:
    """(threads of the language server, threads of its worker process)."""
    worker = worker_of(pid)
    return thread_count(pid), thread_count(worker) if worker is not None else 0


async def settle(
    pid: int, baseline: tuple[int, int], timeout: float = 15.0
) -> tuple[tuple[int, int], list[Any]]:
    """Wait until no user process is left and the thread counts stop falling."""
    deadline = time.monotonic() + timeout
    last = threads(pid)
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now = threads(pid)
        if not user_processes(pid) and now == last and sum(now) <= sum(baseline) + 40:
            break
        last = now
    return threads(pid), user_processes(pid)


async def fix_round(editor: Editor, uris: list[str]) -> tuple[list[Any], float]:
    started = time.perf_counter()
    tasks = [asyncio.create_task(editor.command(FIX, fix_args(u))) for u in uris]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    return list(results), time.perf_counter() - started


async def one_repeat(rep: int, args: Any, host: FakeHost) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="ce-load-"))
    editor: Editor | None = None
    try:
        ws = tmp / "ws"
        ws.mkdir()
        config = tmp / "config.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "ollama": {
                        "base_url": host.urls[0],
                        "timeouts": {"connect": 2, "first_byte": 120, "idle": 30},
                        "models": {"generator": {"model": "codellama", "endpoints": host.urls}},
                    },
                    "fix": {"max_attempts": 1, "run_timeout": 20},
                }
            ),
            encoding="utf-8",
        )
        text, stubs, _ = big_python_file(2000)
        big = ws / "big_module.py"
        big.write_text(text, encoding="utf-8")
        buggy = []
        for i in range(args.fixes):
            path = ws / f"buggy_{i:02d}.py"
            path.write_text(BUGGY, encoding="utf-8")
            buggy.append(path)
        editor = Editor("ours", OURS, server_env(tmp), ws)
        await editor.spawn()
        await editor.initialize(ws, {"workspaceTrusted": True, "configPath": str(config)})
        uri = editor.open(big, text)
        uris = [editor.open(p, BUGGY) for p in buggy]
        lines = text.count("\n")
        await code_actions(editor, uri, plan(30, lines, stubs, 7), 0.0)  # warm-up
        pid = editor.pid
        threads_before, kids_before = threads(pid), user_processes(pid)
        # One unmeasured round of fixes: a session's first fix starts the worker's threads, and
        # its duration paces the code actions so that every one falls inside the measured round.
        _, warm_seconds = await fix_round(editor, uris)
        await settle(pid, threads_before)
        gap = warm_seconds * 0.95 / args.actions
        idle = await code_actions(editor, uri, plan(args.actions, lines, stubs, 100 + rep), gap)

        fixing = [0]
        fixing_threads: list[int] = []

        def busy() -> int:
            """Fixes in flight now; also samples the language server's own thread count."""
            if fixing[0]:
                fixing_threads.append(thread_count(pid))
            return fixing[0]

        async def tracked(u: str) -> Any:
            fixing[0] += 1
            try:
                return await editor.command(FIX, fix_args(u))  # type: ignore[union-attr]
            finally:
                fixing[0] -= 1

        host.reset()
        started = time.perf_counter()
        tasks = [asyncio.create_task(tracked(u)) for u in uris]
        await asyncio.sleep(0)  # let every command be written before the first code action
        loaded = await code_actions(
            editor, uri, plan(args.actions, lines, stubs, 200 + rep), gap, busy
        )
        results = await asyncio.gather(*tasks, return_exceptions=True)
        fix_seconds = time.perf_counter() - started
        peak = max(s["peak_active"] for s in host.stats())
        server_threads_during = max(fixing_threads, default=0)
        threads_1, kids_1 = await settle(pid, threads_before)
        results_2, fix_seconds_2 = await fix_round(editor, uris)
        threads_2, kids_2 = await settle(pid, threads_before)
        applied = sum(1 for r in results if isinstance(r, dict) and r.get("applied"))
        applied_2 = sum(1 for r in results_2 if isinstance(r, dict) and r.get("applied"))
        slowest = sorted(loaded, reverse=True)[:5]
        return {
            "idle": [x for x, _, _ in idle],
            "load": [x for x, n, _ in loaded if n > 0],
            "load_all": [x for x, _, _ in loaded],
            "fixes_in_flight_at_start": [n for _, n, _ in loaded],
            "slowest_under_load": [
                {"ms": round(x * 1000, 2), "at_s": round(t - started, 3), "fixes_in_flight": n}
                for x, n, t in slowest
            ],
            "fix_seconds": fix_seconds,
            "fix_seconds_warm_up": warm_seconds,
            "fix_seconds_round2": fix_seconds_2,
            "applied": applied,
            "applied_round2": applied_2,
            "errors": [repr(r) for r in results + results_2 if not isinstance(r, dict)][:5],
            "messages": [r.get("message") for r in results if isinstance(r, dict)][:3],
            "peak_model_requests": peak,
            "progress_created": editor.progress_created,
            "threads": {
                "before": threads_before,
                "during": server_threads_during,
                "after": threads_1,
                "after_round2": threads_2,
            },
            "children": {"before": kids_before, "after": kids_1, "after_round2": kids_2},
        }
    finally:
        if editor is not None:
            await editor.close()
        shutil.rmtree(tmp, ignore_errors=True)


async def amain(args: Any) -> int:
    repeats = args.repeats or (1 if args.quick else 7)
    args.latency = 1.5 if args.quick else 3.0
    args.actions = 80 if args.quick else 200
    args.fixes = 20
    run = Run("server_load", args.quick)
    reps = []
    with FakeHost(1) as host:
        host.set(latency=args.latency, reply=REPLY)
        for rep in range(repeats):
            reps.append(await one_repeat(rep, args, host))
    ms = 1000.0

    def stat(key: str, q: float) -> float:
        """The percentile over every repeat's requests together: a p99 of 200 requests is
        their second slowest, which one stray scheduling hiccup on the machine decides."""
        return percentile([x for r in reps for x in r[key]], q) * ms

    p99_ratio = stat("load", 99) / stat("idle", 99)
    ratios = [percentile(r["load"], 99) / percentile(r["idle"], 99) for r in reps]
    last = reps[-1]
    th, kids = last["threads"], last["children"]
    leaked_threads = sum(th["after_round2"]) - sum(th["after"])
    rows = [
        Row("codeAction median", stat("load", 50), stat("idle", 50), "ms"),
        Row(
            "codeAction p99",
            stat("load", 99),
            stat("idle", 99),
            "ms",
            "<= 1.5x idle",
            p99_ratio <= 1.5,
        ),
        Row("codeAction max", stat("load", 100), stat("idle", 100), "ms"),
        Row(
            "code actions issued while fixes were in flight",
            len(last["load"]),
            args.actions,
            "",
            "all",
            len(last["load"]) == args.actions,
        ),
        Row(
            f"fixes applied (round 1, round 2) of {args.fixes}",
            f"{last['applied']}, {last['applied_round2']}",
            str(args.fixes),
            "",
            "all",
            last["applied"] == last["applied_round2"] == args.fixes,
            ratio=float("nan"),
        ),
        Row(
            f"time for {args.fixes} fixes (model latency {args.latency:g} s)",
            median(r["fix_seconds"] for r in reps),
            args.latency,
            "s",
        ),
        Row(
            "model requests in flight at once (peak)",
            last["peak_model_requests"],
            args.fixes,
            "",
        ),
        Row(
            "language server threads while fixes ran (before)",
            th["during"],
            th["before"][0],
            "",
            "the loop alone",
            th["during"] <= th["before"][0],
        ),
        Row(
            "worker threads after the fixes (before)",
            th["after"][1],
            th["before"][1],
            "",
            "bounded",
        ),
        Row(
            "threads, server + worker, after a 2nd round (after 1st)",
            sum(th["after_round2"]),
            sum(th["after"]),
            "",
            "no growth",
            leaked_threads <= 0,
        ),
        Row(
            "user programs left running (before)",
            len(kids["after"]) + len(kids["after_round2"]),
            len(kids["before"]),
            "",
            "0",
            not kids["after"] and not kids["after_round2"],
            ratio=float("nan"),
        ),
    ]
    run.raw = {
        "latency": args.latency,
        "fixes": args.fixes,
        "actions": args.actions,
        "per_repeat": [
            {
                **{k: v for k, v in r.items() if k not in ("idle", "load", "load_all")},
                "idle_ms": summary_ms(r["idle"]),
                "load_ms": summary_ms(r["load"]),
            }
            for r in reps
        ],
    }
    notes = [
        f"ours = code actions during {args.fixes} fixDiagnostics commands waiting on a "
        f"{args.latency:g} s model; baseline = the same code actions with the server idle, "
        "same process, same run",
        f"percentiles over the {len(reps)} repeats' requests pooled; p99 ratio of each "
        f"repeat alone: {spread(ratios)} (median {median(ratios):.2f}x)",
        f"{args.actions} requests per phase, one every "
        f"{median(r['fix_seconds_warm_up'] for r in reps) * 0.95 / args.actions * 1000:.0f} ms; "
        f"{len(reps)} repeat(s); "
        f"progress bars created: {last['progress_created']}",
        f"first fix messages: {last['messages']}; errors: {last['errors'] or 'none'}",
    ]
    run.finish("server_load: code actions while fixes wait on a slow model", rows, notes)
    return 0


def main() -> int:
    parser = arguments(__doc__ or "")
    return asyncio.run(amain(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
