"""The report field table: every view of a record is derived from it, none restated.

A field added to the table must appear in the JSON record, the CSV header and row, the
Arrow (Parquet) and Spark schemas, the service's response model and the HTML page's known
keys; these tests add one and look for it in each.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from docgap import schema
from docgap.outputs import html_report
from docgap.outputs.writers import ParquetWriter, flat_columns, flat_row
from docgap.report import SEVERITIES, Evidence, Gap, NoteReport
from docgap.schema import REPORT_FIELDS, Column, DictForm, Kind, ReportField

ELEMENTS = ("alpha", "beta")
PROVENANCE = {
    "docgap_version": "9.9.9",
    "pack": "m53_0",
    "pack_version": "v1",
    "lexicon_sha256": "ab" * 32,
}


@dataclasses.dataclass
class _SiteReport(NoteReport):
    """A report with one more field, as a future table entry would add."""

    site: str | None = None


SITE = ReportField(
    "site",
    str | None,
    "Where the note was written.",
    csv=(Column("site"),),
    arrow=(Column("site", arrow="string"),),
)
FIELDS = (*REPORT_FIELDS, SITE)


def _report(**changes: Any) -> NoteReport:
    report = NoteReport(
        note_id="n1",
        status="at_risk",
        would_code="M53.0",
        elements={"alpha": True, "beta": False},
        chiropractic=True,
        gaps=[Gap("missing_beta", "No beta.", "required", ("M54.2",))],
        evidence=[
            Evidence(
                element="alpha",
                label="alpha",
                concept="a",
                text="alpha",
                start=0,
                end=5,
                section=None,
                assertion="affirmed",
                counted=True,
                reason=None,
                rule="r",
                modifiers=({"category": "X"},),
                levels=("C1",),
            )
        ],
        warnings=["odd"],
        meta={"clinic": "east"},
        provenance=dict(PROVENANCE),
    )
    return dataclasses.replace(report, **changes)


def test_every_dataclass_field_is_in_the_table() -> None:
    names = {f.name for f in dataclasses.fields(NoteReport)} - {"extra"}
    assert names == set(schema.field_names())


def test_stable_keys_are_spec_section_5() -> None:
    assert schema.stable_keys() == (
        "note_id",
        "status",
        "would_code",
        "elements",
        "chiropractic",
        "gaps",
        "evidence",
        "error",
    )


def test_to_dict_follows_the_table_order_and_omissions() -> None:
    record = _report().to_dict()
    present = [f.name for f in REPORT_FIELDS if f.name != "error"]
    assert list(record) == present
    bare = NoteReport.failed("n2", "empty note", elements=ELEMENTS).to_dict()
    omitted = {f.name for f in REPORT_FIELDS if f.dict_form is not DictForm.ALWAYS}
    assert set(bare) == set(schema.field_names()) - omitted | {"error"}
    assert "provenance" not in bare  # a failure made without an analyzer still serializes


def test_from_dict_round_trips_and_keeps_unknown_keys() -> None:
    record = _report().to_dict() | {"added_later": [1, 2]}
    back = NoteReport.from_dict(json.loads(json.dumps(record)))
    assert back == _report()
    assert back.to_dict() == record
    assert back.extra == {"added_later": [1, 2]}


def test_from_dict_needs_the_required_keys() -> None:
    with pytest.raises(ValueError, match="needs elements"):
        NoteReport.from_dict({"note_id": "x", "status": None})


def test_failed_keeps_the_inputs_warnings_meta_and_provenance() -> None:
    report = NoteReport.failed(
        "n", "boom", elements=ELEMENTS, warnings=["w"], meta={"k": 1}, provenance=PROVENANCE
    )
    assert (report.warnings, report.meta, report.provenance) == (["w"], {"k": 1}, PROVENANCE)


def test_csv_view_carries_provenance_as_one_json_cell() -> None:
    row = flat_row(_report(), ELEMENTS)
    assert list(row) == flat_columns(ELEMENTS)
    assert row["provenance"] == PROVENANCE
    assert row["gap_keys"] == "missing_beta"
    assert row["n_evidence"] == 1


def test_meta_key_that_clashes_with_a_table_column_is_renamed() -> None:
    assert flat_columns(ELEMENTS, ["provenance", "clinic"])[-2:] == ["meta_provenance", "clinic"]


def test_arrow_row_fits_the_arrow_schema() -> None:
    table = pa.Table.from_pylist(
        [
            schema.arrow_row(_report(), ELEMENTS),
            schema.arrow_row(_report(provenance=None), ELEMENTS),
        ],
        schema=ParquetWriter.schema(ELEMENTS),
    )
    rows = table.to_pylist()
    assert rows[0]["provenance"] == PROVENANCE and rows[1]["provenance"] is None
    assert json.loads(rows[0]["meta"]) == {"clinic": "east"}
    assert schema.arrow_schema(ELEMENTS, spark=True).names == [
        n for n in table.schema.names if n != "meta"
    ]


def test_elements_come_from_the_caller_not_a_pack_module() -> None:
    names = schema.arrow_schema(("x", "y", "z")).names
    assert {"x", "y", "z"} <= set(names) and "alpha" not in names
    assert {"x", "y", "z"} <= set(flat_columns(("x", "y", "z")))


def test_severity_order_is_defined_once() -> None:
    assert SEVERITIES == schema.SEVERITIES == ("required", "recommended", "info")
    assert sorted(["info", "odd", "required"], key=schema.severity_rank) == [
        "required",
        "info",
        "odd",
    ]


def test_html_known_keys_include_the_model_fields() -> None:
    assert {"status_probabilities", "top_features", "provenance"} <= html_report._KNOWN_KEYS


def test_service_model_fields_are_the_table() -> None:
    from docgap.service.schemas import ReportOut

    assert tuple(ReportOut.model_fields) == schema.field_names()
    required = {n for n, f in ReportOut.model_fields.items() if f.is_required()}
    assert required == {f.name for f in REPORT_FIELDS if f.dict_form is DictForm.ALWAYS}


# -- a field added to the table appears in every view ---------------------------------------
def test_an_added_field_appears_in_every_view() -> None:
    report = _SiteReport(**{f.name: getattr(_report(), f.name) for f in REPORT_FIELDS}, site="B")
    assert schema.record_of(report, FIELDS)["site"] == "B"
    assert "site" in schema.csv_columns(ELEMENTS, fields=FIELDS)
    assert schema.csv_row(report, ELEMENTS, fields=FIELDS)["site"] == "B"
    assert schema.arrow_schema(ELEMENTS, fields=FIELDS).field("site").type == pa.string()
    assert "site" in schema.arrow_schema(ELEMENTS, spark=True, fields=FIELDS).names
    assert schema.arrow_row(report, ELEMENTS, fields=FIELDS)["site"] == "B"
    assert "site" in schema.response_model("SiteOut", FIELDS).model_fields
    assert "site" in schema.known_keys(FIELDS)
    # Unpositioned columns go after every positioned one.
    assert schema.csv_columns(ELEMENTS, fields=FIELDS)[-1] == "site"


def test_a_column_without_an_arrow_type_is_refused() -> None:
    broken = ReportField("site", str, "x", arrow=(Column("site", Kind.VALUE),))
    with pytest.raises(ValueError, match="declares no type"):
        schema.arrow_schema(ELEMENTS, fields=(*REPORT_FIELDS, broken))


def test_the_lexicons_gap_severities_are_the_one_order() -> None:
    # rules/lexicon.py validates gap severities with a Literal; it must list SEVERITIES.
    from typing import get_args

    from docgap.rules.lexicon import GapDef

    assert get_args(GapDef.model_fields["severity"].annotation) == SEVERITIES


def test_read_note_reports_parses_through_the_table(tmp_path: Path) -> None:
    from docgap.outputs.writers import JsonlWriter, read_note_reports

    path = tmp_path / "r.jsonl"
    with JsonlWriter(path) as writer:
        writer.write(_report())
    (back,) = read_note_reports(path)
    assert back == _report() and isinstance(back.gaps[0], Gap)


@pytest.mark.parametrize("view", ["csv", "arrow"])
def test_column_positions_are_unique_in_each_view(view: str) -> None:
    positions = [c.position for f in REPORT_FIELDS for c in getattr(f, view)]
    assert len(positions) == len(set(positions)) and None not in positions
