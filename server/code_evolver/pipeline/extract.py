"""Taking the code out of a model's reply: fences, tags, prose, and re-indenting it."""

from __future__ import annotations

import ast
import html
import itertools
import re
from dataclasses import dataclass

from .languages import is_python as _is_python
from .languages import same_language
from .lines import split_lines
from .outline import outline

__all__ = ["NoCodeInReply", "extract_code", "leading_indent", "reindent"]

_OPENING_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_PYTHON_TAG = re.compile(r"\[PYTHON\](?P<body>.*?)(?:\[/PYTHON\]|\Z)", re.IGNORECASE | re.DOTALL)
_CODE_TAG = re.compile(r"<code(?:\s[^>]*)?>(?P<body>.*?)(?:</code>|\Z)", re.IGNORECASE | re.DOTALL)
_BLOCK_HEADER = re.compile(
    r"^[ \t]*(?:async[ \t]+)?(?:def|class|if|elif|else|for|while|with|try|except|finally"
    r"|match|case)\b[^#]*:[ \t]*(?:#.*)?$"
)
_DEF_NAME = re.compile(r"^[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+(?P<name>\w+)", re.MULTILINE)

# Fallback search for code in unfenced prose is quadratic at worst; this bounds it.
_PARSE_BUDGET = 2_000


class NoCodeInReply(ValueError):
    """The model answered, but with nothing that looks like code in the wanted language."""

    def __init__(
        self, language: str = "python", *, incomplete: bool = False, syntax: str | None = None
    ) -> None:
        if syntax:
            message = f"The model's {language} code does not parse: {syntax}"
        elif incomplete:
            message = (
                f"The model's reply contained no complete {language} code "
                "(it was cut off or does not parse)"
            )
        else:
            message = f"The model's reply contained no {language} code"
        super().__init__(message)
        self.language = language
        self.incomplete = incomplete


@dataclass(frozen=True)
class _Block:
    info: str
    text: str


def extract_code(reply: str, language: str = "python", *, original: str | None = None) -> str:
    """Return the code in `reply` without fences or prose, with no leading/trailing blank lines.

    `original` is the code the reply should replace; a block defining the same function wins.
    Raises NoCodeInReply when there is nothing usable.
    """
    language = language.strip().lower() or "python"
    is_python = _is_python(language)
    names = _defined_names(original, language) if original else []

    blocks = _tagged_blocks(reply, _PYTHON_TAG, "python")
    if not blocks:
        blocks = _fenced_blocks(reply)
    if not blocks:
        blocks = _tagged_blocks(reply, _CODE_TAG, "")
        blocks = [_Block(b.info, html.unescape(b.text)) for b in blocks]

    if blocks:
        candidates = [
            b.text
            for b in blocks
            if (not b.info or same_language(b.info, language)) and b.text.strip()
        ]
        if not candidates:
            raise NoCodeInReply(language)
        code = _trim_blank_lines(_pick_block(candidates, names, language))
        if is_python:
            # A block that does not parse (cut off, or prose inside the fence) is not code to
            # apply; the syntax error goes back to the model on the next attempt.
            try:
                tree = ast.parse(_dedent(code))
            except SyntaxError as error:
                raise NoCodeInReply(
                    "python", syntax=f"SyntaxError: {error.msg} (line {error.lineno})"
                ) from None
            except (ValueError, RecursionError, MemoryError):
                raise NoCodeInReply("python", incomplete=True) from None
            if not _has_code(tree):
                raise NoCodeInReply("python")
        return code

    if not is_python:
        code = _trim_blank_lines(reply)
        if not code:
            raise NoCodeInReply(language)
        return code
    lines = split_lines(reply)
    found = _longest_parsing_run(lines)
    if found is None:
        raise NoCodeInReply(language, incomplete=_looks_like_code(lines))
    return found


def leading_indent(line: str) -> str:
    """The spaces and tabs a line starts with."""
    return line[: len(line) - len(line.lstrip(" \t"))]


def reindent(code: str, indent: str) -> str:
    """Dedent `code`, then prefix every non-blank line with `indent`; blank lines become empty."""
    lines = _dedent_lines(split_lines(code))
    out = "\n".join(indent + line if line.strip() else "" for line in lines)
    return out + "\n" if code.endswith("\n") and out else out


# --- choosing among blocks -------------------------------------------------------------------


