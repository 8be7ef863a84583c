"""`docgap check`: a documentation gate for scribe and EHR pipelines, like a linter.

Each note gets a short verdict (text or JSON) and the run gets one exit code a pipeline can
act on. The codes are part of the public contract:

====  ==========================================================================
code  meaning
====  ==========================================================================
0     every note meets the requirement
2     unusable input: nothing could be read (missing file, unknown format, bad option)
3     at least one note could not be analysed (empty, binary, undecodable, ...);
      this wins over 4, because the gate could not judge every note
4     every note was analysed and at least one falls short of the requirement
====  ==========================================================================

(1 is left to crashes, as Python uses it for an uncaught exception.)

Requirements (``--require``):

``supported``
    The note supports M53.0 as written: status ``supported`` (spec section 3, rule 3).
    Every other status falls short, including ``not_applicable``: gate with this only the
    notes that are meant to carry M53.0.
``not-downcode``
    The note will not be downcoded: any status but ``downcode`` passes. ``at_risk`` passes
    (M53.0 is codable as documented; its gaps are still printed), ``redirect`` passes (the note
    supports a different, more specific code such as M50.1-, M54.12 or M53.1, not a loss of
    specificity), and ``not_applicable`` passes (no cervical problem, nothing to downcode), so
    a pipeline can run every note through it.
``no-required-gaps``
    The note lacks nothing the spec requires: no gap of severity ``required``, whatever the
    status. For a scribe that should finish the note before it is signed: ``recommended``
    and ``optional`` gaps are still printed but do not fail it.

``--confident`` (with any requirement) also fails a note the review model does not vouch
for: one it flags for review (``review: true``), or one with no score because no review
model is loaded, since then nobody has checked the rules' verdict. The verdict says which.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from docgap.report import SEVERITIES, STATUSES, Gap, NoteReport

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_SHORT",
    "EXIT_UNUSABLE",
    "FORMATS",
    "REQUIREMENTS",
    "SHORTFALLS",
    "Gate",
    "check_exit_code",
    "format_verdict",
    "meets",
    "shortfalls",
]

EXIT_OK = 0
EXIT_UNUSABLE = 2
EXIT_FAILED = 3
EXIT_SHORT = 4

# The statuses that pass each requirement (see the module docstring for why).
REQUIREMENTS: dict[str, frozenset[str]] = {
    "supported": frozenset({"supported"}),
    "not-downcode": frozenset(s for s in STATUSES if s != "downcode"),
    # Every status passes on status; the note must have no required gap instead.
    "no-required-gaps": frozenset(STATUSES),
}
_GAP_REQUIREMENTS = frozenset({"no-required-gaps"})

# Why a note falls short, as the JSON verdict's ``shortfalls`` names them, and as text.
SHORTFALLS: dict[str, str] = {
    "status": "status does not meet the requirement",
    "required_gap": "lacks a required element",
    "flagged_for_review": "not confident: the review model flags it for review",
    "no_model_score": "not confident: no review score (no review model loaded)",
}
FORMATS = ("text", "json")


def _passing(require: str) -> frozenset[str]:
    try:
        return REQUIREMENTS[require]
    except KeyError:
        raise ValueError(
            f"unknown requirement {require!r}; choose from {', '.join(REQUIREMENTS)}"
        ) from None


def shortfalls(
    report: NoteReport, require: str = "supported", *, confident: bool = False
) -> list[str]:
    """Why an analysed note falls short of ``require`` (keys of ``SHORTFALLS``); [] if it meets.

    A failed note is not judged here (it has no status to judge): see :func:`meets`.
    """
    found: list[str] = []
    if report.status not in _passing(require):
        found.append("status")
    if require in _GAP_REQUIREMENTS and any(g.severity == "required" for g in report.gaps):
        found.append("required_gap")
    if confident:
        if report.score is None:
            found.append("no_model_score")
        elif report.review:
            found.append("flagged_for_review")
    return found


def meets(report: NoteReport, require: str = "supported", *, confident: bool = False) -> bool:
    """Whether an analysed note meets ``require`` (a failed note never does)."""
    return report.ok and not shortfalls(report, require, confident=confident)


@dataclass
class Gate:
    """Counts verdicts as reports stream past, so a long run keeps no reports in memory."""

    require: str = "supported"
    confident: bool = False
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        _passing(self.require)  # fail early on an unknown requirement

    def add(self, report: NoteReport) -> bool:
        """Record one note's verdict; True when it meets the requirement."""
        if not report.ok:
            self.counts["failed"] += 1
            return False
        passed = meets(report, self.require, confident=self.confident)
        self.counts["passed" if passed else "short"] += 1
        return passed

    @property
    def total(self) -> int:
        """How many notes were checked."""
        return sum(self.counts.values())

    @property
    def exit_code(self) -> int:
        """The run's exit code so far (see the module docstring)."""
        if self.total == 0:
            return EXIT_UNUSABLE
        if self.counts["failed"]:
            return EXIT_FAILED
        if self.counts["short"]:
            return EXIT_SHORT
        return EXIT_OK

    def summary(self) -> str:
        """One line for standard error: how many notes passed, fell short, failed."""
        flags = f"--require {self.require}" + (" --confident" if self.confident else "")
        parts = [f"{self.counts['passed']} of {self.total} notes meet {flags}"]
        if self.counts["short"]:
            parts.append(f"{self.counts['short']} fall short")
        if self.counts["failed"]:
            parts.append(f"{self.counts['failed']} could not be analysed")
        return "; ".join(parts) + f" (exit {self.exit_code})"


