"""The Spark engine (local[2]) gives the local engine's reports, note for note.

One SparkSession serves the whole module (starting one takes seconds). The Spark tests
skip only when pyspark is not installed; without Java they fail with the message that says
what to install (``make test`` installs both).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import docgap
from conftest import REPO, SAMPLE_NOTES
from docgap.engines.spark import (
    BUILD_LOG_ENV,
    INSTALL_HINT,
    SparkUnavailableError,
    analyze_dataframe,
    report_schema,
    scan_with_spark,
    spark_session,
)
from docgap.inputs.reading import InputError, open_sources
from docgap.packs.m53_0 import ELEMENTS

DEV = REPO / "corpus" / "dev" / "gold.jsonl"
MTSAMPLES = REPO.parent / "shared" / "corpora" / "mtsamples"
MTS_NOTES = 100
BATCH_ROWS = 16  # small Arrow batches: many batches per task, to count builds against

needs_pyspark = pytest.mark.skipif(
    find_spec("pyspark") is None, reason=f"pyspark is not installed ({INSTALL_HINT})"
)


# -- fixtures ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def build_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("spark-builds")


@pytest.fixture(scope="module")
def spark(build_log: Path) -> Iterator[Any]:
    pytest.importorskip("pyspark", reason=f"pyspark is not installed ({INSTALL_HINT})")
    session = spark_session(
        "local[2]",
        app_name="docgap-tests",
        conf={
            "spark.ui.enabled": "false",
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2",
            "spark.sql.execution.arrow.maxRecordsPerBatch": str(BATCH_ROWS),
            f"spark.executorEnv.{BUILD_LOG_ENV}": str(build_log),
        },
    )
    yield session
    session.stop()


def local_reports(analyzer: docgap.Analyzer, path: Path, **options: Any) -> list[dict[str, Any]]:
    """The local engine's reports for an input file, as ``docgap scan`` makes them."""
    return [
        analyzer.analyze_input(record).to_dict()
        for source in open_sources([str(path)], **options)
        for record in source.records()
    ]


def comparable(record: dict[str, Any]) -> dict[str, Any]:
    """What must match between the engines, from a local ``NoteReport.to_dict()``."""
    return {
        "status": record["status"],
        "would_code": record["would_code"],
        "would_code_description": record["would_code_description"],
        "chiropractic": record["chiropractic"],
        "query_opportunity": record["query_opportunity"],
        "elements": record["elements"],
        "gap_keys": [g["key"] for g in record["gaps"]],
        "gaps": record["gaps"],
        "evidence": record["evidence"],
        "warnings": record.get("warnings", []),
        "error": record.get("error"),
        "text_length": record["text_length"],
    }


def from_spark(row: dict[str, Any]) -> dict[str, Any]:
    """The same view of a Spark report row (gaps and evidence are JSON strings there)."""
    return {
        "status": row["status"],
        "would_code": row["would_code"],
        "would_code_description": row["would_code_description"],
        "chiropractic": row["chiropractic"],
        "query_opportunity": row["query_opportunity"],
        "elements": {e: row[e] for e in ELEMENTS},
        "gap_keys": list(row["gap_keys"]),
        "gaps": json.loads(row["gaps"]),
        "evidence": json.loads(row["evidence"]),
        "warnings": list(row["warnings"]),
        "error": row["error"],
        "text_length": row["text_length"],
    }


def spark_rows(df: Any) -> list[dict[str, Any]]:
    return [row.asDict(recursive=True) for row in df.collect()]


def assert_same_reports(local: list[dict[str, Any]], spark: list[dict[str, Any]]) -> None:
    """Every note once on each side, and the same report for each note id."""
    local_ids = Counter(r["note_id"] for r in local)
    assert len(local_ids) == len(local), "the test input must have unique note ids"
    assert Counter(r["note_id"] for r in spark) == local_ids
    by_id = {r["note_id"]: from_spark(r) for r in spark}
    differ = {
        r["note_id"]: sorted(k for k, v in comparable(r).items() if by_id[r["note_id"]][k] != v)
        for r in local
        if comparable(r) != by_id[r["note_id"]]
    }
    assert not differ, f"{len(differ)} of {len(local)} notes differ (note id: fields): {differ}"


