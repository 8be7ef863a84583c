"""Reports as a pandas table, and one note shown with its evidence highlighted (notebooks).

``docgap.to_frame(reports)`` is the researcher's entry point: one row per note, each element
a boolean column, the gap keys joined in one column, so ``groupby``/``value_counts`` work at
once. :func:`show_note` renders one note's text with every piece of evidence marked (counted
mentions solid, discounted ones struck through with the reason on hover); it returns an
object Jupyter displays as HTML, without importing IPython (plain Python prints the HTML).

pandas is imported when :func:`to_frame` is called, so ``import docgap`` stays cheap.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from docgap.report import NoteReport

__all__ = ["NOTE_COLUMNS", "NoteHTML", "show_note", "to_frame"]

# Scalar columns in this order, then one column per element, then the gaps, then meta keys.
NOTE_COLUMNS = (
    "note_id",
    "status",
    "would_code",
    "code",
    "chiropractic",
    "query_opportunity",
    "score",
    "review",
    "error",
    "text_length",
)
GAP_SEPARATOR = "; "


def _record(report: NoteReport | Mapping[str, Any]) -> Mapping[str, Any]:
    to_dict = getattr(report, "to_dict", None)
    return to_dict() if callable(to_dict) else report  # type: ignore[return-value]


def to_frame(reports: Iterable[NoteReport | Mapping[str, Any]]) -> pd.DataFrame:
    """One row per note: verdict columns, a boolean column per element, ``gaps`` joined.

    ``reports`` are :class:`~docgap.report.NoteReport` objects or the records
    ``docgap scan`` writes (``docgap.outputs.writers.read_reports``). Elements a record
    does not state (a note that could not be analysed) are ``<NA>``; ``gaps`` holds the gap
    keys joined with ``"; "`` and ``n_gaps`` their count; ``meta`` keys (other input columns)
    follow as columns of their own unless they would shadow a report column.
    """
    import pandas as pd

    records = [_record(r) for r in reports]
    elements: dict[str, None] = {}
    for record in records:
        elements.update(dict.fromkeys(record.get("elements") or {}))
    rows = []
    for record in records:
        own = record.get("elements") or {}
        keys = [str(g.get("key")) for g in record.get("gaps") or ()]
        row: dict[str, Any] = {column: record.get(column) for column in NOTE_COLUMNS}
        row |= {e: own.get(e, pd.NA) for e in elements}
        row |= {"gaps": GAP_SEPARATOR.join(keys), "n_gaps": len(keys)}
        row["n_evidence"] = len(record.get("evidence") or ())
        for key, value in (record.get("meta") or {}).items():
            row.setdefault(str(key), value)
        rows.append(row)
    base = [*NOTE_COLUMNS, *elements, "gaps", "n_gaps", "n_evidence"]
    frame = pd.DataFrame(rows, columns=base + [c for r in rows for c in r if c not in base])
    frame = frame.loc[:, ~frame.columns.duplicated()]
    for element in elements:
        frame[element] = frame[element].astype("boolean")
    return frame


@dataclass(frozen=True)
class NoteHTML:
    """HTML that Jupyter displays (``_repr_html_``) and plain Python prints."""

    html: str

    def _repr_html_(self) -> str:
        return self.html

    def __str__(self) -> str:
        return self.html


_STYLE = (
    "<style>.dg-note{white-space:pre-wrap;font-family:ui-monospace,monospace;"
    "line-height:1.5;border:1px solid #ccc;padding:.6em}"
    ".dg-note mark{background:#fde68a;border-radius:2px;padding:0 1px}"
    ".dg-note mark.dg-off{background:#e5e7eb;text-decoration:line-through}"
    ".dg-note sub{font-size:.7em;color:#555}</style>"
)


def _spans(evidence: Iterable[Mapping[str, Any]], length: int) -> list[Mapping[str, Any]]:
    """Evidence in text order, without overlaps (the longer of two overlapping wins)."""
    ordered = sorted(
        (e for e in evidence if 0 <= int(e["start"]) < int(e["end"]) <= length),
        key=lambda e: (int(e["start"]), -int(e["end"])),
    )
    kept: list[Mapping[str, Any]] = []
    for item in ordered:
        if kept and int(item["start"]) < int(kept[-1]["end"]):
            continue
        kept.append(item)
    return kept


def show_note(report: NoteReport | Mapping[str, Any], text: str) -> NoteHTML:
    """One note's text with its evidence highlighted, and its verdict above it.

    ``text`` is the note as analysed (reports hold offsets, not text). Counted mentions are
    highlighted; mentions that did not count (negated, historical, ...) are greyed and
    struck through; hovering shows the element, assertion and reason.
    """
    record = _record(report)
    parts = [_STYLE]
    status = html.escape(str(record.get("status") or "error"))
    code = html.escape(str(record.get("would_code") or "-"))
    gaps = ", ".join(html.escape(str(g.get("key"))) for g in record.get("gaps") or ())
    parts.append(
        f"<p><b>{html.escape(str(record.get('note_id')))}</b>: {status}, would code "
        f"{code}{'; gaps: ' + gaps if gaps else ''}</p><div class='dg-note'>"
    )
    cursor = 0
    for item in _spans(record.get("evidence") or (), len(text)):
        start, end = int(item["start"]), int(item["end"])
        parts.append(html.escape(text[cursor:start]))
        why = f" ({item['reason']})" if item.get("reason") else ""
        title = html.escape(f"{item['element']}: {item.get('assertion')}{why}", quote=True)
        css = "" if item.get("counted") else " class='dg-off'"
        parts.append(
            f"<mark{css} title='{title}'>{html.escape(text[start:end])}</mark>"
            f"<sub>{html.escape(str(item['element']))}</sub>"
        )
        cursor = end
    parts.append(html.escape(text[cursor:]) + "</div>")
    return NoteHTML("".join(parts))
