"""Finding what to generate in a document: stub functions, `# generate:` comments, selections."""

from __future__ import annotations

import ast
import gc
import io
import keyword
import re
import textwrap
import tokenize
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from ..values import Stub
from .extract import leading_indent
from .lines import split_lines

__all__ = [
    "RelatedFunction",
    "Stub",
    "enclosing_function",
    "find_stubs",
    "related_functions",
    "selection_stub",
    "stub_at",
]

_Function = ast.FunctionDef | ast.AsyncFunctionDef

_GENERATE_COMMENT = re.compile(r"^(?P<indent>[ \t]*)#[ \t]*generate:[ \t]*(?P<what>.*?)\s*$", re.I)
_GENERATE_HINT = re.compile(r"#[ \t]*generate:", re.I)
_DEF_LINE = re.compile(r"^(?P<indent>[ \t]*)(?:async[ \t]+)?def[ \t]+\w")
_CODE_CHARACTERS = frozenset("=(){}[]@\\`;<>|^~$")
_CODE_LINE = re.compile(
    r"\bdef\s+\w|\blambda\b|^\s*(?:class\s+\w+\s*[(:]|import\s+[\w.]+\s*$"
    r"|from\s+[\w.]+\s+import\b|(?:if|elif|else|for|while|with|try|except|finally)\b.*:\s*$)"
)
_SELECTION_LIMIT = 2_000
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
# fmt: off
_STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "do", "does", "for", "from", "get",
    "gets", "has", "have", "if", "in", "into", "is", "it", "its", "of", "on", "or", "that",
    "the", "this", "to", "with", "without", "self", "cls", "return", "returns", "none", "true",
    "false", "def", "async", "given", "use", "using", "which", "will", "should", "must", "can",
})
# fmt: on


@dataclass(frozen=True)
class RelatedFunction:
    """A function elsewhere in the workspace that the model may call or imitate."""

    path: str
    name: str
    signature: str
    docstring: str | None
    source: str
    score: float


def find_stubs(source: str) -> list[Stub]:
    """Stub functions and `# generate:` comments in `source`, in document order; never raises."""
    lines = split_lines(source)
    with _collector_paused(source):
        tree = _parse(source)
        parsed = tree is not None
        stubs = [_function_stub(node, lines) for node in _functions(tree) if _is_stub(node)]
        del tree  # freed while the collector is paused: the tree holds no cycles
    stubs.extend(_comment_stubs(source, lines, parsed=parsed))
    return sorted(stubs, key=lambda s: (s.start_line, s.end_line))


def stub_at(stubs: list[Stub], line: int) -> Stub | None:
    """The innermost stub covering the 0-based `line`, or None."""
    covering = [s for s in stubs if s.start_line <= line <= s.end_line]
    return min(covering, key=lambda s: s.end_line - s.start_line, default=None)


def selection_stub(
    source: str, start_line: int, start_char: int, end_line: int, end_char: int
) -> Stub | None:
    """A selection of plain words as a request, or None when it is empty or looks like code."""
    lines = split_lines(source)
    last = len(lines) - 1
    if not lines or start_line < 0 or (end_line, end_char) < (start_line, start_char):
        return None
    if start_line > last:
        return None  # nothing of the document is selected
    if end_line > last:
        end_line, end_char = last, len(lines[last])  # the selection runs to the end
    if end_char == 0 and end_line > start_line:
        end_line -= 1  # A selection of whole lines ends at the start of the next line.
        end_char = len(lines[end_line])
    chosen = lines[start_line : end_line + 1]
    chosen[-1] = chosen[-1][: max(0, end_char)]
    chosen[0] = chosen[0][max(0, start_char) :]
    words = [re.sub(r"^\s*#+\s?", "", line).strip() for line in chosen]
    request = " ".join(w for w in words if w)
    request = re.sub(r"\s+", " ", request)
    if not _is_plain_words(request):
        return None
    return Stub(
        kind="selection",
        start_line=start_line,
        end_line=end_line,
        indent=leading_indent(lines[start_line]),
        name=None,
        signature=None,
        docstring=None,
        request=request,
    )


def enclosing_function(source: str, line: int) -> tuple[int, int] | None:
    """The 0-based inclusive span (decorators included) of the innermost function around `line`.

    Works on source that does not parse too, by indentation, since fixing often starts there.
    """
    tree = _parse(source)
    if tree is None:
        return _enclosing_by_indentation(split_lines(source), line)
    spans = [_span(node) for node in _functions(tree)]
    around = [span for span in spans if span[0] <= line <= span[1]]
    return max(around, key=lambda span: span[0], default=None)


