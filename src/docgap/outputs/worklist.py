"""The CDI worklist: which scanned notes a documentation specialist should act on first.

It reads the verdicts a scan already wrote (status, query opportunity, gaps) and only
orders and shows them; nothing is re-analysed. Priority, most urgent first:

1. ``at_risk`` notes (M53.0 documented but vulnerable on audit), then ``downcode`` notes
   that are query opportunities (the picture may be the syndrome: a compliant query);
2. ``redirect`` notes (the note supports another code);
3. other ``downcode`` notes;
4. with ``--all`` only: notes that could not be analysed, then ``supported`` and
   ``not_applicable`` notes.

Within a tier, notes keep their report order.

Each item carries what assigning and sorting the work needs: the note's ``meta`` (patient,
encounter, date of service, provider, payer: whatever columns or FHIR fields the input
carried), its review score and flag, and its gaps as keys and as the messages a specialist
reads. :func:`render_worklist` prints a table; :func:`write_worklist` writes CSV (one row
per note, meta keys as columns: what a spreadsheet opens) or JSON (an array of objects).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from docgap.outputs.sanitize import clean_value
from docgap.schema import severity_rank

__all__ = [
    "WORKLIST_COLUMNS",
    "WORKLIST_FORMATS",
    "WorkItem",
    "build_worklist",
    "meta_columns",
    "render_worklist",
    "worklist_row",
    "write_worklist",
]

WORKLIST_FORMATS = ("table", "csv", "json")
# The CSV's fixed columns; meta columns follow (one per meta key, in first-seen order).
WORKLIST_COLUMNS = (
    "priority",
    "note_id",
    "status",
    "would_code",
    "query_opportunity",
    "score",
    "review",
    "gaps",
    "gap_messages",
    "error",
)
_CSV_SEP = " | "  # between gap keys and between messages (messages may hold ';' and ',')

_TOP_GAPS = 3
# Sort rank by kind of note (the module docstring's tiers, at_risk before query downcodes).
_RANKS = ("at_risk", "query", "redirect", "downcode", "error", "supported", "not_applicable")
_LAST_ACTIONABLE = _RANKS.index("downcode")  # ranks after this are shown only with --all


@dataclass(frozen=True)
class WorkItem:
    """One row of the worklist."""

    rank: int
    order: int  # position in the report, to keep the sort stable
    note_id: str
    status: str
    would_code: str | None
    query_opportunity: bool
    gaps: tuple[str, ...]  # the gap keys, most severe first
    error: str | None = None
    gap_messages: tuple[str, ...] = ()  # the gaps' messages, in the order of ``gaps``
    score: float | None = None
    review: bool | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The status as a specialist reads it (a query downcode says so)."""
        if self.query_opportunity and self.status == "downcode":
            return "downcode (query)"
        return self.status


