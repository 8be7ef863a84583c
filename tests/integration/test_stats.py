"""``docgap stats``: every figure is checked against a plain count over the same reports."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import docgap
from conftest import EXAMPLES, SAMPLE_NOTES
from docgap.evaluation.stats import ALL, ERROR, NO_GROUP, CorpusStats, group_of
from docgap.outputs.writers import JsonlWriter

SPECIALTIES = ("neurology", "chiropractic", "ED")


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    """The example notes, each given a specialty, plus one note that cannot be analysed."""
    analyzer = docgap.default_analyzer()
    out = []
    for i, path in enumerate(sorted(EXAMPLES.glob("*.txt"))):
        report = analyzer.analyze(path.read_text(encoding="utf-8"), path.stem)
        if i % 4 != 3:  # some notes have no specialty
            report.meta = {"specialty": SPECIALTIES[i % 3]}
        out.append(report.to_dict())
    failed = analyzer.analyze_input(docgap.NoteInput("broken", None, "empty note"))
    failed.meta = {"specialty": "ED"}
    out.append(failed.to_dict())
    return out


@pytest.fixture(scope="module")
def report_file(records: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("stats") / "report.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


# -- plain counts, written independently of docgap.evaluation.stats ------------------------
def count_status(records: list[dict[str, Any]]) -> Counter[str]:
    return Counter("error" if r.get("error") else r["status"] for r in records)


def count_affirmed(records: list[dict[str, Any]]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for r in records:
        if not r.get("error"):
            counts.update(e for e, v in r["elements"].items() if v)
            counts["chiropractic"] += bool(r["chiropractic"])
    return counts


def count_evidence(records: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter((ev["element"], ev["assertion"]) for r in records for ev in r["evidence"])


def count_gaps(records: list[dict[str, Any]]) -> Counter[str]:
    return Counter(key for r in records for key in {g["key"] for g in r["gaps"]})


def _group(record: dict[str, Any]) -> str:
    return (record.get("meta") or {}).get("specialty") or NO_GROUP


# -- the frames -------------------------------------------------------------------------
def test_status_distribution(records: list[dict[str, Any]]) -> None:
    stats = CorpusStats.from_records(records)
    table = stats.status_table()
    expected = count_status(records)
    assert {k: int(v) for k, v in table["notes"].items() if v} == dict(expected)
    assert list(table.index[: len(docgap.STATUSES)]) == list(docgap.STATUSES)
    assert table.loc[ERROR, "share"] == round(1 / len(records), 4)


def test_element_prevalence_by_assertion(records: list[dict[str, Any]]) -> None:
    table = CorpusStats.from_records(records).element_table()
    affirmed = count_affirmed(records)
    analysed = sum(1 for r in records if not r.get("error"))
    for element in [*records[0]["elements"], "chiropractic"]:
        assert table.loc[element, "notes_affirmed"] == affirmed[element]
        assert table.loc[element, "share"] == round(affirmed[element] / analysed, 4)
    evidence = count_evidence(records)
    assert evidence, "the examples have evidence"
    for (element, assertion), n in evidence.items():
        assert table.loc[element, f"evidence_{assertion}"] == n
    counted = Counter(ev["element"] for r in records for ev in r["evidence"] if ev["counted"])
    for element, n in counted.items():
        assert table.loc[element, "evidence_counted"] == n


@pytest.mark.parametrize("top", [1, 3, 50])
def test_top_gaps(records: list[dict[str, Any]], top: int) -> None:
    table = CorpusStats.from_records(records, top=top).gap_table()
    expected = count_gaps(records)
    assert len(table) == min(top, len(expected))
    for key, n in table["notes"].items():
        assert expected[key] == n
    # No gap left out is more frequent than one listed.
    left_out = [n for k, n in expected.items() if k not in table.index]
    assert all(n <= table["notes"].min() for n in left_out)


def test_breakdown_by_group(records: list[dict[str, Any]]) -> None:
    stats = CorpusStats.from_records(records, group_by="specialty")
    groups = Counter(_group(r) for r in records)
    assert sorted(stats.groups) == sorted(groups)
    for group in groups:
        mine = [r for r in records if _group(r) == group]
        statuses = stats.status_table(group)["notes"]
        assert {k: int(v) for k, v in statuses.items() if v} == dict(count_status(mine))
        affirmed = stats.element_table(group)["notes_affirmed"]
        expected = count_affirmed(mine)
        assert all(affirmed[e] == expected[e] for e in records[0]["elements"])
        gaps = stats.gap_table(group)["notes"]
        assert all(count_gaps(mine)[k] == n for k, n in gaps.items())


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"meta": {"specialty": "ENT"}}, "ENT"),
        ({"meta": {"specialty": "  ENT "}}, "ENT"),
        ({"meta": {"specialty": ""}}, NO_GROUP),
        ({"meta": {}}, NO_GROUP),
        ({}, NO_GROUP),
        ({"specialty": "PT"}, "PT"),  # a top-level key when there is no meta key
        ({"meta": {"specialty": 7}}, "7"),
    ],
)
def test_group_of(record: dict[str, Any], expected: str) -> None:
    assert group_of(record, "specialty") == expected


def test_to_dict_and_long_table_agree(records: list[dict[str, Any]]) -> None:
    stats = CorpusStats.from_records(records, group_by="specialty")
    data = stats.to_dict()
    assert data[ALL]["notes"] == len(records)
    assert data[ALL]["errors"] == 1
    long = stats.to_long()
    for group, section in [(ALL, data[ALL]), *data["groups"].items()]:
        rows = long[(long["group"] == group) & (long["table"] == "status")]
        notes = {r.key: r.value for r in rows.itertuples() if r.measure == "notes"}
        assert notes == {k: v["notes"] for k, v in section["status"].items()}


# -- the command ------------------------------------------------------------------------
def _read_long_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_stats_command_on_a_report(
    report_file: Path, records: list[dict[str, Any]], cli: Any, tmp_path: Path
) -> None:
    out_csv, out_json = tmp_path / "s.csv", tmp_path / "s.json"
    result = cli(
        ["stats", str(report_file), "--group-by", "specialty", "--csv", out_csv,
         "--json", out_json]
    )
    assert result.exit_code == 0, result.stderr
    for title in ("Status distribution", "Element prevalence", "gaps", "by specialty"):
        assert title in result.stdout
    data = json.loads(out_json.read_text(encoding="utf-8"))
    assert {k: v["notes"] for k, v in data[ALL]["status"].items() if v["notes"]} == dict(
        count_status(records)
    )
    assert set(data["groups"]) == {_group(r) for r in records}
    rows = _read_long_csv(out_csv)
    status_rows = {
        (r["group"], r["key"]): r["value"]
        for r in rows
        if r["table"] == "status" and r["measure"] == "notes"
    }
    for status, n in count_status(records).items():
        assert status_rows[(ALL, status)] == str(n)  # counts are written as integers


def test_stats_over_raw_inputs_scans_them_first(
    cli: Any, tmp_path: Path, make_input: Any
) -> None:
    case = make_input("csv", tmp_path)
    result = cli(["stats", *case.args, "--group-by", "specialty", "--json", tmp_path / "s.json",
                  "--quiet"])
    assert result.exit_code == 0, result.stderr
    data = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert data[ALL]["notes"] == len(SAMPLE_NOTES)
    assert {g: s["notes"] for g, s in data["groups"].items()} == dict(
        Counter(n[2] for n in SAMPLE_NOTES)
    )


def test_raw_folder_and_its_report_give_the_same_figures(cli: Any, tmp_path: Path) -> None:
    report = tmp_path / "examples.jsonl"
    analyzer = docgap.default_analyzer()
    with JsonlWriter(report) as writer:
        for path in sorted(EXAMPLES.glob("*.txt")):
            writer.write(analyzer.analyze(path.read_text(encoding="utf-8"), path.stem))
    cli(["stats", str(EXAMPLES), "--json", tmp_path / "raw.json", "-q"])
    cli(["stats", str(report), "--json", tmp_path / "report.json", "-q"])
    raw = json.loads((tmp_path / "raw.json").read_text(encoding="utf-8"))
    scanned = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert raw == scanned


def test_stats_warns_about_an_absent_group_column(report_file: Path, cli: Any) -> None:
    result = cli(["stats", str(report_file), "--group-by", "ward", "-q"])
    assert result.exit_code == 0
    assert "no note has a 'ward'" in result.stderr


@pytest.mark.parametrize(
    "args",
    [["{tmp}/missing.jsonl"], ["{tmp}/notes.docx"]],
    ids=["missing", "unknown-format"],
)
def test_stats_refuses_unusable_input(cli: Any, tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "notes.docx").write_bytes(b"PK")
    result = cli(["stats", *(a.format(tmp=tmp_path) for a in args)])
    assert result.exit_code == 2
    assert result.stderr.startswith("docgap: error: ")


def test_every_group_has_the_same_rows_and_columns(records: list[dict[str, Any]]) -> None:
    stats = CorpusStats.from_records(records, group_by="specialty")
    overall = stats.element_table()
    for group in stats.groups:
        table = stats.element_table(group)
        assert list(table.index) == list(overall.index)
        assert list(table.columns) == list(overall.columns)


@pytest.mark.parametrize("top", [1, 2])
def test_by_group_counts_the_overall_top_gaps_in_full(
    records: list[dict[str, Any]], top: int
) -> None:
    stats = CorpusStats.from_records(records, group_by="specialty", top=top)
    frame = stats.by_group("gap")
    assert list(frame.index) == list(stats.gap_table().index)
    for group in stats.groups:
        mine = count_gaps([r for r in records if _group(r) == group])
        assert {k: int(frame.loc[k, group]) for k in frame.index} == {
            k: mine[k] for k in frame.index
        }
    statuses = stats.by_group("status")
    assert int(statuses.to_numpy().sum()) == len(records)
    with pytest.raises(ValueError, match="unknown measure"):
        stats.by_group("ward")


def test_a_corpus_without_evidence_or_gaps(cli: Any, tmp_path: Path) -> None:
    notes = tmp_path / "notes.csv"
    notes.write_text("note_id,text,ward\na,,x\nb,Follow-up for diabetes.,y\n", encoding="utf-8")
    out = tmp_path / "s.json"
    result = cli(["stats", str(notes), "--group-by", "ward", "--json", str(out)])
    assert result.exit_code == 0, result.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data[ALL]["errors"] == 1
    assert set(data["groups"]) == {"x", "y"}
