"""Unit tests of spinal level parsing (levels.py with lexicons/common/levels.yml)."""

from __future__ import annotations

import pytest

from docgap.nlp.levels import LevelFinder, index_of, name_of
from docgap.rules.lexicon import load_lexicon


@pytest.fixture(scope="module")
def finder() -> LevelFinder:
    return LevelFinder(load_lexicon().levels)


NOTATIONS = [
    ("Subluxation C1.", ["C1"]),
    ("C0 fixation", ["C0"]),
    ("restriction at C1-2", ["C1-C2"]),
    ("restriction at C1/2", ["C1-C2"]),
    ("restriction at C1-C2", ["C1-C2"]),
    ("restriction at C1–C2", ["C1-C2"]),  # en dash
    ("OC-C1 fixation", ["C0-C1"]),
    ("tender over the occiput", ["C0"]),
    ("atlas subluxation", ["C1"]),
    ("axis rotated", ["C2"]),
    ("atlantoaxial instability", ["C1-C2"]),
    ("C7-T1 junction", ["C7-T1"]),
    ("spinous process of C-5", ["C5"]),
    ("segments C3 through C6", ["C3-C6"]),
    ("C3 to C5", ["C3-C5"]),
    ("C5-6 and C6-7", ["C5-C6", "C6-C7"]),
    ("C5, C6 and T4", ["C5", "C6", "T4"]),
    ("T4-5 restriction", ["T4-T5"]),
    ("L4-5 herniation", ["L4-L5"]),
    ("L5-S1 disc", ["L5-S1"]),
    ("T12-L1", ["T12-L1"]),
]


@pytest.mark.parametrize(("text", "expected"), NOTATIONS, ids=[t for t, _ in NOTATIONS])
def test_notations(finder: LevelFinder, text: str, expected: list[str]) -> None:
    found = finder.find(text)
    assert [m.normalized for m in found] == expected
    for m in found:
        assert text[m.start : m.end] == m.text


LISTINGS = [
    ("C2 PRS", "C2", "PRS"),
    ("C1 ASR", "C1", "ASR"),
    ("C5 PL", "C5", "PL"),
    ("C2 PRS-M", "C2", "PRS-M"),
]


@pytest.mark.parametrize(("text", "level", "listing"), LISTINGS, ids=[t for t, *_ in LISTINGS])
def test_listings(finder: LevelFinder, text: str, level: str, listing: str) -> None:
    found = finder.find(f"Palpation: {text}, hypertonicity.")
    assert [(m.normalized, m.listing) for m in found] == [(level, listing)]


def test_listing_in_a_listing_line(finder: LevelFinder) -> None:
    found = finder.find("Listings: C2 PRS, C5 PL, T4 BR")
    assert [(m.normalized, m.listing) for m in found] == [
        ("C2", "PRS"),
        ("C5", "PL"),
        ("T4", "BR"),
    ]


NOT_LEVELS = [
    "T1-weighted MRI",
    "T2 weighted images show edema",
    "T2 hyperintensity in the cord",
    "C3 complement was low",
    "HC1 antibodies",
    "ABC1 gene",
    "C8",
    "C10",
    "cervical subluxation",
]


@pytest.mark.parametrize("text", NOT_LEVELS)
def test_not_levels(finder: LevelFinder, text: str) -> None:
    assert finder.find(text) == []


def test_complement_before_is_not_a_level(finder: LevelFinder) -> None:
    assert finder.find("Serum complement C3 was low.") == []


REGION = [
    ("C0", True, True),
    ("C1", True, True),
    ("C5-6", True, True),
    ("C7-T1", True, True),
    ("T1", False, True),
    ("T2", False, False),
    ("T4-5", False, False),
    ("L4-5", False, False),
]


@pytest.mark.parametrize(("text", "cervical", "counts"), REGION, ids=[t for t, *_ in REGION])
def test_region_and_t1_limit(finder: LevelFinder, text: str, cervical: bool, counts: bool) -> None:
    """Occiput to T1 counts for M53.0 (spec 2 subluxation_level); below T1 does not."""
    (level,) = finder.find(text)
    assert level.is_cervical() is cervical
    t1 = index_of("T1")
    assert t1 is not None
    assert level.reaches_at_or_above(t1) is counts


@pytest.mark.parametrize(
    ("name", "index"),
    [("C0", 0), ("C1", 1), ("C7", 7), ("T1", 8), ("T12", 19), ("L1", 20), ("L5", 24), ("S1", 25)],
)
def test_index_of(name: str, index: int) -> None:
    assert index_of(name) == index
    assert index_of(name.lower()) == index
    assert name_of(index) == name


@pytest.mark.parametrize("name", ["C8", "T0", "T13", "L6", "S6", "X1", "C", ""])
def test_index_of_rejects(name: str) -> None:
    assert index_of(name) is None


def test_index_round_trip() -> None:
    for index in range(30):
        assert index_of(name_of(index)) == index


def test_offsets_in_longer_text(finder: LevelFinder) -> None:
    text = "Restricted C1-2 and C5/6; atlas ASR.\nAlso T4 and L5-S1."
    found = finder.find(text)
    assert [m.normalized for m in found] == ["C1-C2", "C5-C6", "C1", "T4", "L5-S1"]
    for m in found:
        assert text[m.start : m.end] == m.text


EXAM_LEVELS = [
    ("Neuro: sensation intact C5-T1 bilaterally.", "C5-T1"),
    ("light touch and pinprick intact throughout C5 to T1", "C5-T1"),
    ("decreased sensation in the C6 dermatome", "C6"),
    ("numb along C6 dermatomal lines", "C6"),
]


@pytest.mark.parametrize(("text", "level"), EXAM_LEVELS)
def test_sensory_exam_levels_are_flagged(finder: LevelFinder, text: str, level: str) -> None:
    found = finder.find(text)
    assert [lv.normalized for lv in found] == [level]
    assert found[0].exam, "a dermatome of a sensory exam is still found, but flagged"


@pytest.mark.parametrize(
    "text",
    [
        "Subluxation C1, sensation of pressure at the base of the skull.",
        "C1-C2 fixation; motor vehicle accident last year",
        "Sensation intact. Subluxation at C5-6.",
    ],
)
def test_subluxation_levels_are_not_exam_levels(finder: LevelFinder, text: str) -> None:
    found = finder.find(text)
    assert found and not any(lv.exam for lv in found)
