"""Collect real SmolLM2 replies to Code Evolver's own prompts into tests/data/real_replies/.

    python tests/real_model/collect_replies.py [--url URL] [--fix N] [--generate N]

Without --url a llama.cpp server is started for the run (scripts/local_model.py). The prompts
are the real ones: FixSession fixes programs of bench/fixrate/programs/ and Generator fills
stubs, through a client that records every prompt and reply. Each reply is saved verbatim as
`<kind>_<name>.txt`; index.json keeps, per file, the code the reply was meant to replace (the
`original` that extract_code is given) and the prompt's first line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import local_model  # noqa: E402

from code_evolver.config import ConfigManager  # noqa: E402
from code_evolver.llm import Generation, OllamaClient  # noqa: E402
from code_evolver.pipeline.fix_loop import FixSession  # noqa: E402
from code_evolver.pipeline.generate_loop import Generator  # noqa: E402
from code_evolver.pipeline.stubs import find_stubs  # noqa: E402
from code_evolver.values import Target  # noqa: E402

OUT = ROOT / "tests" / "data" / "real_replies"
PROGRAMS = ROOT / "bench" / "fixrate" / "programs"
FIX_PROGRAMS = (
    "syntax_missing_colon",
    "name_error_typo",
    "missing_import",
    "wrong_operator",
    "off_by_one_range",
    "missing_return",
    "none_handling",
    "type_error_concat",
    "dict_key_error",
    "str_bytes",
    "class_missing_self",
    "indentation_error",
)
STUBS = {
    "add": 'def add(a, b):\n    """Return the sum of a and b."""\n    pass\n\n\nprint(add(2, 3))\n',
    "slugify": 'def slugify(title):\n    """Lower-case title with spaces replaced by dashes."""\n'
    "    pass\n",
    "count_vowels": "def count_vowels(text: str) -> int:\n"
    '    """How many of the letters a, e, i, o, u text contains."""\n    ...\n',
    "median": "class Stats:\n    def median(self, values):\n"
    '        """The median of a non-empty list of numbers."""\n        pass\n',
    "comment": "import json\n\n# generate: a function load_config(path) that reads a JSON file "
    "and returns a dict\n",
}


def config_for(url: str, num_predict: int = 256) -> ConfigManager:
    roles = {r: {"model": "smollm2", "endpoints": [url]} for r in ("generator", "overseer")}
    return ConfigManager(
        overrides={
            "ollama": {
                "api": "openai",
                "options": {"num_predict": num_predict},
                "timeouts": {"first_byte": 120, "idle": 60, "total": 300},
                "models": roles,
            },
            "fix": {"max_attempts": 1, "run_timeout": 5},
            "generate": {"max_attempts": 1, "use_overseer": False, "related_functions": 0},
            "max_prompt_chars": 5000,
        },
        discover=False,
    )


class RecordingClient(OllamaClient):
    """An OllamaClient that keeps every prompt and the reply to it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.records: list[tuple[str, Generation]] = []

    def generate_full(self, model: str | None = None, prompt: str = "", **kwargs: Any) -> Any:
        reply = super().generate_full(model, prompt, **kwargs)
        self.records.append((prompt, reply))
        return reply


@contextmanager
def workspace(files: dict[str, str]) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="collect-replies-"))
    try:
        for name, text in files.items():
            (root / name).write_text(text, encoding="utf-8")
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def collect(url: str, fix_count: int, generate_count: int) -> dict[str, Any]:
    config = config_for(url)
    index: dict[str, Any] = {}
    OUT.mkdir(parents=True, exist_ok=True)
    with RecordingClient(config_manager=config) as client:
        for name in FIX_PROGRAMS[:fix_count]:
            source = (PROGRAMS / name / "prog.py").read_text(encoding="utf-8")
            tests = (PROGRAMS / name / "test_prog.py").read_text(encoding="utf-8")
            with workspace({"prog.py": source, "test_prog.py": tests}) as root:
                target = Target(str(root / "prog.py"), "python", str(root))
                with FixSession(client, config.settings, target) as session:
                    outcome = session.fix(source, [])
            original = _region(source, outcome.region)
            _save(index, f"fix_{name}", client, original, outcome.message)
        for name, source in list(STUBS.items())[:generate_count]:
            with workspace({"mod.py": source}) as root:
                target = Target(str(root / "mod.py"), "python", str(root))
                stub = find_stubs(source)[0]
                settings = config.settings
                with Generator(client, settings, target) as generator:
                    outcome = generator.generate(source, stub, {})
                stub_text = "\n".join(source.splitlines()[stub.start_line : stub.end_line + 1])
                # generate.write_tests: the first record is the function, a second the tests.
                records = client.records
                client.records = []
                for kind, (prompt, reply) in zip(("generate", "tests"), records, strict=False):
                    client.records = [(prompt, reply)]
                    _save(
                        index,
                        f"{kind}_{name}",
                        client,
                        stub_text if kind == "generate" else None,
                        outcome.message,
                    )
    return index


def _region(source: str, region: Any) -> str | None:
    if region is None:
        return None
    return "\n".join(source.splitlines()[region.start : region.end + 1])


def _save(
    index: dict[str, Any], stem: str, client: RecordingClient, original: str | None, note: str
) -> None:
    for number, (prompt, reply) in enumerate(client.records, start=1):
        name = f"{stem}.txt" if number == 1 else f"{stem}_{number}.txt"
        (OUT / name).write_text(reply.text, encoding="utf-8")
        index[name] = {
            "original": original,
            "prompt_head": prompt.splitlines()[0][:200] if prompt else "",
            "outcome": note.splitlines()[0][:200],
        }
        print(f"{name}: {len(reply.text)} chars; {note.splitlines()[0][:100]}", file=sys.stderr)
    client.records = []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running OpenAI-compatible server (default: start one)")
    parser.add_argument("--fix", type=int, default=len(FIX_PROGRAMS), help="fix replies")
    parser.add_argument("--generate", type=int, default=len(STUBS), help="generate stubs")
    args = parser.parse_args(argv)
    if args.url:
        index = collect(args.url, args.fix, args.generate)
    else:
        with local_model.serve_local_model(model="smollm2") as url:
            index = collect(url, args.fix, args.generate)
    path = OUT / "index.json"
    old = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    old.update(index)
    path.write_text(json.dumps(old, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{len(index)} replies written to {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
