"""Spinal levels: find them in text and normalise them.

Notes write one level many ways ("C1-2", "C1/2", "C1-C2", "OC-C1", "atlas", "C7-T1",
"C2 PRS"). Everything downstream compares vertebra indices, so every notation is reduced
here to a ``(lowest, highest)`` pair of indices from the occiput (C0 = 0) to S5.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from docgap.rules.lexicon import LevelsFile

__all__ = ["LevelFinder", "LevelMention", "index_of", "name_of"]

_REGIONS: tuple[tuple[str, int, int], ...] = (
    # letter, first number, index of that first number
    ("C", 0, 0),
    ("T", 1, 8),
    ("L", 1, 20),
    ("S", 1, 25),
)
_REGION_SIZE = {"C": 8, "T": 12, "L": 5, "S": 5}  # C0..C7, T1..T12, L1..L5, S1..S5
_C7 = 7


def index_of(name: str) -> int | None:
    """``"C1"`` -> 1, ``"T1"`` -> 8, ``"L5"`` -> 24; None for no such vertebra."""
    match = re.fullmatch(r"([CTLS])(\d{1,2})", name.upper())
    if not match:
        return None
    letter, number = match.group(1), int(match.group(2))
    for region, first, base in _REGIONS:
        if region == letter:
            offset = number - first
            return base + offset if 0 <= offset < _REGION_SIZE[letter] else None
    return None  # pragma: no cover - the regex admits only the four letters


def name_of(index: int) -> str:
    """Inverse of :func:`index_of`."""
    for region, first, base in reversed(_REGIONS):
        if index >= base:
            return f"{region}{index - base + first}"
    raise ValueError(f"no vertebra has index {index}")


# How far before a level the sensory-exam words of levels.yml exam_level_before may stand.
_EXAM_WINDOW = 40


@dataclass(frozen=True)
class LevelMention:
    """One level expression found in a text, with its character offsets."""

    start: int
    end: int
    text: str
    low: int
    high: int
    listing: str | None = None
    # A dermatome or myotome of a sensory exam ("sensation intact C5-T1", "C6 dermatome"): it
    # still places a mention in the neck, but names no subluxation (levels.yml exam_level_*).
    exam: bool = False

    @cached_property
    def normalized(self) -> str:
        """``"C1"`` or ``"C5-C6"``: one notation for every way of writing the level."""
        if self.low == self.high:
            return name_of(self.low)
        return f"{name_of(self.low)}-{name_of(self.high)}"

    def is_cervical(self) -> bool:
        """At or above C7-T1: the neck, including the cervicothoracic junction."""
        return self.low <= _C7

    def reaches_at_or_above(self, index: int) -> bool:
        """Whether any vertebra of the level is at or above ``index`` (C0 is highest)."""
        return self.low <= index


class LevelFinder:
    """Finds level expressions with one compiled regular expression built from levels.yml."""

    def __init__(self, levels: LevelsFile) -> None:
        self._aliases = {k.lower(): v.upper() for k, v in levels.aliases.items()}
        word_aliases = sorted((a for a in self._aliases if len(a) > 3), key=len, reverse=True)
        short_aliases = sorted((a for a in self._aliases if len(a) <= 3), key=len, reverse=True)
        vert = r"[CTLS]-?\d{1,2}"
        alias = "|".join(re.escape(a) for a in word_aliases)
        short = "|".join(re.escape(a) for a in short_aliases)
        sep = r"\s*(?:[-–/]|\bto\b|\bthrough\b|\bthru\b)\s*"
        listing = "|".join(re.escape(x) for x in sorted(levels.listings, key=len, reverse=True))
        not_after = "|".join(f"(?:{p})" for p in levels.not_a_level_after)
        self._not_before = (
            re.compile("|".join(f"(?:{p})" for p in levels.not_a_level_before), re.IGNORECASE)
            if levels.not_a_level_before
            else None
        )
        exam_before = "|".join(f"(?:{p})" for p in levels.exam_level_before)
        exam_after = "|".join(f"(?:{p})" for p in levels.exam_level_after)
        self._exam_before = re.compile(exam_before, re.IGNORECASE) if exam_before else None
        self._exam_after = re.compile(exam_after, re.IGNORECASE) if exam_after else None
        first = rf"(?P<first>{vert}|{alias})"
        second = rf"(?P<second>{vert}|{alias}|\d{{1,2}}(?![\d.]))"
        self._pattern = re.compile(
            rf"(?<![\w/.-])(?:(?P<short>{short})\s*[-–/]\s*(?P<short_to>C-?1)\b"
            rf"|{first}(?:{sep}{second})?)"
            rf"(?![\w])(?!{not_after})"
            rf"(?:\s+(?-i:(?P<listing>{listing}))(?![\w-]))?",
            re.IGNORECASE,
        )

    def _resolve(self, token: str, region_hint: str | None) -> tuple[int, int] | None:
        token = token.strip()
        lowered = token.lower()
        if lowered in self._aliases:
            target = self._aliases[lowered]
            parts = [index_of(p) for p in target.split("-")]
            if any(p is None for p in parts):
                return None
            values = [p for p in parts if p is not None]
            return min(values), max(values)
        if token.isdigit() and region_hint:
            idx = index_of(f"{region_hint}{int(token)}")
            return (idx, idx) if idx is not None else None
        idx = index_of(token.replace("-", ""))
        return (idx, idx) if idx is not None else None

    def _is_exam_level(self, text: str, start: int, end: int) -> bool:
        """Whether the words around a level name a sensory-exam dermatome, not a vertebra."""
        before = self._exam_before is not None and bool(
            self._exam_before.search(text, max(0, start - _EXAM_WINDOW), start)
        )
        after = self._exam_after is not None and bool(self._exam_after.match(text, end))
        return before or after

    def find(self, text: str) -> list[LevelMention]:
        """Every level expression in ``text``, in order."""
        found: list[LevelMention] = []
        for match in self._pattern.finditer(text):
            if self._not_before and self._not_before.search(
                text, max(0, match.start() - 30), match.start()
            ):
                continue
            if match.group("short"):
                low = self._resolve(match.group("short"), None)
                high = self._resolve("C1", None)
            else:
                low = self._resolve(match.group("first"), None)
                second = match.group("second")
                region = match.group("first")[0].upper() if match.group("first") else None
                high = self._resolve(second, region) if second else low
            if low is None or high is None:
                continue
            lo, hi = min(low[0], high[0]), max(low[1], high[1])
            found.append(
                LevelMention(
                    start=match.start(),
                    end=match.end(),
                    text=match.group(0),
                    low=lo,
                    high=hi,
                    listing=match.group("listing"),
                    exam=self._is_exam_level(text, match.start(), match.end()),
                )
            )
        return found
