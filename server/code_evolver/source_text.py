"""A source file's bytes and text: a Python file in the encoding it declares (PEP 263), every
file with its own line ends kept, so a file is written back exactly as it was but for the fix."""

from __future__ import annotations

import codecs
import io
import re
import tokenize

__all__ = ["declared_encoding", "decode_source", "lone_surrogate", "source_bytes"]

# A str holds a surrogate code point only alone: JSON and the decoders join a pair into one.
_SURROGATE = re.compile("[\ud800-\udfff]")
_LINE_END = re.compile(r"\r\n|\r|\n")
# The first two lines, where PEP 263 looks for a declaration.
_HEAD = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)?[^\r\n]*(?:\r\n|\r|\n)?")


def decode_source(data: bytes, *, python: bool) -> tuple[str, str]:
    """The text of a file's bytes, and the encoding to write it back with.

    Python files are read the way Python reads them: a UTF-8 BOM, else a coding declaration in
    the first two lines, else UTF-8; other files are UTF-8 (with or without a BOM). Line ends
    are not translated. Raises UnicodeDecodeError, or SyntaxError for an unknown declaration.
    """
    if python:
        try:
            encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        except SyntaxError:
            data.decode("utf-8")  # no declaration and no UTF-8: say that, not "invalid"
            raise
    else:
        encoding = "utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8"
    return data.decode(encoding), encoding


def declared_encoding(text: str) -> str:
    """The encoding a Python text declares in its first two lines, else "utf-8"."""
    match = _HEAD.match(text)
    head = match.group() if match else ""
    try:
        found, _ = tokenize.detect_encoding(io.BytesIO(head.encode("utf-8", "replace")).readline)
    except SyntaxError:  # an encoding Python does not know: Python will refuse the file anyway
        return "utf-8"
    return "utf-8" if found == "utf-8-sig" else found


def source_bytes(text: str, relative: str) -> bytes:
    """What to write for `text` as the file `relative`: a Python file in its declared encoding
    (UTF-8 when the text holds characters that encoding cannot), anything else UTF-8."""
    if relative.endswith((".py", ".pyw")):
        encoding = declared_encoding(text)
        if encoding != "utf-8":
            try:
                return text.encode(encoding)
            except UnicodeEncodeError:
                pass
    return text.encode("utf-8")


def lone_surrogate(text: str, name: str) -> str | None:
    """The sentence saying where `text` holds a lone surrogate, else None. An editor can send
    one (JSON's "\\ud800"), and a few declared encodings decode to one, but UTF-8 cannot hold
    it: no run, prompt or file of ours could carry the text as it is."""
    found = _SURROGATE.search(text)
    if found is None:
        return None
    ends = list(_LINE_END.finditer(text, 0, found.start()))
    column = found.start() - (ends[-1].end() if ends else 0) + 1
    return (
        f"{name} holds a lone surrogate (U+{ord(found.group()):04X}) on line {len(ends) + 1}, "
        f"column {column}, which no UTF-8 text can hold, so it cannot be run or sent to a "
        "model: delete it or type the character meant there, then try again."
    )
