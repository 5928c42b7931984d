"""The `code-evolver` command: lsp, status, doctor, generate and fix."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from . import __version__
from .cancel import Cancelled
from .config import ENV_CONFIG, ConfigError, ConfigManager, config_here
from .llm import LLMError, OllamaClient
from .llm.errors import AllEndpointsFailed

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="code-evolver",
        description="Fix diagnostics and generate functions with local Ollama models.",
    )
    parser.add_argument("--version", action="version", version=f"code-evolver {__version__}")
    _common_options(parser, after_command=False)
    # The same options after the command; SUPPRESS keeps a subcommand from resetting what was
    # given before it (`code-evolver --config X doctor`) to its own default.
    common = argparse.ArgumentParser(add_help=False)
    _common_options(common, after_command=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    lsp = sub.add_parser("lsp", parents=[common], help="run the language server (stdio)")
    lsp.add_argument(
        "--tcp", type=_host_port, metavar="HOST:PORT", help="serve over TCP instead of stdio"
    )

    sub.add_parser(
        "status", parents=[common], help="show each role's model, endpoints and their health"
    )
    sub.add_parser(
        "doctor",
        parents=[common],
        help="probe every endpoint and say what to fix (exit 0 when all roles work)",
    )

    gen = sub.add_parser(
        "generate", parents=[common], help="generate code for a request and print it"
    )
    gen.add_argument("request", help='what to write, e.g. "add 1 plus 1"')

    fix = sub.add_parser(
        "fix", parents=[common], help="run a file, fix its errors with the model, print a diff"
    )
    fix.add_argument("file", help="the Python file to fix")
    fix.add_argument("--write", action="store_true", help="apply the fix to the file")
    fix.add_argument(
        "--max-attempts", type=_attempts, metavar="N", help="override fix.max_attempts (1 to 10)"
    )
    return parser


# As fix.max_attempts allows in config.yaml.
MAX_ATTEMPTS = 10


def _attempts(text: str) -> int:
    """--max-attempts N: a whole number from 1 to 10 (0 fell back to the config silently)."""
    value = int(text) if text.strip().isdigit() else 0
    if not 1 <= value <= MAX_ATTEMPTS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of attempts; give a whole number from 1 to "
            f"{MAX_ATTEMPTS}, e.g. 3"
        )
    return value


def _host_port(text: str) -> str:
    """--tcp HOST:PORT, with a port from 0 to 65535 (a larger one ended in a traceback)."""
    _, colon, port = text.rpartition(":")
    if not colon or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not HOST:PORT; give e.g. 127.0.0.1:2087, a port from 0 to 65535"
        )
    return text


def _common_options(parser: argparse.ArgumentParser, after_command: bool) -> None:
    """--config and -v, which every command takes before or after its name."""
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS if after_command else None,
        help="config.yaml to use (default: $CODE_EVOLVER_CONFIG, then the user "
        "config directory, then built-in defaults)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS if after_command else False,
        help="log every request",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # One-shot commands print their steps and their one error themselves; the log's warnings
    # ("cooling down 5 s") and its copy of that error are for -v.
    quiet = logging.WARNING if args.command == "lsp" else logging.CRITICAL
    logging.basicConfig(
        level=logging.INFO if args.verbose else quiet,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.command == "lsp":
        from .lsp.server import serve

        return serve(config_path=args.config, tcp=args.tcp)
    # One-shot commands run next to the shipped config.yaml use it, before the user's own.
    path = args.config or (None if os.environ.get(ENV_CONFIG) else config_here(os.getcwd()))
    try:
        config = ConfigManager(path)
    except ConfigError as exc:
        print(f"code-evolver: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        with OllamaClient(config.ollama_url, config_manager=config) as client:
            if args.command == "status":
                return _status(client)
            if args.command == "doctor":
                return _doctor(client, config)
            if args.command in ("generate", "fix"):
                return _one_shot(client, config, args)
    except AllEndpointsFailed as exc:
        print(f"code-evolver: {exc}", file=sys.stderr)
        return 1
    except LLMError as exc:
        print(f"code-evolver: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, Cancelled):
        print("code-evolver: cancelled", file=sys.stderr)
        return 130
    return 0


def _status(client: OllamaClient) -> int:
    from .status import probe_all, render_status

    print(f"config: {client.config.source or 'built-in defaults'}")
    print(render_status(client.status(), probe_all(client)))
    _print_run_report(client.config)
    return 0


def _print_run_report(config: ConfigManager) -> None:
    from .sandbox.report import run_report

    for line in run_report(config.settings):
        print(line)


def _doctor(client: OllamaClient, config: ConfigManager) -> int:
    from .status import diagnose, probe_all, render_findings, roles_ready

    print(f"config: {config.source or 'built-in defaults'}")
    findings = diagnose(client, probe_all(client))
    print(render_findings(findings))
    _print_run_report(config)
    ok = roles_ready(findings)
    print("All roles are ready." if ok else "Some roles cannot work yet: apply the fixes above.")
    return 0 if ok else 1


def _one_shot(client: OllamaClient, config: ConfigManager, args: argparse.Namespace) -> int:
    from .llm import rotation

    # Each run is a fresh process: carry the rotation over so a loop of runs spreads its load.
    rotation.restore(client)
    try:
        if args.command == "generate":
            return _generate(client, config, args.request)
        return _fix(client, config, args.file, args.write, args.max_attempts)
    finally:
        rotation.save(client)


def _generate(client: OllamaClient, config: ConfigManager, request: str) -> int:
    from .generate_command import generate_cli

    return generate_cli(client, config, request)


def _fix(
    client: OllamaClient, config: ConfigManager, file: str, write: bool, max_attempts: int | None
) -> int:
    from .fix_command import fix_file_cli

    return fix_file_cli(client, config, file, write=write, max_attempts=max_attempts)


if __name__ == "__main__":
    sys.exit(main())
