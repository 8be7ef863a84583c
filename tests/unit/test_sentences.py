"""Unit tests of the clinical sentence splitter (spaCy component ``docgap_sentences_v1``).

Sentences are ConText's scope, so where they end decides how far a negation reaches: a
soft-wrapped list ("denies dizziness,\\ntinnitus") must stay one sentence, while template
lines, bullets and blank lines must not run together.
"""

from __future__ import annotations

import pytest
import spacy
from medspacy.custom_tokenizer import create_medspacy_tokenizer
from spacy.language import Language

import docgap.nlp.components  # noqa: F401  (registers docgap_sentences_v1)
from docgap.nlp.pipeline import build_nlp
from docgap.nlp.sentences import SentenceSplitter
from docgap.rules.lexicon import load_lexicon


@pytest.fixture(scope="module")
def nlp() -> Language:
    pipeline = spacy.blank("en")
    pipeline.tokenizer = create_medspacy_tokenizer(pipeline)
    pipeline.add_pipe(
        "docgap_sentences_v1",
        config={"no_break_after": list(load_lexicon().sentences.no_break_after)},
    )
    return pipeline


def sentences(nlp: Language, text: str) -> list[str]:
    return [s.text.strip() for s in nlp(text).sents if s.text.strip()]


SPLITS = [
    ("Neck pain. Dizziness.", ["Neck pain.", "Dizziness."]),
    ("Neck pain! Dizziness? Tinnitus.", ["Neck pain!", "Dizziness?", "Tinnitus."]),
    ("Seen by Dr. Smith today. Neck pain.", ["Seen by Dr. Smith today.", "Neck pain."]),
    ("Cervicocranial syndrome vs. migraine.", ["Cervicocranial syndrome vs. migraine."]),
    (
        "Denies dizziness,\ntinnitus or visual change.",
        ["Denies dizziness,\ntinnitus or visual change."],
    ),
    ("HPI: neck pain\nROS: dizziness", ["HPI: neck pain", "ROS: dizziness"]),
    ("Vertigo: No\nTinnitus: Yes", ["Vertigo: No", "Tinnitus: Yes"]),
    ("- neck pain\n- dizziness", ["- neck pain", "- dizziness"]),
    ("neck pain\n\nvertigo", ["neck pain", "vertigo"]),
    ("Neck pain", ["Neck pain"]),
    # a detached "?" opens the next queried diagnosis of a referral; an attached one ends
    # a question
    (
        "Referral: ? cervicogenic headache ? Barre-Lieou syndrome. Thanks.",
        ["Referral: ? cervicogenic headache ? Barre-Lieou syndrome.", "Thanks."],
    ),
    ("Any dizziness? Tinnitus.", ["Any dizziness?", "Tinnitus."]),
]


@pytest.mark.parametrize(("text", "expected"), SPLITS, ids=[t for t, _ in SPLITS])
def test_splits(nlp: Language, text: str, expected: list[str]) -> None:
    assert sentences(nlp, text) == expected


def test_empty_doc(nlp: Language) -> None:
    assert list(nlp("")) == []


def test_reference_pipeline_uses_the_component() -> None:
    reference = build_nlp(load_lexicon(), fast=False)
    assert "docgap_sentences_v1" in reference.pipe_names
    component = reference.get_pipe("docgap_sentences_v1")
    assert isinstance(component, SentenceSplitter)


AROUND = [
    "Neck pain. Denies dizziness,\ntinnitus or visual change.\nROS: vertigo [x]\n\n- arm pain",
    "Dr. Jones saw her. No HA. Neck pain vs. strain? Yes.\n* item one\n* item two",
    "Line one\nline two continues\nLine three. Four.",
]


@pytest.mark.parametrize("text", AROUND)
def test_split_around_agrees_with_full_split(nlp: Language, text: str) -> None:
    """Splitting only around some tokens marks them exactly as the full split does."""
    splitter = nlp.get_pipe("docgap_sentences_v1")
    full = nlp(text)
    expected = [t.is_sent_start for t in full]
    for i in range(len(full)):
        partial = nlp.make_doc(text)
        regions = splitter.split_around(partial, [partial[i : i + 1]])
        assert regions and regions[0][0] <= i < regions[0][1]
        start, end = regions[0]
        for j in range(start, min(end + 1, len(partial))):
            assert bool(partial[j].is_sent_start) == bool(expected[j]), (i, j)
