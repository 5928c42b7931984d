"""`code-evolver generate "REQUEST"`: the whole Generate pipeline from the command line.

The request becomes a `# generate:` comment in a scratch module; related functions come from
the current folder's Python files; every step (overseer, generator, tests, escalation) prints
a line on stderr, and the verified code goes to stdout.
"""

from __future__ import annotations

import os
import sys
import tempfile

from .config import ConfigManager
from .llm import OllamaClient
from .pipeline.generate_loop import Generator
from .pipeline.stubs import find_stubs
from .pipeline.workspace import workspace_sources
from .values import Target


def generate_cli(client: OllamaClient, config: ConfigManager, request: str) -> int:
    words = " ".join(request.split())
    if not words:
        print('code-evolver: say what to generate, e.g. generate "add 1 plus 1"', file=sys.stderr)
        return 2
    source = f"# generate: {words}\n"
    stubs = find_stubs(source)
    if not stubs:
        print(f"code-evolver: cannot make a request of {request!r}", file=sys.stderr)
        return 2
    settings = config.settings
    related = workspace_sources(os.getcwd(), {}) if settings.generate.related_functions else {}
    if related:
        print(f"... related functions: searching {len(related)} file(s) here", file=sys.stderr)

    def step(message: str) -> None:
        print(f"... {message}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="code-evolver-generate-") as scratch:
        target = Target(os.path.join(scratch, "generated.py"), "python", scratch)
        with Generator(client, settings, target, on_step=step) as generator:
            outcome = generator.generate(source, stubs[0], related)
    if outcome.replacement is None:
        print(outcome.message, file=sys.stderr)
        return 1
    sys.stdout.write(outcome.replacement.rstrip("\n") + "\n")
    print(outcome.message, file=sys.stderr)
    return 0