def check_exit_code(
    reports: Iterable[NoteReport], require: str = "supported", *, confident: bool = False
) -> int:
    """The gate's exit code for a set of reports (see the table in the module docstring)."""
    gate = Gate(require, confident)
    for report in reports:
        gate.add(report)
    return gate.exit_code


def _headline_gap(gaps: list[Gap]) -> Gap | None:
    """The gap to show a person first: the most severe, in the report's own order."""
    for severity in SEVERITIES:
        for gap in gaps:
            if gap.severity == severity:
                return gap
    return gaps[0] if gaps else None


def _text_verdict(report: NoteReport, require: str, confident: bool) -> str:
    if not report.ok:
        return f"ERROR {report.note_id}: could not be analysed: {report.error}"
    why = shortfalls(report, require, confident=confident)
    passed = not why
    code = report.would_code or "no code"
    if report.would_code_description:
        code += f" ({report.would_code_description})"
    head = f"{'PASS' if passed else 'FAIL'} {report.note_id}: {report.status}, {code}"
    if report.gaps:
        keys = (f"{g.key} (required)" if g.severity == "required" else g.key for g in report.gaps)
        head += f"; gaps: {', '.join(keys)}"
    for key in ("flagged_for_review", "no_model_score"):  # status and gaps are shown above
        if key in why:
            head += f"; {SHORTFALLS[key]}"
    gap = _headline_gap(report.gaps)
    if gap is None or (passed and gap.severity != "required"):
        return head
    return f"{head}\n  {gap.message}"


def format_verdict(
    report: NoteReport, fmt: str = "text", *, require: str = "supported", confident: bool = False
) -> str:
    """One note's verdict: one or two lines of text, or one JSON line.

    Text: ``PASS|FAIL|ERROR note_id: status, would-code; gaps`` (required ones marked) and,
    when the note falls short or lacks a required element, the most important gap's message
    on a second line; with ``confident``, a note the model does not vouch for says why on the
    first. JSON: the scan record (``NoteReport.to_dict()``) plus ``require``, ``confident``,
    ``meets`` and ``shortfalls`` (keys of ``SHORTFALLS``; [] for a failed note, whose
    ``error`` says why). Neither carries more of the note than ``scan`` reports as evidence.
    """
    _passing(require)
    if fmt == "text":
        return _text_verdict(report, require, confident)
    if fmt == "json":
        why = shortfalls(report, require, confident=confident) if report.ok else []
        record = report.to_dict() | {
            "require": require,
            "confident": confident,
            "meets": report.ok and not why,
            "shortfalls": why,
        }
        return json.dumps(record, ensure_ascii=False)
    raise ValueError(f"unknown verdict format {fmt!r}; choose from {', '.join(FORMATS)}")
