"""The real-text batches 2 and 3, the new-voice corpora and the held-out new-voice batches.

Each is checked like the development corpus: it loads with docgap's gold reader, every
status follows section 3 from its element labels (the independent rules of
``tests/integration/test_corpus.py``), the built gold file is its parts (and adjudications) merged,
and every MTSamples text is verbatim.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_corpus import SHARED_MTSAMPLES, build_gold, spec_status

from docgap.evaluation.scores import load_gold

ROOT = Path(__file__).resolve().parents[2]
CORPORA = {
    "mtsamples2": ROOT / "corpus" / "mtsamples2" / "gold.jsonl",
    "mtsamples3": ROOT / "corpus" / "mtsamples3" / "gold.jsonl",
    "voices": ROOT / "corpus" / "voices" / "gold.jsonl",
    "voices3": ROOT / "corpus" / "voices3" / "gold.jsonl",
    "heldout-voices": ROOT / "corpus" / "heldout" / "voices.jsonl",
    "heldout-voices2": ROOT / "corpus" / "heldout" / "voices2.jsonl",
}
FLOORS = {
    "mtsamples2": 200,
    "mtsamples3": 150,
    "voices": 80,
    "voices3": 80,
    "heldout-voices": 40,
    "heldout-voices2": 40,
}
REAL = ("mtsamples2", "mtsamples3")


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@pytest.mark.parametrize("name", sorted(CORPORA))
def test_corpus_loads_and_has_its_size(name: str) -> None:
    notes = list(load_gold(CORPORA[name]))
    assert len(notes) >= FLOORS[name]
    assert len({n.id for n in notes}) == len(notes)


@pytest.mark.parametrize("name", sorted(CORPORA))
def test_every_status_follows_section_3(name: str) -> None:
    wrong = [
        r["id"]
        for r in _records(CORPORA[name])
        if spec_status(r["gold"]["elements"], r["gold"]["chiropractic"]) != r["gold"]["status"]
    ]
    assert not wrong


@pytest.mark.parametrize("name", ["mtsamples2", "mtsamples3", "voices", "voices3"])
def test_gold_is_the_parts_merged(name: str) -> None:
    folder = CORPORA[name].parent
    built = build_gold.build(folder / "parts", folder / "adjudications.jsonl")
    assert build_gold.dumps(built) == CORPORA[name].read_text(encoding="utf-8"), (
        f"run: python corpus/build_gold.py --corpus corpus/{name}"
    )


@pytest.mark.skipif(not SHARED_MTSAMPLES.is_file(), reason="no shared MTSamples copy")
@pytest.mark.parametrize("name", REAL)
def test_real_notes_are_verbatim(name: str) -> None:
    ours = {r["id"]: r["text"] for r in _records(CORPORA[name])}
    found = {}
    with SHARED_MTSAMPLES.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if record["note_id"] in ours:
                found[record["note_id"]] = record["text"]
    assert set(found) == set(ours)
    assert [i for i in ours if ours[i] != found[i]] == []


def test_training_file_is_the_tunable_corpora() -> None:
    """corpus/training.jsonl (the review model's input) is rebuilt from the gold files."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "build_training", ROOT / "corpus" / "build_training.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = (ROOT / "corpus" / "training.jsonl").read_text(encoding="utf-8")
    assert module.build() == text, "run: python corpus/build_training.py"
    parts = {json.loads(line)["part"] for line in text.splitlines()}
    assert parts == set(module.SOURCES)
    assert not parts & {"heldout", "mtsamples3"}  # blind and real-text check sets stay out
