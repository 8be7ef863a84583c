"""The per-note report: the spec's stable keys plus the evidence behind every verdict."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["STATUSES", "Evidence", "Gap", "NoteReport"]

STATUSES: tuple[str, ...] = ("supported", "at_risk", "downcode", "redirect", "not_applicable")


@dataclass(frozen=True)
class Evidence:
    """A mention that was found, whether it counted, and why."""

    element: str
    label: str
    concept: str
    text: str
    start: int
    end: int
    section: str | None
    assertion: str
    counted: bool
    reason: str | None
    rule: str
    modifiers: tuple[dict[str, Any], ...] = ()
    levels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Gap:
    """Something the chart lacks, with a stable machine key and a message for people."""

    key: str
    message: str
    severity: str
    codes: tuple[str, ...] = ()


@dataclass
class NoteReport:
    """One note's verdict. ``to_dict`` gives the JSON Lines record."""

    note_id: str
    status: str | None
    would_code: str | None
    elements: dict[str, bool]
    chiropractic: bool
    gaps: list[Gap] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    code: str = "M53.0"
    would_code_description: str | None = None
    query_opportunity: bool = False
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    text_length: int = 0
    meta: dict[str, Any] = field(default_factory=dict)
    # The review model's view (null when no model is loaded or the note failed).
    score: float | None = None
    review: bool | None = None
    status_probabilities: dict[str, float] | None = None
    top_features: list[dict[str, Any]] | None = None

    @classmethod
    def failed(
        cls, note_id: str, error: str, *, elements: tuple[str, ...] = (), text_length: int = 0
    ) -> NoteReport:
        """A record for a note that could not be analysed (the run goes on)."""
        return cls(
            note_id=note_id,
            status=None,
            would_code=None,
            elements=dict.fromkeys(elements, False),
            chiropractic=False,
            error=error,
            text_length=text_length,
        )

    @property
    def ok(self) -> bool:
        """Whether the note was analysed."""
        return self.error is None

    def gap_keys(self) -> list[str]:
        """The gaps' machine keys, in report order."""
        return [gap.key for gap in self.gaps]

    def to_dict(self) -> dict[str, Any]:
        """The JSON record: stable keys first (spec section 5), then the extras."""
        record: dict[str, Any] = {
            "note_id": self.note_id,
            "status": self.status,
            "would_code": self.would_code,
            "elements": dict(self.elements),
            "chiropractic": self.chiropractic,
            "gaps": [asdict(g) | {"codes": list(g.codes)} for g in self.gaps],
            "evidence": [
                asdict(e) | {"modifiers": list(e.modifiers), "levels": list(e.levels)}
                for e in self.evidence
            ],
            "code": self.code,
            "would_code_description": self.would_code_description,
            "query_opportunity": self.query_opportunity,
            "score": self.score,
            "review": self.review,
            "status_probabilities": self.status_probabilities,
            "top_features": self.top_features,
            "text_length": self.text_length,
        }
        if self.warnings:
            record["warnings"] = list(self.warnings)
        if self.meta:
            record["meta"] = dict(self.meta)
        if self.error is not None:
            record["error"] = self.error
        return record
