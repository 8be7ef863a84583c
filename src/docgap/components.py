"""docgap's own spaCy components, registered once under versioned names.

medspaCy's PyRuSH sentence splitter is the slowest stage of the stock pipeline and splits
templated text poorly; docgap's splitter is a single pass over the tokens with rules that
fit clinical notes: sentence punctuation, line breaks (except soft-wrapped narrative) and
list bullets.
"""


from collections.abc import Iterable

from spacy.language import Language
from spacy.tokens import Doc

__all__ = ["SentenceSplitter"]

_END = frozenset({".", "!", "?"})
_BULLETS = frozenset({"-", "*", "•", "·", "o", ">", "–"})


class SentenceSplitter:
    """Marks sentence starts for ConText scopes."""

    def __init__(self, no_break_after: Iterable[str]) -> None:
        self._no_break_after = frozenset(t.lower().rstrip(".") for t in no_break_after)

    def __call__(self, doc: Doc) -> Doc:
        n = len(doc)
        if n == 0:
            return doc
        starts = [False] * n
        starts[0] = True
        prev_word = None  # the last non-space token
        pending_newlines = 0
        for i in range(n):
            token = doc[i]
            text = token.text
            if token.is_space:
                pending_newlines += text.count("\n")
                continue
            if prev_word is not None:
                if pending_newlines:
                    starts[i] = pending_newlines > 1 or not self._soft_wrap(prev_word, token)
                elif "\n" in prev_word.whitespace_:
                    starts[i] = not self._soft_wrap(prev_word, token)
                elif prev_word.text in _END:
                    before = doc[prev_word.i - 1].lower_ if prev_word.i > 0 else ""
                    starts[i] = before not in self._no_break_after
            pending_newlines = 0
            prev_word = token
        for token, is_start in zip(doc, starts):
            token.is_sent_start = is_start
        return doc

    @staticmethod
    def _soft_wrap(prev: object, token: object) -> bool:
        """A single line break inside running prose (``denies dizziness,\\ntinnitus``)."""
        prev_text = prev.text  # type: ignore[attr-defined]
        text = token.text  # type: ignore[attr-defined]
        if text in _BULLETS or not text[:1].islower():
            return False
        return prev_text == "," or prev_text[:1].isalpha() and prev_text not in {":"}


@Language.factory(
    "docgap_sentences_v1",
    default_config={"no_break_after": []},
)
def make_sentence_splitter(nlp: Language, name: str, no_break_after: list[str]) -> SentenceSplitter:
    """Factory for the clinical sentence splitter."""
    return SentenceSplitter(no_break_after)
