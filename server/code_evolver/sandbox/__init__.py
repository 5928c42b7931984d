"""Isolation for runs of user and model code: namespaces with an overlay, or a scratch copy."""

from .interpreter import ProjectPython, has_pytest, project_python, without_server_paths
from .isolation import (
    FORCE_VARIABLE,
    Isolation,
    NamespaceRun,
    describe_isolation,
    isolation_in_force,
)
from .places import RunPlace, Sandbox
from .project_copy import ProjectTooLarge

__all__ = [
    "FORCE_VARIABLE",
    "Isolation",
    "NamespaceRun",
    "ProjectPython",
    "ProjectTooLarge",
    "RunPlace",
    "Sandbox",
    "describe_isolation",
    "has_pytest",
    "isolation_in_force",
    "project_python",
    "without_server_paths",
]
