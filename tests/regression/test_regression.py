"""Regression cases kept as data (tests/regression/*.json), one or more per phenomenon.

Each case has an ``id``, the ``phenomenon`` it documents, the ``spec`` section it follows,
the note ``text`` and an ``expected`` subset of the report: ``status``, ``would_code``,
``chiropractic``, ``elements`` (any subset), ``gaps_include``, ``gaps_exclude`` and
``evidence``. A known failure carries ``"xfail": "reason"`` and runs as a strict xfail, so
its fix is noticed.

``evidence`` makes a case fail for the right reason: a negated mention must be found *and*
negated, not merely missed by the lexicon. It is a list of checks, each
``{"element", "contains", "counted", "assertion"?}``: the report must hold evidence for
``element`` whose text contains ``contains`` (case-insensitive); if ``counted`` is true at
least one such mention counted, if false none did; ``assertion``, when given, is carried by
at least one of them.

Every case also checks what holds of any report: evidence offsets slice the note to the
evidence text, ``query_opportunity`` agrees with the gap keys, and every gap has a filled-in
message and a known severity.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from docgap import STATUSES, Analyzer

# Every tests/regression/*.json file holds a list of cases (one file per family of rules, so
# that changes to different rules do not edit the same file).
CASES_DIR = Path(__file__).parent
CASES: list[dict[str, Any]] = [
    case
    for path in sorted(CASES_DIR.glob("*.json"))
    for case in json.loads(path.read_text(encoding="utf-8"))
]
EXPECTED_KEYS = {
    "status",
    "would_code",
    "chiropractic",
    "elements",
    "gaps_include",
    "gaps_exclude",
    "evidence",
}
EVIDENCE_KEYS = {"element", "contains", "counted", "assertion"}
SEVERITIES = {"required", "recommended", "info"}
ELEMENTS = {
    "named_syndrome",
    "cranial_symptoms",
    "cervical_findings",
    "etiology",
    "imaging",
    "subluxation_level",
    "upper_extremity",
    "autonomic",
}


def _params() -> list[Any]:
    params = []
    for item in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=item["xfail"])] if item.get("xfail") else []
        params.append(pytest.param(item, id=item["id"], marks=marks))
    return params


def test_cases_are_well_formed() -> None:
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    for c in CASES:
        assert set(c) <= {"id", "phenomenon", "spec", "text", "expected", "xfail"}, c["id"]
        assert c["text"].strip() and c["phenomenon"].strip() and c["spec"].strip(), c["id"]
        expected = c["expected"]
        assert expected and set(expected) <= EXPECTED_KEYS, c["id"]
        assert set(expected.get("elements", {})) <= ELEMENTS, c["id"]
        if "status" in expected:
            assert expected["status"] in STATUSES, c["id"]
        for check in expected.get("evidence", []):
            assert {"element", "contains", "counted"} <= set(check) <= EVIDENCE_KEYS, c["id"]
            assert check["element"] in ELEMENTS and check["contains"].strip(), c["id"]


def test_every_status_is_covered() -> None:
    covered = {c["expected"].get("status") for c in CASES if not c.get("xfail")}
    assert set(STATUSES) <= covered


@pytest.mark.parametrize("case", _params())
def test_regression_case(analyzer: Analyzer, case: dict[str, Any]) -> None:
    text = case["text"]
    expected = case["expected"]
    report = analyzer.analyze(text, note_id=case["id"])
    assert report.error is None
    detail = [(e.element, e.text, e.assertion, e.counted, e.reason) for e in report.evidence]
    if "status" in expected:
        assert report.status == expected["status"], detail
    if "would_code" in expected:
        assert report.would_code == expected["would_code"], detail
    if "chiropractic" in expected:
        assert report.chiropractic is expected["chiropractic"], detail
    for element, value in expected.get("elements", {}).items():
        assert report.elements[element] is value, (element, detail)
    keys = report.gap_keys()
    for key in expected.get("gaps_include", []):
        assert key in keys, (key, keys)
    for key in expected.get("gaps_exclude", []):
        assert key not in keys, (key, keys)
    for check in expected.get("evidence", []):
        needle = check["contains"].lower()
        found = [
            e for e in report.evidence if e.element == check["element"] and needle in e.text.lower()
        ]
        assert found, (f"no {check['element']} evidence containing {needle!r}", detail)
        assert any(e.counted for e in found) is check["counted"], (check, detail)
        if "assertion" in check:
            assert any(e.assertion == check["assertion"] for e in found), (check, detail)
    for e in report.evidence:
        assert text[e.start : e.end] == e.text
    assert report.query_opportunity is ("query_opportunity" in keys)
    for gap in report.gaps:
        assert gap.message.strip() and "{" not in gap.message, gap.key
        assert gap.severity in SEVERITIES, gap.key
