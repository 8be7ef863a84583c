"""Misspelling and dictation variants of lexicon words, as reviewed data.

Real notes misspell the words the rules look for ("occiptal", "vertgo", "syndrom",
"dizzyness", "cervico cranial"). Rather than fuzzy matching at run time (which the fast
path would have to reproduce exactly), ``lexicons/common/variants.yml`` lists curated
variants of single words, and the loader adds, to every target phrase containing such a
word, the phrase with the variant in its place. Both pipeline variants then read the same
literal phrases.

A variant is accepted only within an edit distance bounded by the canonical word's length
(short words have no safe variants: "neck" -> "nick" is another word), and never when it
is itself a word some other rule looks for. ``suggest`` generates candidates (one
deletion, transposition, doubling or vowel swap) for a reviewer to curate; nothing is
added without review.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "DistanceBound",
    "VariantsFile",
    "edit_distance",
    "expand_phrases",
    "suggest",
]

_VOWELS = "aeiouy"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DistanceBound(_Strict):
    """Words at least ``min_length`` long may have variants up to ``distance`` edits away."""

    min_length: int = Field(ge=1)
    distance: int = Field(ge=0)


class VariantsFile(_Strict):
    """``lexicons/common/variants.yml``: the bound and the curated variants of each word."""

    bounds: list[DistanceBound]
    variants: dict[str, list[str]]

    def max_distance(self, word: str) -> int:
        """The edit distance a variant of ``word`` may have (0: no variants allowed)."""
        allowed = 0
        for bound in self.bounds:
            if len(word) >= bound.min_length:
                allowed = max(allowed, bound.distance)
        return allowed

    def spellings(self) -> frozenset[str]:
        """Every listed variant spelling."""
        return frozenset(v for vs in self.variants.values() for v in vs)

    @model_validator(mode="after")
    def _within_bound(self) -> VariantsFile:
        for word, spellings in self.variants.items():
            if word != word.lower() or " " in word:
                raise ValueError(f"variants: {word!r} must be one lower-case word")
            limit = self.max_distance(word)
            for spelling in spellings:
                if spelling != spelling.lower() or not spelling.strip():
                    raise ValueError(f"variants of {word!r}: {spelling!r} must be lower case")
                if spelling in self.variants:
                    raise ValueError(f"variants of {word!r}: {spelling!r} is itself a listed word")
                distance = edit_distance(word, spelling)
                if distance == 0 or distance > limit:
                    raise ValueError(
                        f"variants of {word!r}: {spelling!r} is {distance} edits away; "
                        f"words of {len(word)} letters allow 1..{limit}"
                    )
        return self


def edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions, swaps."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            row[j] = min(rows[i - 1][j] + 1, row[j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[i - 2][j - 2] + 1)
        rows.append(row)
    return rows[len(a)][len(b)]


def expand_phrases(phrases: Iterable[str], variants: VariantsFile) -> list[str]:
    """``phrases`` plus each phrase with one listed word replaced by one of its variants.

    Order is kept and duplicates dropped, so expanding an expanded list changes nothing
    (a rule file written back and read again gives the same rules).
    """
    out: list[str] = []
    seen: set[str] = set()

    def add(phrase: str) -> None:
        if phrase.lower() not in seen:
            seen.add(phrase.lower())
            out.append(phrase)

    originals = list(phrases)
    for phrase in originals:
        add(phrase)
    misspelt = variants.spellings()
    for phrase in originals:
        words = phrase.split(" ")
        padded = f" {phrase.lower()} "
        if any(f" {m} " in padded for m in misspelt):
            continue  # already a variant: one slip per phrase keeps expansion idempotent
        for i, word in enumerate(words):
            for spelling in variants.variants.get(word.lower(), ()):
                add(" ".join([*words[:i], spelling, *words[i + 1 :]]))
    return out


def suggest(word: str) -> list[str]:
    """Candidate misspellings of ``word`` for a reviewer: typical typing/dictation slips."""
    word = word.lower()
    found: set[str] = set()
    for i in range(len(word)):
        found.add(word[:i] + word[i + 1 :])  # a dropped letter
        found.add(word[:i] + word[i] + word[i:])  # a doubled letter
        if i + 1 < len(word):
            found.add(word[:i] + word[i + 1] + word[i] + word[i + 2 :])  # two swapped
        if word[i] in _VOWELS:
            for vowel in _VOWELS:
                found.add(word[:i] + vowel + word[i + 1 :])  # a vowel heard wrong
    found.discard(word)
    return sorted(found)


def main(argv: list[str] | None = None) -> int:
    """``python -m docgap.rules.variants WORD...``: print candidates to curate."""
    args = sys.argv[1:] if argv is None else argv
    for word in args:
        print(f"{word}: {', '.join(suggest(word))}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
