"""Where the code Code Evolver puts inside a run lives (inrun/): standalone files the project's
own interpreter runs, which report on the run's private channel (pipeline/run_report.py)."""

from __future__ import annotations

import os

INRUN_FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "inrun")
# Runs a Python file as `python FILE` would and says whether it reached its end.
SCRIPT_WRAPPER = os.path.join(INRUN_FOLDER, "_code_evolver_script.py")
# A pytest plugin (`-p` with INRUN_FOLDER on PYTHONPATH): each test's outcome, the session's end.
PYTEST_PLUGIN = "_code_evolver_pytest"
