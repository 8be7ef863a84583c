"""The coverage notebook runs end to end on a small sample, so it cannot rot.

It runs as a real subprocess (its own Analyzer, MPLBACKEND=Agg, a temporary output
folder) on 25 notes: from the shared MTSamples copy when it is present, and always from
the real MTSamples notes kept in corpus/dev/gold.jsonl, so the test needs no shared data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from docgap.packs.m53_0 import ELEMENTS
from docgap.report import STATUSES

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "coverage.py"
GOLD = ROOT / "corpus" / "dev" / "gold.jsonl"
SHARED = ROOT.parent / "shared" / "corpora" / "mtsamples" / "mtsamples.jsonl"
SAMPLE = 25
FIGURES = ("status_by_specialty.png", "element_prevalence.png", "top_gaps.png")

pytestmark = pytest.mark.slow


def _texts(corpus: Path) -> dict[str, str]:
    """Id -> text of every record in either accepted format."""
    texts = {}
    with corpus.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            texts[str(row.get("note_id", row.get("id")))] = row["text"]
    return texts


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(
            SHARED,
            id="mtsamples",
            marks=pytest.mark.skipif(not SHARED.exists(), reason="shared MTSamples absent"),
        ),
        pytest.param(GOLD, id="gold-file"),
    ],
)
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    corpus: Path = request.param
    out = tmp_path_factory.mktemp("coverage")
    env = {k: v for k, v in os.environ.items() if k != "DOCGAP_MTSAMPLES"} | {
        "MPLBACKEND": "Agg",
        # The gold file is the notebook's default: run it without naming a corpus.
        **({} if corpus == GOLD else {"DOCGAP_MTSAMPLES": str(corpus)}),
        "DOCGAP_NOTEBOOK_SAMPLE": str(SAMPLE),
        "DOCGAP_NOTEBOOK_OUT": str(out),
    }
    proc = subprocess.run(
        [sys.executable, str(NOTEBOOK)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return {"corpus": corpus, "out": out, "proc": proc}


def test_notebook_runs(run: dict[str, Any]) -> None:
    assert run["proc"].returncode == 0, run["proc"].stderr[-3000:]


def test_default_corpus_is_shipped_in_the_repo(run: dict[str, Any]) -> None:
    first = run["proc"].stdout.splitlines()[0]
    assert first == f"corpus: {run['corpus']}"
    assert run["corpus"] != GOLD or GOLD.is_relative_to(ROOT)


def test_one_note_is_shown_with_its_evidence(run: dict[str, Any]) -> None:
    html = (run["out"] / "note.html").read_text(encoding="utf-8")
    assert "<mark" in html and "class='dg-note'" in html


@pytest.mark.parametrize("figure", FIGURES)
def test_figure_is_written(run: dict[str, Any], figure: str) -> None:
    data = (run["out"] / figure).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 5_000


def test_one_row_per_distinct_note(run: dict[str, Any]) -> None:
    notes = pd.read_csv(run["out"] / "notes.csv")
    assert len(notes) == SAMPLE
    assert notes["note_id"].is_unique
    texts = _texts(run["corpus"])
    assert len({texts[i] for i in notes["note_id"]}) == SAMPLE, "sample not deduplicated on text"
    assert set(notes["status"]) <= set(STATUSES)
    assert set(ELEMENTS) <= set(notes.columns)
    if run["corpus"] == GOLD:
        assert notes["note_id"].str.startswith("mts-").all()


def test_evidence_rows_belong_to_analysed_notes(run: dict[str, Any]) -> None:
    notes = pd.read_csv(run["out"] / "notes.csv")
    evidence = pd.read_csv(run["out"] / "evidence.csv")
    assert len(evidence) > 0
    assert set(evidence["note_id"]) <= set(notes["note_id"])
    affirmed = evidence[evidence["counted"] & evidence["element"].isin(ELEMENTS)]
    for element in ELEMENTS:  # a counted mention of an element sets it
        backed = set(affirmed.loc[affirmed["element"] == element, "note_id"])
        assert backed <= set(notes.loc[notes[element], "note_id"]), element


def test_summary_agrees_with_the_tables(run: dict[str, Any]) -> None:
    notes = pd.read_csv(run["out"] / "notes.csv")
    summary = json.loads((run["out"] / "summary.json").read_text(encoding="utf-8"))
    assert summary["notes"] == SAMPLE
    assert summary["status"] == notes["status"].value_counts().to_dict()
    assert summary["element_notes"] == {e: int(notes[e].sum()) for e in ELEMENTS}
    by_specialty = pd.read_csv(run["out"] / "status_by_specialty.csv", index_col=0)
    assert by_specialty.to_numpy().sum() >= SAMPLE  # a note counts in each of its specialties


def test_notebook_opens_as_a_notebook() -> None:
    jupytext = pytest.importorskip("jupytext")
    notebook = jupytext.read(NOTEBOOK)
    kinds = {cell.cell_type for cell in notebook.cells}
    assert kinds == {"markdown", "code"}
    source = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    compile(source, str(NOTEBOOK), "exec")