def _tagged_blocks(reply: str, pattern: re.Pattern[str], info: str) -> list[_Block]:
    blocks = []
    for match in pattern.finditer(reply):
        body = match.group("body")
        inner = _fenced_blocks(body)
        blocks.extend(inner if inner else [_Block(info, body)])
    return blocks


def _fenced_blocks(text: str) -> list[_Block]:
    """Fenced code blocks in markdown; an unclosed fence runs to the end of the text."""
    lines = split_lines(text)
    blocks: list[_Block] = []
    i = 0
    while i < len(lines):
        opening = _OPENING_FENCE.match(lines[i])
        if opening is None or (opening["fence"][0] == "`" and "`" in opening["info"]):
            i += 1
            continue
        fence, width = opening["fence"], len(opening["indent"])
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        body: list[str] = []
        i += 1
        while i < len(lines) and not closing.match(lines[i]):
            body.append(_strip_columns(lines[i], width))
            i += 1
        i += 1
        blocks.append(_Block(_info_language(opening["info"]), "\n".join(body)))
    return blocks


def _info_language(info: str) -> str:
    words = info.strip().strip("{}").split()
    return words[0].lstrip(".").rstrip(",;:").lower() if words else ""


def _pick_block(candidates: list[str], names: list[str], language: str) -> str:
    is_python = _is_python(language)
    if names:
        defining = [
            c for c in candidates if any(_has_definition(c, name, language) for name in names)
        ]
        if defining:
            candidates = defining
    if is_python:
        parsing = [c for c in candidates if _parses(_dedent(c))]
        if parsing:
            candidates = parsing
    return max(candidates, key=lambda c: len(c.strip()))


def _has_definition(code: str, name: str, language: str) -> bool:
    if not _is_python(language):
        found = outline(code, language)
        return found is not None and any(d.name == name for d in found.top_level())
    return _has_definition_line(code, name)


def _has_definition_line(code: str, name: str) -> bool:
    return any(m["name"] == name for m in _DEF_NAME.finditer(code))


def _defined_names(original: str, language: str) -> list[str]:
    """Names of the functions and classes `original` defines, outermost first."""
    if not _is_python(language):
        found = outline(original, language)
        return [d.name for d in found.top_level()] if found is not None else []
    try:
        tree = ast.parse(_dedent(original))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return [m["name"] for m in _DEF_NAME.finditer(original)]
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    ]


# --- replies without fences ------------------------------------------------------------------


def _longest_parsing_run(lines: list[str]) -> str | None:
    """The longest run of whole lines that parses as Python and holds more than bare words.

    A syntax error at line N of a run means the run can at best end before line N, so each
    start costs only a few parses instead of one per possible end.
    """
    best: tuple[int, int] | None = None
    budget = _PARSE_BUDGET
    start = 0
    while start < len(lines) and budget > 0:
        if not lines[start].strip():
            start += 1
            continue
        end = len(lines)
        found = False
        while end > start and budget > 0:
            if best is not None and end - start <= best[1] - best[0]:
                break
            budget -= 1
            error_line = _syntax_error_line(_dedent("\n".join(lines[start:end])))
            if error_line is None:
                found = True
                break
            end = start + error_line - 1 if 1 < error_line <= end - start else end - 1
            if error_line == 1:
                break
        if found and _is_fragment(lines, start, end):
            found = False  # a block cut off (or broken) after the run: not usable code
        if found:
            tree = _parse("\n".join(_dedent_lines(lines[start:end])))
            if tree is not None and _has_code(tree) and _compiles(tree):
                best = (start, end)
            start = max(end, start + 1)
        else:
            start += 1
    if best is None:
        return None
    start, end = _trim_bare_words(lines, *best)
    return _trim_blank_lines("\n".join(lines[start:end]))


def _looks_like_code(lines: list[str]) -> bool:
    """Whether a reply without usable code still has a Python block header (broken code)."""
    return any(
        _BLOCK_HEADER.match(line) and line.lstrip().startswith(("def", "class", "async"))
        for line in lines
    )


