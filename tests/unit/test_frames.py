"""``docgap.to_frame`` and ``docgap.frames.show_note`` (the researcher's pandas view)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import docgap
from docgap.frames import NoteHTML, show_note, to_frame

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "examples.jsonl"
EXAMPLES = ROOT / "examples" / "notes"


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return [json.loads(line) for line in GOLDEN.read_text(encoding="utf-8").splitlines()]


def test_one_row_per_note_elements_as_bool_columns(records: list[dict[str, Any]]) -> None:
    frame = to_frame(records)
    assert len(frame) == len(records)
    assert list(frame["note_id"]) == [r["note_id"] for r in records]
    for element in records[0]["elements"]:
        assert str(frame[element].dtype) == "boolean"
        assert list(frame[element]) == [r["elements"][element] for r in records]
    for row, record in zip(frame.itertuples(), records, strict=True):
        assert row.gaps == "; ".join(g["key"] for g in record["gaps"])
        assert row.n_gaps == len(record["gaps"])
        assert row.status == record["status"]


def test_failed_note_and_meta_columns() -> None:
    failed = {"note_id": "x", "status": None, "elements": {}, "gaps": [], "error": "empty note",
              "meta": {"specialty": "Neurology", "status": "shadowed"}}
    ok = {"note_id": "y", "status": "downcode", "elements": {"imaging": True}, "gaps": [],
          "meta": {"specialty": "ED"}}
    frame = to_frame([failed, ok])
    assert frame["imaging"].isna().tolist() == [True, False]
    assert frame["specialty"].tolist() == ["Neurology", "ED"]
    assert frame["status"].tolist()[1] == "downcode"  # a meta key never shadows a report column
    assert frame["error"].tolist()[0] == "empty note"


def test_to_frame_is_exported_lazily_and_takes_note_reports(analyzer: docgap.Analyzer) -> None:
    text = (EXAMPLES / "01-supported-neurology.txt").read_text(encoding="utf-8")
    report = analyzer.analyze(text, "n1")
    frame = docgap.to_frame([report])
    assert frame.loc[0, "note_id"] == "n1" and frame.loc[0, "status"] == report.status
    code = "import sys, docgap; print('pandas' in sys.modules, 'docgap.frames' in sys.modules)"
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True)
    assert fresh.stdout.split() == ["False", "False"]


def test_show_note_highlights_evidence(records: list[dict[str, Any]]) -> None:
    record = records[0]
    text = (EXAMPLES / f"{record['note_id']}.txt").read_text(encoding="utf-8")
    shown = show_note(record, text)
    assert isinstance(shown, NoteHTML)
    markup = shown._repr_html_()
    counted = next(e for e in record["evidence"] if e["counted"])
    assert f">{counted['text']}</mark>" in markup
    assert markup.count("<mark") >= 1
    assert record["status"] in markup


def test_show_note_escapes_text_and_strikes_discounted_mentions() -> None:
    text = "<b>no</b> dizziness & occipital headache"
    record = {"note_id": "n", "status": "downcode", "would_code": "M54.2", "gaps": [],
              "evidence": [
                  {"element": "autonomic", "start": 10, "end": 19, "counted": False,
                   "assertion": "negated", "reason": "negated"},
                  {"element": "cranial_symptoms", "start": 22, "end": 40, "counted": True,
                   "assertion": "affirmed"},
                  {"element": "cranial_symptoms", "start": 32, "end": 40, "counted": True,
                   "assertion": "affirmed"},  # overlaps the longer one: dropped
              ]}
    markup = str(show_note(record, text))
    assert "&lt;b&gt;no&lt;/b&gt;" in markup and "<b>no</b>" not in markup
    assert "<mark class='dg-off' title='autonomic: negated (negated)'>dizziness</mark>" in markup
    assert markup.count("<mark") == 2
