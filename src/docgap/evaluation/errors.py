"""Error analysis: each disagreement with gold and its cause, grouped so a change targets a class.

:func:`analyze_errors` turns the (gold note, report) pairs of an evaluation into one record per
element disagreement and one per status disagreement, and groups them by element and kind, by
cause, by section, by assertion and by status transition. The cause is read from the report's
own evidence (docgap explains every verdict), never recomputed:

- a **false positive** (predicted true, gold false) is caused by the mentions that counted: the
  rule that fired, with the concept, section and assertion it fired with;
- a **false negative** (gold true, predicted false) by the mentions that were found and
  rejected, each with its ``reason`` ("assertion: negated", "needs occipital_location", ...),
  or by ``no mention found`` when the rules found nothing.

PHI: a record keeps the evidence spans the report already holds (``text``, offsets, and the raw
``reason``, which can quote the note). The groups hold none of it: a cause there is the reason's
*class*, its quoted words and offsets replaced (:func:`cause_class`), and examples are note ids.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal

from docgap.evaluation.scores import ELEMENTS, GoldNote
from docgap.report import Evidence, NoteReport

__all__ = [
    "COUNTED_NOT_ENOUGH",
    "ERRORS_FORMAT",
    "EXAMPLES_PER_GROUP",
    "FALSE_NEGATIVE",
    "FALSE_POSITIVE",
    "NOT_ANALYSED",
    "NO_COUNTED_MENTION",
    "NO_MENTION",
    "NO_MENTION_KEY",
    "NO_SECTION",
    "ElementError",
    "ErrorAnalysis",
    "MentionCause",
    "StatusError",
    "analyze_errors",
    "cause_class",
]

ERRORS_FORMAT = 1  # bump when a key of ErrorAnalysis.to_dict changes meaning
EXAMPLES_PER_GROUP = 5  # note ids kept per group: enough to open a few, not a second listing

FALSE_POSITIVE: Final = "false_positive"
FALSE_NEGATIVE: Final = "false_negative"
Kind = Literal["false_positive", "false_negative"]

NO_MENTION = "no mention found"
NOT_ANALYSED = "note not analysed"
# A false positive whose element no counted mention explains (the pack decided it otherwise).
NO_COUNTED_MENTION = "no counted mention"
# A false negative whose mentions all counted, yet the element stayed false.
COUNTED_NOT_ENOUGH = "counted mentions did not make the element"
NO_SECTION = "(no section)"  # a mention outside any recognised section
NO_MENTION_KEY = "(no mention)"  # a disagreement with no mention behind it

# Quoted note words ('whiplash', "MVA") and per-note offsets inside a reason: they make every
# reason unique and carry note text, so the class drops them.
_QUOTED = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*\"""")
_OFFSET = re.compile(r"\s*\(offset \d+\)")


def cause_class(reason: str) -> str:
    """The class of a rejection reason: quoted note words become ``…``, offsets go.

    ``attributed to another cause: 'whiplash'`` -> ``attributed to another cause: …``;
    ``resolved later in the note (offset 812)`` -> ``resolved later in the note``.
    """
    return _OFFSET.sub("", _QUOTED.sub("…", reason)).strip()


@dataclass(frozen=True)
class MentionCause:
    """One mention behind a disagreement, as the report's evidence states it."""

    rule: str
    concept: str
    section: str | None
    assertion: str
    counted: bool
    reason: str | None  # raw: may quote the note (it is the report's own text)
    cause: str  # the class grouped on: "rule: <rule>" or the reason's class; no note text
    text: str  # the evidence span, as in the report
    start: int
    end: int


@dataclass(frozen=True)
class ElementError:
    """One element of one note on which docgap and gold disagree."""

    note_id: str
    element: str
    kind: Kind
    causes: tuple[str, ...]  # distinct cause classes, the order they first appear
    mentions: tuple[MentionCause, ...] = ()


@dataclass(frozen=True)
class StatusError:
    """A note whose status differs from gold, with the element disagreements that drove it."""

    note_id: str
    gold: str
    predicted: str
    gold_would_code: str | None
    predicted_would_code: str | None
    elements: dict[str, Kind]  # element -> kind; empty: the elements agree, the rule differs
    error: str | None = None  # why the note was not analysed, when it was not


@dataclass
class ErrorAnalysis:
    """The records and their groupings (``docgap evaluate --errors-json``)."""

    n_notes: int
    element_errors: list[ElementError] = field(default_factory=list)
    status_errors: list[StatusError] = field(default_factory=list)

    def groups(self) -> dict[str, Any]:
        """Counts with example note ids; no note text (causes are classes)."""
        return {
            "by_element": _by_element(self.element_errors),
            "by_cause": _by_cause(self.element_errors),
            "by_section": _by_mention_attr(self.element_errors, "section"),
            "by_assertion": _by_mention_attr(self.element_errors, "assertion"),
            "by_status": _by_status(self.status_errors),
        }

    def to_dict(self) -> dict[str, Any]:
        """The JSON document: ``format``, ``n_notes``, ``totals``, ``records``, ``groups``."""
        kinds = Counter(e.kind for e in self.element_errors)
        return {
            "format": ERRORS_FORMAT,
            "n_notes": self.n_notes,
            "totals": {
                FALSE_POSITIVE: kinds[FALSE_POSITIVE],
                FALSE_NEGATIVE: kinds[FALSE_NEGATIVE],
                "status": len(self.status_errors),
            },
            "records": {
                "elements": [asdict(e) for e in self.element_errors],
                "statuses": [asdict(s) for s in self.status_errors],
            },
            "groups": self.groups(),
        }


