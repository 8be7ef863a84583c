"""The fast pipeline gives exactly the reports of the reference pipeline.

docgap's default pipeline (``build_nlp(variant="fast")``) replaces medspaCy's Sectionizer,
TargetMatcher and ConText with faster subclasses (``docgap.nlp.fastpath``), runs the rule
expressions together (``docgap.nlp.regexscan``) and splits sentences only around targets.
None of that may change a report: every note of the development corpus and a spread
sample of MTSamples must give the same ``to_dict()`` through both pipelines. The unit
tests below pin each shortcut to the behaviour it replaces.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import spacy
from medspacy.custom_tokenizer import create_medspacy_tokenizer
from spacy.language import Language
from spacy.matcher import Matcher
from spacy.tokens import Doc, Span

from docgap import Analyzer
from docgap.nlp.contextgraph import ScopedConTextGraph
from docgap.nlp.fastpath import FastTokenMatcher
from docgap.nlp.medspacy_parts import ConTextGraph, ConTextModifier, ConTextRule
from docgap.nlp.pipeline import build_nlp
from docgap.nlp.regexscan import RegexBank, required_words
from docgap.nlp.sentences import SentenceSplitter
from docgap.rules.lexicon import load_lexicon

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*W036.*:UserWarning"
)  # stock matchers, no token rules

ROOT = Path(__file__).resolve().parents[2]
DEV_PARTS = sorted((ROOT / "corpus" / "dev" / "parts").glob("*.jsonl"))
# The shared corpus sits beside the repository (or beside the worktrees' folder).
_MTSAMPLES_AT = [
    base / "shared" / "corpora" / "mtsamples" / "mtsamples.jsonl" for base in ROOT.parents[:2]
]
MTSAMPLES = next((p for p in _MTSAMPLES_AT if p.is_file()), _MTSAMPLES_AT[0])
SAMPLE_SIZE = 200


def _dev_notes() -> list[tuple[str, str]]:
    notes = []
    for path in DEV_PARTS:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                notes.append((record["id"], record["text"]))
    return notes


def _mtsamples_sample() -> list[tuple[str, str]]:
    """Every k-th non-empty note, so that the sample spans the specialties.

    Held-out notes (``reserved_ids.txt``) are dropped on their id, their text unread.
    """
    if not MTSAMPLES.is_file():
        return []
    reserved_file = MTSAMPLES.with_name("reserved_ids.txt")
    reserved = (
        set(reserved_file.read_text(encoding="utf-8").split()) if reserved_file.is_file() else set()
    )
    notes = []
    with MTSAMPLES.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if record["note_id"] in reserved:
                continue
            if record["text"].strip():
                notes.append((record["note_id"], record["text"]))
    step = max(1, len(notes) // SAMPLE_SIZE)
    return notes[::step][:SAMPLE_SIZE]


DEV = _dev_notes()
SAMPLE = _mtsamples_sample()


@pytest.fixture(scope="session")
def reference_analyzer(analyzer: Analyzer) -> Analyzer:
    """An analyzer on the reference pipeline: docgap's splitter and stock medspaCy components."""
    reference = Analyzer(variant="reference")
    assert reference.nlp.max_length == analyzer.nlp.max_length
    return reference


def test_the_two_pipelines_differ(analyzer: Analyzer, reference_analyzer: Analyzer) -> None:
    """Otherwise the comparisons below would compare a pipeline with itself."""
    assert "docgap_target_matcher_v1" in analyzer.nlp.pipe_names
    assert "medspacy_target_matcher" in reference_analyzer.nlp.pipe_names
    assert "docgap_sentences_v1" in reference_analyzer.nlp.pipe_names


def test_unknown_variant_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown pipeline variant 'quick'"):
        build_nlp(load_lexicon(), variant="quick")  # type: ignore[arg-type]


def test_fast_never_falls_back_to_reference() -> None:
    """Rules the fast pipeline cannot run are an error, not a silent reference pipeline."""
    lexicon = load_lexicon()
    first = lexicon.targets[0]
    concept = first.concepts[0].model_copy(update={"patterns": [[{"IS_SENT_START": True}]]})
    changed = first.model_copy(update={"concepts": [concept, *first.concepts[1:]]})
    sentence_reading = dataclasses.replace(lexicon, targets=(changed, *lexicon.targets[1:]))
    with pytest.raises(ValueError, match="SENT_START"):
        build_nlp(sentence_reading, variant="fast")


