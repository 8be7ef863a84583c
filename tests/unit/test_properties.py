"""Property-based tests: arbitrary text never breaks the analysis, and evidence offsets
always slice the original text to the evidence's text (issue 2)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docgap import STATUSES, Analyzer
from docgap.inputs.decoding import check_text
from docgap.packs.m53_0 import ELEMENTS

FRAGMENTS = [
    "Neck pain",
    "occipital headaches",
    "denies dizziness, tinnitus or visual change",
    "Vertigo: No",
    "Dizziness [x]",
    "[ ] numbness",
    "Neck: ***",
    "Assessment: cervicocranial syndrome",
    "rule out cervicocranial syndrome",
    "? cervicocranial syndrome",
    "Subluxation C1-2, C2 PRS, OC-C1",
    "CMT 98940 performed today",
    "MRI C-spine: C5-6 disc herniation",
    "FH: cervical spondylosis",
    "s/p MVA in 2024",
    "N/T R hand",
    "HPI:",
    "ROS:",
    "PMH:",
    "Family History:",
    "Medications:",
    "T1-weighted",
    "Barré-Liéou",
    "room spinning",
    "ringing in my ears",
    "M53.0",
    " ",
    "   ",
    "\n",
    "\n\n",
    "\t",
    ".",
    ",",
    ":",
    "-",
    "\r\n",
]

fragment = st.one_of(
    st.sampled_from(FRAGMENTS),
    st.text(max_size=20),  # arbitrary unicode, including surrogates-free controls
    st.text(alphabet=" \n\t", min_size=1, max_size=40),  # long runs of spaces and newlines
)
notes = st.lists(fragment, max_size=25).map("".join)


def _check(analyzer: Analyzer, text: str) -> None:
    report = analyzer.analyze(text, note_id="prop")
    assert report.note_id == "prop"
    assert set(report.elements) == set(ELEMENTS)
    if report.error is not None:
        assert report.status is None
        # only the documented refusals (empty, too large, binary), never a crash
        assert report.error == check_text(text, analyzer.max_chars)
        return
    assert report.status in STATUSES
    for e in report.evidence:
        assert 0 <= e.start <= e.end <= len(text)
        assert text[e.start : e.end] == e.text
    report.to_dict()  # the JSON record can always be built


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(notes)
def test_clinical_fragments_never_break_analysis(analyzer: Analyzer, text: str) -> None:
    _check(analyzer, text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_arbitrary_unicode_never_breaks_analysis(analyzer: Analyzer, text: str) -> None:
    _check(analyzer, text)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(FRAGMENTS[:26]), min_size=1, max_size=8),
    st.integers(min_value=2, max_value=60),
)
def test_space_runs_keep_offsets(analyzer: Analyzer, words: list[str], width: int) -> None:
    """Transcribed notes with wide gaps between words: offsets still slice the original."""
    text = (" " * width).join(words)
    _check(analyzer, text)


# -- readers (issue 14): arbitrary bytes never crash a read, readable records survive ----
from pathlib import Path  # noqa: E402

from docgap.inputs.reading import InputError, open_sources  # noqa: E402


def _read_all(path: Path, fmt: str = "auto") -> list:
    try:
        sources = open_sources([str(path)], fmt=fmt)
    except InputError:  # an unusable table is a clear refusal, not a crash
        return []
    return [r for s in sources for r in s.records()]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(noise=st.binary(max_size=300), suffix=st.sampled_from([".csv", ".jsonl", ".json", ".txt"]))
def test_arbitrary_bytes_never_crash_a_read(tmp_path: Path, noise: bytes, suffix: str) -> None:
    path = tmp_path / f"n{suffix}"
    good = b'{"note_id": "keep", "text": "Neck pain."}\n'
    path.write_bytes(good + noise if suffix == ".jsonl" else noise)
    records = _read_all(path)
    for record in records:
        assert (record.text is None) != (record.error is None)
        record.note_id.encode("utf-8")
    if suffix == ".jsonl":
        assert records and records[0].note_id == "keep" and records[0].text == "Neck pain."


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(noise=st.binary(max_size=300))
def test_arbitrary_bytes_as_fhir_never_crash(tmp_path: Path, noise: bytes) -> None:
    path = tmp_path / "r.json"
    path.write_bytes(noise)
    for record in _read_all(path, fmt="fhir"):
        assert (record.text is None) != (record.error is None)
