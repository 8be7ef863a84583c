"""Unit tests of long-note chunking (chunking.py)."""

from __future__ import annotations

from typing import Any

import pytest

import docgap.analyzer
from docgap.analyzer import AnalysisTimeout, Analyzer
from docgap.inputs.reading import NoteInput
from docgap.nlp.chunking import DEFAULT_CHUNK_CHARS, chunks

PARAGRAPHS = "\n\n".join(f"Paragraph {i}. Neck pain and occipital headaches." for i in range(200))
LINES = "\n".join(f"Line {i}: dizziness with head rotation" for i in range(300))
SENTENCES = " ".join(f"Sentence {i} about neck pain." for i in range(300))
ONE_WORD = "x" * 5_000
SPACED = "neck " * 2_000

TEXTS = {
    "paragraphs": PARAGRAPHS,
    "lines": LINES,
    "sentences": SENTENCES,
    "one-word": ONE_WORD,
    "spaced": SPACED,
    "short": "Neck pain.",
}


@pytest.mark.parametrize("size", [100, 257, 1_000])
@pytest.mark.parametrize("name", list(TEXTS))
def test_chunks_concatenate_back(name: str, size: int) -> None:
    text = TEXTS[name]
    pieces = list(chunks(text, size))
    assert "".join(piece for _, piece in pieces) == text
    position = 0
    for offset, piece in pieces:
        assert offset == position
        assert text[offset : offset + len(piece)] == piece
        assert 0 < len(piece) <= size
        position += len(piece)


@pytest.mark.parametrize(
    ("name", "mark"),
    [("paragraphs", "\n\n"), ("lines", "\n"), ("sentences", ". "), ("spaced", " ")],
)
def test_cuts_at_natural_breaks(name: str, mark: str) -> None:
    pieces = [piece for _, piece in chunks(TEXTS[name], 500)]
    assert len(pieces) > 1
    for piece in pieces[:-1]:
        assert piece.endswith(mark)


def test_long_single_line_is_cut_to_size() -> None:
    text = "a" * 2_000_000
    pieces = list(chunks(text))
    assert len(pieces) == -(-len(text) // DEFAULT_CHUNK_CHARS)
    assert all(len(p) == DEFAULT_CHUNK_CHARS for _, p in pieces)


def test_empty_text_has_no_chunks() -> None:
    assert list(chunks("")) == []


def test_chunk_size_floor() -> None:
    with pytest.raises(ValueError, match="at least"):
        list(chunks("text", 99))


def test_short_text_is_one_chunk() -> None:
    assert list(chunks("Neck pain.", DEFAULT_CHUNK_CHARS)) == [(0, "Neck pain.")]


def test_analyzer_reads_chunked_notes() -> None:
    """A note cut into chunks keeps its findings and original offsets, with a warning."""
    from docgap import Analyzer

    small = Analyzer(chunk_chars=400)
    filler = "Routine follow-up visit, no new concerns today. " * 30
    text = (
        "HPI: Neck pain with occipital headaches and dizziness.\n\n"
        + filler
        + "\n\nAssessment: cervicocranial syndrome.\n"
    )
    report = small.analyze(text)
    assert report.status == "supported"
    assert any("chunks" in w for w in report.warnings)
    for e in report.evidence:
        assert text[e.start : e.end] == e.text


# -- a deadline checked between chunks -----------------------------------------------------

LONG_NOTE = "\n\n".join(
    f"Visit {i}. Neck pain with occipital headaches and dizziness on rotation." for i in range(60)
)


class _Clock:
    """A monotonic clock that only moves when a chunk is analysed."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def chunked(analyzer: Analyzer, monkeypatch: pytest.MonkeyPatch) -> tuple[Analyzer, _Clock]:
    """The session analyzer with 1,000-character chunks, each costing one clock second."""
    clock = _Clock()
    nlp = analyzer.nlp

    def timed_nlp(text: str) -> Any:
        clock.now += 1.0
        return nlp(text)

    monkeypatch.setattr(analyzer, "chunk_chars", 1_000)
    monkeypatch.setattr(analyzer, "nlp", timed_nlp)
    monkeypatch.setattr(docgap.analyzer.time, "monotonic", clock)
    return analyzer, clock


def test_a_long_note_stops_at_its_timeout(chunked: tuple[Analyzer, _Clock]) -> None:
    analyzer, _ = chunked
    assert len(list(chunks(LONG_NOTE, 1_000))) > 4
    with pytest.raises(AnalysisTimeout) as caught:
        analyzer.analyze_input(NoteInput("n1", LONG_NOTE), timeout=2.5)
    assert caught.value.chunks_done == 3  # started at 0, 1 and 2 s; stopped before the 4th
    assert "Neck" not in str(caught.value) and "n1" not in str(caught.value)


def test_the_earlier_of_deadline_and_timeout_counts(chunked: tuple[Analyzer, _Clock]) -> None:
    analyzer, clock = chunked
    with pytest.raises(AnalysisTimeout) as caught:
        analyzer.analyze(LONG_NOTE, deadline=clock.now + 1.5, timeout=60)
    assert caught.value.chunks_done == 2
    with pytest.raises(AnalysisTimeout) as caught:
        analyzer.analyze(LONG_NOTE, deadline=clock.now - 1)
    assert caught.value.chunks_done == 0


def test_a_note_within_its_timeout_gets_the_same_report(
    chunked: tuple[Analyzer, _Clock],
) -> None:
    analyzer, _ = chunked
    bounded = analyzer.analyze(LONG_NOTE, "n", timeout=1_000).to_dict()
    assert bounded == analyzer.analyze(LONG_NOTE, "n").to_dict()
    assert bounded["status"] != "error"


def test_a_negative_timeout_is_an_error(analyzer: Analyzer) -> None:
    with pytest.raises(ValueError, match="timeout"):
        analyzer.analyze("Neck pain.", timeout=-1)
