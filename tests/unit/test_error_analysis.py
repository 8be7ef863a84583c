"""Error analysis on hand-built (gold, report) pairs: no pipeline, every cause known in advance."""

from __future__ import annotations

import json
from typing import Any

import pytest

from docgap.evaluation.errors import (
    COUNTED_NOT_ENOUGH,
    FALSE_NEGATIVE,
    FALSE_POSITIVE,
    NO_COUNTED_MENTION,
    NO_MENTION,
    NO_MENTION_KEY,
    NO_SECTION,
    NOT_ANALYSED,
    analyze_errors,
    cause_class,
)
from docgap.evaluation.scores import ELEMENTS, GoldNote
from docgap.report import Evidence, NoteReport

SECRET = "Zebrafish"  # a note word quoted in a reason: it must never reach the groups


def _gold(note_id: str, status: str = "supported", **elements: bool) -> GoldNote:
    return GoldNote(
        id=note_id,
        text=f"{SECRET} text of {note_id}",
        elements={e: elements.get(e, False) for e in ELEMENTS},
        chiropractic=False,
        status=status,
        would_code="M53.0" if status == "supported" else None,
    )


def _ev(
    element: str,
    *,
    counted: bool,
    rule: str = "r1",
    reason: str | None = None,
    section: str | None = "hpi",
    assertion: str = "affirmed",
    text: str = SECRET,
) -> Evidence:
    return Evidence(
        element=element,
        label=element,
        concept=f"{element}_concept",
        text=text,
        start=10,
        end=10 + len(text),
        section=section,
        assertion=assertion,
        counted=counted,
        reason=reason,
        rule=rule,
    )


def _report(
    note_id: str, status: str | None, evidence: list[Evidence], error: str | None = None,
    **elements: bool,
) -> NoteReport:
    return NoteReport(
        note_id=note_id,
        status=status,
        would_code="M53.0" if status == "supported" else None,
        elements={e: elements.get(e, False) for e in ELEMENTS},
        chiropractic=False,
        evidence=evidence,
        error=error,
    )


def _pairs() -> list[tuple[GoldNote, NoteReport]]:
    return [
        # n1: agrees everywhere: no record
        (_gold("n1", named_syndrome=True),
         _report("n1", "supported", [_ev("named_syndrome", counted=True)], named_syndrome=True)),
        # n2: named_syndrome negated (FN), cranial_symptoms fired on a family-history rule (FP)
        (_gold("n2", named_syndrome=True),
         _report("n2", "at_risk", [
             _ev("named_syndrome", counted=False, reason="assertion: negated",
                 assertion="negated"),
             _ev("cranial_symptoms", counted=True, rule="vertigo#2", section="family_history"),
             _ev("cranial_symptoms", counted=True, rule="vertigo#2", section="family_history"),
         ], cranial_symptoms=True)),
        # n3: named_syndrome found nothing; etiology attributed elsewhere (quoted note word)
        (_gold("n3", named_syndrome=True, etiology=True),
         _report("n3", "at_risk", [
             _ev("etiology", counted=False,
                 reason=f"attributed to another cause: '{SECRET}'", section=None),
         ])),
        # n4: named_syndrome negated again; status right despite it
        (_gold("n4", status="at_risk", named_syndrome=True),
         _report("n4", "at_risk", [
             _ev("named_syndrome", counted=False, reason="resolved later in the note (offset 812)"),
         ])),
        # n5: not analysed: every gold-true element is a false negative of that cause
        (_gold("n5", named_syndrome=True),
         _report("n5", None, [], error="analysis failed (ValueError)")),
    ]


@pytest.fixture
def analysis() -> Any:
    return analyze_errors(_pairs())


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("assertion: negated", "assertion: negated"),
        (f"attributed to another cause: '{SECRET}'", "attributed to another cause: …"),
        (f'region: "{SECRET} spine"', "region: …"),
        ("resolved later in the note (offset 812)", "resolved later in the note"),
        ("needs occipital_location", "needs occipital_location"),
    ],
)
def test_cause_class_drops_note_words_and_offsets(reason: str, expected: str) -> None:
    assert cause_class(reason) == expected


