"""The YAML tree turned into Settings, section by section."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from .config_error import ConfigError
from .settings import (
    APIS,
    DEFAULT_BASE_URL,
    DEFAULT_MODELS,
    OLLAMA_OPTION_KEYS,
    ROLES,
    STRATEGIES,
    Cooldown,
    Endpoint,
    FixSettings,
    GenerateSettings,
    RoleSettings,
    Routing,
    Settings,
    Timeouts,
)
from .validation import Section, check_url, closest, kind_of
from .yaml_tree import Node, plain


def _timeouts(section: Section, default: Timeouts) -> Timeouts:
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


def _options(section: Section, default: Mapping[str, Any]) -> Mapping[str, Any]:
    if not section.has("options"):
        return default
    sub = section.section("options")
    merged = dict(default)
    for key, node in sub.items.items():
        sub.seen.add(key)
        if key not in OLLAMA_OPTION_KEYS:
            raise sub.error(
                sub.key_path(key),
                f"unknown Ollama option{closest(key, OLLAMA_OPTION_KEYS)}; known: "
                + ", ".join(OLLAMA_OPTION_KEYS),
                node.line,
            )
        value = plain(node)
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
                    f"expected a number of 0 or more, got {kind_of(value)}",
                    node.line,
                )
        elif isinstance(value, bool) or not isinstance(value, int):
            raise sub.error(
                sub.key_path(key), f"expected a whole number, got {kind_of(value)}", node.line
            )
        merged[key] = value
    return MappingProxyType(merged)


def _keep_alive(section: Section, default: str | int | None) -> str | int | None:
    node = section.node("keep_alive")
    if node is None or node.value is None:
        return default
    if isinstance(node.value, bool) or not isinstance(node.value, (str, int)):
        raise section.error(
            section.key_path("keep_alive"),
            f"expected a duration like '10m' or seconds, got {kind_of(node.value)}",
            node.line,
        )
    return node.value


def _endpoint(node: Node, key: str, file: str) -> Endpoint:
    if isinstance(node.value, dict):
        sub = Section(node, key, file)
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
        weight = sub.number("weight", 1.0)
        priority = sub.integer("priority", 0, minimum=0, maximum=1000)
        # One request at a time unless told otherwise: Ollama's own OLLAMA_NUM_PARALLEL default.
        max_parallel = sub.integer("max_parallel", 1, maximum=1024)
        sub.finish()
        return Endpoint(
            url, MappingProxyType(headers), api, key_env, weight, priority, max_parallel
        )
    return Endpoint(check_url(node.value, key=key, file=file, line=node.line))


def _routing(section: Section, default: Routing) -> Routing:
    return Routing(
        queue_timeout=section.number("queue_timeout", default.queue_timeout),
        probe_interval=section.number("probe_interval", default.probe_interval),
        loaded_refresh=section.number("loaded_refresh", default.loaded_refresh),
        prefer_loaded=section.boolean("prefer_loaded", default.prefer_loaded),
    )


def _role(name: str, section: Section, base_url: str, defaults: RoleSettings) -> RoleSettings:
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
            ep_node = Node([ep_node], ep_node.line)
        if not isinstance(ep_node.value, list):
            raise ConfigError(
                f"expected a list of URLs, got {kind_of(plain(ep_node))}",
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
        routing=_routing(section, defaults.routing),
    )
    section.finish()
    return result


def build_settings(root: Node, file: str) -> Settings:
    top = Section(root, "", file)
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
        routing=_routing(ollama, Routing()),
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
        written = models.has(name)
        roles[name] = replace(
            _role(name, models.section(name), base_url, defaults), written=written
        )
    models.finish()
    ollama.finish()

    fix = top.section("fix")
    fix_settings = FixSettings(
        max_attempts=fix.integer("max_attempts", 3, maximum=10),
        run_timeout=fix.number("run_timeout", 10.0),
        output_limit=fix.integer("output_limit", 200_000, minimum=1000),
        memory_limit_mb=fix.integer("memory_limit_mb", 2048, minimum=64),
        max_processes=fix.integer("max_processes", 256, minimum=8, maximum=100_000),
        candidates=fix.integer("candidates", 4, minimum=1, maximum=16),
        stdin=_stdin(fix),
        network=fix.boolean("network", False),
        isolation=fix.text("isolation", "auto", choices=("auto", "copy")) or "auto",
    )
    fix.finish()
    gen = top.section("generate")
    gen_settings = GenerateSettings(
        related_functions=gen.integer("related_functions", 5, minimum=0, maximum=50),
        use_overseer=gen.boolean("use_overseer", False),
        write_tests=gen.boolean("write_tests", False),
        use_evaluator=gen.boolean("use_evaluator", False),
        max_attempts=gen.integer("max_attempts", fix_settings.max_attempts, maximum=10),
        candidates=gen.integer("candidates", 4, minimum=1, maximum=16),
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
        python=top.text("python", None),
        max_prompt_chars=top.integer("max_prompt_chars", 16_000, minimum=1000),
        max_output_chars=top.integer("max_output_chars", 200_000, minimum=1000),
        source=file if file != "<defaults>" else None,
    )
    top.finish()
    return settings


def _stdin(section: Section) -> str | None:
    """fix.stdin as written: text (kept exactly, newlines and all) or a file path."""
    node = section.node("stdin")
    if node is None or node.value is None:
        return None
    if not isinstance(node.value, str):
        raise section.error(
            section.key_path("stdin"),
            f"expected the text runs read, or a file path, got {kind_of(node.value)}",
            node.line,
        )
    return node.value
