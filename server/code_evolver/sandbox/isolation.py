"""Which isolation runs get on this machine (probed once), and the one line that says why."""

from __future__ import annotations

import contextlib
import functools
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from .run_status import SETUP_FAILED, STARTED, SetupChannel

__all__ = [
    "FORCE_VARIABLE",
    "Isolation",
    "NamespaceRun",
    "describe_isolation",
    "isolation_in_force",
]

# CODE_EVOLVER_ISOLATION=copy forces the scratch-copy fallback (CI runs the tests both ways).
FORCE_VARIABLE = "CODE_EVOLVER_ISOLATION"
_LOOPBACK = str(Path(__file__).with_name("loopback.py"))
_UNSHARE = ("--user", "--map-root-user", "--mount", "--pid", "--fork", "--kill-child")
_SBIN = os.pathsep.join(("/usr/sbin", "/sbin", "/usr/bin", "/bin"))
# The first process of the run's PID namespace, as root of its user namespace: mount the
# overlay, bring up the loopback, then start the program through a nested user and mount
# namespace (the run is the user again, not root, and the mounts above are locked, so it cannot
# unmount the overlay to reach the real workspace). util-linux and a POSIX shell, no Python:
# a Python first process cost 15-20 ms of start-up per run (bench/isolation.py). It stays the
# namespace's PID 1 until the program ends; when it exits the kernel kills everything left.
# Its exit code is the program's (run_status.py). How the set-up went it writes on its stdin,
# the write end of the runner's status pipe, and closes that before the program starts (whose
# input is a file or /dev/null), so the program cannot speak there. (Not a descriptor above 2:
# dash, Debian's sh, cannot name one above 9.)
_FIRST = f"""fail() {{ echo "failed $1" >&0; exit 125; }}
root=$1 upper=$2 work=$3 cwd=$4 uid=$5 gid=$6 loopback=$7 mount=$8 unshare=$9
shift 9
input=$1
shift
"$mount" -t overlay overlay -o "userxattr,lowerdir=$root,upperdir=$upper,workdir=$work" "$root" \\
  || fail "the overlay of $root could not be mounted"
if [ -n "$loopback" ]; then
  eval "$loopback" || fail "the loopback interface could not be brought up"
fi
echo {STARTED} >&0
exec 0<&-
"$unshare" --user --map-user="$uid" --map-group="$gid" --mount --wd="$cwd" -- "$@" <"$input"
"""
# Sysctls that switch unprivileged user namespaces off, and how each says "off".
_SWITCHES = (
    ("/proc/sys/kernel/unprivileged_userns_clone", "0", "kernel.unprivileged_userns_clone=0"),
    ("/proc/sys/user/max_user_namespaces", "0", "user.max_user_namespaces=0"),
    (
        "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
        "1",
        "kernel.apparmor_restrict_unprivileged_userns=1",
    ),
)


@dataclass(frozen=True)
class Isolation:
    """`namespaces` or `copy`, and the reason in words a user can act on."""

    kind: str
    reason: str

    @property
    def namespaces(self) -> bool:
        return self.kind == "namespaces"


@dataclass(frozen=True)
class NamespaceRun:
    """What the runner needs to start one run inside its namespaces."""

    root: str  # the project folder, mounted over itself as an overlay
    upper: str  # the overlay's throwaway upper layer
    work: str  # overlayfs' work folder (same file system as `upper`)
    network: bool

    def command(
        self, argv: tuple[str, ...], cwd: str, *, input_path: str = os.devnull
    ) -> list[str]:
        """The argv of the run, to start with its SetupChannel's write end as stdin; the
        program reads `input_path`."""
        flags = _UNSHARE if self.network else (*_UNSHARE, "--net")
        return [
            _unshare_path(),
            *flags,
            "--mount-proc",
            "/bin/sh",
            "-c",
            _FIRST,
            "sh",
            self.root,
            self.upper,
            self.work,
            cwd,
            str(os.getuid()),
            str(os.getgid()),
            "" if self.network else _loopback_command(),
            _system_command("mount"),
            _unshare_path(),
            input_path,
            *argv,
        ]

    @property
    def input_path(self) -> str:
        """Where a run's standard input is written, beside its layers (removed with them)."""
        return os.path.join(os.path.dirname(self.upper), "stdin")