def related_functions(
    sources: dict[str, str], request: str, *, exclude_name: str | None = None, limit: int = 5
) -> list[RelatedFunction]:
    """The workspace functions whose name, signature and docstring share most words with
    `request`; unparsable files and stub functions are skipped."""
    wanted = _tokens(request)
    if not wanted or limit <= 0:
        return []
    found: list[tuple[float, str, int, RelatedFunction]] = []
    for path in sorted(sources):
        tree = _parse(sources[path])
        if tree is None:
            continue
        lines = split_lines(sources[path])
        for node in _functions(tree):
            if node.name == exclude_name or _is_stub(node):
                continue
            signature = _signature(node)
            docstring = ast.get_docstring(node)
            score = _score(wanted, node.name, signature, docstring)
            if score <= 0:
                continue
            start, end = _span(node)
            text = "\n".join(lines[start : end + 1])
            function = RelatedFunction(path, node.name, signature, docstring, text, score)
            found.append((-score, path, start, function))
    found.sort(key=lambda item: item[:3])
    return [item[3] for item in found[:limit]]


# --- functions -------------------------------------------------------------------------------


# Above this size the garbage collector, run again and again while ast.parse allocates
# millions of nodes, costs more than the parse itself; it is paused meanwhile.
_GC_PAUSE_SIZE = 512 * 1024


@contextmanager
def _collector_paused(source: str) -> Iterator[None]:
    """Pause the garbage collector while a large source's tree is built and walked."""
    paused = len(source) > _GC_PAUSE_SIZE and gc.isenabled()
    if paused:
        gc.disable()  # other threads keep running; their garbage waits a few seconds
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _parse(source: str) -> ast.Module | None:
    with _collector_paused(source):
        try:
            return ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None


# Statements (and so function definitions) only live in these fields; expressions never hold
# them, so walking just these is much cheaper than ast.walk on a large file.
_STATEMENT_FIELDS = ("body", "orelse", "finalbody", "handlers", "cases")


def _functions(tree: ast.Module | None) -> Iterator[_Function]:
    if tree is None:
        return
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, _Function):
            yield node
        for name in _STATEMENT_FIELDS:
            children = getattr(node, name, None)
            if isinstance(children, list):
                pending.extend(child for child in children if isinstance(child, ast.AST))


def _is_stub(node: _Function) -> bool:
    """Whether the body is only a docstring and/or `pass`, `...`, `raise NotImplementedError`."""
    body = node.body
    if ast.get_docstring(node, clean=False) is not None:
        body = body[1:]
    return all(_is_placeholder(stmt) for stmt in body)


def _is_placeholder(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.Pass):
        return True
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
        return stmt.value.value is Ellipsis
    if isinstance(stmt, ast.Raise) and stmt.exc is not None:
        exc = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
        return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"
    return False


def _span(node: _Function) -> tuple[int, int]:
    start = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
    return start, (node.end_lineno or node.lineno) - 1


def _signature(node: _Function) -> str:
    """`def name(args) -> returns`, as written by ast.unparse (comments and layout dropped)."""
    prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    try:
        type_params = getattr(node, "type_params", None)
        generic = f"[{', '.join(ast.unparse(p) for p in type_params)}]" if type_params else ""
        returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
        return f"{prefix} {node.name}{generic}({ast.unparse(node.args)}){returns}"
    except (RecursionError, MemoryError, ValueError):
        # A default or annotation nested too deeply for ast.unparse: name the function only.
        return f"{prefix} {node.name}(...)"


def _function_stub(node: _Function, lines: list[str]) -> Stub:
    start, end = _span(node)
    signature = _signature(node)
    docstring = ast.get_docstring(node)
    return Stub(
        kind="function",
        start_line=start,
        end_line=end,
        indent=leading_indent(lines[node.lineno - 1]),
        name=node.name,
        signature=signature,
        docstring=docstring,
        request=docstring or f"Implement {signature}",
    )


def _enclosing_by_indentation(lines: list[str], line: int) -> tuple[int, int] | None:
    # Walking up, a `def` can only enclose `line` if it is less indented than every code line
    # in between; once a top-level line is passed, nothing further up can.
    limit: int | None = None
    for candidate in range(min(line, len(lines) - 1), -1, -1):
        text = lines[candidate]
        stripped = text.lstrip()
        if not stripped or stripped.startswith((")", "]", "}")):
            continue  # blank, or the closing bracket of a multi-line signature or call
        width = len(text) - len(stripped)
        header = _DEF_LINE.match(text) if limit is None or width < limit else None
        if header is not None:
            end = _block_end(lines, candidate, len(header["indent"]))
            if end >= line:
                start = candidate
                while start > 0 and lines[start - 1].strip().startswith("@"):
                    start -= 1
                return start, end
        if limit is None or width < limit:
            limit = width
        if limit == 0:
            return None
    return None


