"""The house rules ARCHITECTURE.md promises: small modules, simple functions, one name each."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

from radon.complexity import cc_visit

PACKAGE = Path(__file__).resolve().parent.parent / "server" / "code_evolver"
MAX_LINES = 450
MAX_COMPLEXITY = 20


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_is_longer_than_a_sitting() -> None:
    long = {
        str(path.relative_to(PACKAGE)): count
        for path in _modules()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}, f"split these modules (over {MAX_LINES} lines): {long}"


def test_no_function_is_more_complex_than_twenty() -> None:
    complex_ = {
        f"{path.relative_to(PACKAGE)}:{block.fullname}": block.complexity
        for path in _modules()
        for block in cc_visit(path.read_text(encoding="utf-8"))
        if block.complexity > MAX_COMPLEXITY
    }
    assert complex_ == {}, f"cyclomatic complexity over {MAX_COMPLEXITY}: {complex_}"


def test_no_two_modules_share_a_name() -> None:
    names = Counter(p.name for p in _modules() if p.name not in {"__init__.py", "__main__.py"})
    assert [name for name, count in names.items() if count > 1] == []


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(node: ast.Import | ast.ImportFrom, package: str, known: set[str]) -> set[str]:
    """The package's modules an import statement loads, its own packages' parents included."""
    if isinstance(node, ast.Import):
        named = {alias.name for alias in node.names}
    else:
        base = node.module or ""
        if node.level:
            parent = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*parent, *([node.module] if node.module else [])])
        named = {base} | {f"{base}.{alias.name}" for alias in node.names}
    loaded = set()
    for name in named:
        parts = name.split(".")
        loaded |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    return loaded & known


def _import_graph() -> dict[str, set[str]]:
    """Each module of the package -> the package's modules it imports at module level, those
    under `if TYPE_CHECKING:` included (a circle there still ties the two modules together),
    a module's own enclosing packages left out (Python has loaded them before it)."""
    paths = {_module_name(path): path for path in _modules()}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        statements = [
            n for n in _module_level(tree.body) if isinstance(n, ast.Import | ast.ImportFrom)
        ]
        targets = set().union(*(_imported(n, package, set(paths)) for n in statements))
        graph[name] = {t for t in targets if t != name and not name.startswith(t + ".")}
    return graph


def _module_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements that run when the module is imported (or type-checked): into `if` and `try`
    blocks, not into functions or classes."""
    found: list[ast.stmt] = []
    for node in body:
        found.append(node)
        if isinstance(node, ast.If):
            found += _module_level(node.body) + _module_level(node.orelse)
        elif isinstance(node, ast.Try):
            blocks = [node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)]
            for block in blocks:
                found += _module_level(block)
    return found


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other, directly or round about."""

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for target in graph[todo.pop()] - seen:
                seen.add(target)
                todo.append(target)
        return seen

    reached = {name: reach(name) for name in graph}
    groups = {frozenset({m for m in reached[name] if name in reached[m]}) for name in graph}
    return sorted(sorted(group) for group in groups if len(group) > 1)


def test_no_two_modules_import_each_other() -> None:
    circles = _circles(_import_graph())
    assert circles == [], f"these modules import each other, round about: {circles}"


def test_no_feature_imports_the_lsp_layer() -> None:
    """ARCHITECTURE.md: lsp -> features -> worker -> pipeline -> sandbox, llm -> config."""
    upward = {
        name: sorted(t for t in targets if t.startswith("code_evolver.lsp"))
        for name, targets in _import_graph().items()
        if name.startswith("code_evolver.features")
    }
    assert {name: found for name, found in upward.items() if found} == {}


def test_the_endpoint_monitor_does_not_import_the_client() -> None:
    assert "code_evolver.llm.client" not in _import_graph()["code_evolver.llm.monitor"]


def test_shared_values_import_nothing_of_the_pipeline() -> None:
    values = _import_graph()["code_evolver.values"]
    assert sorted(t for t in values if t.startswith("code_evolver.pipeline")) == []
