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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from docgap.schema import severity_rank

__all__ = ["WorkItem", "build_worklist", "render_worklist"]

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

    @property
    def label(self) -> str:
        """The status as a specialist reads it (a query downcode says so)."""
        if self.query_opportunity and self.status == "downcode":
            return "downcode (query)"
        return self.status


def _ranked_gaps(gaps: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    listed = [g for g in gaps if isinstance(g, Mapping) and g.get("key")]
    listed.sort(key=lambda g: severity_rank(g.get("severity")))
    return tuple(str(g["key"]) for g in listed)


def _item(order: int, record: Mapping[str, Any]) -> WorkItem:
    status = "error" if record.get("error") else str(record.get("status"))
    query = bool(record.get("query_opportunity"))
    kind = "query" if status == "downcode" and query else status
    return WorkItem(
        rank=_RANKS.index(kind) if kind in _RANKS else len(_RANKS),
        order=order,
        note_id=str(record.get("note_id")),
        status=status,
        would_code=record.get("would_code"),
        query_opportunity=query,
        gaps=_ranked_gaps(record.get("gaps") or ()),
        error=record.get("error"),
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


def render_worklist(
    items: list[WorkItem], total: int, console: Console, *, limit: int | None = None
) -> None:
    """Print the worklist as a table, with a footer saying what was left out."""
    shown = items if limit is None else items[:limit]
    table = Table(
        title=f"CDI worklist: {len(items)} of {total} notes", title_justify="left", expand=False
    )
    table.add_column("#", justify="right")
    table.add_column("note")
    table.add_column("status")
    table.add_column("would code")
    table.add_column("top gaps")
    for n, item in enumerate(shown, start=1):
        gaps = ", ".join(item.gaps[:_TOP_GAPS])
        if len(item.gaps) > _TOP_GAPS:
            gaps += f" (+{len(item.gaps) - _TOP_GAPS})"
        if item.error:
            gaps = item.error
        table.add_row(str(n), item.note_id, item.label, item.would_code or "-", gaps or "-")
    console.print(table)
    if len(shown) < len(items):
        console.print(f"{len(items) - len(shown)} more not shown (raise --limit)")
