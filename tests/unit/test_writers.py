"""Report writers: JSON Lines, CSV and Parquet, written incrementally, to files or stdout."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from docgap.outputs.writers import (
    CsvWriter,
    JsonlWriter,
    OutputError,
    ParquetWriter,
    ReportFileError,
    flat_columns,
    is_report_file,
    open_writer,
    read_reports,
)
from docgap.report import Evidence, Gap, NoteReport

ELEMENTS = ("named_syndrome", "cranial_symptoms", "cervical_findings")


def make_report(
    i: int,
    *,
    error: str | None = None,
    meta: dict[str, Any] | None = None,
    warnings: tuple[str, ...] = (),
) -> NoteReport:
    """A synthetic report: the writers must not care where it came from."""
    if error is not None:
        report = NoteReport.failed(f"n{i}", error, elements=ELEMENTS)
        report.meta = dict(meta or {})
        report.warnings = list(warnings)
        return report
    evidence = [
        Evidence(
            element="cranial_symptoms",
            label="cranial_symptoms",
            concept="vertigo",
            text="vértigo",
            start=3,
            end=10,
            section="hpi",
            assertion="affirmed",
            counted=True,
            reason=None,
            rule="r1",
            modifiers=({"category": "X"},),
            levels=("C1",),
        )
    ] * (i % 3)
    gaps = [
        Gap(
            key=f"gap_{k}",
            message=f"message {k}; with a semicolon",
            severity="info",
            codes=("M54.2",),
        )
        for k in range(i % 3)
    ]
    return NoteReport(
        note_id=f"n{i}",
        status="downcode",
        would_code="M54.2",
        elements={e: bool((i + j) % 2) for j, e in enumerate(ELEMENTS)},
        chiropractic=bool(i % 2),
        gaps=gaps,
        evidence=evidence,
        query_opportunity=i % 4 == 0,
        warnings=list(warnings),
        text_length=100 + i,
        meta=dict(meta or {}),
    )


REPORTS = [
    make_report(0, meta={"specialty": "neurology", "status": "draft"}),
    make_report(1, meta={"specialty": "chiropractic"}, warnings=("decoded; as cp1252", "x")),
    make_report(2, error="empty note"),
    make_report(3),
    make_report(4, meta={"specialty": "ED", "visit": dt.date(2024, 5, 1)}),
]


def _read_back(fmt: str, path: Path) -> list[dict[str, Any]]:
    if fmt == "jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    if fmt == "csv":
        with path.open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))
    return pq.read_table(path).to_pylist()


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_every_report_is_written_once_in_order(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "sub" / f"out.{fmt}"  # the parent folder is created
    with open_writer(fmt, path, ELEMENTS) as writer:
        for report in REPORTS:
            writer.write(report)
    assert writer.count == len(REPORTS)
    rows = _read_back(fmt, path)
    assert [r["note_id"] for r in rows] == [r.note_id for r in REPORTS]
    errors = [r.get("error") or None for r in rows]
    assert errors == [r.error for r in REPORTS]


def test_jsonl_line_is_to_dict_and_reaches_the_file_at_once(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    writer = JsonlWriter(path)
    for n, report in enumerate(REPORTS[:2], start=1):
        writer.write(report)
        lines = path.read_text(encoding="utf-8").splitlines()  # before close
        assert len(lines) == n
    writer.close()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [r.to_dict() for r in REPORTS[:2]]
    assert '"vértigo"' in lines[1]  # UTF-8, not \u escapes


def test_jsonl_writes_meta_values_json_cannot_encode(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    with JsonlWriter(path) as writer:
        writer.write(REPORTS[4])
    assert json.loads(path.read_text(encoding="utf-8"))["meta"]["visit"] == "2024-05-01"


def test_csv_columns_and_cells(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    with CsvWriter(path, ELEMENTS) as writer:
        for report in REPORTS:
            writer.write(report)
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        header = reader.fieldnames
    # Meta columns come from the first report; "status" collides with a report column.
    assert header == flat_columns(ELEMENTS, ["specialty", "status"])
    assert header[-2:] == ["specialty", "meta_status"]
    for row, report in zip(rows, REPORTS, strict=True):
        for element in ELEMENTS:
            assert row[element] == ("true" if report.elements[element] else "false")
        assert row["gap_keys"].split(";") == (report.gap_keys() or [""])
        assert row["n_evidence"] == str(len(report.evidence))
        assert row["chiropractic"] == ("true" if report.chiropractic else "false")
        assert row["query_opportunity"] == ("true" if report.query_opportunity else "false")
        assert row["error"] == (report.error or "")
        assert row["specialty"] == str(report.meta.get("specialty", ""))
    assert rows[1]["warnings"] == "decoded; as cp1252 | x"
    assert rows[0]["meta_status"] == "draft"


def test_csv_meta_columns_can_be_given(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    with CsvWriter(path, ELEMENTS, meta_keys=["visit"]) as writer:
        writer.write(REPORTS[0])
        writer.write(REPORTS[4])
    rows = _read_back("csv", path)
    assert [r["visit"] for r in rows] == ["", "2024-05-01"]
    assert "specialty" not in rows[0]


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_no_reports_still_gives_a_valid_file(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"out.{fmt}"
    with open_writer(fmt, path, ELEMENTS):
        pass
    assert _read_back(fmt, path) == []
    if fmt == "csv":
        assert path.read_text(encoding="utf-8").strip() == ",".join(flat_columns(ELEMENTS))


def test_parquet_has_the_declared_schema_and_json_columns(tmp_path: Path) -> None:
    path = tmp_path / "out.parquet"
    with ParquetWriter(path, ELEMENTS, batch_size=2) as writer:
        for report in REPORTS:
            writer.write(report)
    parquet = pq.ParquetFile(path)
    assert parquet.schema_arrow.equals(ParquetWriter.schema(ELEMENTS))
    assert parquet.metadata.num_row_groups == 3  # 2 + 2 + 1: written in batches
    rows = parquet.read().to_pylist()
    for row, report in zip(rows, REPORTS, strict=True):
        record = json.loads(json.dumps(report.to_dict(), default=str))
        assert json.loads(row["gaps"]) == record["gaps"]
        assert json.loads(row["evidence"]) == record["evidence"]
        assert json.loads(row["meta"]) == record.get("meta", {})
        assert row["gap_keys"] == report.gap_keys()
        assert row["warnings"] == report.warnings
        assert row["status"] == report.status
        assert {e: row[e] for e in ELEMENTS} == report.elements


def test_parquet_batch_is_flushed_when_the_block_fails(tmp_path: Path) -> None:
    path = tmp_path / "out.parquet"
    with pytest.raises(RuntimeError), ParquetWriter(path, ELEMENTS, batch_size=100) as writer:
        writer.write(REPORTS[0])
        writer.write(REPORTS[1])
        raise RuntimeError("stop")
    assert [r["note_id"] for r in _read_back("parquet", path)] == ["n0", "n1"]


@pytest.mark.parametrize("out", [None, "-"])
def test_parquet_refuses_stdout(out: str | None) -> None:
    with pytest.raises(OutputError, match="--out"):
        open_writer("parquet", out, ELEMENTS)


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="xml"):
        open_writer("xml", tmp_path / "x", ELEMENTS)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
@pytest.mark.parametrize("out", [None, "-"])
def test_text_formats_write_utf8_to_stdout_and_leave_it_open(
    monkeypatch: pytest.MonkeyPatch, fmt: str, out: str | None
) -> None:
    buffer = io.BytesIO()
    # A console that cannot encode the report must not matter: the writer writes UTF-8.
    fake = io.TextIOWrapper(buffer, encoding="ascii")
    monkeypatch.setattr(sys, "stdout", fake)
    with open_writer(fmt, out, ELEMENTS) as writer:
        for report in REPORTS[:2]:
            writer.write(report)
    assert not fake.closed
    text = buffer.getvalue().decode("utf-8")
    ids = [
        r["note_id"]
        for r in (
            [json.loads(line) for line in text.splitlines()]
            if fmt == "jsonl"
            else list(csv.DictReader(io.StringIO(text)))
        )
    ]
    assert ids == ["n0", "n1"]


def test_closing_twice_is_harmless_and_writing_after_close_fails(tmp_path: Path) -> None:
    writer = JsonlWriter(tmp_path / "out.jsonl")
    writer.close()
    writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.write(REPORTS[0])


# -- reading a report back ------------------------------------------------------------
def _write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_read_reports_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    with JsonlWriter(path) as writer:
        for report in REPORTS:
            writer.write(report)
    records = list(read_reports(path))
    assert [r["note_id"] for r in records] == [r.note_id for r in REPORTS]
    assert is_report_file(path)


@pytest.mark.parametrize(
    ("lines", "bad_line"),
    [
        (['{"note_id": "a", "status": null, "elements": {}}', "{not json"], 2),
        (['{"note_id": "a", "status": null, "elements": {}}', "", "[1, 2]"], 3),
        (['{"id": "n1", "text": "neck pain", "gold": {}}'], 1),
    ],
    ids=["malformed", "not-an-object", "a-gold-file"],
)
def test_read_reports_names_the_bad_line(tmp_path: Path, lines: list[str], bad_line: int) -> None:
    path = _write_jsonl(tmp_path / "r.jsonl", lines)
    with pytest.raises(ReportFileError, match=rf"r\.jsonl:{bad_line}:"):
        list(read_reports(path))


def test_read_reports_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ReportFileError, match="cannot read"):
        list(read_reports(tmp_path / "nope.jsonl"))


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes.jsonl", '{"note_id": "a", "text": "neck pain"}\n'),
        ("broken.jsonl", "{oops\n"),
        ("notes.csv", "note_id,status,elements,evidence\n"),
        ("empty.jsonl", "\n"),
    ],
)
def test_raw_inputs_are_not_reports(tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    assert not is_report_file(path)


# -- provenance (which docgap, pack and rules decided each record) --------------------------
PROVENANCE = {
    "docgap_version": "9.9.9",
    "pack": "m53_0",
    "pack_version": "v1",
    "lexicon_sha256": "cd" * 32,
}


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_provenance_reaches_every_format(tmp_path: Path, fmt: str) -> None:
    with_provenance = make_report(1)
    with_provenance.provenance = dict(PROVENANCE)
    without = make_report(2, error="empty note")  # a failure made without an analyzer
    path = tmp_path / f"r.{fmt}"
    with open_writer(fmt, path, ELEMENTS) as writer:
        writer.write(with_provenance)
        writer.write(without)
    if fmt == "jsonl":
        first, second = list(read_reports(path))
        assert first["provenance"] == PROVENANCE and "provenance" not in second
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
        assert json.loads(rows[0]["provenance"]) == PROVENANCE
        assert rows[1]["provenance"] == ""
    else:
        rows = pq.read_table(path).to_pylist()
        assert rows[0]["provenance"] == PROVENANCE and rows[1]["provenance"] is None


# -- values a strict reader accepts (issue 14, item 21 and 22) -----------------------------
def _strict_json(text: str) -> Any:
    def refuse(token: str) -> Any:
        raise ValueError(f"bare {token} in JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_nan_and_infinity_from_input_fields_are_written_as_null(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"out.{fmt}"
    meta = {"score_in": float("nan"), "weight": float("inf"), "low": float("-inf"), "ok": 1.5}
    with open_writer(fmt, path, ELEMENTS, meta_keys=list(meta)) as writer:
        writer.write(make_report(1, meta=meta))
    if fmt == "jsonl":
        (record,) = [_strict_json(line) for line in path.read_text(encoding="utf-8").splitlines()]
        assert record["meta"] == {"score_in": None, "weight": None, "low": None, "ok": 1.5}
    elif fmt == "csv":
        (row,) = _read_back(fmt, path)
        assert (row["score_in"], row["weight"], row["low"], row["ok"]) == ("", "", "", "1.5")
    else:
        (row,) = _read_back(fmt, path)
        assert _strict_json(row["meta"]) == {
            "score_in": None,
            "weight": None,
            "low": None,
            "ok": 1.5,
        }


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_a_lone_surrogate_is_written_as_the_replacement_character(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"out.{fmt}"
    report = make_report(1, meta={"site": "a\ud83db"})
    report.note_id = "n\udc801"
    with open_writer(fmt, path, ELEMENTS) as writer:
        writer.write(report)
    (row,) = _read_back(fmt, path)
    assert row["note_id"] == "n\ufffd1"
    site = (
        row["site"]
        if fmt == "csv"
        else (row["meta"] if fmt == "jsonl" else json.loads(row["meta"]))["site"]
    )
    assert site == "a\ufffdb"


# -- outputs that cannot be written (issue 14, item 20) ----------------------------------
@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full on this system")
@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_a_full_device_is_one_clear_output_error(fmt: str) -> None:
    # The error comes at a write or at close (Parquet): both are inside the block.
    with pytest.raises(OutputError) as caught, open_writer(fmt, "/dev/full", ELEMENTS) as writer:
        for report in REPORTS:
            writer.write(report)
    message = str(caught.value)
    assert message == "cannot write /dev/full: no space left on the device"
    assert caught.value.strerror == "no space left on the device"


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_a_parent_that_is_a_file_is_named_in_the_error(tmp_path: Path, fmt: str) -> None:
    (tmp_path / "plain").write_text("x", encoding="utf-8")
    out = tmp_path / "plain" / "sub" / f"out.{fmt}"
    with pytest.raises(OutputError, match=r"plain is a file, not a folder$"):
        open_writer(fmt, out, ELEMENTS)


def test_output_error_is_an_oserror_for_callers_that_catch_those(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x", encoding="utf-8")
    with pytest.raises(OSError, match="cannot write"):
        open_writer("jsonl", tmp_path / "plain" / "x.jsonl", ELEMENTS)


# -- signals and crash consistency (issue 14, item 16) -----------------------------------
def test_sigterm_inside_a_writer_is_a_keyboard_interrupt_and_the_handler_is_restored(
    tmp_path: Path,
) -> None:
    import os
    import signal

    before = signal.getsignal(signal.SIGTERM)
    path = tmp_path / "out.parquet"
    with pytest.raises(KeyboardInterrupt), ParquetWriter(path, ELEMENTS) as writer:
        writer.write(REPORTS[0])
        os.kill(os.getpid(), signal.SIGTERM)
        writer.write(REPORTS[1])  # never reached
    assert signal.getsignal(signal.SIGTERM) == before
    assert [r["note_id"] for r in _read_back("parquet", path)] == ["n0"]


_CHILD = """
import sys, time
sys.path.insert(0, {src!r})
sys.path.insert(0, {tests!r})
from test_writers import REPORTS, ELEMENTS
from docgap.outputs.writers import ParquetWriter
try:
    with ParquetWriter({out!r}, ELEMENTS, batch_size=2) as writer:
        for report in REPORTS[:3]:
            writer.write(report)
        print("ready", flush=True)
        time.sleep(60)
except KeyboardInterrupt:
    sys.exit(130)
"""


def _child(out: Path) -> Any:
    import subprocess

    src = str(Path(__file__).resolve().parents[1] / "src")
    tests = str(Path(__file__).resolve().parent)
    code = _CHILD.format(src=src, tests=tests, out=str(out))
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    return child


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT"])
def test_a_terminated_parquet_scan_leaves_a_readable_partial_file(tmp_path: Path, how: str) -> None:
    import signal

    out = tmp_path / "reports.parquet"
    child = _child(out)
    child.send_signal(getattr(signal, how))
    assert child.wait(timeout=30) == 130
    assert [r["note_id"] for r in _read_back("parquet", out)] == ["n0", "n1", "n2"]
    assert list(tmp_path.iterdir()) == [out]  # the temporary file was renamed


def test_a_killed_parquet_scan_leaves_the_previous_file_intact(tmp_path: Path) -> None:
    out = tmp_path / "reports.parquet"
    with ParquetWriter(out, ELEMENTS) as writer:
        writer.write(REPORTS[4])
    child = _child(out)
    child.kill()  # SIGKILL: nothing runs in the child
    child.wait(timeout=30)
    assert [r["note_id"] for r in _read_back("parquet", out)] == ["n4"]
