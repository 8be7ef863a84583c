"""Fold runs of spaces before tokenizing, and map offsets back to the original text.

Transcribed and OCR'd notes put two or more spaces between words ("LOSS  OF  CERVICAL
LORDOSIS"). spaCy turns each extra space into a token, so no multi-word rule would match.
The pipeline reads a folded copy; every offset it reports is mapped back here, so evidence
offsets always slice the original text.
"""

from __future__ import annotations

import bisect
import re

__all__ = ["FoldedText"]

_RUN = re.compile(r" {2,}")


class FoldedText:
    """``original`` with each run of spaces folded to one; ``to_original`` maps positions."""

    def __init__(self, original: str) -> None:
        self.original = original
        keys: list[int] = []  # folded position of each folded run's single space
        shifts: list[int] = []  # cumulative characters removed after that position
        parts: list[str] = []
        last = 0
        removed = 0
        for match in _RUN.finditer(original):
            parts.append(original[last : match.start() + 1])
            keys.append(match.start() - removed)
            removed += match.end() - match.start() - 1
            shifts.append(removed)
            last = match.end()
        parts.append(original[last:])
        self.text = "".join(parts) if keys else original
        self._keys = keys
        self._shifts = shifts

    @property
    def folded(self) -> bool:
        """Whether any run of spaces was folded."""
        return bool(self._keys)

    def to_original(self, position: int) -> int:
        """The original offset of a folded-text offset (a start or an end)."""
        i = bisect.bisect_left(self._keys, position)
        return position + (self._shifts[i - 1] if i else 0)
