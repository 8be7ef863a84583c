"""Bytes and strings in, note text out, or a clear reason why not.

A batch run must never die on one odd file: binary data, an encoding other than UTF-8, an
empty file. Messages name sizes and encodings only, never the content (notes are PHI).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field

__all__ = ["DEFAULT_MAX_CHARS", "Decoded", "check_text", "decode_bytes", "prepare_text"]

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


# A few stray control characters (a NUL, an ANSI colour escape, a BEL) in a note are noise
# to replace; many of them mean the "text" is binary data.
_BINARY_SHARE = 0.30
_BINARY_COUNT = 8


def prepare_text(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> Decoded:
    """Text ready to analyse: stray control characters replaced by spaces (offsets kept).

    A note with a few control characters is analysed with a warning rather than rejected
    as binary; one where they are common (> 30 %, or > 5 % and more than 8) is binary.
    """
    if not text.strip():
        return Decoded(None, "empty note (no text after removing whitespace)")
    if len(text) > max_chars:
        return Decoded(
            None, f"note too large ({len(text):,} characters; the limit is {max_chars:,})"
        )
    head = text[:100_000]
    count = len(_CONTROL.findall(head))
    if count:
        share = count / len(head)
        if share > _BINARY_SHARE or (share > _CONTROL_LIMIT and count > _BINARY_COUNT):
            return Decoded(None, "binary content (control characters), not note text")
        text = _CONTROL.sub(" ", text)
        if not text.strip():
            return Decoded(None, "empty note (no text after removing whitespace)")
        return Decoded(text, None, [f"{count:,} control characters replaced by spaces"])
    return Decoded(text, None)


_UTF32_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)


def decode_bytes(data: bytes, max_chars: int = DEFAULT_MAX_CHARS) -> Decoded:
    """Decode a file's bytes, then :func:`prepare_text` them.

    UTF-8 (with or without BOM), UTF-32/UTF-16 with BOM, else cp1252/Latin-1.
    """
    warnings: list[str] = []
    if data.startswith(codecs.BOM_UTF8):
        text = data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    elif data.startswith(_UTF32_BOMS):  # before UTF-16: FF FE 00 00 starts with FF FE
        try:
            text = data.decode("utf-32")
        except UnicodeDecodeError:
            return Decoded(None, "undecodable text: UTF-32 byte-order mark but invalid UTF-32")
        warnings.append("decoded as UTF-32 (byte-order mark found)")
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            return Decoded(None, "undecodable text: UTF-16 byte-order mark but invalid UTF-16")
        warnings.append("decoded as UTF-16 (byte-order mark found)")
    else:
        nuls = data[:100_000].count(0)
        if nuls > _BINARY_COUNT and nuls > len(data[:100_000]) * _CONTROL_LIMIT:
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
    prepared = prepare_text(text, max_chars)
    prepared.warnings[:0] = warnings
    return prepared