def _mention(ev: Evidence, cause: str) -> MentionCause:
    return MentionCause(
        rule=ev.rule,
        concept=ev.concept,
        section=ev.section,
        assertion=ev.assertion,
        counted=ev.counted,
        reason=ev.reason,
        cause=cause,
        text=ev.text,
        start=ev.start,
        end=ev.end,
    )


def _element_error(note_id: str, element: str, kind: Kind, report: NoteReport) -> ElementError:
    """Read the cause of one disagreement from the report's evidence for that element."""
    evidence = [ev for ev in report.evidence if ev.element == element]
    if report.error:
        return ElementError(note_id, element, kind, (NOT_ANALYSED,))
    if kind == FALSE_POSITIVE:
        mentions = tuple(_mention(ev, f"rule: {ev.rule}") for ev in evidence if ev.counted)
        fallback = NO_COUNTED_MENTION
    else:
        mentions = tuple(
            _mention(ev, cause_class(ev.reason or f"assertion: {ev.assertion}"))
            for ev in evidence
            if not ev.counted
        )
        fallback = COUNTED_NOT_ENOUGH if evidence else NO_MENTION
    causes = tuple(dict.fromkeys(m.cause for m in mentions)) or (fallback,)
    return ElementError(note_id, element, kind, causes, mentions)


def analyze_errors(pairs: Iterable[tuple[GoldNote, NoteReport]]) -> ErrorAnalysis:
    """One record per element and per status disagreement, in note order."""
    analysis = ErrorAnalysis(n_notes=0)
    for gold, report in pairs:
        analysis.n_notes += 1
        drove: dict[str, Kind] = {}
        for element in ELEMENTS:
            expected = gold.elements[element]
            predicted = bool(report.elements.get(element, False))
            if expected == predicted:
                continue
            kind: Kind = FALSE_POSITIVE if predicted else FALSE_NEGATIVE
            drove[element] = kind
            analysis.element_errors.append(_element_error(gold.id, element, kind, report))
        predicted_status = report.status or "error"
        if predicted_status != gold.status:
            analysis.status_errors.append(
                StatusError(
                    note_id=gold.id,
                    gold=gold.status,
                    predicted=predicted_status,
                    gold_would_code=gold.would_code,
                    predicted_would_code=report.would_code,
                    elements=drove,
                    error=report.error,
                )
            )
    return analysis


# -- groupings ------------------------------------------------------------------------------
class _Tally:
    """Counts of disagreements under one key, with the first few note ids."""

    def __init__(self) -> None:
        self.count = 0
        self.examples: list[str] = []
        self.breakdown: Counter[str] = Counter()

    def add(self, note_id: str, sub: str | None = None) -> None:
        self.count += 1
        if note_id not in self.examples and len(self.examples) < EXAMPLES_PER_GROUP:
            self.examples.append(note_id)
        if sub is not None:
            self.breakdown[sub] += 1


def _rows(
    tallies: Mapping[tuple[str, ...], _Tally], names: tuple[str, ...], breakdown: str | None
) -> list[dict[str, Any]]:
    """Tallies as rows, most frequent first (ties in key order, so the output is stable)."""
    rows = []
    for key, tally in sorted(tallies.items(), key=lambda kv: (-kv[1].count, kv[0])):
        row: dict[str, Any] = dict(zip(names, key, strict=True))
        row["count"] = tally.count
        if breakdown is not None:
            row[breakdown] = dict(sorted(tally.breakdown.items(), key=lambda kv: (-kv[1], kv[0])))
        row["examples"] = tally.examples
        rows.append(row)
    return rows


def _by_element(errors: list[ElementError]) -> list[dict[str, Any]]:
    """Per element and kind: how many, and their causes (each with count and examples)."""
    totals: dict[tuple[str, ...], _Tally] = defaultdict(_Tally)
    causes: dict[tuple[str, str], dict[tuple[str, ...], _Tally]] = defaultdict(
        lambda: defaultdict(_Tally)
    )
    for e in errors:
        totals[(e.element, e.kind)].add(e.note_id)
        for cause in e.causes:
            causes[(e.element, e.kind)][(cause,)].add(e.note_id)
    rows = _rows(totals, ("element", "kind"), None)
    for row in rows:
        row["causes"] = _rows(causes[(row["element"], row["kind"])], ("cause",), None)
    return rows


def _by_cause(errors: list[ElementError]) -> list[dict[str, Any]]:
    """Per cause class and kind, across elements: the classes a single change could fix."""
    tallies: dict[tuple[str, ...], _Tally] = defaultdict(_Tally)
    for e in errors:
        for cause in e.causes:
            tallies[(cause, e.kind)].add(e.note_id, e.element)
    return _rows(tallies, ("cause", "kind"), "elements")


def _by_mention_attr(errors: list[ElementError], attr: str) -> list[dict[str, Any]]:
    """Per section (or assertion) of the mentions behind each disagreement, counted once each."""
    tallies: dict[tuple[str, ...], _Tally] = defaultdict(_Tally)
    for e in errors:
        values = dict.fromkeys(getattr(m, attr) or NO_SECTION for m in e.mentions)
        for value in values or (NO_MENTION_KEY,):
            tallies[(value, e.kind)].add(e.note_id, e.element)
    return _rows(tallies, (attr, "kind"), "elements")


def _by_status(errors: list[StatusError]) -> list[dict[str, Any]]:
    """Per gold -> predicted transition, with the elements that disagreed in those notes."""
    tallies: dict[tuple[str, ...], _Tally] = defaultdict(_Tally)
    for s in errors:
        tally = tallies[(s.gold, s.predicted)]
        tally.add(s.note_id)
        for element, kind in s.elements.items():
            tally.breakdown[f"{element} ({kind})"] += 1
        if not s.elements:
            tally.breakdown["(no element disagreement)"] += 1
    return _rows(tallies, ("gold", "predicted"), "elements")
