"""Editor latency over stdio: code actions and initialize, Code Evolver against a bare server.

Both servers run in the same run: `python -m code_evolver lsp` (ours) and bench/bare_server.py
(the floor: pygls answering an empty list). A pygls LanguageClient with VS Code's capabilities
opens a generated 2,000-line Python file (many functions, some stubs, one crash) and asks for
code actions at varied positions, each with a diagnostic in the context, one at a time, in blocks
of 50 that alternate between the servers. Phases:

  same version  the document is not edited; the stubs are parsed once and cached
  didChange     every request follows a full-text didChange (a new version): the re-parse cost
  initialize    fresh processes: spawn -> initialize result (the editor's wait), and the
                initialize round trip alone (after a first request showed the process is up)

The server's RSS (VmRSS) is read after start-up and after each phase. Every figure is the median
over repeats (fresh processes each repeat) of a per-repeat statistic.

    python bench/editor_latency.py [--quick] [--repeats N]
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
from lsp_client import BARE, OURS, Editor, code_action_params, diagnostic, rss_kib

BLOCK = 50
NAMES = ("ours", "bare")


def positions(count: int, lines: int, stubs: list[int], seed: int) -> list[tuple[Any, ...]]:
    """(line, char, end or None, diagnostic line) for each request; a fixed random sequence."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        pick = rng.random()
        if pick < 0.2 and stubs:
            line = rng.choice(stubs) + rng.randrange(0, 3)  # on or inside a stub
        else:
            line = rng.randrange(0, lines)
        char = rng.randrange(0, 12)
        end = None
        if rng.random() < 0.25:  # a selection of up to 4 lines
            end = (min(lines - 1, line + rng.randrange(0, 4)), rng.randrange(0, 30))
        out.append((line, char, end, line))
    return out


def variant(text: str, version: int) -> str:
    """The document with its last line changed, so every version is a real edit."""
    return text.rstrip("\n").rsplit("\n", 1)[0] + f'\nprint("done", {version})\n'


async def start(name: str, argv: list[str], env: dict[str, str], ws: Path, options: Any) -> Any:
    editor = Editor(name, argv, env, ws)
    spawned = await editor.spawn()
    await editor.ping()
    ready = time.perf_counter()
    await editor.initialize(ws, options)
    done = time.perf_counter()
    return editor, {"cold": done - spawned, "ready": ready - spawned, "rtt": done - ready}


async def sample_initialize(
    env: dict[str, str], ws: Path, options: Any, samples: int
) -> dict[str, dict[str, list[float]]]:
    out: dict[str, dict[str, list[float]]] = {
        n: {"cold": [], "rtt": [], "ready": []} for n in NAMES
    }
    argvs = {"ours": OURS, "bare": BARE}
    for i in range(samples):
        for name in NAMES if i % 2 == 0 else NAMES[::-1]:
            editor, times = await start(name, argvs[name], env, ws, options[name])
            await editor.close()
            for key, value in times.items():
                out[name][key].append(value)
    return out


async def timed_actions(
    editor: Editor, uri: str, plan: list[tuple[Any, ...]], text: str | None
) -> list[float]:
    """Ask for code actions at each position; with `text`, a didChange precedes each request."""
    times = []
    for line, char, end, diag_line in plan:
        params = code_action_params(
            uri, line, char, end, [diagnostic(diag_line, "Pylance: possible ZeroDivisionError")]
        )
        started = time.perf_counter()
        if text is not None:
            editor.change(uri, variant(text, editor.versions[uri] + 1))
        await editor.code_action(params)
        times.append(time.perf_counter() - started)
    return times