def test_development_corpus_is_there() -> None:
    assert len(DEV) >= 100


@pytest.mark.parametrize(("note_id", "text"), DEV, ids=[note_id for note_id, _ in DEV])
def test_same_report_on_development_notes(
    analyzer: Analyzer, reference_analyzer: Analyzer, note_id: str, text: str
) -> None:
    fast = analyzer.analyze(text, note_id).to_dict()
    assert fast == reference_analyzer.analyze(text, note_id).to_dict()


@pytest.mark.skipif(not SAMPLE, reason=f"the shared MTSamples corpus is not at {MTSAMPLES}")
@pytest.mark.parametrize(("note_id", "text"), SAMPLE, ids=[note_id for note_id, _ in SAMPLE])
def test_same_report_on_mtsamples(
    analyzer: Analyzer, reference_analyzer: Analyzer, note_id: str, text: str
) -> None:
    fast = analyzer.analyze(text, note_id).to_dict()
    assert fast == reference_analyzer.analyze(text, note_id).to_dict()


# -- the expressions run together --------------------------------------------------------

EDGE_TEXTS = [
    "",
    "neck",
    "Neck pain.  NECK PAIN, neck-pain; neckpain",
    "HPI: neck pain\nAssessment: cervicalgia\n\nPlan:\tPT\n",
    ",Assessment:,Plan: follow up.History of present illness: dizzy",
    "pain at the back of the head, pain in the neck; occipital headaches",
    "Cervicogenic headache. 98940 98941. Barré-Lieou. h/o neck pain",
    "É neck ſ pain Kelvin K",  # not ASCII: every expression runs
]


def _pipeline_patterns() -> list[list[re.Pattern[str]]]:
    """The compiled expressions of each regex matcher in the shipped pipeline."""
    nlp = build_nlp(load_lexicon(), variant="reference")
    banks = []
    for _, component in nlp.pipeline:
        for attribute in ("_Sectionizer__matcher", "_TargetMatcher__matcher", "_ConText__matcher"):
            matcher = getattr(component, attribute, None)
            if matcher is not None:
                regex = matcher._MedspacyMatcher__regex_matcher
                patterns = [p for ps in regex._patterns.values() for p in ps]
                if patterns:
                    banks.append(patterns)
    return banks


@pytest.fixture(scope="module")
def pipeline_patterns() -> list[list[re.Pattern[str]]]:
    return _pipeline_patterns()


@pytest.mark.parametrize("text", EDGE_TEXTS + [text for _, text in DEV[::10]])
def test_regex_bank_finds_what_finditer_finds(
    pipeline_patterns: list[list[re.Pattern[str]]], text: str
) -> None:
    assert pipeline_patterns
    for patterns in pipeline_patterns:
        bank = RegexBank(patterns)
        expected = [[m.span() for m in p.finditer(text)] for p in patterns]
        assert bank.finditer_all(text) == expected


def test_regex_bank_groups_anchored_expressions(
    pipeline_patterns: list[list[re.Pattern[str]]],
) -> None:
    """The shipped rules mostly start with an anchor: they must share scans."""
    grouped = sum(len(group.members) for p in pipeline_patterns for group in RegexBank(p).groups)
    assert grouped >= sum(map(len, pipeline_patterns)) // 2


@pytest.mark.parametrize(
    ("patterns", "text"),
    [
        ([r"\ba+", r"\bab", r"\bb"], "aab ab b a"),
        ([r"(?m)^x\w*", r"(?m)^xy"], "xy\nxyz x\nq xy"),
        ([r"\bx(?=y)", r"\bxy?"], "xy x xyy"),  # lookahead in the rest, optional parts
        ([r"\b(?:a|ab)c", r"\bab"], "abc ac ab"),
        ([r"\bq", r"\bq(?:u|)"], "q qu quu"),
    ],
)
def test_regex_bank_on_overlapping_expressions(patterns: list[str], text: str) -> None:
    compiled = [re.compile(p, re.IGNORECASE) for p in patterns]
    expected = [[m.span() for m in p.finditer(text)] for p in compiled]
    assert RegexBank(compiled).finditer_all(text) == expected


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        (r"\bneck\b", {"neck"}),
        (r"\b(?:Neck|cervical)\s+pain", {"pain"}),
        (r"\b(?:headaches?|ha)\b", {"headache", "ha"}),
        (r"\b9894[0-2]\b", {"9894"}),
        (r"\b(?:a|\w+)x", {"x"}),
        (r"\w+", None),
        (r"(?:neck)?pain", {"pain"}),
    ],
)
def test_required_words(pattern: str, words: set[str] | None) -> None:
    found = required_words(re.compile(pattern, re.IGNORECASE))
    assert (set(found) if found is not None else None) == words
    if found is not None:  # every match must contain one of the words
        for sample in ("neck pain", "Cervical pain", "HA 98941", "ax", "zzx"):
            for match in re.finditer(pattern, sample, re.IGNORECASE):
                assert any(w in match.group(0).lower() for w in found)


