"""Bytes and strings in, note text out, or a clear reason why not.

A batch run must never die on one odd file: binary data, an encoding other than UTF-8, an
empty file. Messages name sizes and encodings only, never the content (notes are PHI).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field

__all__ = ["DEFAULT_MAX_CHARS", "Decoded", "check_text", "decode_bytes"]

# Larger notes are cut into chunks for analysis; this is the size beyond which a "note" is
# almost certainly not one (a whole database dump, an attached file).
DEFAULT_MAX_CHARS = 20_000_000
_CONTROL_LIMIT = 0.05


@dataclass
class Decoded:
    """Text ready to analyse, or the reason there is none."""

    text: str | None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


# Control characters other than line breaks, tabs and form feeds (\t\n\v\f\r = 9-13).
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f]")


def _control_share(text: str, sample: int = 100_000) -> float:
    head = text[:sample]
    if not head:
        return 0.0
    return len(_CONTROL.findall(head)) / len(head)


def check_text(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> str | None:
    """Why ``text`` cannot be analysed, or None when it can."""
    if not text.strip():
        return "empty note (no text after removing whitespace)"
    if len(text) > max_chars:
        return f"note too large ({len(text):,} characters; the limit is {max_chars:,})"
    if "\x00" in text[:100_000] or _control_share(text) > _CONTROL_LIMIT:
        return "binary content (control characters), not note text"
    return None


def decode_bytes(data: bytes, max_chars: int = DEFAULT_MAX_CHARS) -> Decoded:
    """Decode a file's bytes: UTF-8 (with or without BOM), UTF-16 with BOM, else cp1252/Latin-1."""
    warnings: list[str] = []
    if data.startswith(codecs.BOM_UTF8):
        text = data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            return Decoded(None, "undecodable text: UTF-16 byte-order mark but invalid UTF-16")
        warnings.append("decoded as UTF-16 (byte-order mark found)")
    else:
        if b"\x00" in data[:100_000]:
            return Decoded(None, f"binary file ({len(data):,} bytes with NUL bytes), not text")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            try:
                text = data.decode("cp1252")
                warnings.append(
                    f"not valid UTF-8 (first bad byte at offset {exc.start}); "
                    "decoded as Windows-1252"
                )
            except UnicodeDecodeError:
                text = data.decode("latin-1")
                warnings.append(
                    f"not valid UTF-8 (first bad byte at offset {exc.start}); decoded as Latin-1"
                )
    problem = check_text(text, max_chars)
    if problem:
        return Decoded(None, problem, warnings)
    return Decoded(text, None, warnings)