def test_one_record_per_element_disagreement(analysis: Any) -> None:
    got = {(e.note_id, e.element, e.kind): e.causes for e in analysis.element_errors}
    assert got == {
        ("n2", "named_syndrome", FALSE_NEGATIVE): ("assertion: negated",),
        ("n2", "cranial_symptoms", FALSE_POSITIVE): ("rule: vertigo#2",),
        ("n3", "named_syndrome", FALSE_NEGATIVE): (NO_MENTION,),
        ("n3", "etiology", FALSE_NEGATIVE): ("attributed to another cause: …",),
        ("n4", "named_syndrome", FALSE_NEGATIVE): ("resolved later in the note",),
        ("n5", "named_syndrome", FALSE_NEGATIVE): (NOT_ANALYSED,),
    }
    fp = next(e for e in analysis.element_errors if e.kind == FALSE_POSITIVE)
    assert [(m.rule, m.section, m.assertion) for m in fp.mentions] == [
        ("vertigo#2", "family_history", "affirmed")
    ] * 2
    # The record keeps the report's raw reason (the groups do not).
    etiology = next(e for e in analysis.element_errors if e.element == "etiology")
    assert etiology.mentions[0].reason == f"attributed to another cause: '{SECRET}'"


def test_status_disagreements_name_the_elements_that_drove_them(analysis: Any) -> None:
    got = {s.note_id: (s.gold, s.predicted, s.elements) for s in analysis.status_errors}
    assert got == {
        "n2": ("supported", "at_risk",
               {"named_syndrome": FALSE_NEGATIVE, "cranial_symptoms": FALSE_POSITIVE}),
        "n3": ("supported", "at_risk",
               {"named_syndrome": FALSE_NEGATIVE, "etiology": FALSE_NEGATIVE}),
        "n5": ("supported", "error", {"named_syndrome": FALSE_NEGATIVE}),
    }
    assert next(s for s in analysis.status_errors if s.note_id == "n5").error


def test_groups_by_element_count_causes_with_example_ids(analysis: Any) -> None:
    rows = analysis.groups()["by_element"]
    first = rows[0]  # most frequent first
    assert (first["element"], first["kind"], first["count"]) == (
        "named_syndrome", FALSE_NEGATIVE, 4
    )
    assert first["examples"] == ["n2", "n3", "n4", "n5"]
    causes = {c["cause"]: (c["count"], c["examples"]) for c in first["causes"]}
    assert causes == {
        "assertion: negated": (1, ["n2"]),
        NO_MENTION: (1, ["n3"]),
        "resolved later in the note": (1, ["n4"]),
        NOT_ANALYSED: (1, ["n5"]),
    }
    assert sum(r["count"] for r in rows) == len(analysis.element_errors)


def test_groups_by_cause_section_assertion_status(analysis: Any) -> None:
    groups = analysis.groups()
    by_cause = {(r["cause"], r["kind"]): r for r in groups["by_cause"]}
    assert by_cause[("rule: vertigo#2", FALSE_POSITIVE)]["elements"] == {"cranial_symptoms": 1}
    by_section = {(r["section"], r["kind"]): r["count"] for r in groups["by_section"]}
    # Two mentions in family_history behind one disagreement count it once.
    assert by_section[("family_history", FALSE_POSITIVE)] == 1
    assert by_section[(NO_SECTION, FALSE_NEGATIVE)] == 1  # n3 etiology
    assert by_section[(NO_MENTION_KEY, FALSE_NEGATIVE)] == 2  # n3 nothing found, n5 failed
    by_assertion = {(r["assertion"], r["kind"]): r["count"] for r in groups["by_assertion"]}
    assert by_assertion[("negated", FALSE_NEGATIVE)] == 1
    by_status = {(r["gold"], r["predicted"]): r for r in groups["by_status"]}
    assert by_status[("supported", "at_risk")]["count"] == 2
    assert by_status[("supported", "at_risk")]["elements"]["named_syndrome (false_negative)"] == 2


def test_groups_hold_no_note_text_and_the_json_round_trips(analysis: Any) -> None:
    document = json.loads(json.dumps(analysis.to_dict()))
    assert document["format"] == 1
    assert document["n_notes"] == 5
    assert document["totals"] == {FALSE_POSITIVE: 1, FALSE_NEGATIVE: 5, "status": 3}
    assert len(document["records"]["elements"]) == 6
    assert SECRET not in json.dumps(document["groups"])
    assert SECRET in json.dumps(document["records"])  # evidence spans, as the reports hold them


def test_fallback_causes_when_evidence_does_not_explain() -> None:
    gold = _gold("m1", imaging=True, autonomic=False)
    report = _report("m1", "at_risk", [_ev("imaging", counted=True)], autonomic=True)
    causes = {e.element: e.causes for e in analyze_errors([(gold, report)]).element_errors}
    assert causes == {"imaging": (COUNTED_NOT_ENOUGH,), "autonomic": (NO_COUNTED_MENTION,)}


def test_no_disagreement_no_records() -> None:
    gold = _gold("ok", named_syndrome=True)
    report = _report("ok", "supported", [], named_syndrome=True)
    analysis = analyze_errors([(gold, report)])
    assert analysis.element_errors == analysis.status_errors == []
    assert all(rows == [] for rows in analysis.groups().values())
