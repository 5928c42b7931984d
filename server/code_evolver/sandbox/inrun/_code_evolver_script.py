"""Runs a Python script exactly as `python script args...` would, and reports on the private
channel whether it reached its end ("end") or raised SystemExit ("exit <status>").

An os._exit, a signal or a crash reports nothing, so the checker does not take the exit code 0
of a program that stopped itself half-way for a clean run. Standalone (Python 3.8+).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # nothing more imported at run time: the project's folders may shadow it
    from types import TracebackType

    from ._code_evolver_channel import open_channel
else:  # run as a script, beside it
    from _code_evolver_channel import open_channel


def _exit_status(code: object) -> int:
    """The status `python` exits with for SystemExit(code)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    return 1  # Python prints the value to stderr and exits 1


def _user_frames(
    tb: TracebackType | None, ours: tuple[dict[str, object], ...]
) -> TracebackType | None:
    """The traceback without this wrapper's frames, as `python script` shows it."""
    while tb is not None and any(tb.tb_frame.f_globals is names for names in ours):
        tb = tb.tb_next
    return tb


def _run(path: str) -> None:
    """`python path` without runpy (which costs pytest-free runs 10 ms of imports): the file's
    code runs in a fresh `__main__` module, as the interpreter runs a script's."""
    with open(path, "rb") as handle:
        source = handle.read()  # compile() reads a PEP 263 declaration and a BOM itself
    code = compile(source, path, "exec", dont_inherit=True)
    main = type(sys)("__main__")
    external = sys.modules.get("_frozen_importlib_external")
    loader = getattr(external, "SourceFileLoader", None)
    main.__dict__.update(
        __file__=path,
        __builtins__=sys.modules["builtins"],
        __cached__=None,
        __loader__=loader("__main__", path) if loader is not None else None,
        __spec__=None,
        __package__=None,
    )
    sys.modules["__main__"] = main  # pickle and multiprocessing look the script up there
    exec(code, main.__dict__)


def main() -> None:
    report = open_channel()
    if len(sys.argv) < 2:
        sys.stderr.write("usage: python _code_evolver_script.py SCRIPT [ARG...]\n")
        raise SystemExit(2)
    path = sys.argv[1]
    del sys.argv[0]
    if not (sys.flags.isolated or getattr(sys.flags, "safe_path", False)):
        sys.path[0] = os.path.dirname(os.path.realpath(path))
    path = os.path.abspath(path)  # as __main__.__file__ is since Python 3.9
    try:
        _run(path)
    except SystemExit as stop:
        if report is not None:
            report(f"exit {_exit_status(stop.code)}")
        raise
    except BaseException as error:
        tb = _user_frames(error.__traceback__, (globals(),))
        sys.excepthook(type(error), error.with_traceback(tb), tb)
        raise SystemExit(1) from None
    if report is not None:
        report("end")


if __name__ == "__main__":
    main()