# -- one-token patterns as set look-ups -------------------------------------------------

TOKEN_PATTERNS = [
    ("HEADACHE", [[{"ORTH": {"IN": ["HA", "HAs", "HA's"]}}]]),
    ("LOWER", [[{"LOWER": {"IN": ["ha", "x"]}}]]),
    ("EXACT", [[{"ORTH": "HA"}]]),
]


@pytest.mark.parametrize("text", ["HA and ha, HA's HAs x X", "", "nothing here", "HA HA"])
def test_token_set_patterns_match_like_spacy(text: str) -> None:
    nlp = spacy.blank("en")
    nlp.tokenizer = create_medspacy_tokenizer(nlp)
    spacy_matcher = Matcher(nlp.vocab)
    fast = FastTokenMatcher(Matcher(nlp.vocab))
    for key, patterns in TOKEN_PATTERNS:
        spacy_matcher.add(key, patterns)
        fast.add(key, patterns)
    doc = nlp(text)
    assert fast(doc) == spacy_matcher(doc)


def test_other_token_patterns_go_to_spacy() -> None:
    nlp = spacy.blank("en")
    fast = FastTokenMatcher(Matcher(nlp.vocab))
    fast.add("TWO", [[{"LOWER": "neck"}, {"LOWER": "pain"}]])
    doc = nlp("neck pain")
    assert [(s, e) for _, s, e in fast(doc)] == [(0, 2)]


# -- sentences split only around targets -------------------------------------------------

SPLIT_TEXTS = [
    "Neck pain. Denies dizziness,\ntinnitus or vertigo.\n\nPlan: adjust C1.",
    "Dr. Smith saw her. She has vertigo! No tinnitus? Yes.\n- neck pain\n- HA",
    "\n\n  leading spaces. then lower case.\nHeadache: yes\nVertigo: no",
]


@pytest.mark.parametrize("text", SPLIT_TEXTS)
def test_split_around_marks_what_a_full_split_marks(text: str) -> None:
    nlp = spacy.blank("en")
    nlp.tokenizer = create_medspacy_tokenizer(nlp)
    splitter = SentenceSplitter(load_lexicon().sentences.no_break_after)
    full = splitter(nlp(text))
    expected = [token.is_sent_start for token in full]
    for i in range(len(full)):
        doc = nlp(text)
        regions = splitter.split_around(doc, [doc[i : i + 1]])
        ((start, end),) = regions
        assert start <= i < end
        marked = [token.is_sent_start for token in doc[start:end]]
        assert marked == expected[start:end]
        assert expected[start] is True
        assert end == len(doc) or expected[end] is True
        assert doc[i : i + 1].sent.start == full[i : i + 1].sent.start


def test_split_around_leaves_other_sentences_unset() -> None:
    nlp = spacy.blank("en")
    doc: Doc = nlp("First one. Second one. Third one.")
    regions = SentenceSplitter([]).split_around(doc, [doc[3:4]])  # "Second"
    assert regions == [(3, 6)]
    assert [doc[i].is_sent_start for i in (3, 4, 5, 6)] == [True, False, False, True]
    assert doc[1].is_sent_start is None
    assert doc[7].is_sent_start is None


# -- ConText around targets only ---------------------------------------------------------

CONTEXT_TEXTS = [
    "Patient reports no\n\nmore neck pain. No dizziness.",  # "no more" crosses into the target's
    "Denies vertigo. Neck pain, no dizziness, but has tinnitus.\n\nFamily history of vertigo.",
    "Neck pain.\nNo\n\ndizziness or vertigo; history of tinnitus but no more neck pain",
    "No complaints. Nothing else.",  # no target at all
]


