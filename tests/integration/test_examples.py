"""The example notes (examples/notes) give exactly the labels in examples/expected.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from docgap import STATUSES, Analyzer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOTES = sorted((EXAMPLES / "notes").glob("*.txt"))
EXPECTED: dict[str, dict[str, Any]] = json.loads(
    (EXAMPLES / "expected.json").read_text(encoding="utf-8")
)


def test_every_note_has_an_expectation_and_back() -> None:
    assert {p.stem for p in NOTES} == set(EXPECTED)


def test_examples_cover_every_status() -> None:
    """Issue 2: at least 10 example notes covering every status."""
    assert len(NOTES) >= 10
    assert {e["status"] for e in EXPECTED.values()} == set(STATUSES)


@pytest.mark.parametrize("path", NOTES, ids=[p.stem for p in NOTES])
def test_example(analyzer: Analyzer, path: Path) -> None:
    expected = EXPECTED[path.stem]
    text = path.read_text(encoding="utf-8")
    report = analyzer.analyze(text, note_id=path.stem)
    detail = [(e.element, e.text, e.assertion, e.counted, e.reason) for e in report.evidence]
    assert report.status == expected["status"], detail
    assert report.would_code == expected["would_code"]
    assert report.elements == expected["elements"], detail
    assert report.chiropractic is expected["chiropractic"]
