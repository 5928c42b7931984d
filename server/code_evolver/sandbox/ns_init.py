"""The first process of a run's PID namespace: mounts the overlay, starts the run, reports.

Started by `unshare --user --map-root-user --mount --pid [--net] --fork --kill-child` as
`python -I -S ns_init.py STATUS_FD ROOT UPPER WORK CWD UID GID LOOPBACK -- ARGV...`. It must
not import code_evolver (it runs isolated from every path) and only what starts fast.

The status line it writes on STATUS_FD is how the runner learns what happened: `exit N`,
`signal N`, `exec ERRNO` (the program could not be started) or `error TEXT` (no sandbox).
When this process ends, the kernel kills every other process of the namespace.
"""

import ctypes
import os
import sys

_MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 0x2, 0x4, 0x8
_CLONE_NEWNS, _CLONE_NEWUSER = 0x00020000, 0x10000000
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{what}: {os.strerror(number)}")


def _mount(source: str, target: str, kind: str, flags: int, data: str | None) -> None:
    _check(
        _libc.mount(
            source.encode(),
            target.encode(),
            kind.encode(),
            ctypes.c_ulong(flags),
            data.encode() if data is not None else None,
        ),
        f"mount {kind} on {target}",
    )


def _loopback_up() -> None:
    # A new network namespace has only `lo`, and it is down: tests that serve on 127.0.0.1
    # inside the run should still work.
    import fcntl
    import socket
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | _IFF_UP))


def _write(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


def _become_the_user(uid: int, gid: int) -> None:
    """A nested user and mount namespace: the run is the user again, not root, and the mounts
    made above are locked, so it cannot unmount the overlay to reach the real workspace."""
    _check(_libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNS), "unshare")
    try:  # noqa: SIM105 (contextlib costs start-up time here)
        _write("/proc/self/setgroups", "deny")
    except OSError:
        pass  # already denied further up
    _write("/proc/self/uid_map", f"{uid} 0 1")
    _write("/proc/self/gid_map", f"{gid} 0 1")


def _start(status: int, cwd: str, uid: int, gid: int, argv: list[str]) -> int:
    child = os.fork()
    if child == 0:
        try:
            _become_the_user(uid, gid)
            os.chdir(cwd)  # after the mount: the old working directory is the real one
            os.execvpe(argv[0], argv, os.environ)
        except OSError as error:
            os.write(status, f"exec {error.errno or 0} {error.strerror}\n".encode())
        os._exit(127)
    return child


def main(args: list[str]) -> int:
    status = int(args[0])
    os.set_inheritable(status, False)
    root, upper, work, cwd = args[1:5]
    uid, gid, loopback = int(args[5]), int(args[6]), args[7] == "1"
    argv = args[9:]
    try:
        options = f"userxattr,lowerdir={root},upperdir={upper},workdir={work}"
        _mount("overlay", root, "overlay", 0, options)
        _mount("proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, None)
        if loopback:
            _loopback_up()
    except OSError as error:
        os.write(status, f"error {error.strerror or error}\n".encode())
        return 125
    child = _start(status, cwd, uid, gid, argv)
    while True:  # PID 1 adopts every orphan of the run: reap them all until ours ends
        pid, code = os.waitpid(-1, 0)
        if pid == child:
            break
    if os.WIFSIGNALED(code):
        os.write(status, f"signal {os.WTERMSIG(code)}\n".encode())
        return 128 + os.WTERMSIG(code)
    exit_code = os.waitstatus_to_exitcode(code)
    os.write(status, f"exit {exit_code}\n".encode())
    return exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
