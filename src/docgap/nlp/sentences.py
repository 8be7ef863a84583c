"""docgap's clinical sentence splitter: where ConText scopes and mention sentences end.

medspaCy's PyRuSH splitter is the slowest stage of the stock pipeline and splits templated
text poorly; this one applies rules that fit clinical notes: sentence punctuation, line
breaks (except soft-wrapped narrative) and list bullets. Whether a token starts a sentence
depends only on the previous word and the spaces in between, so the sentences around a
few targets can be found without splitting the whole note (:meth:`split_around`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import cast

import numpy
from spacy.attrs import SENT_START
from spacy.tokens import Doc, Span, Token
from thinc.types import Ints2d

__all__ = ["SentenceSplitter"]

_END = frozenset({".", "!", "?"})
_BULLETS = frozenset({"-", "*", "•", "·", "o", ">", "–"})


class SentenceSplitter:
    """Marks sentence starts for ConText scopes."""

    def __init__(
        self,
        no_break_after: Iterable[str],
        spoken_breaks: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self._no_break_after = frozenset(t.lower().rstrip(".") for t in no_break_after)
        spoken = spoken_breaks or {}
        # A spoken mark ("new paragraph") by its last word, as the words before it.
        self._spoken: dict[str, list[tuple[str, ...]]] = {}
        for mark in spoken.get("words", ()):
            words = tuple(mark.split())
            self._spoken.setdefault(words[-1], []).append(words[:-1])
        self._spoken_not_after = frozenset(spoken.get("not_after", ()))
        self._spoken_not_before = frozenset(spoken.get("not_before", ()))

    def __call__(self, doc: Doc) -> Doc:
        """Mark every token as a sentence start or not."""
        n = len(doc)
        if n == 0:
            return doc
        marks = _Marks(doc)
        marks.set(0, self._starts(doc, 0, n))
        marks.write()
        return doc

    def split_around(self, doc: Doc, spans: Sequence[Span]) -> list[tuple[int, int]]:
        """Mark only the sentences that ``spans`` touch; return their token ranges.

        Each range ``[start, end)`` runs from the start of the sentence of a span's first
        token to the end of the sentence of its last token, and is marked exactly as
        :meth:`__call__` marks it; so is the token after it. Other tokens are left unset.
        The ranges are sorted and do not overlap.
        """
        regions: list[tuple[int, int]] = []
        n = len(doc)
        for span in sorted(spans, key=lambda s: (s.start, s.end)):
            if regions and span.start < regions[-1][1]:
                start = regions[-1][0]
                end = max(regions[-1][1], self._sentence_end(doc, span.end))
                regions[-1] = (start, end)
                continue
            start = span.start
            while start > 0 and not self.is_start(doc, start):
                start -= 1
            regions.append((start, self._sentence_end(doc, span.end)))
        marks = _Marks(doc)
        for start, end in regions:
            marks.set(start, self._starts(doc, start, end))
            if end < n:
                marks.set(end, [True])
        marks.write()
        return regions

    def is_start(self, doc: Doc, i: int) -> bool:
        """Whether token ``i`` starts a sentence (the rule of :meth:`__call__`, for one token)."""
        return self._starts(doc, i, i + 1)[0]

    def _sentence_end(self, doc: Doc, i: int) -> int:
        """The first sentence start at or after token ``i`` (``len(doc)`` if none)."""
        n = len(doc)
        while i < n and not self.is_start(doc, i):
            i += 1
        return i

    def _starts(self, doc: Doc, lo: int, hi: int) -> list[bool]:
        """Sentence starts of tokens ``lo`` to ``hi - 1``, given what precedes ``lo``."""
        prev_word: Token | None = None  # the last non-space token
        pending_newlines = 0
        j = lo - 1
        while j >= 0:
            token = doc[j]
            if not token.is_space:
                prev_word = token
                break
            pending_newlines += token.text.count("\n")
            j -= 1
        starts = [False] * (hi - lo)
        if lo == 0 and hi > 0:
            starts[0] = True
        for i in range(lo, hi):
            token = doc[i]
            if token.is_space:
                pending_newlines += token.text.count("\n")
                continue
            if prev_word is not None:
                if pending_newlines:
                    starts[i - lo] = pending_newlines > 1 or not self._soft_wrap(prev_word, token)
                elif "\n" in prev_word.whitespace_:
                    starts[i - lo] = not self._soft_wrap(prev_word, token)
                elif prev_word.text in _END:
                    before = doc[prev_word.i - 1].lower_ if prev_word.i > 0 else ""
                    starts[i - lo] = before not in self._no_break_after and not _doubt_mark(
                        doc, prev_word, token
                    )
                elif prev_word.lower_ in self._spoken:
                    starts[i - lo] = self._spoken_end(doc, prev_word, token)
            pending_newlines = 0
            prev_word = token
        return starts

    def _spoken_end(self, doc: Doc, last: Token, token: Token) -> bool:
        """Whether a spoken mark ending in ``last`` ("... pain period no ...") ends a sentence.

        The mark's words must be adjacent tokens; the word before it and ``token`` after it
        decide whether it is the ordinary word ("a period of", "menstrual period").
        """
        if token.is_punct:
            return False
        if token.lower_ in self._spoken_not_before:
            return False
        for head in self._spoken[last.lower_]:
            first = last.i - len(head)
            if first < 0 or tuple(t.lower_ for t in doc[first : last.i]) != head:
                continue
            before = doc[first - 1].lower_ if first > 0 else ""
            if before not in self._spoken_not_after:
                return True
        return False

    @staticmethod
    def _soft_wrap(prev: Token, token: Token) -> bool:
        r"""A single line break inside running prose (``denies dizziness,\\ntinnitus``)."""
        prev_text = prev.text
        text = token.text
        if text in _BULLETS or not text[:1].islower():
            return False
        return prev_text == "," or (prev_text[:1].isalpha() and prev_text not in {":"})


def _doubt_mark(doc: Doc, mark: Token, token: Token) -> bool:
    """Whether ``mark`` is a "?" of doubt before ``token``, not the end of a question.

    A "?" before a lower-case word ("? cervicocranial syndrome") marks doubt. So does a
    detached "?" (spaces on both sides) that opens the next item of a referral's list of
    queried diagnoses ("? cervicogenic headache ? Barre-Lieou syndrome"): a question's own
    "?" is attached to its last word ("Any dizziness?"). Splitting there would leave the
    second item in a sentence of its own, out of the reach of its "?" (spec section 1).
    """
    if mark.text != "?":
        return False
    if token.text[:1].islower():
        return True
    detached = mark.i > 0 and bool(doc[mark.i - 1].whitespace_) and bool(mark.whitespace_)
    return detached and "\n" not in mark.whitespace_


class _Marks:
    """Sentence starts written to a Doc in one ``from_array`` call.

    Setting ``token.is_sent_start`` makes spaCy check the whole Doc for a dependency
    parse (``has_annotation("DEP")``, a loop over every token) on each assignment: one
    assignment per token made a split quadratic in the note's length. The values and the
    refusal on a parsed Doc are the setter's.
    """

    def __init__(self, doc: Doc) -> None:
        if doc.has_annotation("DEP"):
            raise ValueError("sentence starts cannot be set on a Doc with a dependency parse")
        self._doc = doc
        self._values = doc.to_array([SENT_START]).astype("int64")

    def set(self, start: int, starts: Sequence[bool]) -> None:
        """Tokens ``start`` onwards start a sentence (1) or not (-1)."""
        self._values[start : start + len(starts)] = [1 if s else -1 for s in starts]

    def write(self) -> None:
        """Store the marks in the Doc."""
        column = self._values.astype(numpy.uint64).reshape(-1, 1)
        self._doc.from_array([SENT_START], cast(Ints2d, column))