# -- equality with the local engine -------------------------------------------------------
@needs_pyspark
def test_dev_corpus_scan_equals_local_engine(
    spark: Any, analyzer: docgap.Analyzer, tmp_path: Path
) -> None:
    """`docgap scan --engine spark` on the development corpus: same reports, status folders."""
    out = tmp_path / "dev.parquet"
    summary = scan_with_spark([str(DEV)], str(out), spark=spark)
    local = local_reports(analyzer, DEV)
    written = spark.read.parquet(str(out))
    assert_same_reports(local, spark_rows(written))
    statuses = Counter(r["status"] for r in local if r["status"] is not None)
    assert summary.notes == len(local)
    assert summary.failed == sum(1 for r in local if r.get("error"))
    assert summary.statuses == dict(statuses)
    folders = {p.name for p in out.iterdir() if p.is_dir()}
    failed = {"outcome=error"} if summary.failed else set()
    assert folders == {f"outcome={s}" for s in statuses} | failed


@pytest.fixture(scope="module")
def mtsamples_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~100 MTSamples notes, most of them about the neck, as a JSON Lines input."""
    corpus = MTSAMPLES / "mtsamples.jsonl"
    if not corpus.is_file():
        pytest.skip(f"MTSamples corpus not found at {corpus}")
    subset_file = MTSAMPLES / "neck_subset_ids.txt"
    neck = set(subset_file.read_text().split()) if subset_file.is_file() else set()
    picked: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    with corpus.open(encoding="utf-8") as handle:
        for line in handle:
            note = json.loads(line)
            (picked if note["note_id"] in neck else others).append(note)
    notes = picked[: MTS_NOTES * 3 // 4] + others[: MTS_NOTES // 4]
    path = tmp_path_factory.mktemp("mts") / "mtsamples.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for note in notes:
            handle.write(json.dumps({"note_id": note["note_id"], "text": note["text"]}) + "\n")
    return path


@needs_pyspark
def test_mtsamples_analyze_dataframe_equals_local_engine(
    spark: Any, analyzer: docgap.Analyzer, mtsamples_file: Path
) -> None:
    local = local_reports(analyzer, mtsamples_file)
    df = spark.read.json(str(mtsamples_file)).repartition(4)
    assert_same_reports(local, spark_rows(analyze_dataframe(df)))


TRICKY_NOTES: list[tuple[str, str, str]] = [
    ("t-001", 'HPI: "neck pain", occipital HA;\nvertigo, tinnitus.\nA/P: whiplash.', "ED"),
    ("t-002", "Cervicocranial syndrome (M53.0).\n\nExam: TTP C1-C2, ROM limited.", "neuro"),
    ("t-003", "Zervikalgie — neck pain, café visit; ½ dose.\tTab inside.", "intl"),
]
CRLF_NOTE = ("t-004", "HPI: neck pain, vertigo.\r\nA/P: whiplash.\r\n", "ED")
CRLF_IN_CSV = pytest.mark.xfail(
    strict=True,
    reason="Spark's CSV parser turns CRLF inside a quoted cell into LF (offsets shift); "
    "documented in the README",
)


@needs_pyspark
@pytest.mark.parametrize(
    ("kind", "crlf"),
    [
        ("csv", False),
        ("tsv", False),
        ("jsonl", True),
        ("parquet", True),
        pytest.param("csv", True, marks=CRLF_IN_CSV),
    ],
)
def test_every_spark_input_format_equals_local_engine(
    spark: Any,
    analyzer: docgap.Analyzer,
    make_input: Callable[..., Any],
    tmp_path: Path,
    kind: str,
    crlf: bool,
) -> None:
    notes = [*SAMPLE_NOTES, *TRICKY_NOTES, *([CRLF_NOTE] if crlf else [])]
    case = make_input(kind, tmp_path / "in", notes)
    (path,) = case.args
    out = tmp_path / "out.parquet"
    scan_with_spark([path], str(out), spark=spark)
    local = local_reports(analyzer, Path(path))
    assert [r["note_id"] for r in local] == case.ids
    assert_same_reports(local, spark_rows(spark.read.parquet(str(out))))


# -- bad rows are reported, not dropped ---------------------------------------------------------
GOOD = "Neck pain and occipital headaches since the MVC. Dizziness when turning the head."
BAD_TABLES: dict[str, pa.Table] = {
    "strings": pa.table(
        {
            "note_id": ["ok-1", "null-text", "empty", "blank", "binary-text", None, "", "ok-2"],
            "text": [GOOD, None, "", " \n\t ", "\x00\x01\x02PK\x03\x04", GOOD, GOOD, "Neck."],
        }
    ),
    "bytes": pa.table(
        {"note_id": ["b-1", "b-2"], "text": pa.array([b"neck pain", None], pa.binary())}
    ),
    "ints": pa.table({"note_id": ["i-1", "i-2"], "text": pa.array([5, None], pa.int64())}),
    "floats": pa.table({"note_id": ["f-1", "f-2"], "text": pa.array([1.5, None], pa.float64())}),
    "bools": pa.table({"note_id": ["x-1"], "text": pa.array([True], pa.bool_())}),
}


@needs_pyspark
@pytest.mark.parametrize("name", sorted(BAD_TABLES))
def test_bad_rows_get_the_local_engines_errors(
    spark: Any, analyzer: docgap.Analyzer, tmp_path: Path, name: str
) -> None:
    path = tmp_path / f"{name}.parquet"
    pq.write_table(BAD_TABLES[name], path)
    local = local_reports(analyzer, path)
    rows = spark_rows(analyze_dataframe(spark.read.parquet(str(path))))
    assert len(rows) == BAD_TABLES[name].num_rows
    assert any(r["error"] for r in rows)
    assert all(r["status"] is None for r in rows if r["error"])
    assert_same_reports(local, rows)


@needs_pyspark
def test_malformed_json_lines_are_reported(
    spark: Any, analyzer: docgap.Analyzer, tmp_path: Path
) -> None:
    path = tmp_path / "notes.jsonl"
    lines = [
        json.dumps({"note_id": "j-1", "text": GOOD}),
        '{"note_id": "j-2", "text": "unterminated',
        json.dumps({"note_id": "j-3", "text": None}),
        json.dumps({"note_id": "j-4", "text": "Neck stiffness, no headache."}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.parquet"
    summary = scan_with_spark([str(path)], str(out), spark=spark)
    rows = spark_rows(spark.read.parquet(str(out)))
    assert summary.notes == len(rows) == len(lines)
    malformed = [r for r in rows if r["error"] == "malformed JSON record"]
    assert len(malformed) == 1
    assert malformed[0]["status"] is None
    # The readable lines: the local engine's reports.
    local = [r for r in local_reports(analyzer, path) if not r["note_id"].startswith("line-")]
    assert_same_reports(local, [r for r in rows if r is not malformed[0]])


# -- the pipeline is built once per worker process -------------------------------------------
@needs_pyspark
def test_pipeline_built_once_per_python_worker(spark: Any, build_log: Path) -> None:
    partitions = 8
    df = spark.read.json(str(DEV)).repartition(partitions)
    rows = analyze_dataframe(df, id_col="id").select("note_id", "error").collect()
    assert len(rows) == sum(1 for line in DEV.open(encoding="utf-8") if line.strip())
    builds = [p.read_text() for p in build_log.iterdir()]
    # local[2] keeps (at most) two Python workers busy, and Spark reuses them across tasks:
    # a build per task would leave >= 8 records, one per Arrow batch >= 14.
    assert 1 <= len(builds) < partitions
    assert len(set(builds)) == len(builds), "a worker process built the pipeline twice"


# -- usage errors ----------------------------------------------------------------------------
@needs_pyspark
def test_report_schema_is_declared() -> None:
    names = report_schema().fieldNames()
    for column in ("note_id", "status", "would_code", "score", *ELEMENTS, "gaps", "evidence"):
        assert column in names
    assert {"warnings", "error"} <= set(names)


@needs_pyspark
def test_table_without_the_text_column_is_an_input_error(spark: Any, tmp_path: Path) -> None:
    path = tmp_path / "notes.parquet"
    pq.write_table(pa.table({"note_id": ["a"], "body": [GOOD]}), path)
    with pytest.raises(InputError, match="no column 'text'"):
        scan_with_spark([str(path)], str(tmp_path / "out"), spark=spark)


@needs_pyspark
def test_a_csv_without_a_header_names_no_cell_in_the_error(spark: Any, tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("n1,Patient SECRETMARK neck pain\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        scan_with_spark([str(path)], str(tmp_path / "out"), spark=spark)
    assert "SECRETMARK" not in str(caught.value)
    assert "2 columns" in str(caught.value)


@needs_pyspark
def test_pandas_reads_a_spark_scan_with_failures_back(spark: Any, tmp_path: Path) -> None:
    """The README's ``pd.read_parquet`` on a folder holding failed notes (issue 14, item 22)."""
    import pandas as pd

    path = tmp_path / "notes.jsonl"
    lines = [
        json.dumps({"note_id": "p-1", "text": GOOD}),
        json.dumps({"note_id": "p-2", "text": None}),
        json.dumps({"note_id": "p-3", "text": ""}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "reports.parquet"
    scan_with_spark([str(path)], str(out), spark=spark)
    frame = pd.read_parquet(out)
    assert sorted(frame["note_id"]) == ["p-1", "p-2", "p-3"]
    failed = frame[frame["error"].notna()]
    assert len(failed) == 2
    assert failed["status"].isna().all()  # the report's status: null for a failure
    assert set(failed["outcome"].astype(str)) == {"error"}
    good = frame[frame["note_id"] == "p-1"].iloc[0]
    assert str(good["outcome"]) == good["status"]
    assert pq.read_table(out).num_rows == 3  # pyarrow too


@needs_pyspark
def test_a_lone_surrogate_becomes_the_replacement_character_as_locally(
    spark: Any, analyzer: docgap.Analyzer, tmp_path: Path
) -> None:
    path = tmp_path / "notes.jsonl"
    # Escapes written by hand: json.dumps would write the same, Python cannot encode them raw.
    path.write_text(
        '{"note_id": "s-\\ud83d1", "text": "Neck pain \\udc80 with occipital headaches '
        'and dizziness. \\ud83d\\ude00 Assessment: cervicocranial syndrome."}\n',
        encoding="utf-8",
    )
    out = tmp_path / "out.parquet"
    scan_with_spark([str(path)], str(out), spark=spark)
    (row,) = spark_rows(spark.read.parquet(str(out)))
    assert row["note_id"] == "s-\ufffd1"
    text = (
        "Neck pain \ufffd with occipital headaches and dizziness. \U0001f600 "
        "Assessment: cervicocranial syndrome."
    )
    local = analyzer.analyze(text, "s-\ufffd1").to_dict()
    assert from_spark(row) == comparable(local)
    assert "?" not in json.dumps(row["evidence"], ensure_ascii=False)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.jsonl"], "no such file"),
        (["-"], "cannot read stdin"),
        (["notes.txt"], "use the local engine for text files"),
        (["notes.xml"], "cannot tell the input format"),
    ],
)
def test_unusable_inputs_fail_before_spark_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("notes.txt", "notes.xml"):
        (tmp_path / name).write_text(GOOD, encoding="utf-8")
    if find_spec("pyspark") is None:
        pytest.skip(f"pyspark is not installed ({INSTALL_HINT})")
    with pytest.raises(InputError, match=message):
        scan_with_spark(args, str(tmp_path / "out"))


