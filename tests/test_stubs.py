"""Tests for finding stubs, selections, enclosing functions and related functions."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from code_evolver.pipeline.stubs import (
    Stub,
    enclosing_function,
    find_stubs,
    related_functions,
    selection_stub,
    stub_at,
)

SOURCE = '''\
import functools


@functools.cache
@other(
    1,
)
def add(a: int, b: int) -> int:
    """Add two numbers."""


def todo():
    pass


def later(x):
    ...


def unfinished(path: str) -> bytes:
    """Read a file."""
    raise NotImplementedError


def planned():
    raise NotImplementedError("not yet")


class Box:
    def area(self) -> float:
        """Width times height."""
        ...

    async def load(self, path):
        pass

    def real(self):
        return 1


def outer():
    def inner():
        pass

    # generate: sort the names alphabetically
    return inner


def complete():
    """Has a body."""
    return 42


TEXT = """
# generate: not a comment, a string
"""
'''


def by_name(stubs: list[Stub]) -> dict[str | None, Stub]:
    return {stub.name: stub for stub in stubs if stub.kind == "function"}


def test_every_kind_of_stub_body_is_found() -> None:
    names = by_name(find_stubs(SOURCE))
    assert set(names) == {"add", "todo", "later", "unfinished", "planned", "area", "load", "inner"}


def test_function_stub_fields_include_decorators_and_docstring() -> None:
    add = by_name(find_stubs(SOURCE))["add"]
    assert (add.start_line, add.end_line) == (3, 8)
    assert SOURCE.splitlines()[add.start_line] == "@functools.cache"
    assert add.indent == ""
    assert add.signature == "def add(a: int, b: int) -> int"
    assert add.docstring == "Add two numbers."
    assert add.request == "Add two numbers."


def test_methods_and_async_methods() -> None:
    names = by_name(find_stubs(SOURCE))
    area, load = names["area"], names["load"]
    lines = SOURCE.splitlines()
    assert lines[area.start_line].strip() == "def area(self) -> float:"
    assert lines[area.end_line].strip() == "..."
    assert area.indent == "    "
    assert load.signature == "async def load(self, path)"
    assert load.docstring is None
    assert "load" in load.request


def test_stub_without_docstring_gets_a_request_from_its_signature() -> None:
    todo = by_name(find_stubs(SOURCE))["todo"]
    assert todo.request == "Implement def todo()"


def test_generate_comment_found_and_strings_ignored() -> None:
    comments = [s for s in find_stubs(SOURCE) if s.kind == "comment"]
    assert len(comments) == 1
    comment = comments[0]
    assert comment.request == "sort the names alphabetically"
    assert comment.indent == "    "
    assert comment.start_line == comment.end_line
    assert SOURCE.splitlines()[comment.start_line].strip().startswith("# generate:")


def test_stubs_are_in_document_order() -> None:
    stubs = find_stubs(SOURCE)
    assert [s.start_line for s in stubs] == sorted(s.start_line for s in stubs)


def test_unparsable_source_still_finds_generate_comments() -> None:
    source = "def broken(:\n    pass\n\n  #generate:   read the config file  \n# generate:\n"
    stubs = find_stubs(source)
    assert [(s.kind, s.start_line, s.indent, s.request) for s in stubs] == [
        ("comment", 3, "  ", "read the config file")
    ]


def test_empty_source() -> None:
    assert find_stubs("") == []


def test_large_file_is_fast() -> None:
    chunk = "def f{0}(x):\n    '''Doc {0}.'''\n    return x + {0}\n\n\ndef g{0}():\n    pass\n\n\n"
    source = "".join(chunk.format(i) for i in range(250))
    assert len(source.splitlines()) >= 2_000
    started = time.perf_counter()
    stubs = find_stubs(source)
    elapsed = time.perf_counter() - started
    assert len(stubs) == 250
    print(f"find_stubs on {len(source.splitlines())} lines: {elapsed * 1000:.1f} ms")


def test_stub_at_covers_decorators_to_body_end() -> None:
    stubs = find_stubs(SOURCE)
    add = by_name(stubs)["add"]
    for line in range(add.start_line, add.end_line + 1):
        assert stub_at(stubs, line) == add
    assert stub_at(stubs, add.start_line - 1) is None
    assert stub_at(stubs, 0) is None


def test_stub_at_prefers_the_innermost() -> None:
    source = "def f():\n    # generate: the body\n    pass\n"
    stubs = find_stubs(source)
    assert {s.kind for s in stubs} == {"function", "comment"}
    chosen = stub_at(stubs, 1)
    assert chosen is not None and chosen.kind == "comment"
    chosen = stub_at(stubs, 2)
    assert chosen is not None and chosen.kind == "function"


def test_selection_of_words_becomes_a_request() -> None:
    source = "x = 1\n    compute the average of the list\n"
    stub = selection_stub(source, 1, 4, 1, 35)
    assert stub is not None
    assert stub.kind == "selection"
    assert (stub.start_line, stub.end_line, stub.indent) == (1, 1, "    ")
    assert stub.request == "compute the average of the list"


def test_selection_over_several_lines_and_comment_markers() -> None:
    source = "# read the file,\n# and count the words!\nx = 1\n"
    stub = selection_stub(source, 0, 0, 2, 0)
    assert stub is not None
    assert (stub.start_line, stub.end_line) == (0, 1)
    assert stub.request == "read the file, and count the words!"


@pytest.mark.parametrize(
    "text",
    ["x = 1", "print(x)", "def f", "import os", "a + b", "items[0]", "return x", "obj.attr",
     "for x in y:", "lambda x: x", "   ", "42", "@decorator"],
)  # fmt: skip
def test_selection_of_code_is_rejected(text: str) -> None:
    assert selection_stub(text + "\n", 0, 0, 0, len(text)) is None


@pytest.mark.parametrize(
    "text",
    ["fibonacci", "sort names", "check the list is not empty", "return the sum of a list",
     "don't crash on empty input", "parse dates like 2024-01-31"],
)  # fmt: skip
def test_selection_of_words_is_accepted(text: str) -> None:
    stub = selection_stub(text, 0, 0, 0, len(text))
    assert stub is not None and stub.request == text


def test_selection_out_of_range_or_reversed() -> None:
    assert selection_stub("sort names\n", 0, 5, 0, 2) is None
    assert selection_stub("", 0, 0, 0, 0) is None
    stub = selection_stub("sort names", 0, 0, 10, 99)
    assert stub is not None and stub.request == "sort names"


def test_enclosing_function_innermost_with_decorators() -> None:
    lines = SOURCE.splitlines()
    inner_body = lines.index("        pass", lines.index("def outer():"))
    outer = lines.index("def outer():")
    assert enclosing_function(SOURCE, inner_body) == (inner_body - 1, inner_body)
    span = enclosing_function(SOURCE, inner_body + 2)
    assert span is not None and span[0] == outer and lines[span[1]].strip() == "return inner"
    assert enclosing_function(SOURCE, 5) == (3, 8)
    assert enclosing_function(SOURCE, 0) is None


def test_enclosing_function_in_a_method() -> None:
    lines = SOURCE.splitlines()
    line = lines.index("        return 1")
    assert enclosing_function(SOURCE, line) == (line - 1, line)


def test_enclosing_function_when_the_source_does_not_parse() -> None:
    source = "import os\n\n@decorator\ndef broken(x):\n    y = x +\n    return y\n\nz = 1\n"
    assert enclosing_function(source, 4) == (2, 5)
    assert enclosing_function(source, 7) is None
    assert enclosing_function(source, 0) is None


WORKSPACE = {
    "pkg/names.py": '''
def sort_names(names: list[str]) -> list[str]:
    """Sort names alphabetically, ignoring case."""
    return sorted(names, key=str.lower)


def count_words(text: str) -> int:
    return len(text.split())


def sortNamesLater(names):
    """A stub with matching words is skipped."""
    ...
''',
    "pkg/io.py": '''
class Reader:
    def read_config(self, path: str) -> dict:
        """Load the configuration file."""
        return {}
''',
    "pkg/broken.py": "def sort_names(:\n",
}


def test_related_functions_ranked_by_word_overlap() -> None:
    found = related_functions(WORKSPACE, "sort the list of names")
    assert [f.name for f in found] == ["sort_names"]
    best = found[0]
    assert best.path == "pkg/names.py"
    assert best.signature == "def sort_names(names: list[str]) -> list[str]"
    assert best.docstring == "Sort names alphabetically, ignoring case."
    assert best.source.startswith("def sort_names(") and "return sorted" in best.source
    assert best.score > 0


def test_related_functions_split_identifiers_and_include_methods() -> None:
    found = related_functions(WORKSPACE, "readConfig from the settings file")
    assert found and found[0].name == "read_config"


def test_related_functions_exclude_limit_and_no_overlap() -> None:
    assert related_functions(WORKSPACE, "sort names", exclude_name="sort_names") == []
    assert related_functions(WORKSPACE, "quantum chromodynamics") == []
    assert related_functions(WORKSPACE, "") == []
    many = related_functions(WORKSPACE, "sort names count words read config", limit=2)
    assert len(many) == 2
    assert many[0].score >= many[1].score


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_find_stubs_never_raises(source: str) -> None:
    for stub in find_stubs(source):
        assert 0 <= stub.start_line <= stub.end_line


python_pieces = st.sampled_from(
    ["def f(x):\n", "    pass\n", "    ...\n", "    '''doc'''\n", "# generate: thing\n",
     "@deco\n", "class C:\n", "    def m(self):\n", "        raise NotImplementedError\n", "\n",
     "(", '"""', "\t", "async def g():\n", "x = 1\n", "\r", "\x0c", "\\\n"]
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(python_pieces, max_size=20).map("".join), st.integers(-2, 25))
def test_stub_functions_never_raise_on_python_like_text(source: str, line: int) -> None:
    stubs = find_stubs(source)
    stub_at(stubs, line)
    enclosing_function(source, line)
    selection_stub(source, max(0, line), 0, max(0, line) + 1, 3)
    related_functions({"a.py": source}, "generate thing")
