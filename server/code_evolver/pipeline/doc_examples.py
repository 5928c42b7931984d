"""A stub's docstring examples run against a candidate: an in-run script imports the file under
its own name (so its `__main__` block stays out, whatever it does on import runs), doctests each
example in the module's globals and reports each result on the run's private channel."""

from __future__ import annotations

import doctest
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .checker import Checker
from .evidence import Verdict, missing_name
from .runner import RunResult

SCRIPT = str(Path(__file__).parent.parent / "sandbox" / "inrun" / "_code_evolver_examples.py")
# Linux refuses one argument over 128 KiB; a docstring that long is passed to no run.
_ARGUMENT_LIMIT = 120_000


def example_lines(docstring: str | None) -> dict[int, str]:
    """Each `>>>` example's source by its docstring line (from 1); none when it has none or
    does not parse (e.g. a `>>>` line without the space doctest requires)."""
    if not docstring:
        return {}
    try:
        examples = doctest.DocTestParser().get_examples(docstring)
    except ValueError:
        return {}
    return {e.lineno + 1: e.source.strip() for e in examples}


def example_count(docstring: str | None) -> int:
    """How many `>>>` examples a docstring holds (0 when it has none or does not parse)."""
    return len(example_lines(docstring))


@dataclass(frozen=True)
class ExamplesRun:
    """What one run of the examples reported: each example's verdict, or why none could run."""

    expected: dict[int, str]  # each example's source by its line in the docstring
    passed: tuple[int, ...] = ()
    failed: tuple[tuple[int, str], ...] = ()  # (line, doctest's report of it)
    import_error: str | None = None  # the file raised this on import: no example ran
    traceback: str = ""
    run: RunResult | None = None
    not_run: str | None = None  # why no example could run, through no fault of the file

    def problem(self, file: str) -> str | None:
        """Why the examples do not pass, with what the model should see; None when all ran
        and passed."""
        output = "\n".join(report for _, report in self.failed)
        if self.import_error is not None:
            return f"{importing(file, self.import_error)}\n{self.traceback}"
        done = set(self.passed) | {line for line, _ in self.failed}
        missing = missing_name(output)
        if missing:
            return f"{missing} when its docstring examples call it\n{output}"
        if self.failed:
            return f"{len(self.failed)} of {len(self.expected)} docstring example(s) fail\n{output}"
        unreported = [line for line in self.expected if line not in done]
        if not unreported:
            return None
        ended = self.run.describe() if self.run is not None else "the run did not start"
        tail = (self.run.stdout[-2000:] + "\n" + self.run.stderr[-3000:]) if self.run else ""
        example = self.expected[unreported[0]].splitlines()[0]
        return f"the docstring example `{example}` never reported: {ended}\n{tail}".strip()


def importing(file: str, error: str) -> str:
    return f"importing {file} raises {error}, so its docstring examples cannot run"


def run_examples(checker: Checker, source: str, docstring: str, name: str) -> ExamplesRun:
    """Run `docstring`'s examples of `name` against `source` as the file, in a fresh sandbox
    place of the project, as the file's own runs are."""
    expected = example_lines(docstring)
    if len(docstring.encode("utf-8", "surrogatepass")) > _ARGUMENT_LIMIT:
        return ExamplesRun(expected, not_run="its docstring is too long to pass to a run")
    python = checker.python.path
    relative = checker.relative
    result = checker.run_in_sandbox(
        {relative: source},
        lambda place: [python, SCRIPT, place.path(relative), name, docstring],
        report=True,
    )
    passed: list[int] = []
    failed: list[tuple[int, str]] = []
    for line in result.report or ():
        try:
            said = json.loads(line)
        except ValueError:
            continue
        if not isinstance(said, dict):
            continue
        if "import_error" in said:
            error, trace = str(said["import_error"]), str(said.get("traceback", ""))
            return ExamplesRun(expected, import_error=error, traceback=trace, run=result)
        if "error" in said:
            return ExamplesRun(expected, run=result, not_run=str(said["error"]))
        if isinstance(said.get("line"), int):
            if said.get("passed") is True:
                passed.append(said["line"])
            else:
                failed.append((said["line"], str(said.get("output", ""))))
    return ExamplesRun(expected, tuple(passed), tuple(failed), run=result)


@dataclass
class StubExamples:
    """The stub's examples, judging each candidate; the file with the stub is run once, only
    when a candidate's import fails, to tell a file that never imports from a broken candidate."""

    checker: Checker
    source: str  # the file with the stub
    docstring: str
    name: str
    _stub_import: list[str | None] = field(default_factory=list)

    @property
    def file(self) -> str:
        return os.path.basename(self.checker.relative)

    def judge(self, candidate: str, name: str, verdict: Verdict) -> str | None:
        """Why the examples reject `candidate` (None: they pass, or cannot run for any
        candidate, said in `verdict.examples_unrun`); the examples that ran go to `verdict`."""
        ran = run_examples(self.checker, candidate, self.docstring, name or self.name)
        verdict.examples_passed = len(ran.passed)
        if ran.not_run is not None:
            verdict.examples_unrun = ran.not_run
            return None
        if ran.import_error is not None and self._stub_fails_alike(ran.import_error):
            verdict.examples_unrun = importing(self.file, ran.import_error)
            return None
        problem = ran.problem(self.file)
        if problem is None:
            verdict.checked_by.append(f"{len(ran.passed)} docstring example(s)")
        return problem

    def _stub_fails_alike(self, error: str) -> bool:
        if not self._stub_import:
            stub = run_examples(self.checker, self.source, "", self.name)
            self._stub_import.append(stub.import_error)
        return self._stub_import[0] == error
