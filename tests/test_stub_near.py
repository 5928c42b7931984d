"""The lightbulb's local stub lookup agrees with the whole-file scan, line by line."""

from __future__ import annotations

import pytest

from code_evolver.pipeline.stubs import find_stubs, stub_at, stub_near

SOURCES = [
    '''import os


class Shapes:
    """Shapes."""

    @staticmethod
    @cache
    def area(w, h):
        """Area of a w x h rectangle."""
        ...

    def real(self):
        return 1

    async def later(self):
        raise NotImplementedError("soon")


def f(x: int) -> int:
    """Double it.

  Odd indentation inside the docstring.
    """
    pass


    # generate: make url slugs from titles
def g():
    def inner():
        pass
    return inner
''',
    "def only():\n    '''Just a docstring.'''\n",
    "x = 1\n# generate: parse dates\ny = 2\n",
    "def wide(\n    a,\n    b,\n):\n    ...\n\n\nx = [\n    1,\n]\n\n\ndef after():\n    pass\n",
    "class C:\n    x = 1\n\n    def m(self):\n        pass\n    y = 2\n",
    "def broken(:\n    pass\n",
    "",
]


@pytest.mark.parametrize("source", SOURCES)
def test_stub_near_matches_find_stubs_on_every_line(source):
    stubs = find_stubs(source)
    for line in range(len(source.splitlines()) + 2):
        assert stub_near(source, line) == stub_at(stubs, line), line


def test_stub_near_ignores_lines_outside_the_document():
    assert stub_near("def f():\n    pass\n", -1) is None
    assert stub_near("def f():\n    pass\n", 99) is None
