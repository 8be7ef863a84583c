"""``docgap worklist --format table|csv|json``: the worklist as a specialist assigns it."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from docgap.outputs.worklist import WORKLIST_COLUMNS, build_worklist, write_worklist

NOTES = {
    "n-risk": "Assessment: Cervicocranial syndrome (M53.0). Occipital headaches.",
    "n-down": "HPI: neck pain and occipital headaches since a fall. Exam: cervical tenderness.",
    "n-ok": "Low back pain. No neck complaints.",
}
META = {
    "n-risk": {
        "patient_id": "P1",
        "encounter_id": "E1",
        "date_of_service": "2024-05-01",
        "provider": "Dr A",
        "payer": "Acme",
    },
    "n-down": {
        "patient_id": "P2",
        "encounter_id": "E2",
        "date_of_service": "2024-05-02",
        "provider": "Dr B",
        "payer": "Beta",
        "weight": float("nan"),
    },
    "n-ok": {"patient_id": "P3", "payer": "Acme"},
}


@pytest.fixture(scope="module")
def records(analyzer) -> list[dict[str, Any]]:
    out = []
    for note_id, text in NOTES.items():
        record = analyzer.analyze(text, note_id).to_dict()
        record["meta"] = META[note_id]
        out.append(record)
    return out


@pytest.fixture
def report_file(tmp_path: Path, records) -> Path:
    path = tmp_path / "scan.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_items_carry_meta_score_and_gap_messages(records) -> None:
    items, _ = build_worklist(records, include_all=True)
    by_id = {item.note_id: item for item in items}
    assert by_id["n-risk"].meta["provider"] == "Dr A"
    for item, record in ((by_id[r["note_id"]], r) for r in records):
        assert len(item.gap_messages) == len(item.gaps)
        assert set(item.gap_messages) == {g["message"] for g in record["gaps"]}


def test_csv_has_fixed_then_meta_columns_and_readable_gap_messages(records) -> None:
    items, _ = build_worklist(records, include_all=True)
    handle = io.StringIO()
    assert write_worklist(items, handle, "csv") == len(records)
    rows = list(csv.DictReader(io.StringIO(handle.getvalue())))
    header = handle.getvalue().splitlines()[0].split(",")
    assert tuple(header[: len(WORKLIST_COLUMNS)]) == WORKLIST_COLUMNS
    extra = {"patient_id", "encounter_id", "date_of_service", "provider", "payer", "weight"}
    assert set(header[len(WORKLIST_COLUMNS) :]) == extra
    assert [int(r["priority"]) for r in rows] == list(range(1, len(rows) + 1))
    by_id = {r["note_id"]: r for r in rows}
    assert by_id["n-down"]["weight"] == ""  # NaN from the input: empty, not "nan"
    assert by_id["n-ok"]["encounter_id"] == ""
    for record in records:
        row = by_id[record["note_id"]]
        for gap in record["gaps"]:
            assert gap["message"] in row["gap_messages"]
            assert gap["key"] in row["gaps"].split(" | ")


def test_a_meta_key_named_like_a_column_does_not_replace_it(records) -> None:
    record = dict(records[0], meta={"status": "final"})
    items, _ = build_worklist([record], include_all=True)
    handle = io.StringIO()
    write_worklist(items, handle, "csv")
    (row,) = csv.DictReader(io.StringIO(handle.getvalue()))
    assert row["meta_status"] == "final"
    assert row["status"] == items[0].label


def test_worklist_cli_csv_and_json(report_file: Path, cli, records) -> None:
    as_csv = cli(["worklist", report_file, "--format", "csv", "--all"])
    assert as_csv.exit_code == 0, as_csv.stderr
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    as_json = cli(["worklist", report_file, "--format", "json", "--all"])
    assert as_json.exit_code == 0, as_json.stderr
    objects = json.loads(as_json.stdout, parse_constant=lambda t: pytest.fail(f"bare {t}"))
    assert [r["note_id"] for r in rows] == [o["note_id"] for o in objects]
    assert sorted(o["note_id"] for o in objects) == sorted(NOTES)
    by_id = {o["note_id"]: o for o in objects}
    assert by_id["n-down"]["meta"]["weight"] is None
    assert by_id["n-risk"]["meta"]["payer"] == "Acme"
    assert any(record["gaps"] for record in records)
    for record in records:
        messages = [g["message"] for g in by_id[record["note_id"]]["gaps"]]
        assert sorted(messages) == sorted(g["message"] for g in record["gaps"])


def test_worklist_table_shows_the_meta_columns(report_file: Path, cli) -> None:
    result = cli(["worklist", report_file, "--all"])
    assert result.exit_code == 0
    for word in ("patient id", "payer", "P1", "Dr B", "2024-05-01"):
        assert word in result.stdout


def test_worklist_out_file_and_bad_outputs(report_file: Path, tmp_path: Path, cli) -> None:
    out = tmp_path / "w.csv"
    assert cli(["worklist", report_file, "--format", "csv", "--out", out]).exit_code == 0
    assert out.read_text(encoding="utf-8").startswith("priority,note_id,")
    (tmp_path / "f").write_text("x", encoding="utf-8")
    bad = cli(["worklist", report_file, "--format", "csv", "--out", tmp_path / "f" / "w.csv"])
    assert bad.exit_code == 2
    assert "is a file, not a folder" in bad.stderr
    assert cli(["worklist", report_file, "--format", "xml"]).exit_code == 2
    assert cli(["worklist", report_file, "--out", out]).exit_code == 2  # table to a file
