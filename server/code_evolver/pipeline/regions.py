"""The region of a file the model rewrites, and putting its answer back in place.

Pure text functions: which lines a fix covers (the enclosing definition, found by a real parser
for every language that has one: pipeline/outline.py), splicing a reply into them (with the
region's indentation and the file's line endings), merging a partial whole-file reply, and
the guard that no candidate loses a definition the reply does not account for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pygments.lexers import find_lexer_class_by_name
from pygments.token import Name
from pygments.util import ClassNotFound

from ..values import Region
from .extract import leading_indent, reindent
from .languages import is_python
from .lines import line_ending, split_lines, with_line_ending
from .outline import Definition, Outline, enclosing_definition, outline
from .stubs import enclosing_function

# A top-level Python definition's first line, for sources that do not parse.
_TOP_DEFINITION = re.compile(r"(?:async[ \t]+)?(?:def|class)[ \t]+(\w+)")


def choose_region(
    source: str, lines: Sequence[int], whole_file: bool, language: str = "python"
) -> Region:
    """The enclosing function (or block) of the first diagnosed line, or the whole file."""
    count = max(len(split_lines(source)), 1)
    if not whole_file:
        for line in lines:
            if is_python(language):
                span = enclosing_function(source, line)
            else:
                span = enclosing_definition(source, line, language)
            if span is not None:
                return Region(span[0], span[1], False)
    return Region(0, count - 1, True)


def splice(source: str, region: Region, code: str) -> str:
    """Put `code` in place of the region's lines, with the region's indentation and the
    file's own line ending."""
    lines = split_lines(source, keepends=True)
    newline = line_ending(source)
    if region.whole_file:
        text = with_line_ending(code.rstrip("\r\n"), newline) + newline
        return text if source.endswith(("\n", "\r")) or not source else text.rstrip("\r\n")
    indent = leading_indent(lines[region.start]) if region.start < len(lines) else ""
    body = with_line_ending(reindent(code, indent).rstrip("\r\n"), newline) + newline
    tail = lines[region.end + 1 :]
    if not tail and region.end < len(lines) and not lines[region.end].endswith(("\n", "\r")):
        body = body.removesuffix(newline)  # the region was the last line, without an end
    return "".join(lines[: region.start]) + body + "".join(tail)


def region_text(source: str, region: Region) -> str:
    lines = split_lines(source, keepends=True)
    return "".join(lines[region.start : region.end + 1])


def _reply_outline(code: str, language: str) -> Outline | None:
    found = outline(_dedented(code), language)
    return found if found is not None and found.parsed else None


def first_definition_name(code: str, language: str = "python") -> str | None:
    found = _reply_outline(code, language)
    top = found.top_level() if found is not None else []
    return top[0].name if top else None


def defines_name(code: str, name: str, language: str = "python") -> bool | None:
    """Whether `code` defines `name` at its top level; None when it cannot be read."""
    found = _reply_outline(code, language)
    if found is None:
        return None
    return any(d.name == name for d in found.top_level())


def _dedented(code: str) -> str:
    return reindent(code, "")


def narrow_to_function(candidate: str, name: str | None, language: str = "python") -> str:
    """When the model returned a whole file, keep only the function being replaced."""
    found = _reply_outline(candidate, language) if name else None
    if found is None:
        return candidate
    top = found.top_level()
    if len(top) + found.other_statements <= 1:
        return candidate
    lines = split_lines(_dedented(candidate))
    for definition in top:
        if definition.name == name:
            return "\n".join(lines[definition.start : definition.end + 1])
    return candidate


def merge_definitions(source: str, code: str, language: str = "python") -> str:
    """Apply a reply that holds only some of the file's functions to the whole file.

    Asked for a whole file, models often answer with just the function they changed; those
    definitions replace their namesakes and the rest of the file is kept.
    """
    whole = splice(source, Region(0, max(len(split_lines(source)) - 1, 0), True), code)
    reply = outline(code, language)
    original = outline(source, language)
    if reply is None or not reply.parsed or original is None:
        return whole
    known = {d.name: d for d in original.top_level()}
    replaced = reply.top_level()
    if not replaced or reply.other_statements or any(d.name not in known for d in replaced):
        return whole
    code_lines = split_lines(code)
    if not original.parsed:  # the file does not parse (the syntax error being fixed)
        return _merge_by_indentation(source, replaced, code_lines)
    result = source
    for new in sorted(replaced, key=lambda d: known[d.name].start, reverse=True):
        old = known[new.name]
        text = "\n".join(code_lines[new.start : new.end + 1])
        result = splice(result, Region(old.start, old.end, False), text)
    return result


def _merge_by_indentation(source: str, replaced: list[Definition], code_lines: list[str]) -> str:
    """merge_definitions for a Python original that does not parse: find its definitions by
    their `def` lines and indentation, and replace those the reply redefines."""
    result = source
    for new in replaced:
        lines = split_lines(result)
        line = next(
            (
                i
                for i, text in enumerate(lines)
                if (m := _TOP_DEFINITION.match(text)) and m[1] == new.name
            ),
            None,
        )
        span = enclosing_function(result, line) if line is not None else None
        if span is None:
            continue
        text = "\n".join(code_lines[new.start : new.end + 1])
        result = splice(result, Region(span[0], span[1], False), text)
    return result


def lost_definitions(source: str, candidate: str, language: str = "python") -> list[str]:
    """Definitions of `source` (functions, classes, methods) that `candidate` no longer has."""
    before, after = outline(source, language), outline(candidate, language)
    if before is None or after is None:
        names_before, names_after = (
            _token_names(source, language),
            _token_names(candidate, language),
        )
    elif before.parsed and after.parsed:
        names_before, names_after = before.names(), after.names()
    else:  # one side read by its `def` lines only: compare what both know, the top level
        names_before = {d.name.split(".")[0] for d in before.top_level()}
        names_after = {d.name.split(".")[0] for d in after.definitions}
    return [f"{name}()" for name in sorted(names_before - names_after)]


def _token_names(source: str, language: str) -> set[str]:
    """Defined names as Pygments' lexer for the language marks them, for languages without a
    parser here; no lexer, no names."""
    try:
        lexer = find_lexer_class_by_name(language)()
    except ClassNotFound:
        return set()
    return {
        text.strip()
        for token, text in lexer.get_tokens(source)
        if token in Name.Function or token in Name.Class
    }


def shifted_region(region: Region, old: str, new: str) -> Region:
    delta = len(split_lines(new)) - len(split_lines(old))
    return Region(region.start, region.end + delta, region.whole_file)


def region_context(source: str, region: Region, radius: int = 60) -> str:
    """Lines around the region, nearest first, for the model's reference."""
    lines = split_lines(source)
    before = lines[max(0, region.start - radius) : region.start]
    after = lines[region.end + 1 : region.end + 1 + radius]
    return "\n".join([*before, "# ... (the function being fixed goes here) ...", *after])
