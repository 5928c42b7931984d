"""A file's bytes as text and back: declared encodings, BOMs and line ends survive."""

from __future__ import annotations

import codecs

import pytest

from code_evolver.source_text import declared_encoding, decode_source, source_bytes

LATIN = '# -*- coding: latin-1 -*-\r\nname = "René"\r\n'


@pytest.mark.parametrize(
    ("data", "python", "encoding"),
    [
        (LATIN.encode("latin-1"), True, "iso-8859-1"),
        (codecs.BOM_UTF8 + "x = 'é'\r\n".encode(), True, "utf-8-sig"),
        (codecs.BOM_UTF8 + "é\n".encode(), False, "utf-8-sig"),
        (
            "#!/usr/bin/env python\n# vim: set fileencoding=cp1252 :\nx = '€'\n".encode("cp1252"),
            True,
            "cp1252",
        ),
        ("x = 'é'\r".encode(), True, "utf-8"),
    ],
)
def test_bytes_come_back_exactly(data: bytes, python: bool, encoding: str) -> None:
    text, found = decode_source(data, python=python)
    assert found == encoding
    assert "\r" in text or "\n" in text  # line ends are not translated
    assert text.encode(found) == data


def test_a_declaration_is_only_read_from_python_files() -> None:
    with pytest.raises(UnicodeDecodeError):
        decode_source(LATIN.encode("latin-1"), python=False)


def test_an_unknown_declaration_is_a_syntax_error_and_no_utf8_a_decode_error() -> None:
    with pytest.raises(SyntaxError):
        decode_source(b"# coding: no-such-codec\nx = 1\n", python=True)
    with pytest.raises(UnicodeDecodeError):
        decode_source(b"x = '\xe9'\n", python=True)


def test_runs_get_python_files_in_their_declared_encoding() -> None:
    assert declared_encoding(LATIN) == "iso-8859-1"
    # As Python reads it: line two after a comment line counts, after code or on line three not.
    assert declared_encoding("#!/usr/bin/env python\n# coding: latin-1\n") == "iso-8859-1"
    assert declared_encoding("x = 1\n# coding: latin-1\n") == "utf-8"
    assert declared_encoding("#\n#\n# coding: latin-1\n") == "utf-8"
    assert source_bytes(LATIN, "pkg/greet.py") == LATIN.encode("latin-1")
    assert source_bytes(LATIN, "notes.txt") == LATIN.encode("utf-8")
    # A character the declared encoding cannot hold: UTF-8 rather than no file at all.
    emoji = LATIN + "print('🙂')\n"
    assert source_bytes(emoji, "greet.py") == emoji.encode("utf-8")