def _context_pipeline(fast: bool) -> Language:
    from medspacy.context import ConTextRule
    from medspacy.target_matcher import TargetRule

    nlp = spacy.blank("en")
    nlp.tokenizer = create_medspacy_tokenizer(nlp)
    if not fast:
        nlp.add_pipe("docgap_sentences_v1")
    matcher = nlp.add_pipe(
        "docgap_target_matcher_v1" if fast else "medspacy_target_matcher",
        config={"result_type": "ents"},
    )
    matcher.add(
        [TargetRule(t, "SYMPTOM") for t in ("neck pain", "dizziness", "vertigo", "tinnitus")]
    )
    context = nlp.add_pipe(
        "docgap_context_v1" if fast else "medspacy_context",
        config={} if fast else {"rules": None, "span_attrs": None},
    )
    context.add(
        [
            ConTextRule(
                "no more", "NEGATED_EXISTENCE", direction="FORWARD", pattern=r"\bno\s+more\b"
            ),
            ConTextRule("no", "NEGATED_EXISTENCE", direction="FORWARD"),
            ConTextRule("denies", "NEGATED_EXISTENCE", direction="FORWARD"),
            ConTextRule("family history of", "FAMILY", direction="FORWARD"),
            ConTextRule("history of", "HISTORICAL", direction="FORWARD"),
            ConTextRule("but", "CONJ", direction="TERMINATE"),
        ]
    )
    return nlp


@pytest.mark.parametrize("text", CONTEXT_TEXTS)
def test_context_around_targets_gives_the_same_modifiers(text: str) -> None:
    def read(nlp: Language) -> list[tuple]:
        doc = nlp(text)
        return [
            (
                ent.start,
                ent.end,
                ent.sent.start,
                ent.sent.end,
                [(m.category, m.modifier_span, m.scope_span) for m in ent._.modifiers],
            )
            for ent in doc.ents
        ]

    assert read(_context_pipeline(fast=True)) == read(_context_pipeline(fast=False))


def test_a_modifier_reaching_into_a_target_sentence_splits_the_whole_note() -> None:
    doc = _context_pipeline(fast=True)(CONTEXT_TEXTS[0])
    assert doc.user_data["docgap.target_sentences"][1] == [(0, len(doc))]
    assert all(token.is_sent_start is not None for token in doc[1:])


# -- sections without per-token writes ---------------------------------------------------

SECTION_TEXTS = [
    "Intro line.\nHistory: neck pain.\nPast history: none.\nExam: tender.\nPlan: PT",
    "Exam: tender. Plan: adjust. History: none",
    "no titles at all",
]


def _sections(fast: bool, text: str) -> list[tuple]:
    from medspacy.section_detection import SectionRule

    nlp = spacy.blank("en")
    sectionizer = nlp.add_pipe(
        "docgap_sectionizer_v1" if fast else "medspacy_sectionizer",
        config={} if fast else {"rules": None, "span_attrs": None},
    )
    sectionizer.add(
        [
            SectionRule("History:", "history"),
            SectionRule("Past history:", "past", parents=["history"]),
            SectionRule("Exam:", "exam", max_scope=3),
            SectionRule("plan", "plan", pattern=r"(?m)(?:^|(?<=[.;]))\s*plan\s*:"),
        ]
    )
    doc = nlp(text)
    return [
        (
            s.category,
            s.title_start,
            s.title_end,
            s.body_start,
            s.body_end,
            s.parent.category if s.parent is not None else None,
        )
        for s in doc._.sections
    ]


@pytest.mark.parametrize("text", SECTION_TEXTS)
def test_sections_are_those_of_medspacy(text: str) -> None:
    assert _sections(fast=True, text=text) == _sections(fast=False, text=text)


# -- the sentence-scoped ConText graph ---------------------------------------------------


def _graph_result(graph: Any) -> tuple[list, list]:
    """Scopes of every modifier and the edges, as plain tuples, in the graph's order."""
    scopes = [(m.modifier_span, m.scope_span, m.category) for m in graph.modifiers]
    edges = [((t.start, t.end, t.label_), m.modifier_span, m.category) for t, m in graph.edges]
    return scopes, edges


def _both_graphs(
    targets: list, make_modifiers: Callable[[], list], prune: bool = False
) -> tuple[tuple[list, list], tuple[list, list]]:
    results = []
    for graph_class in (ConTextGraph, ScopedConTextGraph):
        graph = graph_class(prune_on_modifier_overlap=prune)
        graph.targets = targets
        graph.modifiers = make_modifiers()
        graph.update_scopes()
        graph.apply_modifiers()
        results.append(_graph_result(graph))
    return results[0], results[1]


