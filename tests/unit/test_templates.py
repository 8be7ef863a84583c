"""Unit tests of template values (templates.py with lexicons/common/templates.yml).

Spec section 1: a template or checkbox counts by its value ("Vertigo [x]" yes, "Vertigo [ ]"
no); an unfilled field ("Neck: ***") counts as nothing.
"""

from __future__ import annotations

import pytest

from docgap.nlp.templates import TemplateReader
from docgap.rules.lexicon import load_lexicon


@pytest.fixture(scope="module")
def reader() -> TemplateReader:
    return TemplateReader(load_lexicon().templates)


# (line, mention inside it, expected value)
VALUES = [
    ("Vertigo [x]", "Vertigo", "affirmed"),
    ("Vertigo [X]", "Vertigo", "affirmed"),
    ("Vertigo [ ]", "Vertigo", "negated"),
    ("Vertigo ☒", "Vertigo", "affirmed"),
    ("☐ Vertigo", "Vertigo", "negated"),
    ("[ ] numbness", "numbness", "negated"),
    ("[x] numbness", "numbness", "affirmed"),
    ("Dizziness: yes", "Dizziness", "affirmed"),
    ("Dizziness: Yes - with head turns", "Dizziness", "affirmed"),
    ("Vertigo: No", "Vertigo", "negated"),
    ("Vertigo: none", "Vertigo", "negated"),
    ("Tinnitus: denies", "Tinnitus", "negated"),
    ("Tinnitus: negative", "Tinnitus", "negated"),
    ("Tinnitus = absent", "Tinnitus", "negated"),
    ("Neck: ***", "Neck", "unfilled"),
    ("Neck pain: ***", "Neck pain", "unfilled"),
    ("Headache: N/A", "Headache", "unfilled"),
    ("Neck pain: mild", "Neck pain", "affirmed"),
    ("+ tinnitus", "tinnitus", "affirmed"),
    ("(-) tinnitus", "tinnitus", "negated"),
    ("neg for tinnitus", "tinnitus", "negated"),
    ("positive for tinnitus", "tinnitus", "affirmed"),
    ("N/T UE: No", "N/T", "negated"),
]


@pytest.mark.parametrize(
    ("line", "mention", "expected"),
    VALUES,
    ids=[v[0] if isinstance(v, tuple) else None for v in VALUES],
)
def test_value(reader: TemplateReader, line: str, mention: str, expected: str) -> None:
    start = line.index(mention)
    assert reader.value(line, start, start + len(mention)) == expected


ROWS = [
    # a row of boxes: each box belongs to the label after it
    ("[x] Dizziness   [ ] Tinnitus", "Dizziness", "affirmed"),
    ("[x] Dizziness   [ ] Tinnitus", "Tinnitus", "negated"),
    ("[ ] Dizziness   [x] Tinnitus", "Dizziness", "negated"),
    ("[ ] Dizziness   [x] Tinnitus", "Tinnitus", "affirmed"),
    # one field per line: a value does not leak to the next line
    ("Vertigo: No\nTinnitus: Yes", "Vertigo", "negated"),
    ("Vertigo: No\nTinnitus: Yes", "Tinnitus", "affirmed"),
    ("Neck pain\nDizziness: no", "Neck pain", None),
]


@pytest.mark.parametrize(("text", "mention", "expected"), ROWS)
def test_value_in_context(
    reader: TemplateReader, text: str, mention: str, expected: str | None
) -> None:
    start = text.index(mention)
    assert reader.value(text, start, start + len(mention)) == expected


NOT_TEMPLATES = [
    ("Reports vertigo when looking up.", "vertigo"),
    ("Neck pain radiating to the shoulder.", "Neck pain"),
    ("She has had dizziness for two weeks.", "dizziness"),
    ("HPI: occipital headaches since January.", "occipital headaches"),
]


@pytest.mark.parametrize(("text", "mention"), NOT_TEMPLATES, ids=[t for t, _ in NOT_TEMPLATES])
def test_prose_has_no_template_value(reader: TemplateReader, text: str, mention: str) -> None:
    start = text.index(mention)
    assert reader.value(text, start, start + len(mention)) is None


# Unselected pick-lists and placeholders name nothing (spec 1; issue 12 class 4).
PICK_LISTS = [
    ("Assessment: {cervicocranial syndrome/cervicalgia/***}", "cervicocranial syndrome"),
    ("Dx: {neck pain/***}", "neck pain"),
    ("Dx: [select diagnosis: cervicocranial syndrome]", "cervicocranial syndrome"),
]


@pytest.mark.parametrize(("line", "mention"), PICK_LISTS)
def test_pick_list_is_unfilled(reader: TemplateReader, line: str, mention: str) -> None:
    start = line.index(mention)
    assert reader.value(line, start, start + len(mention)) == "unfilled"


def test_text_after_a_pick_list_still_counts(reader: TemplateReader) -> None:
    line = "Plan: {PT/***}. Assessment: cervicocranial syndrome"
    start = line.index("cervicocranial")
    assert reader.value(line, start, start + len("cervicocranial syndrome")) != "unfilled"
