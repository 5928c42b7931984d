"""Runs one function's docstring examples for Code Evolver, each reported on a private channel.

`python _code_evolver_examples.py MODULE_PATH NAME DOCSTRING`: the module at MODULE_PATH is
imported under its own name, never `__main__` (its `if __name__ == "__main__":` block stays out,
everything it does on import runs), then each `>>>` example of DOCSTRING runs with doctest in
the module's globals. Every result goes to the run's private channel (_code_evolver_channel.py);
an example that reports nothing did not pass. Standalone (Python 3.8+).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # nothing more imported at run time: the project's folders may shadow it
    from types import ModuleType, TracebackType
    from typing import Any

    from ._code_evolver_channel import open_channel
else:  # run as a script, beside it
    from _code_evolver_channel import open_channel

_OUTPUT_LIMIT = 4000  # characters of one example's failure report kept for the model
_FALLBACK_NAME = "_code_evolver_candidate"
_NEEDED = ("doctest", "importlib.util", "json", "traceback")


def _stdlib() -> dict[str, ModuleType]:
    """The standard modules this script needs, imported past the project's folders (which may
    hold a `json.py` of their own); what the project's module imports later is still its own."""
    project = set(filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep)))
    saved, before = sys.path[:], set(sys.modules)
    sys.path[:] = [entry for entry in saved[1:] if entry not in project]
    try:
        modules = {name: __import__(name, fromlist=["_"]) for name in _NEEDED}
    finally:
        sys.path[:] = saved
    for name in set(sys.modules) - before:
        top = name.partition(".")[0]
        if any(_holds(folder, top) for folder in project):
            del sys.modules[name]  # the project's import of `top` finds its own again
    return modules


def _holds(folder: str, name: str) -> bool:
    base = os.path.join(folder, name)
    return os.path.isdir(base) or any(
        os.path.exists(base + suffix) for suffix in (".py", ".pyc", ".so", ".pyd")
    )


def _module_name(path: str) -> str:
    """The file's stem, as `python -m doctest` names it; one taken already gets our own."""
    stem = os.path.splitext(os.path.basename(path))[0]
    return stem if stem != "__main__" and stem not in sys.modules else _FALLBACK_NAME


def _import(util: Any, path: str, name: str) -> ModuleType:
    spec = util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = util.module_from_spec(spec)
    sys.modules[name] = module  # as an import would: dataclasses and pickle look it up
    spec.loader.exec_module(module)
    return module


def _from_module(frames: TracebackType | None, path: str) -> TracebackType | None:
    """The traceback from the module's first frame on: this script's frames are noise."""
    here = frames
    while here is not None and os.path.abspath(here.tb_frame.f_code.co_filename) != path:
        here = here.tb_next
    return here or frames


def _tail(text: str) -> str:
    return text if len(text) <= _OUTPUT_LIMIT else "..." + text[-_OUTPUT_LIMIT:]


def main() -> int:
    channel = open_channel()
    if channel is None or len(sys.argv) != 4:
        sys.stderr.write("usage: python _code_evolver_examples.py MODULE_PATH NAME DOCSTRING\n")
        sys.stderr.write("(run by Code Evolver, with its report channel)\n")
        return 2
    found = _stdlib()
    doctest, json, traceback = found["doctest"], found["json"], found["traceback"]

    def report(payload: dict[str, object]) -> None:
        channel(json.dumps(payload))

    path, name, docstring = sys.argv[1:4]
    try:
        examples = doctest.DocTestParser().get_examples(docstring)
    except ValueError as exc:
        report({"error": f"its docstring examples do not parse: {exc}"})
        return 2
    # As `python MODULE_PATH` would see it: its own argv, its folder first on the path.
    if not (sys.flags.isolated or getattr(sys.flags, "safe_path", False)):
        sys.path[0] = os.path.dirname(os.path.realpath(path))
    sys.argv = [path]
    try:
        module = _import(found["importlib.util"], path, _module_name(path))
    except BaseException as error:  # SystemExit and KeyboardInterrupt too: nothing can run
        frames = _from_module(error.__traceback__, os.path.abspath(path))
        report(
            {
                "import_error": "".join(
                    traceback.format_exception_only(type(error), error)
                ).strip(),
                "traceback": _tail("".join(traceback.format_exception(type(error), error, frames))),
            }
        )
        return 1
    globs = dict(vars(module))  # shared by the examples, as doctest shares a docstring's
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    failed = 0
    for example in examples:
        runner = doctest.DocTestRunner(optionflags=flags)
        test = doctest.DocTest([example], globs, name, "the docstring of " + name, 0, None)
        output: list[str] = []
        result = runner.run(test, out=output.append, clear_globs=False)
        failed += 1 if result.failed else 0
        report(
            {
                "line": example.lineno + 1,
                "passed": not result.failed,
                "output": _tail("".join(output)),
            }
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