def _ranked_gaps(gaps: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    listed = [g for g in gaps if isinstance(g, Mapping) and g.get("key")]
    listed.sort(key=lambda g: severity_rank(g.get("severity")))
    return listed


def _score(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _review(value: Any) -> bool | None:
    if isinstance(value, Mapping):
        value = value.get("flag", value.get("review"))
    return None if value is None else bool(value)


def _item(order: int, record: Mapping[str, Any]) -> WorkItem:
    status = "error" if record.get("error") else str(record.get("status"))
    query = bool(record.get("query_opportunity"))
    kind = "query" if status == "downcode" and query else status
    gaps = _ranked_gaps(record.get("gaps") or ())
    meta = record.get("meta")
    return WorkItem(
        rank=_RANKS.index(kind) if kind in _RANKS else len(_RANKS),
        order=order,
        note_id=str(record.get("note_id")),
        status=status,
        would_code=record.get("would_code"),
        query_opportunity=query,
        gaps=tuple(str(g["key"]) for g in gaps),
        error=record.get("error"),
        gap_messages=tuple(str(g.get("message") or g["key"]) for g in gaps),
        score=_score(record.get("score")),
        review=_review(record.get("review")),
        meta=dict(meta) if isinstance(meta, Mapping) else {},
    )


def build_worklist(
    records: Iterable[Mapping[str, Any]], *, include_all: bool = False
) -> tuple[list[WorkItem], int]:
    """The notes to act on, in priority order, and how many records were read in all."""
    items = [_item(i, r) for i, r in enumerate(records)]
    total = len(items)
    if not include_all:
        items = [it for it in items if it.rank <= _LAST_ACTIONABLE]
    items.sort(key=lambda it: (it.rank, it.order))
    return items, total


def meta_columns(items: Iterable[WorkItem]) -> list[str]:
    """Every meta key the items carry, in first-seen order (the worklist's extra columns)."""
    return list(dict.fromkeys(key for item in items for key in item.meta))


def _meta_column(key: str) -> str:
    """A meta key as a column name that cannot replace a fixed column."""
    return f"meta_{key}" if key in WORKLIST_COLUMNS else key


def _cell(value: Any) -> Any:
    value = clean_value(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, allow_nan=False, default=str)
    return value


def worklist_row(priority: int, item: WorkItem, meta_keys: Sequence[str] = ()) -> dict[str, Any]:
    """One item as a flat row keyed by ``WORKLIST_COLUMNS`` and the meta columns."""
    row: dict[str, Any] = {
        "priority": priority,
        "note_id": item.note_id,
        "status": item.label,
        "would_code": item.would_code,
        "query_opportunity": item.query_opportunity,
        "score": item.score,
        "review": item.review,
        "gaps": _CSV_SEP.join(item.gaps),
        "gap_messages": _CSV_SEP.join(item.gap_messages),
        "error": item.error,
    }
    row.update((_meta_column(k), _cell(item.meta.get(k))) for k in meta_keys)
    return row


def _csv_text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def write_worklist(
    items: Sequence[WorkItem], handle: IO[str], fmt: str, *, limit: int | None = None
) -> int:
    """Write the first ``limit`` items as ``csv`` or ``json``; returns how many were written.

    CSV: ``WORKLIST_COLUMNS`` then one column per meta key; gaps and their messages joined
    by `` | ``. JSON: an array of objects with ``gaps`` as ``[{key, message}]`` and ``meta``
    nested. NaN/Infinity are written as null (strict JSON), as the report writers do.
    """
    shown = list(items if limit is None else items[:limit])
    if fmt == "csv":
        keys = meta_columns(shown)
        columns = [*WORKLIST_COLUMNS, *(_meta_column(k) for k in keys)]
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for n, item in enumerate(shown, start=1):
            row = worklist_row(n, item, keys)
            writer.writerow({k: _csv_text(clean_value(v)) for k, v in row.items()})
    elif fmt == "json":
        objects = [
            {
                "priority": n,
                "note_id": item.note_id,
                "status": item.status,
                "label": item.label,
                "would_code": item.would_code,
                "query_opportunity": item.query_opportunity,
                "score": item.score,
                "review": item.review,
                "gaps": [
                    {"key": k, "message": m}
                    for k, m in zip(item.gaps, item.gap_messages, strict=False)
                ],
                "error": item.error,
                "meta": dict(item.meta),
            }
            for n, item in enumerate(shown, start=1)
        ]
        json.dump(clean_value(objects), handle, ensure_ascii=False, allow_nan=False, default=str)
        handle.write("\n")
    else:
        raise ValueError(f"unknown worklist format {fmt!r}; choose csv or json")
    return len(shown)


def render_worklist(
    items: list[WorkItem], total: int, console: Console, *, limit: int | None = None
) -> None:
    """Print the worklist as a table, with a footer saying what was left out.

    The note's meta (patient, encounter, date, provider, payer...) follows the note id.
    """
    shown = items if limit is None else items[:limit]
    keys = meta_columns(shown)
    table = Table(
        title=f"CDI worklist: {len(items)} of {total} notes", title_justify="left", expand=False
    )
    table.add_column("#", justify="right")
    table.add_column("note")
    for key in keys:
        table.add_column(key.replace("_", " "))
    table.add_column("status")
    table.add_column("would code")
    table.add_column("top gaps")
    for n, item in enumerate(shown, start=1):
        gaps = ", ".join(item.gaps[:_TOP_GAPS])
        if len(item.gaps) > _TOP_GAPS:
            gaps += f" (+{len(item.gaps) - _TOP_GAPS})"
        if item.error:
            gaps = item.error
        meta = [Text(_table_text(item.meta.get(k))) for k in keys]  # not markup
        table.add_row(str(n), item.note_id, *meta, item.label, item.would_code or "-", gaps or "-")
    console.print(table)
    if len(shown) < len(items):
        console.print(f"{len(items) - len(shown)} more not shown (raise --limit)")


def _table_text(value: Any) -> str:
    value = _cell(value)
    return "-" if value is None or value == "" else str(value)