def test_scoped_graph_equals_medspacys_on_development_notes(
    reference_analyzer: Analyzer,
) -> None:
    """On the reference pipeline's Docs, per ConText layer: the same scopes and edges."""
    nlp = reference_analyzer.nlp
    layers = [c for name, c in nlp.pipeline if name.startswith("context_")]
    linked = 0
    for _, text in DEV[::4]:
        doc = nlp.make_doc(text)
        for name, component in nlp.pipeline:
            if name.startswith("context_"):
                break
            doc = component(doc)
        targets = list(doc.ents)
        for layer in layers:
            matches = layer._matcher(doc)
            stock, scoped = _both_graphs(
                targets,
                lambda layer=layer, matches=matches, doc=doc: layer._modifiers(doc, matches),
            )
            assert scoped == stock
            linked += len(stock[1])
    assert linked > 100  # the notes did exercise edges


DIRECTIONS = ["FORWARD", "BACKWARD", "BIDIRECTIONAL", "TERMINATE", "PSEUDO"]


@pytest.mark.parametrize("seed", range(40))
def test_scoped_graph_equals_medspacys_on_random_graphs(seed: int) -> None:
    """Overlapping modifiers, spans across sentences, empty scopes, max_scope/max_targets."""
    rng = random.Random(seed)
    vocab = spacy.blank("en").vocab
    n = rng.randint(5, 60)
    starts = [True] + [rng.random() < 0.15 for _ in range(n - 1)]
    doc = Doc(vocab, words=[f"w{i}" for i in range(n)], sent_starts=starts)
    categories = ["NEG", "HIST", "FAM"]
    rules = [
        ConTextRule(
            f"r{i}",
            rng.choice(categories),
            direction=rng.choice(DIRECTIONS),
            max_scope=rng.choice([None, None, 1, 3]),
            max_targets=rng.choice([None, None, 1, 2]),
            terminated_by=set(rng.sample(categories, rng.randint(0, 2))) or None,
            allowed_types=rng.choice([None, {"A"}, {"A", "B"}]),
        )
        for i in range(rng.randint(1, 6))
    ]
    spans = []
    for _ in range(rng.randint(0, 25)):
        start = rng.randrange(n)
        spans.append((rng.choice(rules), start, min(n, start + rng.randint(1, 4))))
    targets = []
    for _ in range(rng.randint(0, 12)):
        start = rng.randrange(n)
        targets.append(Span(doc, start, min(n, start + rng.randint(1, 3)), label=rng.choice("AB")))

    def make() -> list:
        return [ConTextModifier(rule, start, end, doc) for rule, start, end in spans]

    stock, scoped = _both_graphs(targets, make, prune=seed % 5 == 0)
    assert scoped == stock


def test_scoped_graph_cost_is_linear_in_sentences(
    reference_analyzer: Analyzer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mention-dense note 8 times over makes about 8 times the comparisons, not 64."""
    calls = {"n": 0}
    for method in ("modifies", "limit_scope"):
        original = getattr(ConTextModifier, method)

        def counted(self: Any, other: Any, original: Any = original) -> Any:
            calls["n"] += 1
            return original(self, other)

        monkeypatch.setattr(ConTextModifier, method, counted)
    note = (ROOT / "examples" / "notes" / "01-supported-neurology.txt").read_text("utf-8")
    counts = []
    for times in (1, 8):
        calls["n"] = 0
        reference_analyzer.nlp("\n\n".join([note] * times))
        counts.append(calls["n"])
    assert counts[0] > 0
    assert counts[1] <= 8 * counts[0] * 1.2


def test_a_fresh_process_imports_no_heavy_optional_dependency() -> None:
    """Neither QuickUMLS/NLTK/scikit-learn (via medspaCy) nor simple-icd-10-cm at scan time."""
    code = (
        "import sys; from docgap import Analyzer; Analyzer().analyze('Neck pain, no vertigo.');"
        "print(sorted(m for m in ('quickumls', 'nltk', 'sklearn', 'scipy', 'simple_icd_10_cm')"
        " if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_medspacy_quickumls_still_loads_on_demand() -> None:
    """The deferred QuickUMLS module is the real one once an attribute is read."""
    code = (
        "import docgap.nlp.medspacy_parts, medspacy.util, sys;"
        "print('quickumls' in sys.modules);"
        "print(hasattr(medspacy.util.spacy_component, 'SpacyQuickUMLS'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert out.stdout.split() == ["False", "True"]
