"""A pytest plugin (`-p _code_evolver_pytest`) that reports every test's outcome, how many were
collected, and the session's end on the private channel, out of the tests' reach.

Lines, each one JSON object: {"collected": N}; {"test": NODEID, "when": PHASE, "outcome": O}
with O one of passed, failed, skipped, xfailed, xpassed, error (a setup or teardown that passed
is not reported); {"collect": NODEID, "outcome": "error" | "skipped"} for a file that could not
be collected; and last {"end": EXIT_STATUS}. A test run that never says "end" was stopped (an
os._exit, a signal) and proves nothing. Without a channel (an xdist worker, a run that asked
for no report) the plugin does nothing. Standalone (Python 3.8+, any pytest with these hooks).
"""

from __future__ import annotations

import json

import pytest

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ._code_evolver_channel import open_channel
else:  # imported by pytest from its folder on PYTHONPATH
    from _code_evolver_channel import open_channel


def _hooks(write: Callable[[str], None]) -> object:
    """The plugin's hooks, holding the report function in their closure."""

    def send(payload: dict[str, object]) -> None:
        write(json.dumps(payload))

    class Hooks:
        @pytest.hookimpl(trylast=True)
        def pytest_collection_finish(self, session: pytest.Session) -> None:
            send({"collected": len(session.items)})

        @pytest.hookimpl(optionalhook=True)
        def pytest_xdist_node_collection_finished(self, node: object, ids: Sequence[str]) -> None:
            send({"collected": len(ids)})  # under xdist each worker collects, not this process

        def pytest_collectreport(self, report: pytest.CollectReport) -> None:
            if report.failed or report.skipped:
                send({"collect": report.nodeid, "outcome": "error" if report.failed else "skipped"})

        def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
            if report.when != "call" and report.passed:
                return
            send({"test": report.nodeid, "when": report.when, "outcome": _outcome(report)})

        @pytest.hookimpl(trylast=True)
        def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
            send({"end": int(session.exitstatus)})

    return Hooks()


def _outcome(report: pytest.TestReport) -> str:
    if hasattr(report, "wasxfail"):
        return "xfailed" if report.skipped else "xpassed"
    if report.failed and report.when != "call":
        return "error"
    return str(report.outcome)


def pytest_configure(config: pytest.Config) -> None:
    global _REPORT
    report, _REPORT = _REPORT, None  # from here on only the hooks' closure holds it
    if report is not None:
        config.pluginmanager.register(_hooks(report), "code-evolver-report")


# Taken when pytest imports the plugin (-p), before any conftest or test module is imported.
_REPORT = open_channel()
