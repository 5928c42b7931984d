"""The copy fallback is as tight as the namespaces: a run writes only its own place, whatever
links, environment variables or folder names the project has; and a file reached through a
link is run with its neighbours in either mode.

Every test runs the real checker on a real project folder; `isolation` runs it with namespaces
and again with the copy forced (CODE_EVOLVER_ISOLATION=copy).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from code_evolver import ConfigManager
from code_evolver.config import Settings
from code_evolver.pipeline.checker import Check, Checker
from code_evolver.values import Target
from sandbox_kit import use_mode, write_project

WriteConfig = Callable[..., Path]


@pytest.fixture
def copy_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    use_mode("copy", monkeypatch)


def _settings(write_config: WriteConfig) -> Settings:
    return ConfigManager(write_config({})).settings


def _check(path: Path, workspace: Path, source: str, settings: Settings) -> Check:
    with Checker(Target(str(path), "python", str(workspace)), settings) as checker:
        return checker.check(textwrap.dedent(source))


def _contents(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink() and "__pycache__" not in p.parts
    }


# ---------------------------------------------------------------- links out of the project


def _linked_project(tmp_path: Path, *, absolute: bool) -> tuple[Path, Path]:
    """ws/lib is a link to ../shared, a folder outside the project."""
    shared = write_project(
        tmp_path / "shared",
        {"__init__.py": "", "helper.py": "VALUE = 'real helper'\n", "other.py": "NAME = 'other'\n"},
    )
    root = write_project(
        tmp_path / "ws", {"prog.py": "from lib import helper\nprint(helper.VALUE)\n"}
    )
    (root / "lib").symlink_to(shared if absolute else Path("..", "shared"))
    return root, shared


@pytest.mark.parametrize("absolute", [True, False], ids=["absolute", "relative"])
def test_a_candidate_under_a_folder_linked_from_outside_runs_without_writing_that_folder(
    tmp_path: Path, write_config: WriteConfig, isolation: str, absolute: bool
) -> None:
    root, shared = _linked_project(tmp_path, absolute=absolute)
    before = _contents(shared)
    candidate = """\
        from lib import other
        VALUE = 'candidate ' + other.NAME
        print(VALUE)
        """
    check = _check(root / "lib" / "helper.py", root, candidate, _settings(write_config))
    assert check.run is not None and check.run.ok, check.details
    assert check.run.stdout == "candidate other\n"
    assert _contents(shared) == before
    assert os.readlink(root / "lib") == (str(shared) if absolute else os.path.join("..", "shared"))


@pytest.mark.parametrize("absolute", [True, False], ids=["absolute", "relative"])
def test_a_run_writing_through_a_link_out_of_the_project_leaves_the_linked_folder_alone(
    tmp_path: Path, write_config: WriteConfig, copy_mode: None, absolute: bool
) -> None:
    """With namespaces only the project is overlaid (a link out of it is as open as any other
    absolute path); the copy holds what such a link points at as content of its own."""
    root, shared = _linked_project(tmp_path, absolute=absolute)
    (tmp_path / "config.txt").write_text("the user's config\n")
    (root / "config.txt").symlink_to(tmp_path / "config.txt")
    before = _contents(shared)
    program = """\
        from lib import helper
        open("lib/helper.py", "w").write("VALUE = 'overwritten'\\n")
        open("lib/new.py", "w").write("")
        open("config.txt", "w").write("overwritten by the run\\n")
        print(helper.VALUE, open("lib/other.py").read().strip())
        """
    check = _check(root / "prog.py", root, program, _settings(write_config))
    assert check.run is not None and check.run.ok, check.details
    assert check.run.stdout == "real helper NAME = 'other'\n"
    assert _contents(shared) == before
    assert (tmp_path / "config.txt").read_text() == "the user's config\n"
    # and the next run's copy is back in line with the project
    again = _check(
        root / "prog.py",
        root,
        "print(open('config.txt').read().strip())\n",
        _settings(write_config),
    )
    assert again.run is not None and again.run.stdout == "the user's config\n", again.details


def test_a_link_within_the_project_stays_a_link_within_the_copy(
    tmp_path: Path, write_config: WriteConfig, isolation: str
) -> None:
    root = write_project(tmp_path / "ws", {"real/data.txt": "data\n", "prog.py": "pass\n"})
    (root / "alias").symlink_to("real")
    (root / "absolute").symlink_to(root / "real")
    program = """\
        import os
        print(os.path.realpath("alias") == os.path.realpath("absolute") == os.path.realpath("real"))
        print(os.path.realpath("real").startswith(os.getcwd()), open("alias/data.txt").read())
        """
    check = _check(root / "prog.py", root, program, _settings(write_config))
    assert check.run is not None and check.run.ok, check.details
    assert check.run.stdout == "True\nTrue data\n\n"


# ---------------------------------------------------------------- the run's environment


def test_pwd_and_virtual_env_name_the_runs_place_and_the_projects_interpreter_is_used(
    tmp_path: Path, write_config: WriteConfig, isolation: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    monkeypatch.chdir(tmp_path)  # the server's folder, which a wrong PWD would name
    monkeypatch.setenv("PWD", str(tmp_path))
    root = write_project(tmp_path / "ws", {"prog.py": "pass\n"})
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / ".venv")], check=True)
    before = _contents(root)
    program = """\
        import os, shutil, subprocess, sys
        print(os.environ["PWD"] == os.getcwd())
        open(os.path.join(os.environ["PWD"], "out.txt"), "w").write("x")
        venv = os.environ.get("VIRTUAL_ENV")
        if venv:
            open(os.path.join(venv, "marker.txt"), "w").write("x")
        print(sys.prefix)
        child = subprocess.run(["python", "-c", "import sys; print(sys.prefix)"],
                               capture_output=True, text=True, check=True)
        print(child.stdout.strip())
        """
    check = _check(root / "prog.py", root, program, _settings(write_config))
    assert check.run is not None and check.run.ok, check.details
    venv = str(root / ".venv")
    assert check.run.stdout == f"True\n{venv}\n{venv}\n"
    assert _contents(root) == before
    assert not (tmp_path / "out.txt").exists()


# ---------------------------------------------------------------- what the copy leaves out


def test_packages_named_build_dist_or_venv_are_in_the_run(
    tmp_path: Path, write_config: WriteConfig, isolation: str
) -> None:
    root = write_project(
        tmp_path / "ws",
        {
            "pyproject.toml": "[project]\nname = 'app'\n",
            "app/__init__.py": "",
            "app/build/__init__.py": "",
            "app/build/steps.py": "VALUE = 'steps'\n",
            "app/dist/__init__.py": "",
            "app/venv/__init__.py": "NAME = 'venv package'\n",
            "docs/build/page.txt": "page\n",
            "prog.py": "pass\n",
        },
    )
    program = """\
        from app.build import steps
        from app import dist, venv
        print(steps.VALUE, venv.NAME, open("docs/build/page.txt").read().strip())
        """
    check = _check(root / "prog.py", root, program, _settings(write_config))
    assert check.run is not None and check.run.ok, check.details
    assert check.run.stdout == "steps venv package page\n"


def test_the_copy_leaves_out_environments_build_output_and_version_control(
    tmp_path: Path, write_config: WriteConfig, copy_mode: None
) -> None:
    root = write_project(
        tmp_path / "ws",
        {
            "setup.py": "",
            "build/lib/app.py": "",
            "dist/app.tar.gz": "",
            "tools/env/pyvenv.cfg": "home = /usr/bin\n",
            "web/node_modules/x/index.js": "",
            ".git/HEAD": "ref\n",
            "app/__pycache__/x.pyc": "",
            "prog.py": "pass\n",
        },
    )
    program = """\
        import os
        names = ["build", "dist", "tools/env", "web/node_modules", ".git", "app/__pycache__"]
        print([n for n in names if os.path.exists(n)], os.path.isdir("tools"))
        """
    check = _check(root / "prog.py", root, program, _settings(write_config))
    assert check.run is not None and check.run.ok, check.details
    assert check.run.stdout == "[] True\n"


# ---------------------------------------------------------------- files reached through links


NEIGHBOURS = {
    "pkg/__init__.py": "",
    "pkg/mod.py": "print('the original')\n",
    "pkg/neighbour.py": "NAME = 'neighbour'\n",
    "pkg/data.txt": "data\n",
    "notes.txt": "notes\n",
}
WITH_NEIGHBOURS = """\
    import os
    import neighbour
    from pkg import neighbour as again
    here = os.path.dirname(os.path.abspath(__file__))
    print(neighbour.NAME, again.NAME, open(os.path.join(here, "data.txt")).read().strip(),
          open("notes.txt").read().strip())
    """


def test_a_file_opened_through_a_linked_folder_in_the_project_keeps_its_neighbours(
    tmp_path: Path, write_config: WriteConfig, isolation: str
) -> None:
    root = write_project(tmp_path / "ws", NEIGHBOURS)
    (root / "alias").symlink_to("pkg")
    before = _contents(root)
    check = _check(root / "alias" / "mod.py", root, WITH_NEIGHBOURS, _settings(write_config))
    assert check.run is not None and check.run.ok, check.details
    assert check.run.stdout == "neighbour neighbour data notes\n"
    assert _contents(root) == before


@pytest.mark.parametrize("opened", ["link", "real"])
def test_a_workspace_reached_through_a_link_keeps_the_files_neighbours(
    tmp_path: Path, write_config: WriteConfig, isolation: str, opened: str
) -> None:
    """The editor names the workspace by a link; the file by the link too, or resolved."""
    real = write_project(tmp_path / "ws", NEIGHBOURS)
    link = tmp_path / "link"
    link.symlink_to(real)
    before = _contents(real)
    path = (link if opened == "link" else real) / "pkg" / "mod.py"
    check = _check(path, link, WITH_NEIGHBOURS, _settings(write_config))
    assert check.run is not None and check.run.ok, check.details
    assert check.run.stdout == "neighbour neighbour data notes\n"
    assert _contents(real) == before


def test_a_package_the_environment_imports_from_the_project_is_imported_from_the_run(
    tmp_path: Path, write_config: WriteConfig, isolation: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An editable install puts the project's `src` on the environment's path (a .pth file):
    the run imports the candidate from its place, not the user's file."""
    root = write_project(
        tmp_path / "ws", {"src/mypkg/__init__.py": "", "src/mypkg/core.py": "VALUE = 1\n"}
    )
    venv = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (site,) = venv.glob("lib/python*/site-packages")
    (site / "_mypkg.pth").write_text(f"{root / 'src'}\n")
    monkeypatch.setenv("VIRTUAL_ENV", str(venv))
    candidate = """\
        import os
        VALUE = 'candidate'
        if __name__ == "__main__":
            import mypkg.core
            print(mypkg.core.VALUE, mypkg.core.__file__.startswith(os.getcwd()))
        """
    check = _check(root / "src" / "mypkg" / "core.py", root, candidate, _settings(write_config))
    assert check.run is not None and check.run.ok, check.details
    assert check.run.stdout == "candidate True\n"
