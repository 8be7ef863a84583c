"""Unit tests of the discourse rules (docgap.nlp.discourse with lexicons/common/discourse.yml).

Spec section 1: time is read across sentences; an amended assessment supersedes what it
corrects; in a transcript the patient's answer decides; a quoted diagnosis is reported.
Each overridden mention says why in its evidence.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from docgap import Analyzer
from docgap.resources import lexicon_dir
from docgap.rules.lexicon import DiscourseFile, DiscourseRule, LexiconError, load_lexicon


def _evidence(analyzer: Analyzer, text: str, element: str) -> list[tuple[str, str, bool, str]]:
    report = analyzer.analyze(text)
    return [
        (e.text.lower(), e.assertion, e.counted, e.reason or "")
        for e in report.evidence
        if e.element == element
    ]


def test_shipped_discourse_rules_load() -> None:
    kinds = {rule.kind for rule in load_lexicon().discourse.rules}
    assert kinds == {"resolution", "retraction", "answer", "quotation", "dispute", "gloss"}


def test_resolution_makes_earlier_mention_past_and_says_where(analyzer: Analyzer) -> None:
    text = "HPI: Dizziness when turning the head.\nToday: the dizziness has since resolved.\n"
    found = _evidence(analyzer, text, "cranial_symptoms")
    first = found[0]
    assert first[0] == "dizziness" and not first[2]
    assert first[1] == "historical"
    assert first[3].startswith("resolved later in the note (offset ")


def test_recurrence_after_resolution_stays_current(analyzer: Analyzer) -> None:
    text = "Vertigo went away in May.\nIn July the vertigo returned with head turning.\n"
    found = _evidence(analyzer, text, "cranial_symptoms")
    assert any(counted for _, _, counted, _ in found)


def test_unrelated_symptom_is_not_resolved(analyzer: Analyzer) -> None:
    text = "Reports tinnitus and dizziness.\nThe dizziness resolved last week.\n"
    found = {t: counted for t, _, counted, _ in _evidence(analyzer, text, "cranial_symptoms")}
    assert found["tinnitus"] is True


def test_transcript_negative_answer_negates_the_question(analyzer: Analyzer) -> None:
    text = "Dr: Any dizziness?\nPt: No, not anymore.\nDr: Tinnitus?\nPt: Yes, on the left.\n"
    found = {t: (a, r) for t, a, _, r in _evidence(analyzer, text, "cranial_symptoms")}
    assert found["dizziness"][0] == "negated"
    assert found["dizziness"][1].startswith("answered no")
    assert not found["tinnitus"][1].startswith("answered no")


def test_retraction_withdraws_the_diagnosis(analyzer: Analyzer) -> None:
    text = (
        "Assessment: Cervicocranial syndrome.\n"
        "Addendum: cervicocranial syndrome was entered in error; it is not my diagnosis.\n"
    )
    found = _evidence(analyzer, text, "named_syndrome")
    assert found and not any(counted for _, _, counted, _ in found)
    assert all(r.startswith("retracted later in the note") for *_, r in found)


def test_quoted_record_excerpt_is_reported(analyzer: Analyzer) -> None:
    text = 'Dr. Vance, treating provider: "Diagnosis: cervicocranial syndrome."\n'
    found = _evidence(analyzer, text, "named_syndrome")
    assert found and not found[0][2]
    assert "quoted from another record" in found[0][3] or "reported" in found[0][3]


@pytest.mark.parametrize(
    "data",
    [
        {"rules": [{"kind": "resolution", "becomes": "historical", "reason": "r", "extra": 1}]},
        {"rules": [{"kind": "gossip", "reason": "r"}]},
        {"rules": [{"kind": "resolution", "reason": "r", "cues": ["(unclosed"]}]},
        {"rules": [{"kind": "answer", "reason": "r", "becomes": "maybe"}]},
        # a dispute or gloss with no cue would fire on every mention
        {"rules": [{"kind": "dispute", "reason": "r"}]},
        {"rules": [{"kind": "gloss", "reason": "r"}]},
        # a gloss takes its head's assertion; keeps_* is a dispute's
        {"rules": [{"kind": "gloss", "reason": "r", "cues": ["aka"], "becomes": "negated"}]},
        {"rules": [{"kind": "retraction", "reason": "r", "keeps_sections": ["assessment"]}]},
    ],
)
def test_discourse_file_is_validated(data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        DiscourseFile.model_validate(data)


def test_rule_without_becomes_keeps_assertion() -> None:
    rule = DiscourseRule(kind="quotation", reason="quoted (offset {offset})")
    assert rule.becomes is None and rule.window == 60


def test_dispute_overrides_the_earlier_referral_diagnosis(analyzer: Analyzer) -> None:
    text = (
        "Referred with a diagnosis of cervicocranial syndrome.\n"
        "Impression: I don't think cervicocranial syndrome is the right label.\n"
    )
    found = _evidence(analyzer, text, "named_syndrome")
    assert found and not any(counted for _, _, counted, _ in found)
    assert found[0][3].startswith("disputed by the author later in the note (offset ")


def test_adoption_after_a_dispute_counts(analyzer: Analyzer) -> None:
    text = (
        "Last year I did not think this was cervicocranial syndrome.\n"
        "Assessment: cervicocranial syndrome.\n"
    )
    found = _evidence(analyzer, text, "named_syndrome")
    assert [counted for _, _, counted, _ in found] == [False, True]


def test_gloss_takes_the_reading_of_what_it_glosses(analyzer: Analyzer) -> None:
    asked = (
        "He wondered whether he has Barre-Lieou syndrome, also known as cervicocranial syndrome.\n"
    )
    found = _evidence(analyzer, asked, "named_syndrome")
    assert [counted for _, _, counted, _ in found] == [False, False]
    assert found[1][3].startswith("a gloss of the mention at offset ")
    named = "Assessment: cervicocranial syndrome (aka Barre-Lieou syndrome).\n"
    assert all(counted for _, _, counted, _ in _evidence(analyzer, named, "named_syndrome"))


def test_dispute_keeps_names_are_checked(tmp_path: Path) -> None:
    root = tmp_path / "lexicons"
    shutil.copytree(lexicon_dir(), root)
    path = root / "common" / "discourse.yml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "keeps_sections: [assessment]", "keeps_sections: [assesment]"
        ),
        encoding="utf-8",
    )
    with pytest.raises(LexiconError, match=r"section 'assesment' is not in sections\.yml"):
        load_lexicon(root)