def _is_fragment(lines: list[str], start: int, end: int) -> bool:
    """Whether lines start..end are only part of a larger block that does not parse.

    That is when the next non-blank line is indented deeper than the run (the last block
    continues: the reply was cut off or has a syntax error further down), or when the line
    before the run is a Python block header indented less (the run is the body of a block
    whose header is broken). Such a run parses but is not the code the model meant: a function
    whose body was cut after two lines would replace a whole function and may even run.
    """
    filled = [leading_indent(line) for line in lines[start:end] if line.strip()]
    if not filled:
        return False
    margin = min(len(indent) for indent in filled)
    after = next((line for line in lines[end:] if line.strip()), None)
    if after is not None and len(leading_indent(after)) > margin:
        return True
    before = next((line for line in reversed(lines[:start]) if line.strip()), None)
    return (
        before is not None
        and len(leading_indent(before)) < margin
        and _BLOCK_HEADER.match(before) is not None
    )


def _trim_bare_words(lines: list[str], start: int, end: int) -> tuple[int, int]:
    """Drop prose lines that happen to parse (`Explanation`, `python`) at either end of a run."""
    tree = _parse("\n".join(_dedent_lines(lines[start:end])))
    if tree is None:
        return start, end
    body = list(tree.body)
    words = ast.Name | ast.Attribute
    while body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, words):
        body.pop(0)
    while body and isinstance(body[-1], ast.Expr) and isinstance(body[-1].value, words):
        body.pop()
    if not body:
        return start, end
    first_line = min([body[0].lineno] + [d.lineno for d in _decorators(body[0])])
    return start + first_line - 1, start + (body[-1].end_lineno or body[-1].lineno)


def _decorators(stmt: ast.stmt) -> list[ast.expr]:
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return stmt.decorator_list
    return []


def _syntax_error_line(code: str) -> int | None:
    """None when `code` parses, else the 1-based line of the error (1 when unknown)."""
    try:
        ast.parse(code)
    except SyntaxError as error:
        return max(1, error.lineno or 1)
    except (ValueError, RecursionError, MemoryError):
        return 1
    return None


def _parse(code: str) -> ast.Module | None:
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _parses(code: str) -> bool:
    return _parse(code) is not None


def _compiles(tree: ast.Module) -> bool:
    """Whether a module compiles: `return` or `await` outside a function parse but do not."""
    try:
        compile(tree, "<reply>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, TypeError, RecursionError, MemoryError):
        return False
    return True


def _has_code(tree: ast.Module) -> bool:
    """Whether the module holds a real statement, not just words such as `Sure` or `None`."""
    trivial = ast.Name | ast.Constant | ast.Attribute
    return any(
        not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, trivial)) for stmt in tree.body
    )


# --- indentation -----------------------------------------------------------------------------


def _trim_blank_lines(code: str) -> str:
    lines = [line.rstrip() for line in split_lines(code)]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


def _strip_columns(line: str, width: int) -> str:
    """Remove up to `width` leading whitespace characters, never anything else."""
    return line[min(width, len(leading_indent(line))) :]


def _dedent(code: str) -> str:
    return "\n".join(_dedent_lines(split_lines(code)))


def _dedent_lines(lines: list[str]) -> list[str]:
    """Like textwrap.dedent, but a first line indented less than the rest does not block it.

    That happens when a reply (or a selection) lost the first line's indentation while the
    following lines kept their absolute indentation.
    """
    filled = [i for i, line in enumerate(lines) if line.strip()]
    if not filled:
        return ["" for _ in lines]
    first, rest = filled[0], filled[1:]
    first_width = len(leading_indent(lines[first]))
    rest_widths = sorted({len(leading_indent(lines[i])) for i in rest})
    shift_rest = 0
    if rest_widths and rest_widths[0] > first_width:
        steps = [b - a for a, b in itertools.pairwise(rest_widths)]
        unit = min(steps) if steps else 4
        head = lines[first].split("#", 1)[0].rstrip()
        if head.endswith(":"):
            # The rest is the body of the first line: keep it exactly one level deeper.
            shift_rest = max(0, rest_widths[0] - first_width - unit)
        elif not _opens_continuation(head):
            shift_rest = rest_widths[0] - first_width
    margin = min([first_width] + [w - shift_rest for w in rest_widths])
    out = []
    for i, line in enumerate(lines):
        if not line.strip():
            out.append("")
        elif i == first:
            out.append(_strip_columns(line, margin))
        else:
            out.append(_strip_columns(line, margin + shift_rest))
    return out


def _opens_continuation(line: str) -> bool:
    """Whether the next line continues this one (open bracket or backslash)."""
    depth = sum(line.count(c) for c in "([{") - sum(line.count(c) for c in ")]}")
    return depth > 0 or line.endswith("\\")
