"""Reading inputs of every kind lazily, one NoteInput per record, and refusing unusable ones."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import INPUT_KINDS, InputCase
from docgap.inputs.reading import InputError, NoteInput, open_sources


def _read(case: InputCase, **options: str) -> list[NoteInput]:
    stdin = io.BytesIO(case.stdin) if case.stdin is not None else None
    sources = open_sources(case.args, stdin=stdin, **options)
    return [record for source in sources for record in source.records()]


@pytest.mark.parametrize("kind", INPUT_KINDS)
def test_each_kind_yields_its_records_in_order(
    tmp_path: Path, make_input: Callable[..., InputCase], kind: str
) -> None:
    case = make_input(kind, tmp_path)
    records = _read(case)
    assert [r.note_id for r in records] == case.ids
    assert [r.text for r in records] == case.texts
    assert all(r.error is None and not r.warnings for r in records)
    assert [r.meta for r in records] == case.meta


@pytest.mark.parametrize("kind", ["csv", "tsv", "jsonl", "parquet"])
def test_tables_without_the_id_column_number_their_rows(
    tmp_path: Path, make_input: Callable[..., InputCase], kind: str
) -> None:
    case = make_input(kind, tmp_path)
    records = _read(case, id_col="no_such_column")
    prefix = "line" if kind == "jsonl" else "row"
    assert [r.note_id for r in records] == [f"{prefix}-{n}" for n in range(1, len(case.ids) + 1)]


@pytest.mark.parametrize("kind", ["csv", "tsv", "jsonl", "parquet"])
def test_other_column_names(
    tmp_path: Path, make_input: Callable[..., InputCase], kind: str
) -> None:
    case = make_input(kind, tmp_path)
    # The specialty column read as the text: --text-col decides, not the position.
    records = _read(case, id_col="note_id", text_col="specialty")
    assert [r.text for r in records] == [m["specialty"] for m in case.meta]


def test_input_format_overrides_the_suffix(tmp_path: Path) -> None:
    path = tmp_path / "export.dat"
    path.write_text("note_id,text\na,neck pain\nb,dizziness\n", encoding="utf-8")
    with pytest.raises(InputError, match="unknown input format"):
        open_sources([str(path)])
    records = [r for s in open_sources([str(path)], fmt="csv") for r in s.records()]
    assert [(r.note_id, r.text) for r in records] == [("a", "neck pain"), ("b", "dizziness")]


def test_stdin_may_be_jsonl(tmp_path: Path) -> None:
    data = b'{"note_id": "x", "text": "neck pain"}\n{"note_id": "y", "text": "vertigo"}\n'
    sources = open_sources(["-"], fmt="jsonl", stdin=io.BytesIO(data))
    assert [r.note_id for s in sources for r in s.records()] == ["x", "y"]


def test_reading_is_lazy(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    path.write_text(
        "".join(json.dumps({"note_id": str(i), "text": "neck pain"}) + "\n" for i in range(50)),
        encoding="utf-8",
    )
    (source,) = open_sources([str(path)])
    records = source.records()
    assert next(records).note_id == "0"  # a generator: nothing else read yet
    assert sum(1 for _ in records) == 49


def _csv_without_text(tmp_path: Path) -> str:
    path = tmp_path / "notes.csv"
    path.write_text("note_id,body\n1,neck pain\n", encoding="utf-8")
    return str(path)


def _tsv_without_text(tmp_path: Path) -> str:
    path = tmp_path / "notes.tsv"
    path.write_text("note_id\tbody\n1\tneck pain\n", encoding="utf-8")
    return str(path)


def _parquet_without_text(tmp_path: Path) -> str:
    path = tmp_path / "notes.parquet"
    pq.write_table(pa.table({"note_id": ["1"], "body": ["neck pain"]}), path)
    return str(path)


def _not_parquet(tmp_path: Path) -> str:
    path = tmp_path / "notes.parquet"
    path.write_bytes(b"this is not a parquet file")
    return str(path)


def _unknown_suffix(tmp_path: Path) -> str:
    path = tmp_path / "notes.docx"
    path.write_bytes(b"PK\x03\x04")
    return str(path)


def _missing(tmp_path: Path) -> str:
    return str(tmp_path / "missing.txt")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_csv_without_text, "no column 'text'"),
        (_tsv_without_text, "no column 'text'"),
        (_parquet_without_text, "no column 'text'"),
        (_not_parquet, "not a readable Parquet file"),
        (_unknown_suffix, "unknown input format"),
        (_missing, "no such file"),
    ],
)
def test_unusable_inputs_fail_before_any_record(
    tmp_path: Path, make: Callable[[Path], str], message: str
) -> None:
    good = tmp_path / "good.txt"
    good.write_text("neck pain", encoding="utf-8")
    with pytest.raises(InputError, match=message):
        open_sources([str(good), make(tmp_path)])


def test_unknown_format_name_is_refused() -> None:
    with pytest.raises(InputError, match="unknown input format 'xml'"):
        open_sources(["-"], fmt="xml")


def test_no_input_is_refused() -> None:
    with pytest.raises(InputError, match="no input"):
        open_sources([])