def test_existing_output_that_is_not_a_spark_report_is_kept(tmp_path: Path) -> None:
    if find_spec("pyspark") is None:
        pytest.skip(f"pyspark is not installed ({INSTALL_HINT})")
    (tmp_path / "notes.jsonl").write_text(json.dumps({"text": GOOD}) + "\n", encoding="utf-8")
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match="not an earlier Spark report"):
        scan_with_spark([str(tmp_path / "notes.jsonl")], str(precious))
    assert (precious / "keep.txt").exists()


def test_without_pyspark_the_message_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark -> ImportError
    with pytest.raises(SparkUnavailableError, match=r"pip install 'docgap\[spark\]'"):
        scan_with_spark([str(DEV)], str(tmp_path / "out"))


@needs_pyspark
def test_cli_scan_engine_spark(spark: Any, analyzer: docgap.Analyzer, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from docgap.cli import app

    out = tmp_path / "dev.parquet"
    result = CliRunner().invoke(
        app, ["scan", "--engine", "spark", "--master", "local[2]", str(DEV), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert_same_reports(local_reports(analyzer, DEV), spark_rows(spark.read.parquet(str(out))))


# -- failure records (no Spark needed) --------------------------------------------------------
def test_a_failure_record_keeps_the_inputs_warnings_meta_and_provenance() -> None:
    from types import SimpleNamespace
    from typing import cast

    from docgap.analyzer import Analyzer
    from docgap.engines.spark import _failed, _row
    from docgap.inputs.reading import NoteInput

    provenance = {"docgap_version": "1", "pack": "m53_0", "pack_version": "v1"}
    stub = cast(
        Analyzer, SimpleNamespace(pack=SimpleNamespace(elements=ELEMENTS), provenance=provenance)
    )
    note = NoteInput("n1", "some text", warnings=["not valid UTF-8"], meta={"clinic": "east"})
    report = _failed(note, RuntimeError("would quote the note"), stub)
    assert report.error == "analysis failed (RuntimeError)"
    assert (report.warnings, report.meta, report.provenance) == (
        ["not valid UTF-8"],
        {"clinic": "east"},
        provenance,
    )
    row = _row(report, ELEMENTS)
    assert row["warnings"] == ["not valid UTF-8"] and row["provenance"] == provenance
    assert "would quote" not in json.dumps(row)