async def one_repeat(
    rep: int, env: dict[str, str], ws: Path, doc: Path, text: str, stubs: list[int], args: Any
) -> dict[str, Any]:
    argvs = {"ours": OURS, "bare": BARE}
    options = _options(ws)
    editors: dict[str, Editor] = {}
    result: dict[str, Any] = {n: {"rss": {}} for n in NAMES}
    for name in NAMES:
        editor, _ = await start(name, argvs[name], env, ws, options[name])
        editors[name] = editor
        editor.open(doc, text)
        await editor.ping()  # the didOpen is handled once this answers
        result[name]["rss"]["start-up"] = rss_kib(editor.pid)
    uri = doc.as_uri()
    lines = text.count("\n")
    try:
        # Warm-up outside the measurement: first parse, converters, caches.
        for name in NAMES:
            await timed_actions(editors[name], uri, positions(20, lines, stubs, 99), None)
        same = positions(args.same, lines, stubs, 1000 + rep)
        for name in NAMES:
            result[name]["same"] = []
        mark = max(BLOCK, args.same // 10)
        for start_at in range(0, len(same), BLOCK):
            order = NAMES if (start_at // BLOCK) % 2 == 0 else NAMES[::-1]
            for name in order:
                chunk = same[start_at : start_at + BLOCK]
                result[name]["same"] += await timed_actions(editors[name], uri, chunk, None)
                if start_at + BLOCK == mark:
                    result[name]["rss"][f"after {mark}"] = rss_kib(editors[name].pid)
        for name in NAMES:
            result[name]["rss"][f"after {args.same}"] = rss_kib(editors[name].pid)
        changes = positions(args.changes, lines, stubs, 2000 + rep)
        for name in NAMES:
            result[name]["change"] = []
        for start_at in range(0, len(changes), BLOCK):
            order = NAMES if (start_at // BLOCK) % 2 == 0 else NAMES[::-1]
            for name in order:
                chunk = changes[start_at : start_at + BLOCK]
                result[name]["change"] += await timed_actions(editors[name], uri, chunk, text)
        for name in NAMES:
            result[name]["rss"][f"after {args.changes} edits"] = rss_kib(editors[name].pid)
        # The same-version requests again: memory must not have grown with the versions.
        again = positions(args.same, lines, stubs, 3000 + rep)
        for name in NAMES:
            await timed_actions(editors[name], uri, again, None)
            result[name]["rss"][f"after {args.same} more"] = rss_kib(editors[name].pid)
    finally:
        for editor in editors.values():
            await editor.close()
    return result


def _options(ws: Path) -> dict[str, Any]:
    config = ws.parent / "config.yaml"
    if not config.exists():
        # Loopback only; the model is never called by code actions.
        data = {"ollama": {"base_url": "http://127.0.0.1:9", "timeouts": {"connect": 1}}}
        config.write_text(yaml.safe_dump(data), encoding="utf-8")
    return {"ours": {"workspaceTrusted": True, "configPath": str(config)}, "bare": {}}


async def amain(args: Any) -> int:
    repeats = args.repeats or (1 if args.quick else 3)
    args.same = 300 if args.quick else 1000
    args.changes = 100 if args.quick else 300
    init_samples = 6 if args.quick else 12
    run = Run("editor_latency", args.quick)
    tmp = Path(tempfile.mkdtemp(prefix="ce-bench-"))
    try:
        ws = tmp / "ws"
        ws.mkdir()
        text, stubs, _bug = big_python_file(2000)
        doc = ws / "big_module.py"
        doc.write_text(text, encoding="utf-8")
        env = server_env(tmp)
        reps = []
        inits: list[dict[str, dict[str, list[float]]]] = []
        for rep in range(repeats):
            reps.append(await one_repeat(rep, env, ws, doc, text, stubs, args))
            inits.append(await sample_initialize(env, ws, _options(ws), init_samples))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return report(run, reps, inits, args, init_samples)


def report(run: Run, reps: list[Any], inits: list[Any], args: Any, init_samples: int) -> int:
    ms = 1000.0

    def stat(name: str, phase: str, q: float) -> float:
        return median(percentile(r[name][phase], q) for r in reps) * ms

    def init_stat(name: str, key: str, q: float) -> float:
        return median(percentile(i[name][key], q) for i in inits) * ms

    rows: list[Row] = []
    for phase, label in (("same", "codeAction, same version"), ("change", "didChange+codeAction")):
        p99_ratio = stat("ours", phase, 99) / stat("bare", phase, 99)
        rows.append(Row(f"{label}: median", stat("ours", phase, 50), stat("bare", phase, 50), "ms"))
        rows.append(
            Row(
                f"{label}: p99",
                stat("ours", phase, 99),
                stat("bare", phase, 99),
                "ms",
                "<= 1.5x floor",
                p99_ratio <= 1.5,
            )
        )
    for key, label in (("cold", "spawn -> initialize result"), ("rtt", "initialize round trip")):
        rows.append(
            Row(f"{label}: median", init_stat("ours", key, 50), init_stat("bare", key, 50), "ms")
        )
        rows.append(
            Row(
                f"{label}: p99",
                init_stat("ours", key, 99),
                init_stat("bare", key, 99),
                "ms",
                "<= 1.5x floor",
                init_stat("ours", key, 99) / init_stat("bare", key, 99) <= 1.5,
            )
        )
    mib = 1 / 1024.0
    keys = list(reps[0]["ours"]["rss"])
    warm_key, end_key, edits_key, more_key = keys[1], keys[2], keys[3], keys[4]

    def rss(name: str, key: str) -> float:
        return median(r[name]["rss"][key] for r in reps) * mib

    def growth(name: str, a: str, b: str) -> float:
        return median((r[name]["rss"][b] - r[name]["rss"][a]) for r in reps) * mib

    rows.append(
        Row("RSS after start-up (file open)", rss("ours", keys[0]), rss("bare", keys[0]), "MiB")
    )
    rows.append(Row(f"RSS {end_key} requests", rss("ours", end_key), rss("bare", end_key), "MiB"))
    rows.append(
        Row(
            f"RSS growth, start-up -> {end_key}",
            growth("ours", keys[0], end_key),
            growth("bare", keys[0], end_key),
            "MiB",
        )
    )
    grow_warm = growth("ours", warm_key, end_key)
    rows.append(
        Row(
            f"RSS growth, {warm_key} -> {end_key}",
            grow_warm,
            growth("bare", warm_key, end_key),
            "MiB",
            "~0 (< 1 MiB)",
            grow_warm < 1.0,
            ratio=float("nan"),
        )
    )
    grow_more = growth("ours", edits_key, more_key)
    rows.append(
        Row(
            f"RSS growth over {args.same} more same-version requests",
            grow_more,
            growth("bare", edits_key, more_key),
            "MiB",
            "~0 (< 1 MiB)",
            grow_more < 1.0,
            ratio=float("nan"),
        )
    )
    rows.append(
        Row(
            f"RSS growth over {args.changes} edits (new versions)",
            growth("ours", end_key, edits_key),
            growth("bare", end_key, edits_key),
            "MiB",
        )
    )
    run.raw = {
        "same_version_requests": args.same,
        "didchange_requests": args.changes,
        "initialize_samples_per_repeat": init_samples,
        "per_repeat": [
            {
                name: {
                    "same": summary_ms(r[name]["same"]),
                    "change": summary_ms(r[name]["change"]),
                    "rss_kib": r[name]["rss"],
                }
                for name in NAMES
            }
            for r in reps
        ],
        "initialize": [
            {name: {k: summary_ms(v) for k, v in i[name].items()} for name in NAMES} for i in inits
        ],
    }
    notes = [
        "ours = python -m code_evolver lsp; baseline (floor) = bench/bare_server.py (pygls, "
        "empty list); same client, same document, same positions, alternating blocks of 50",
        f"{len(reps)} repeat(s) x {args.same} same-version + {args.changes} didChange requests "
        f"per server; {init_samples} fresh processes per server per repeat for initialize",
        "p99 per repeat, same version: ours "
        f"{spread([percentile(r['ours']['same'], 99) * ms for r in reps])} ms, bare "
        f"{spread([percentile(r['bare']['same'], 99) * ms for r in reps])} ms; didChange: ours "
        f"{spread([percentile(r['ours']['change'], 99) * ms for r in reps])} ms, bare "
        f"{spread([percentile(r['bare']['change'], 99) * ms for r in reps])} ms",
        "didChange rows time the whole edit -> lightbulb: sending the 2,000-line text, the "
        "server's document update and (ours) the re-parse for stubs",
    ]
    run.finish("editor_latency: 2,000-line file over stdio, ours vs bare pygls", rows, notes)
    return 0


def main() -> int:
    parser = arguments(__doc__ or "")
    return asyncio.run(amain(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
