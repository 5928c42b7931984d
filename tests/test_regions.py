"""Regions by a real parser in every language, splices that keep the file's line ends, and the
guard that no candidate loses a definition."""

from __future__ import annotations

import pytest

from code_evolver.pipeline.extract import NoCodeInReply, extract_code
from code_evolver.pipeline.languages import canonical_language, same_language
from code_evolver.pipeline.outline import outline
from code_evolver.pipeline.regions import (
    choose_region,
    lost_definitions,
    merge_definitions,
    narrow_to_function,
    region_text,
    splice,
)
from code_evolver.values import Region

PY = "BANNER = 'x\u2028y'\n\x0c\ndef f(x):\n    return x +\n\n\ndef g():\n    return 1\n"


def test_python_regions_count_lines_as_lsp_does() -> None:
    region = choose_region(PY, [3], False, "python")
    assert region == Region(2, 3, False)
    assert region_text(PY, region) == "def f(x):\n    return x +\n"


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
def test_a_splice_keeps_the_files_line_ending(ending: str) -> None:
    source = PY.replace("\n", ending)
    spliced = splice(source, Region(2, 3, False), "def f(x):\n    return x + 1\n")
    assert spliced == PY.replace("x +\n", "x + 1\n").replace("\n", ending)
    whole = splice(source, Region(0, 7, True), "a = 1\nb = 2\n")
    assert whole == f"a = 1{ending}b = 2{ending}"


def test_a_splice_of_the_last_line_keeps_its_missing_line_end() -> None:
    assert splice("a = 1\ndef f():\n    pass", Region(1, 2, False), "def f():\n    return 1\n") == (
        "a = 1\ndef f():\n    return 1"
    )


JS = """import x from "y";

export function first(xs) {
  return xs[0];
}

const total = (xs) => {
  return xs.reduce((a, b) => a + c, 0);
};

class Box {
  get() {
    return this.v;
  }
}
"""


@pytest.mark.parametrize("language", ["javascript", "js", "typescript"])
def test_the_region_is_the_enclosing_definition_in_javascript(language: str) -> None:
    assert choose_region(JS, [7], False, language) == Region(6, 8, False)
    assert choose_region(JS, [12], False, language) == Region(11, 13, False)  # the method
    assert choose_region(JS, [2], False, language) == Region(2, 4, False)  # with `export`
    assert choose_region(JS, [1], False, language).whole_file  # between definitions


@pytest.mark.parametrize(
    ("language", "source", "line", "span"),
    [
        ("go", "package m\n\nfunc A() int {\n\treturn 1\n}\n\nfunc B() {}\n", 3, (2, 4)),
        ("rust", "fn a() -> i32 {\n    1\n}\nimpl S {\n    fn b(&self) {}\n}\n", 4, (4, 4)),
        ("java", "class A {\n  int f() {\n    return 1;\n  }\n}\n", 2, (1, 3)),
        ("c", "#include <x.h>\nint *f(int a) {\n  return 0;\n}\n", 2, (1, 3)),
        ("sh", "greet() {\n  echo hi\n}\nmain() { greet; }\n", 1, (0, 2)),
    ],
)
def test_other_languages_have_their_parser(
    language: str, source: str, line: int, span: tuple[int, int]
) -> None:
    assert choose_region(source, [line], False, language) == Region(*span, False)


def test_lines_of_other_languages_are_lsp_lines_too() -> None:
    source = JS.replace("\n", "\r")
    assert choose_region(source, [7], False, "javascript") == Region(6, 8, False)


def test_a_partial_whole_file_reply_replaces_only_its_namesakes() -> None:
    reply = "const total = (xs) => {\n  return xs.reduce((a, b) => a + b, 0);\n};\n"
    merged = merge_definitions(JS, reply, "javascript")
    assert merged == JS.replace("a + c", "a + b")
    assert lost_definitions(JS, merged, "javascript") == []


def test_a_reply_that_drops_definitions_is_caught_in_every_language() -> None:
    shorter = JS.split("class Box")[0] + "console.log(1);\n"
    assert merge_definitions(JS, shorter, "javascript") == shorter
    assert lost_definitions(JS, shorter, "javascript") == ["Box()", "Box.get()"]
    source = "class A:\n    def m(self):\n        pass\n\n    def n(self):\n        pass\n"
    candidate = "class A:\n    def m(self):\n        return 1\n"
    assert lost_definitions(source, candidate, "python") == ["A.n()"]
    ruby = "def a\n  1\nend\n\ndef b\n  2\nend\n"  # no parser here: Pygments' names
    assert lost_definitions(ruby, "def a\n  3\nend\n", "ruby") == ["b()"]


def test_a_reply_with_more_than_the_function_is_narrowed_to_it() -> None:
    reply = "function helper() {}\n\nfunction first(xs) {\n  return xs.at(0);\n}\n"
    assert narrow_to_function(reply, "first", "javascript") == (
        "function first(xs) {\n  return xs.at(0);\n}"
    )


def test_fence_names_come_from_pygments_aliases() -> None:
    assert canonical_language("js") == canonical_language("javascript") == "JavaScript"
    assert same_language("golang", "go") and same_language("py3", "python")
    assert same_language("sh", "bash") and not same_language("ts", "js")
    reply = "Fixed:\n```ts\nconst a: number = 1;\n```\n```js\nconst a = 1;\n```"
    assert extract_code(reply, "javascript") == "const a = 1;"
    assert extract_code(reply, "typescript") == "const a: number = 1;"
    usage = "console.log(first([" + ", ".join(map(str, range(30))) + "]));"
    two = f"Use it so:\n```js\n{usage}\n```\n```js\nfunction first(xs) {{\n  return xs[0];\n}}\n```"
    original = "function first(xs) {\n  return xs[1];\n}"
    assert extract_code(two, "js", original=original).startswith("function first")
    with pytest.raises(NoCodeInReply):
        extract_code("```ruby\nputs 1\n```", "javascript")


def test_outline_qualifies_nested_definitions() -> None:
    found = outline(JS, "javascript")
    assert found is not None
    assert [d.name for d in found.definitions] == ["first", "total", "Box", "Box.get"]
