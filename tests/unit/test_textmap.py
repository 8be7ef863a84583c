"""Unit tests of space folding (textmap.py): offsets in the folded text map back."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from docgap.nlp.textmap import FoldedText


def fold(text: str) -> str:
    return re.sub(r" {2,}", " ", text)


TEXTS = [
    "LOSS  OF   CERVICAL    LORDOSIS",
    "   leading and trailing   ",
    "no runs here",
    "",
    "tabs\t\tare  kept\n\nand newlines  too",
    "a  b  c  d",
    " ",
    "x" + " " * 50 + "y",
]


@pytest.mark.parametrize("text", TEXTS)
def test_folded_text(text: str) -> None:
    folded = FoldedText(text)
    assert folded.text == fold(text)
    assert folded.folded is (folded.text != text)
    assert folded.original == text


@pytest.mark.parametrize("text", TEXTS)
def test_every_character_maps_back(text: str) -> None:
    folded = FoldedText(text)
    for i, char in enumerate(folded.text):
        assert text[folded.to_original(i)] == char
    assert folded.to_original(len(folded.text)) == len(text)


@pytest.mark.parametrize("text", TEXTS)
def test_spans_map_back(text: str) -> None:
    folded = FoldedText(text)
    n = len(folded.text)
    for start in range(n + 1):
        for end in range(start, n + 1):
            original = text[folded.to_original(start) : folded.to_original(end)]
            assert fold(original) == folded.text[start:end]


def test_word_offsets_map_to_the_word() -> None:
    text = "LOSS  OF   CERVICAL    LORDOSIS"
    folded = FoldedText(text)
    start = folded.text.index("CERVICAL")
    end = start + len("CERVICAL")
    assert text[folded.to_original(start) : folded.to_original(end)] == "CERVICAL"


def test_identity_without_runs() -> None:
    folded = FoldedText("neck pain, one space")
    assert not folded.folded
    assert all(folded.to_original(i) == i for i in range(len(folded.text) + 1))


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from(["a", "b", " ", "\n", "é"]), max_size=60))
def test_words_map_back(text: str) -> None:
    folded = FoldedText(text)
    for match in re.finditer(r"[^ ]+", folded.text):
        start, end = folded.to_original(match.start()), folded.to_original(match.end())
        assert text[start:end] == match.group(0)
