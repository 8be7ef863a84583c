"""``docgap compare``: which notes changed between two runs (unit and CLI)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from docgap.cli import app
from docgap.evaluation.compare import CompareError, compare_reports

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "examples.jsonl"


def _record(note_id: str, status: str | None = "supported", code: str | None = "M53.0",
            **elements: bool) -> dict[str, Any]:
    return {"note_id": note_id, "status": status, "would_code": code,
            "elements": {"named_syndrome": True, "imaging": False, **elements}}


def test_same_run_has_no_changes() -> None:
    records = [_record("a"), _record("b", "downcode", "M54.2")]
    comparison = compare_reports(records, records)
    assert comparison.in_both == 2 and comparison.unchanged == 2
    assert comparison.changed == [] and not comparison.transitions


def test_status_code_and_element_changes_are_listed() -> None:
    a = [_record("a"), _record("b"), _record("c"), _record("gone")]
    b = [_record("a"),
         _record("b", "downcode", "M54.2", named_syndrome=False),
         _record("c", imaging=True),
         _record("new")]
    comparison = compare_reports(a, b)
    assert comparison.in_both == 3 and comparison.unchanged == 1
    by_id = {c.note_id: c for c in comparison.changed}
    assert by_id["b"].status == ("supported", "downcode")
    assert by_id["b"].would_code == ("M53.0", "M54.2")
    assert by_id["b"].elements_lost == ("named_syndrome",)
    assert by_id["c"].status is None and by_id["c"].elements_gained == ("imaging",)
    assert comparison.only_a == ["gone"] and comparison.only_b == ["new"]
    assert comparison.transitions == {("supported", "downcode"): 1}
    assert comparison.counts() == {"status": 1, "would_code": 1, "elements": 2}
    as_json = comparison.to_dict()
    assert as_json["notes"][0] == {
        "note_id": "b",
        "status": {"a": "supported", "b": "downcode"},
        "would_code": {"a": "M53.0", "b": "M54.2"},
        "elements": {"gained": [], "lost": ["named_syndrome"]},
    }


def test_a_failed_note_counts_as_a_status_change() -> None:
    failed = {**_record("a", None, None), "error": "empty note"}
    (change,) = compare_reports([_record("a")], [failed]).changed
    assert change.status == ("supported", "error")


def test_a_duplicated_note_id_is_an_error() -> None:
    with pytest.raises(CompareError, match="run B has note_id 'a' twice"):
        compare_reports([_record("a")], [_record("a"), _record("a")])


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _changed_golden(tmp_path: Path) -> tuple[Path, Path, str]:
    records = [json.loads(line) for line in GOLDEN.read_text(encoding="utf-8").splitlines()]
    first = records[0]
    changed = {**first, "status": "at_risk", "elements": {**first["elements"],
                                                          "cervical_findings": False}}
    b = _write(tmp_path / "b.jsonl", [changed, *records[1:]])
    return GOLDEN, b, first["note_id"]


def test_cli_table(tmp_path: Path) -> None:
    a, b, note_id = _changed_golden(tmp_path)
    result = CliRunner().invoke(app, ["compare", str(a), str(b)])
    assert result.exit_code == 0, result.output
    assert "1 changed (status 1, would_code 0, elements 1)" in result.stdout
    assert note_id in result.stdout and "cervical_findings" in result.stdout


def test_cli_json(tmp_path: Path) -> None:
    a, b, note_id = _changed_golden(tmp_path)
    result = CliRunner().invoke(app, ["compare", str(a), str(b), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["changed"] == {"status": 1, "would_code": 0, "elements": 1}
    assert data["notes"][0]["note_id"] == note_id
    assert data["notes"][0]["elements"] == {"gained": [], "lost": ["cervical_findings"]}


@pytest.mark.parametrize("content", [None, "{not json\n", '{"note_id": "a"}\n'],
                         ids=["missing", "malformed", "not-a-report"])
def test_cli_bad_report_is_one_line_and_exit_2(tmp_path: Path, content: str | None) -> None:
    bad = tmp_path / "bad.jsonl"
    if content is not None:
        bad.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(app, ["compare", str(GOLDEN), str(bad)])
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("docgap: error: ")
