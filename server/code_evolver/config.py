"""Typed settings for Code Evolver, loaded from config.yaml and validated key by key."""

from __future__ import annotations

import difflib
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml

DEFAULT_BASE_URL = "http://localhost:11434"
ROLES = ("generator", "overseer", "evaluator", "escalation")
DEFAULT_MODELS = {
    "generator": "codellama",
    "overseer": "llama3",
    "evaluator": "llama3",
    "escalation": "llama3",
}
STRATEGIES = ("round_robin", "least_busy")
APIS = ("ollama", "openai", "openai_completions")
OLLAMA_OPTION_KEYS = (
    "temperature",
    "num_ctx",
    "num_predict",
    "stop",
    "top_p",
    "top_k",
    "seed",
    "repeat_penalty",
    "num_gpu",
    "num_thread",
)
ENV_CONFIG = "CODE_EVOLVER_CONFIG"

Strategy = Literal["round_robin", "least_busy"]


class ConfigError(Exception):
    """A config problem the user must fix; the message names the file, line and key."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.key = key
        self.detail = message
        where = file or "config"
        if line is not None:
            where = f"{where}:{line}"
        prefix = f"{where}: {key}: " if key else f"{where}: "
        super().__init__(prefix + message)


@dataclass(frozen=True)
class Timeouts:
    """Seconds allowed for each phase of one model request."""

    connect: float = 5.0
    first_byte: float = 300.0  # cold model loads take minutes before headers arrive
    idle: float = 60.0
    total: float = 1800.0


@dataclass(frozen=True)
class Cooldown:
    """How long a failing endpoint is skipped: base seconds, doubling per repeat, capped."""

    base: float = 5.0
    max: float = 300.0
    model_missing: float = 60.0


@dataclass(frozen=True)
class Endpoint:
    """One server a role may send requests to."""

    url: str
    headers_env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    api: str | None = None  # None: the role's api
    key_env: str | None = None  # environment variable holding a bearer key

    def headers(self) -> dict[str, str]:
        """Header values read from the environment now; missing variables are left out."""
        out: dict[str, str] = {}
        for name, var in self.headers_env.items():
            value = os.environ.get(var)
            if value:
                out[name] = value
        key = os.environ.get(self.key_env) if self.key_env else None
        if key:
            out["Authorization"] = f"Bearer {key}"
        return out


@dataclass(frozen=True)
class RoleSettings:
    """Everything the client needs to serve one role."""

    role: str
    model: str
    endpoints: tuple[Endpoint, ...]
    strategy: Strategy = "round_robin"
    api: str = "ollama"
    timeouts: Timeouts = Timeouts()
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    keep_alive: str | int | None = None
    endpoint_explicit: bool = False

    @property
    def urls(self) -> list[str]:
        return [e.url for e in self.endpoints]


@dataclass(frozen=True)
class FixSettings:
    max_attempts: int = 3
    run_timeout: float = 10.0
    output_limit: int = 200_000
    memory_limit_mb: int = 2048


@dataclass(frozen=True)
class GenerateSettings:
    related_functions: int = 5
    use_overseer: bool = True
    write_tests: bool = True
    use_evaluator: bool = False
    max_attempts: int = 3


@dataclass(frozen=True)
class Settings:
    """The whole validated configuration."""

    base_url: str = DEFAULT_BASE_URL
    roles: Mapping[str, RoleSettings] = field(default_factory=lambda: MappingProxyType({}))
    cooldown: Cooldown = Cooldown()
    fix: FixSettings = FixSettings()
    generate: GenerateSettings = GenerateSettings()
    run: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    test_command: tuple[str, ...] | None = None
    run_on_save: bool = False
    strip_secrets: bool = True
    max_prompt_chars: int = 16_000
    max_output_chars: int = 200_000
    source: str | None = None

    def role(self, name: str) -> RoleSettings:
        try:
            return self.roles[name]
        except KeyError:
            known = ", ".join(self.roles)
            raise ConfigError(f"unknown role {name!r}; known roles: {known}") from None


# ---------------------------------------------------------------- reading YAML with line numbers


@dataclass
class _Node:
    value: Any
    line: int | None


def _compose(text: str, file: str) -> Any:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and start is not None and mark is not None and start.line != mark.line:
            problem += f" ({context.removeprefix('while ')} started on line {start.line + 1})"
        raise ConfigError(f"YAML syntax error: {problem}", file=file, line=line) from None
    if root is None:
        return _Node({}, 1)
    return _convert(root, file, [_MAX_NODES], set())


# A config is a few hundred values; aliases can make a short file expand without end.
_MAX_NODES = 10_000


def _value(node: yaml.Node, file: str) -> Any:
    """The plain value of a node; YAML that cannot be turned into a value is a ConfigError."""
    try:
        return yaml.safe_load(yaml.serialize(node))
    except Exception as exc:  # PyYAML constructors raise many kinds on malformed values
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(
            f"cannot read this value: {problem}", file=file, line=node.start_mark.line + 1
        ) from None


def _convert(node: yaml.Node, file: str, budget: list[int], open_nodes: set[int]) -> _Node:
    line = node.start_mark.line + 1
    budget[0] -= 1
    if budget[0] < 0:
        raise ConfigError(
            f"the file expands to more than {_MAX_NODES} values (aliases?)", file=file, line=line
        )
    if id(node) in open_nodes:
        raise ConfigError("an alias refers to the value that contains it", file=file, line=line)
    if isinstance(node, yaml.MappingNode):
        open_nodes.add(id(node))
        out: dict[str, _Node] = {}
        for key_node, value_node in node.value:
            key = _value(key_node, file)
            if not isinstance(key, str):
                raise ConfigError(
                    f"keys must be text, got {key!r}", file=file, line=key_node.start_mark.line + 1
                )
            if key in out:
                raise ConfigError(
                    f"key {key!r} appears twice", file=file, line=key_node.start_mark.line + 1
                )
            out[key] = _convert(value_node, file, budget, open_nodes)
        open_nodes.discard(id(node))
        return _Node(out, line)
    if isinstance(node, yaml.SequenceNode):
        open_nodes.add(id(node))
        items = [_convert(item, file, budget, open_nodes) for item in node.value]
        open_nodes.discard(id(node))
        return _Node(items, line)
    return _Node(_value(node, file), line)


def _plain(node: _Node) -> Any:
    if isinstance(node.value, dict):
        return {k: _plain(v) for k, v in node.value.items()}
    if isinstance(node.value, list):
        return [_plain(v) for v in node.value]
    return node.value


def _wrap(value: Any, line: int | None = None) -> _Node:
    """Turn plain data (editor overrides) into nodes without line numbers."""
    if isinstance(value, _Node):
        return value
    if isinstance(value, Mapping):
        return _Node({str(k): _wrap(v) for k, v in value.items()}, line)
    if isinstance(value, (list, tuple)):
        return _Node([_wrap(v) for v in value], line)
    return _Node(value, line)


def _merge(base: _Node, over: _Node) -> _Node:
    if isinstance(base.value, dict) and isinstance(over.value, dict):
        merged = dict(base.value)
        for key, value in over.value.items():
            merged[key] = _merge(merged[key], value) if key in merged else value
        return _Node(merged, base.line)
    return over


class _Section:
    """A mapping being validated: takes known keys, then complains about the rest."""

    def __init__(self, node: _Node, path: str, file: str) -> None:
        self.path = path
        self.file = file
        self.line = node.line
        if node.value is None:
            node = _Node({}, node.line)
        if not isinstance(node.value, dict):
            raise self.error(
                path or None, f"expected a mapping of keys, got {_kind(node.value)}", node.line
            )
        self.items: dict[str, _Node] = node.value
        self.seen: set[str] = set()

    def key_path(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str | None, message: str, line: int | None) -> ConfigError:
        return ConfigError(message, file=self.file, line=line, key=key)

    def has(self, key: str) -> bool:
        self.seen.add(key)
        return key in self.items

    def node(self, key: str) -> _Node | None:
        self.seen.add(key)
        return self.items.get(key)

    def section(self, key: str) -> _Section:
        node = self.node(key)
        return _Section(
            node if node is not None else _Node({}, self.line), self.key_path(key), self.file
        )

    def number(self, key: str, default: float, *, minimum: float = 0.0) -> float:
        node = self.node(key)
        if node is None or node.value is None:
            return default
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(
                self.key_path(key), f"expected a number, got {_kind(value)}", node.line
            )
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise self.error(
                self.key_path(key), f"expected a finite number, got {_kind(value)}", node.line
            )
        if number <= minimum:
            raise self.error(
                self.key_path(key), f"expected a number above {minimum:g}, got {value}", node.line
            )
        return number

    def integer(
        self, key: str, default: int, *, minimum: int = 1, maximum: int | None = None
    ) -> int:
        node = self.node(key)
        if node is None or node.value is None:
            return default
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(
                self.key_path(key), f"expected a whole number, got {_kind(value)}", node.line
            )
        if value < minimum or (maximum is not None and value > maximum):
            bound = (
                f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"
            )
            raise self.error(
                self.key_path(key), f"expected a whole number {bound}, got {value}", node.line
            )
        return value

    def boolean(self, key: str, default: bool) -> bool:
        node = self.node(key)
        if node is None or node.value is None:
            return default
        if not isinstance(node.value, bool):
            raise self.error(
                self.key_path(key), f"expected true or false, got {_kind(node.value)}", node.line
            )
        return node.value

    def text(
        self, key: str, default: str | None, *, choices: tuple[str, ...] | None = None
    ) -> str | None:
        node = self.node(key)
        if node is None or node.value is None:
            return default
        if not isinstance(node.value, str) or not node.value.strip():
            raise self.error(
                self.key_path(key), f"expected text, got {_kind(node.value)}", node.line
            )
        value = node.value.strip()
        if choices is not None and value not in choices:
            hint = _closest(value, choices)
            raise self.error(
                self.key_path(key),
                f"expected one of {', '.join(choices)}, got {value!r}{hint}",
                node.line,
            )
        return value

    def argv(self, key: str, node: _Node | None = None) -> tuple[str, ...] | None:
        node = node if node is not None else self.node(key)
        if node is None or node.value is None:
            return None
        items = node.value
        if (
            not isinstance(items, list)
            or not items
            or not all(isinstance(i.value, str) and i.value for i in items)
        ):
            raise self.error(
                self.key_path(key),
                'expected a non-empty list of arguments, e.g. ["python3", "{file}"] '
                "(commands never run through a shell)",
                node.line,
            )
        return tuple(i.value for i in items)

    def finish(self) -> None:
        for key, node in self.items.items():
            if key not in self.seen:
                hint = _closest(key, sorted(self.seen))
                raise self.error(self.key_path(key), f"unknown key{hint}", node.line)


def _closest(word: str, known: Any) -> str:
    match = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, (int, float)):
        return f"{value} (a number)"
    if isinstance(value, str):
        return f"{value!r} (text)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def check_url(url: Any, *, key: str, file: str, line: int | None) -> str:
    """Return the URL without a trailing slash, or raise a ConfigError saying what is wrong."""
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(
            f"expected a URL like {DEFAULT_BASE_URL!r}, got {_kind(url)}",
            file=file,
            line=line,
            key=key,
        )
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ConfigError(f"{url!r} is not a valid URL", file=file, line=line, key=key) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{url!r} is not a full URL: it needs a scheme and a host, e.g. "
            f"'http://{url.split('://')[-1] or 'localhost:11434'}'",
            file=file,
            line=line,
            key=key,
        )
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ConfigError(f"{url!r} has an invalid port", file=file, line=line, key=key) from None
    return url.rstrip("/")


# ---------------------------------------------------------------- building Settings


def _timeouts(section: _Section, default: Timeouts) -> Timeouts:
    if not section.has("timeouts"):
        return default
    sub = section.section("timeouts")
    result = Timeouts(
        connect=sub.number("connect", default.connect),
        first_byte=sub.number("first_byte", default.first_byte),
        idle=sub.number("idle", default.idle),
        total=sub.number("total", default.total),
    )
    sub.finish()
    return result


def _options(section: _Section, default: Mapping[str, Any]) -> Mapping[str, Any]:
    if not section.has("options"):
        return default
    sub = section.section("options")
    merged = dict(default)
    for key, node in sub.items.items():
        sub.seen.add(key)
        if key not in OLLAMA_OPTION_KEYS:
            raise sub.error(
                sub.key_path(key),
                f"unknown Ollama option{_closest(key, OLLAMA_OPTION_KEYS)}; known: "
                + ", ".join(OLLAMA_OPTION_KEYS),
                node.line,
            )
        value = _plain(node)
        if key == "stop":
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise sub.error(sub.key_path(key), "expected a list of stop strings", node.line)
        elif key == "temperature" or key in ("top_p", "repeat_penalty"):
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not 0 <= value < math.inf
            ):
                raise sub.error(
                    sub.key_path(key),
                    f"expected a number of 0 or more, got {_kind(value)}",
                    node.line,
                )
        elif isinstance(value, bool) or not isinstance(value, int):
            raise sub.error(
                sub.key_path(key), f"expected a whole number, got {_kind(value)}", node.line
            )
        merged[key] = value
    return MappingProxyType(merged)


def _keep_alive(section: _Section, default: str | int | None) -> str | int | None:
    node = section.node("keep_alive")
    if node is None or node.value is None:
        return default
    if isinstance(node.value, bool) or not isinstance(node.value, (str, int)):
        raise section.error(
            section.key_path("keep_alive"),
            f"expected a duration like '10m' or seconds, got {_kind(node.value)}",
            node.line,
        )
    return node.value


def _endpoint(node: _Node, key: str, file: str) -> Endpoint:
    if isinstance(node.value, dict):
        sub = _Section(node, key, file)
        url_node = sub.node("url")
        if url_node is None:
            raise ConfigError(
                "an endpoint given as a mapping needs a 'url'", file=file, line=node.line, key=key
            )
        url = check_url(url_node.value, key=f"{key}.url", file=file, line=url_node.line)
        headers: dict[str, str] = {}
        if sub.has("headers_env"):
            hsub = sub.section("headers_env")
            for name, hnode in hsub.items.items():
                hsub.seen.add(name)
                if not isinstance(hnode.value, str) or not hnode.value:
                    raise hsub.error(
                        hsub.key_path(name),
                        "expected the NAME of an environment variable that holds the header value",
                        hnode.line,
                    )
                headers[name] = hnode.value
        api = sub.text("api", None, choices=APIS)
        key_env = sub.text("key_env", None)
        sub.finish()
        return Endpoint(url, MappingProxyType(headers), api, key_env)
    return Endpoint(check_url(node.value, key=key, file=file, line=node.line))


def _role(name: str, section: _Section, base_url: str, defaults: RoleSettings) -> RoleSettings:
    file = section.file
    model = section.text("model", DEFAULT_MODELS.get(name, "codellama"))
    assert model is not None
    endpoints: tuple[Endpoint, ...]
    explicit = False
    ep_node = section.node("endpoints")
    one_node = section.node("endpoint")
    if ep_node is not None and ep_node.value is not None:
        key = section.key_path("endpoints")
        if one_node is not None and one_node.value is not None:
            raise ConfigError(
                "give either 'endpoint' or 'endpoints', not both",
                file=file,
                line=one_node.line,
                key=section.key_path("endpoint"),
            )
        if isinstance(ep_node.value, str):
            ep_node = _Node([ep_node], ep_node.line)
        if not isinstance(ep_node.value, list):
            raise ConfigError(
                f"expected a list of URLs, got {_kind(_plain(ep_node))}",
                file=file,
                line=ep_node.line,
                key=key,
            )
        if not ep_node.value:
            raise ConfigError(
                "the list is empty; list at least one URL, or remove the key to use "
                f"ollama.base_url ({base_url})",
                file=file,
                line=ep_node.line,
                key=key,
            )
        endpoints = tuple(
            _endpoint(item, f"{key}[{i}]", file) for i, item in enumerate(ep_node.value)
        )
        explicit = True
    elif one_node is not None and one_node.value is not None:
        endpoints = (_endpoint(one_node, section.key_path("endpoint"), file),)
        explicit = True
    else:
        endpoints = (Endpoint(base_url),)
    seen: dict[str, int] = {}
    for i, ep in enumerate(endpoints):
        if ep.url in seen:
            line = (
                ep_node.value[i].line
                if ep_node is not None and isinstance(ep_node.value, list)
                else None
            )
            raise ConfigError(
                f"{ep.url} is listed twice; each endpoint once (round-robin already "
                "spreads the load)",
                file=file,
                line=line,
                key=section.key_path("endpoints"),
            )
        seen[ep.url] = i
    strategy = section.text("strategy", defaults.strategy, choices=STRATEGIES)
    api = section.text("api", defaults.api, choices=APIS)
    result = RoleSettings(
        role=name,
        model=model,
        endpoints=endpoints,
        strategy=strategy,  # type: ignore[arg-type]
        api=api or "ollama",
        timeouts=_timeouts(section, defaults.timeouts),
        options=_options(section, defaults.options),
        keep_alive=_keep_alive(section, defaults.keep_alive),
        endpoint_explicit=explicit,
    )
    section.finish()
    return result


def build_settings(root: _Node, file: str) -> Settings:
    top = _Section(root, "", file)
    ollama = top.section("ollama")
    base_url = DEFAULT_BASE_URL
    node = ollama.node("base_url")
    if node is not None and node.value is not None:
        base_url = check_url(node.value, key="ollama.base_url", file=file, line=node.line)
    defaults = RoleSettings(
        role="default",
        model="",
        endpoints=(Endpoint(base_url),),
        strategy=ollama.text("strategy", "round_robin", choices=STRATEGIES),  # type: ignore[arg-type]
        api=ollama.text("api", "ollama", choices=APIS) or "ollama",
        timeouts=_timeouts(ollama, Timeouts()),
        options=_options(ollama, MappingProxyType({})),
        keep_alive=_keep_alive(ollama, None),
    )
    cooldown = Cooldown()
    if ollama.has("cooldown"):
        sub = ollama.section("cooldown")
        cooldown = Cooldown(
            base=sub.number("base", cooldown.base),
            max=sub.number("max", cooldown.max),
            model_missing=sub.number("model_missing", cooldown.model_missing),
        )
        sub.finish()
    models = ollama.section("models")
    roles: dict[str, RoleSettings] = {}
    for name in ROLES:
        roles[name] = _role(name, models.section(name), base_url, defaults)
    models.finish()
    ollama.finish()

    fix = top.section("fix")
    fix_settings = FixSettings(
        max_attempts=fix.integer("max_attempts", 3, maximum=10),
        run_timeout=fix.number("run_timeout", 10.0),
        output_limit=fix.integer("output_limit", 200_000, minimum=1000),
        memory_limit_mb=fix.integer("memory_limit_mb", 2048, minimum=64),
    )
    fix.finish()
    gen = top.section("generate")
    gen_settings = GenerateSettings(
        related_functions=gen.integer("related_functions", 5, minimum=0, maximum=50),
        use_overseer=gen.boolean("use_overseer", True),
        write_tests=gen.boolean("write_tests", True),
        use_evaluator=gen.boolean("use_evaluator", False),
        max_attempts=gen.integer("max_attempts", fix_settings.max_attempts, maximum=10),
    )
    gen.finish()
    run: dict[str, tuple[str, ...]] = {}
    if top.has("run"):
        run_section = top.section("run")
        for lang, lang_node in run_section.items.items():
            run_section.seen.add(lang)
            argv = run_section.argv(lang, lang_node)
            if argv is not None:
                run[lang] = argv
    settings = Settings(
        base_url=base_url,
        roles=MappingProxyType(roles),
        cooldown=cooldown,
        fix=fix_settings,
        generate=gen_settings,
        run=MappingProxyType(run),
        test_command=top.argv("test_command"),
        run_on_save=top.boolean("run_on_save", False),
        strip_secrets=top.boolean("strip_secrets", True),
        max_prompt_chars=top.integer("max_prompt_chars", 16_000, minimum=1000),
        max_output_chars=top.integer("max_output_chars", 200_000, minimum=1000),
        source=file if file != "<defaults>" else None,
    )
    top.finish()
    return settings


# ---------------------------------------------------------------- finding and loading


def user_config_path() -> Path:
    """Where a per-user config.yaml lives on this platform."""
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "code-evolver" / "config.yaml"


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The config file to use: explicit path, $CODE_EVOLVER_CONFIG, the user's config, or none."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"config file not found: {path}; check the --config flag or the "
                "codeEvolver.configPath setting",
                file=str(path),
            )
        return path
    from_env = os.environ.get(ENV_CONFIG)
    if from_env:
        path = Path(from_env).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"config file not found: {path}; fix or unset the {ENV_CONFIG} "
                "environment variable",
                file=str(path),
            )
        return path
    user = user_config_path()
    return user if user.is_file() else None


def load_settings(
    path: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    discover: bool = True,
) -> Settings:
    """Read, merge and validate the config; raises ConfigError with file, line and key."""
    found = find_config(path) if discover or path else None
    if found is None:
        file, root = "<defaults>", _Node({}, None)
    else:
        file = str(found)
        try:
            text = found.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the file: {exc}", file=file) from None
        root = _compose(text, file)
    if overrides:
        if not isinstance(overrides, Mapping):
            raise ConfigError(
                "editor overrides must be a mapping of config keys", file="editor settings"
            )
        root = _merge(root, _wrap(overrides))
    return build_settings(root, file)


class ConfigManager:
    """The config as the rest of the program (and the seed's API) sees it."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        overrides: Mapping[str, Any] | None = None,
        *,
        discover: bool = True,
        settings: Settings | None = None,
    ) -> None:
        self.settings = (
            settings if settings is not None else load_settings(path, overrides, discover=discover)
        )

    @classmethod
    def defaults(cls) -> ConfigManager:
        return cls(discover=False)

    def with_overrides(self, overrides: Mapping[str, Any]) -> ConfigManager:
        return (
            ConfigManager(self.settings.source, overrides, discover=False)
            if self.settings.source
            else ConfigManager(overrides=overrides, discover=False)
        )

    @property
    def source(self) -> str | None:
        return self.settings.source

    @property
    def ollama_url(self) -> str:
        return self.settings.base_url

    @property
    def generator_model(self) -> str:
        return self.settings.role("generator").model

    @property
    def overseer_model(self) -> str:
        return self.settings.role("overseer").model

    @property
    def evaluator_model(self) -> str:
        return self.settings.role("evaluator").model

    def get_model_endpoints(self, role: str) -> list[str]:
        return self.settings.role(role).urls

    def role(self, role: str) -> RoleSettings:
        return self.settings.role(role)

    def replace(self, **changes: Any) -> ConfigManager:
        return ConfigManager(settings=replace(self.settings, **changes))
