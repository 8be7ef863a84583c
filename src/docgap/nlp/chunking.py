"""Cut very long notes into pieces the pipeline handles in time proportional to their size.

spaCy refuses texts over ``nlp.max_length`` and ConText scopes are sentences, so a 5 MB
note (or a 2 MB single line) is cut at the last paragraph break, line break, sentence end
or space before the chunk limit. A sentence that straddles a cut loses the context on the
other side of it; with a chunk limit of 100,000 characters that affects one sentence per
100,000 characters at most.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["DEFAULT_CHUNK_CHARS", "chunks"]

DEFAULT_CHUNK_CHARS = 100_000
_BREAKS = ("\n\n", "\n", ". ", " ")


def chunks(text: str, size: int = DEFAULT_CHUNK_CHARS) -> Iterator[tuple[int, str]]:
    """Yield ``(offset, piece)`` pairs that concatenate back to ``text``."""
    if size < 100:
        raise ValueError("chunk size must be at least 100 characters")
    start = 0
    n = len(text)
    while start < n:
        end = min(start + size, n)
        if end < n:
            floor = start + size // 2
            for mark in _BREAKS:
                cut = text.rfind(mark, floor, end)
                if cut != -1:
                    end = cut + len(mark)
                    break
        yield start, text[start:end]
        start = end