def _block_end(lines: list[str], header: int, width: int) -> int:
    """The last line of the block opened at `header` (indented deeper than `width`)."""
    end = header
    for below in range(header + 1, len(lines)):
        text = lines[below]
        if text.strip():
            if len(leading_indent(text)) <= width and not text.lstrip().startswith(")"):
                break
            end = below
    return end


# --- comments and selections -----------------------------------------------------------------


def _comment_stubs(source: str, lines: list[str], *, parsed: bool) -> list[Stub]:
    """`# generate:` comment lines; with tokenize when possible so strings are not mistaken."""
    if _GENERATE_HINT.search(source) is None:
        return []  # the common case; tokenizing a large file costs seconds
    numbers = _comment_line_numbers(source) if parsed else None
    candidates = numbers if numbers is not None else range(len(lines))
    stubs = []
    for number in candidates:
        match = _GENERATE_COMMENT.match(lines[number])
        if match is None or not match["what"]:
            continue
        stubs.append(
            Stub(
                kind="comment",
                start_line=number,
                end_line=number,
                indent=match["indent"],
                name=None,
                signature=None,
                docstring=None,
                request=match["what"],
            )
        )
    return stubs


def _comment_line_numbers(source: str) -> list[int] | None:
    """0-based lines whose first token is a comment, or None when tokenizing fails."""
    numbers = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT and not token.line[: token.start[1]].strip():
                numbers.append(token.start[0] - 1)
    except (tokenize.TokenError, SyntaxError, ValueError):
        return None
    return numbers


def _is_plain_words(text: str) -> bool:
    if not text or len(text) > _SELECTION_LIMIT or not any(c.isalpha() for c in text):
        return False
    if any(c in _CODE_CHARACTERS for c in text) or _CODE_LINE.search(text):
        return False
    tree = _parse(text)
    return tree is None or all(_is_wordy(stmt) for stmt in tree.body)


def _is_wordy(stmt: ast.stmt) -> bool:
    """Whether a statement that parsed is still just words: `sort`, `x is not empty`."""
    if not isinstance(stmt, ast.Expr):
        return False
    allowed = (
        ast.Name, ast.Constant, ast.BoolOp, ast.UnaryOp, ast.Compare, ast.Load,
        ast.And, ast.Or, ast.Not, ast.In, ast.NotIn, ast.Is, ast.IsNot,
    )  # fmt: skip
    return all(isinstance(node, allowed) for node in ast.walk(stmt.value)) and not any(
        isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.Not)
        for node in ast.walk(stmt.value)
    )


# --- scoring ---------------------------------------------------------------------------------


def _tokens(text: str) -> set[str]:
    """Lower-case words from prose or identifiers (snake_case and camelCase split)."""
    words = set()
    for word in _WORD.findall(text):
        word = word.lower()
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        if len(word) > 1 and word not in _STOPWORDS and not keyword.iskeyword(word):
            words.add(word)
    return words


def _score(wanted: set[str], name: str, signature: str, docstring: str | None) -> float:
    """Weighted share of the request's words found: name counts most, then docstring."""
    in_name = wanted & _tokens(name)
    in_signature = (wanted & _tokens(signature.split("(", 1)[-1])) - in_name
    in_doc = (wanted & _tokens(docstring or "")) - in_name - in_signature
    return (3.0 * len(in_name) + 1.0 * len(in_signature) + 1.0 * len(in_doc)) / len(wanted)


def stub_near(source: str | list[str], line: int) -> Stub | None:
    """The stub covering the 0-based `line`, read from the code around it only.

    The lightbulb asks on every cursor move: this parses just the enclosing function, so its
    cost does not grow with the file. `source` may be given already split (`split_lines`).
    """
    lines = split_lines(source) if isinstance(source, str) else source
    if not 0 <= line < len(lines):
        return None
    match = _GENERATE_COMMENT.match(lines[line])
    if match is not None and match["what"]:
        return Stub("comment", line, line, match["indent"], None, None, None, match["what"])
    asked = line
    while line + 1 < len(lines) and lines[line].lstrip().startswith("@"):
        line += 1  # on a decorator: the function is below
    span = _enclosing_by_indentation(lines, line)
    if span is None:
        return None
    start, end = span
    tree = _parse(textwrap.dedent("\n".join(lines[start : end + 1])))
    if tree is None or len(tree.body) != 1:
        return None
    node = tree.body[0]
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or not _is_stub(node):
        return None
    stub = _function_stub(node, lines[start:])
    stub = replace(stub, start_line=stub.start_line + start, end_line=stub.end_line + start)
    # Indentation may also take in blank and comment lines after the body; those are not it.
    return stub if stub.start_line <= asked <= stub.end_line else None
