"""config.yaml read into a tree of values that remember their line numbers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from .config_error import ConfigError


@dataclass
class Node:
    value: Any
    line: int | None


def compose(text: str, file: str) -> Any:
    try:
        _check_depth(text, file)
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
        return Node({}, 1)
    return convert_node(root, file, [MAX_NODES], set())


# A config is a few hundred values; aliases can make a short file expand without end.
MAX_NODES = 10_000
# A config nests five levels or so; PyYAML's composer (and the tree's own walks) recurse once
# per level, and a few hundred levels ended in a RecursionError traceback.
MAX_DEPTH = 50
_OPENS = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_CLOSES = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


def _check_depth(text: str, file: str) -> None:
    """Refuse lists and mappings nested past MAX_DEPTH, found with PyYAML's parser, which
    keeps its place in a list rather than on the call stack."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, _OPENS):
            depth += 1
            if depth > MAX_DEPTH:
                raise ConfigError(
                    f"lists or mappings nest more than {MAX_DEPTH} levels deep here; a config "
                    "needs a handful: flatten this value",
                    file=file,
                    line=event.start_mark.line + 1 if event.start_mark else None,
                )
        elif isinstance(event, _CLOSES):
            depth -= 1


def scalar_value(node: yaml.Node, file: str) -> Any:
    """The plain value of a node; YAML that cannot be turned into a value is a ConfigError."""
    try:
        return yaml.safe_load(yaml.serialize(node))
    except Exception as exc:  # PyYAML constructors raise many kinds on malformed values
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(
            f"cannot read this value: {problem}", file=file, line=node.start_mark.line + 1
        ) from None


def convert_node(node: yaml.Node, file: str, budget: list[int], open_nodes: set[int]) -> Node:
    line = node.start_mark.line + 1
    budget[0] -= 1
    if budget[0] < 0:
        raise ConfigError(
            f"the file expands to more than {MAX_NODES} values (aliases?)", file=file, line=line
        )
    if id(node) in open_nodes:
        raise ConfigError("an alias refers to the value that contains it", file=file, line=line)
    if isinstance(node, yaml.MappingNode):
        open_nodes.add(id(node))
        out: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key = scalar_value(key_node, file)
            if not isinstance(key, str):
                raise ConfigError(
                    f"keys must be text, got {key!r}", file=file, line=key_node.start_mark.line + 1
                )
            if key in out:
                raise ConfigError(
                    f"key {key!r} appears twice", file=file, line=key_node.start_mark.line + 1
                )
            out[key] = convert_node(value_node, file, budget, open_nodes)
        open_nodes.discard(id(node))
        return Node(out, line)
    if isinstance(node, yaml.SequenceNode):
        open_nodes.add(id(node))
        items = [convert_node(item, file, budget, open_nodes) for item in node.value]
        open_nodes.discard(id(node))
        return Node(items, line)
    return Node(scalar_value(node, file), line)


def plain(node: Node) -> Any:
    if isinstance(node.value, dict):
        return {k: plain(v) for k, v in node.value.items()}
    if isinstance(node.value, list):
        return [plain(v) for v in node.value]
    return node.value


def wrap(value: Any, line: int | None = None, *, depth: int = 0) -> Node:
    """Turn plain data (editor overrides) into nodes without line numbers."""
    if isinstance(value, Node):
        return value
    if isinstance(value, (Mapping, list, tuple)) and depth >= MAX_DEPTH:
        raise ConfigError(
            f"the overrides nest more than {MAX_DEPTH} levels deep; a config needs a handful: "
            "flatten them",
            file="editor settings",
        )
    if isinstance(value, Mapping):
        return Node({str(k): wrap(v, depth=depth + 1) for k, v in value.items()}, line)
    if isinstance(value, (list, tuple)):
        return Node([wrap(v, depth=depth + 1) for v in value], line)
    return Node(value, line)


def merge(base: Node, over: Node) -> Node:
    if isinstance(base.value, dict) and isinstance(over.value, dict):
        merged = dict(base.value)
        for key, value in over.value.items():
            merged[key] = merge(merged[key], value) if key in merged else value
        return Node(merged, base.line)
    return over
