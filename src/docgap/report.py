"""The per-note report: the spec's stable keys plus the evidence behind every verdict."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from docgap.schema import REPORT_FIELDS, SEVERITIES, record_of

__all__ = ["SEVERITIES", "STATUSES", "Evidence", "Gap", "NoteReport"]

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
    """One note's verdict. ``to_dict`` gives the JSON Lines record, ``from_dict`` reads it.

    The fields and their forms in every view (JSON, CSV, Arrow, Spark, the service, the
    HTML page) are declared once in :data:`docgap.schema.REPORT_FIELDS`.
    """

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
    # Which docgap, pack and rules decided the verdict (``PROVENANCE_KEYS``); set by the
    # analyzer, None on a record made without one.
    provenance: dict[str, str] | None = None
    # Keys of a record read back that the field table does not know (spec section 5 lets
    # fields be added): kept so a record read and written again loses nothing.
    extra: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def failed(
        cls,
        note_id: str,
        error: str,
        *,
        elements: tuple[str, ...] = (),
        text_length: int = 0,
        warnings: Iterable[str] = (),
        meta: Mapping[str, Any] | None = None,
        provenance: Mapping[str, str] | None = None,
    ) -> NoteReport:
        """A record for a note that could not be analysed (the run goes on).

        The input's warnings and meta stay on it: a failure is still one row per input.
        """
        return cls(
            note_id=note_id,
            status=None,
            would_code=None,
            elements=dict.fromkeys(elements, False),
            chiropractic=False,
            error=error,
            text_length=text_length,
            warnings=list(warnings),
            meta=dict(meta or {}),
            provenance=dict(provenance) if provenance is not None else None,
        )

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> NoteReport:
        """A report from its JSON record (``to_dict``'s inverse), read through the table.

        Raises ``ValueError`` when a key the table requires is missing; keys the table
        does not know are kept in ``extra``.
        """
        missing = [f.name for f in REPORT_FIELDS if f.required and f.name not in record]
        if missing:
            raise ValueError(f"not a docgap report record (needs {', '.join(missing)})")
        known = {f.name for f in REPORT_FIELDS}
        values: dict[str, Any] = {k: record[k] for k in known if k in record}
        values.setdefault("would_code", None)
        values.setdefault("chiropractic", False)
        values["elements"] = dict(values["elements"] or {})
        values["gaps"] = [_gap(g) for g in values.get("gaps") or ()]
        values["evidence"] = [_evidence(e) for e in values.get("evidence") or ()]
        values["warnings"] = list(values.get("warnings") or ())
        values["meta"] = dict(values.get("meta") or {})
        for name in ("code", "query_opportunity", "text_length"):
            if values.get(name) is None:
                values.pop(name, None)  # the field's default
        values["extra"] = {k: v for k, v in record.items() if k not in known}
        return cls(**values)

    @property
    def ok(self) -> bool:
        """Whether the note was analysed."""
        return self.error is None

    def gap_keys(self) -> list[str]:
        """The gaps' machine keys, in report order."""
        return [gap.key for gap in self.gaps]

    def to_dict(self) -> dict[str, Any]:
        """The JSON record: stable keys first (spec section 5), then the extras."""
        record = record_of(self)
        record.update((k, v) for k, v in self.extra.items() if k not in record)
        return record


def _gap(value: Mapping[str, Any]) -> Gap:
    """A gap from its record (its ``codes`` list as a tuple)."""
    return Gap(
        key=str(value["key"]),
        message=str(value.get("message", "")),
        severity=str(value.get("severity", "")),
        codes=tuple(value.get("codes") or ()),
    )


def _evidence(value: Mapping[str, Any]) -> Evidence:
    """A piece of evidence from its record (lists back to tuples)."""
    names = Evidence.__dataclass_fields__
    items = {k: v for k, v in value.items() if k in names}
    items["modifiers"] = tuple(items.get("modifiers") or ())
    items["levels"] = tuple(items.get("levels") or ())
    return Evidence(**items)
