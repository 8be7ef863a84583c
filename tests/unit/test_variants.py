"""The misspelling variants: the edit-distance bound, expansion, and the shipped list."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from docgap.rules.lexicon import load_lexicon
from docgap.rules.variants import VariantsFile, edit_distance, expand_phrases, suggest

BOUNDS = [{"min_length": 5, "distance": 1}, {"min_length": 9, "distance": 2}]


def _file(variants: dict[str, list[str]]) -> VariantsFile:
    return VariantsFile.model_validate({"bounds": BOUNDS, "variants": variants})


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("vertigo", "vertgo", 1),
        ("syndrome", "syndrom", 1),
        ("occipital", "occiptal", 1),
        ("dizziness", "diziness", 1),
        ("tinnitus", "tinnitsu", 1),
        ("neck", "neck", 0),
        ("cervical", "cervicle", 2),
    ],
)
def test_edit_distance(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b) == distance


def test_a_variant_beyond_the_bound_is_rejected() -> None:
    with pytest.raises(ValidationError, match="2 edits away"):
        _file({"cervical": ["cervicle"]})


def test_a_short_word_has_no_variants() -> None:
    with pytest.raises(ValidationError, match=r"allow 1\.\.0"):
        _file({"neck": ["nek"]})


def test_expansion_replaces_one_word_and_is_idempotent() -> None:
    variants = _file({"occipital": ["occiptal"], "headache": ["headach"]})
    once = expand_phrases(["occipital headache", "neck pain"], variants)
    assert once == ["occipital headache", "neck pain", "occiptal headache", "occipital headach"]
    assert expand_phrases(once, variants) == once


def test_suggest_offers_the_typical_slips() -> None:
    candidates = suggest("vertigo")
    assert {"vertgo", "vetrigo", "verttigo"} <= set(candidates)
    assert "vertigo" not in candidates


def test_shipped_targets_carry_the_variants() -> None:
    lexicon = load_lexicon()
    phrases = {p for _, c in lexicon.concepts() for p in c.phrases}
    assert {"vertgo", "dizzness", "cervicocrainal syndrome", "cervico cranial syndrome"} <= phrases
    assert "common/variants.yml" in lexicon.files
