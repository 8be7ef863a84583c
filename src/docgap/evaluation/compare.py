"""Compare two runs of docgap note by note: what a rule or model change did to the verdicts.

Reads two sets of report records (as ``docgap scan`` writes them) and lists, for each note in
both, whether its status, would-code or elements changed, plus the notes only one run has.
Nothing is re-analysed: the records are compared as written. Note ids are compared as strings;
note text is never read (reports do not hold it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CompareError", "Comparison", "NoteChange", "compare_reports"]

FAILED = "error"  # the status shown for a record that could not be analysed


class CompareError(ValueError):
    """Two report sets that cannot be compared (a duplicated note id)."""


@dataclass(frozen=True)
class NoteChange:
    """How one note's verdict differs between run A and run B."""

    note_id: str
    status: tuple[str, str] | None = None
    would_code: tuple[str | None, str | None] | None = None
    elements_gained: tuple[str, ...] = ()  # false in A, true in B
    elements_lost: tuple[str, ...] = ()  # true in A, false in B

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``docgap compare --format json``)."""
        record: dict[str, Any] = {"note_id": self.note_id}
        if self.status:
            record["status"] = {"a": self.status[0], "b": self.status[1]}
        if self.would_code:
            record["would_code"] = {"a": self.would_code[0], "b": self.would_code[1]}
        if self.elements_gained or self.elements_lost:
            record["elements"] = {
                "gained": list(self.elements_gained),
                "lost": list(self.elements_lost),
            }
        return record


@dataclass
class Comparison:
    """The differences between two runs."""

    in_both: int
    changed: list[NoteChange] = field(default_factory=list)
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)
    transitions: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def unchanged(self) -> int:
        """Notes in both runs with the same status, would-code and elements."""
        return self.in_both - len(self.changed)

    def counts(self) -> dict[str, int]:
        """How many notes changed each kind of field."""
        return {
            "status": sum(1 for c in self.changed if c.status),
            "would_code": sum(1 for c in self.changed if c.would_code),
            "elements": sum(1 for c in self.changed if c.elements_gained or c.elements_lost),
        }

    def to_dict(self) -> dict[str, Any]:
        """The machine-readable comparison."""
        return {
            "in_both": self.in_both,
            "unchanged": self.unchanged,
            "changed": self.counts(),
            "only_a": self.only_a,
            "only_b": self.only_b,
            "status_transitions": [
                {"a": a, "b": b, "notes": n} for (a, b), n in sorted(self.transitions.items())
            ],
            "notes": [c.to_dict() for c in self.changed],
        }


def _by_id(records: Iterable[Mapping[str, Any]], label: str) -> dict[str, Mapping[str, Any]]:
    by_id: dict[str, Mapping[str, Any]] = {}
    for record in records:
        note_id = str(record.get("note_id"))
        if note_id in by_id:
            raise CompareError(f"run {label} has note_id {note_id!r} twice")
        by_id[note_id] = record
    return by_id


def _status(record: Mapping[str, Any]) -> str:
    return FAILED if record.get("error") else str(record.get("status"))


def _true_elements(record: Mapping[str, Any]) -> set[str]:
    elements = record.get("elements") or {}
    return {name for name, value in elements.items() if value is True}


def _change(note_id: str, a: Mapping[str, Any], b: Mapping[str, Any]) -> NoteChange | None:
    status = (_status(a), _status(b))
    code = (a.get("would_code"), b.get("would_code"))
    in_a, in_b = _true_elements(a), _true_elements(b)
    change = NoteChange(
        note_id=note_id,
        status=status if status[0] != status[1] else None,
        would_code=code if code[0] != code[1] else None,
        elements_gained=tuple(sorted(in_b - in_a)),
        elements_lost=tuple(sorted(in_a - in_b)),
    )
    changed = change.status or change.would_code or change.elements_gained or change.elements_lost
    return change if changed else None


def compare_reports(a: Iterable[Mapping[str, Any]], b: Iterable[Mapping[str, Any]]) -> Comparison:
    """Compare run A with run B, note by note (in A's order, then B's new notes)."""
    runs_a, runs_b = _by_id(a, "A"), _by_id(b, "B")
    both = [note_id for note_id in runs_a if note_id in runs_b]
    comparison = Comparison(
        in_both=len(both),
        only_a=[note_id for note_id in runs_a if note_id not in runs_b],
        only_b=[note_id for note_id in runs_b if note_id not in runs_a],
    )
    for note_id in both:
        change = _change(note_id, runs_a[note_id], runs_b[note_id])
        if change is not None:
            comparison.changed.append(change)
            if change.status:
                comparison.transitions[change.status] += 1
    return comparison