@functools.cache
def _system_command(name: str) -> str:
    """A system tool by its absolute path: the run's PATH (a project's .venv/bin first) must not
    decide what sets up its sandbox."""
    return shutil.which(name, path=_SBIN) or name


@functools.cache
def _loopback_command() -> str:
    """`ip link set lo up`, or where iproute2 is missing the same from a few lines of Python."""
    ip = shutil.which("ip", path=_SBIN)
    if ip is not None:
        return f"{shlex.quote(ip)} link set lo up"
    return f"{shlex.quote(sys.executable)} -I -S {shlex.quote(_LOOPBACK)}"


_lock = threading.Lock()
_probed: Isolation | None = None


def isolation_in_force(configured: str = "auto") -> Isolation:
    """The isolation runs get: forced copy (environment or `fix.isolation`), else the probe's."""
    forced = os.environ.get(FORCE_VARIABLE, "").strip().lower()
    if forced == "copy":
        return Isolation("copy", f"forced by {FORCE_VARIABLE}=copy")
    if configured == "copy":
        return Isolation("copy", "forced by fix.isolation: copy in config.yaml")
    global _probed
    with _lock:
        if _probed is None:
            _probed = _probe()
        return _probed


def describe_isolation(isolation: Isolation, *, network: bool = False) -> str:
    """One line for `status`, `doctor` and the editor's status item."""
    if isolation.namespaces:
        kinds = "user, mount, pid" if network else "user, mount, pid, net"
        net = "; network allowed by fix.network" if network else ""
        return f"namespaces ({kinds}) with an overlay of the workspace{net}"
    return f"copy: {isolation.reason}"


def _unshare_path() -> str:
    return shutil.which("unshare") or "unshare"


def _probe() -> Isolation:
    """A tiny namespace with an overlay mount, run once: the only reliable answer."""
    if not sys.platform.startswith("linux"):
        return Isolation("copy", f"{sys.platform} has no user namespaces")
    if shutil.which("unshare") is None:
        return Isolation("copy", "the unshare command (util-linux) is not installed")
    with tempfile.TemporaryDirectory(prefix="code-evolver-probe-") as scratch:
        found = _probe_in(Path(scratch))
    if found.namespaces:
        return found
    # The probe is the authority; a switch that is off only names the reason better.
    for path, off, words in _SWITCHES:
        try:
            value = Path(path).read_text().strip()
        except OSError:
            continue
        if value == off:
            return Isolation("copy", f"user namespaces are disabled ({words})")
    return found


def _probe_in(scratch: Path) -> Isolation:
    lower, upper, work = scratch / "lower", scratch / "upper", scratch / "work"
    for folder in (lower, upper, work):
        folder.mkdir()
    (lower / "file").write_text("lower")
    spec = NamespaceRun(str(lower), str(upper), str(work), network=False)
    script = "open('file', 'w').write('upper')"
    channel = SetupChannel()
    try:
        argv = spec.command((sys.executable, "-I", "-S", "-c", script), str(lower))
        done = subprocess.run(
            argv, cwd=str(lower), stdin=channel.write_fd, capture_output=True, timeout=30
        )
        channel.started_child()
        stderr = done.stderr.decode(errors="replace")
        problem = channel.problem(done.returncode, stderr)
    except (OSError, subprocess.SubprocessError) as error:
        return Isolation("copy", f"the namespace probe could not run ({error})")
    finally:
        channel.close()
        _make_removable(work)
    if problem is None and done.returncode == 0 and (lower / "file").read_text() == "lower":
        return Isolation("namespaces", "the probe mounted an overlay in a user namespace")
    said = problem.removeprefix(SETUP_FAILED).strip(" ()") if problem else stderr.strip()
    first = said.splitlines()[0] if said else f"exit code {done.returncode}"
    return Isolation("copy", f"a user namespace with an overlay mount failed here ({first})")


def _make_removable(work: Path) -> None:
    # overlayfs leaves work/work with mode 000; without this a non-root user cannot remove it.
    for folder in (work, *work.glob("*")):
        with contextlib.suppress(OSError):
            folder.chmod(0o700)
