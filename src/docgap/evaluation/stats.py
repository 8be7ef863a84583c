"""Coverage statistics over scanned notes, for researchers: ``docgap stats``.

From the reports a scan wrote (nothing is re-analysed): how often each element is affirmed
and how its evidence was asserted, the status distribution and the most frequent gaps,
overall and, with a grouping column (a ``meta`` key such as ``specialty``), per group.
The figures are pandas data frames; they print as tables and save as CSV (one tidy
long table) or JSON.

Shares of statuses are over all notes; shares of elements and gaps are over the notes that
were analysed (a failed note has no elements).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from docgap.report import STATUSES

__all__ = ["ALL", "ERROR", "NO_GROUP", "CorpusStats", "group_of", "render_stats"]

ALL = "all"  # the group name of the whole corpus
ERROR = "error"  # the status column of a note that could not be analysed
NO_GROUP = "(none)"  # the group of a note without the grouping column
CHIROPRACTIC = "chiropractic"  # a report flag counted beside the elements
_LONG_COLUMNS = ["group", "table", "key", "measure", "value"]


def group_of(record: Mapping[str, Any], column: str) -> str:
    """The value of ``column`` for a report: a ``meta`` key first, else a top-level scalar."""
    meta = record.get("meta") or {}
    value = meta.get(column) if isinstance(meta, Mapping) else None
    if value is None and not isinstance(record.get(column), (dict, list)):
        value = record.get(column)
    if value is None or (isinstance(value, str) and not value.strip()):
        return NO_GROUP
    return str(value).strip()


def _share(count: float, total: int) -> float:
    return round(float(count) / total, 4) if total else 0.0


@dataclass
class CorpusStats:
    """Tidy frames of a set of reports, and the tables computed from them."""

    notes: pd.DataFrame  # note_id, group, status, one bool column per element
    evidence: pd.DataFrame  # note_id, group, element, assertion, counted
    gaps: pd.DataFrame  # note_id, group, key (one row per note and gap key)
    elements: tuple[str, ...]
    group_by: str | None = None
    top: int = 10

    @classmethod
    def from_records(
        cls, records: Iterable[Mapping[str, Any]], *, group_by: str | None = None, top: int = 10
    ) -> CorpusStats:
        """Keep what the statistics need from each report (no note or evidence text)."""
        notes: list[dict[str, Any]] = []
        evidence: list[tuple[str, str, str, str, bool]] = []
        gaps: list[tuple[str, str, str]] = []
        elements: dict[str, None] = {}
        for record in records:
            note_id = str(record.get("note_id"))
            group = group_of(record, group_by) if group_by else ALL
            failed = bool(record.get("error"))
            flags = {str(k): bool(v) for k, v in (record.get("elements") or {}).items()}
            elements.update(dict.fromkeys(flags))
            flags[CHIROPRACTIC] = bool(record.get(CHIROPRACTIC))
            status = ERROR if failed else str(record.get("status"))
            notes.append({"note_id": note_id, "group": group, "status": status, **flags})
            for ev in record.get("evidence") or ():
                evidence.append(
                    (note_id, group, str(ev.get("element")), str(ev.get("assertion")),
                     bool(ev.get("counted")))
                )
            for key in dict.fromkeys(str(g.get("key")) for g in record.get("gaps") or ()):
                gaps.append((note_id, group, key))
        names = (*elements, CHIROPRACTIC)
        notes_df = pd.DataFrame(notes, columns=["note_id", "group", "status", *names])
        notes_df[list(names)] = notes_df[list(names)].fillna(False).astype(bool)
        return cls(
            notes=notes_df,
            evidence=pd.DataFrame(
                evidence, columns=["note_id", "group", "element", "assertion", "counted"]
            ),
            gaps=pd.DataFrame(gaps, columns=["note_id", "group", "key"]),
            elements=names,
            group_by=group_by,
            top=top,
        )

    # -- tables ---------------------------------------------------------------------
    @property
    def groups(self) -> list[str]:
        """The groups, largest first (only ``all`` without a grouping column)."""
        if not self.group_by:
            return []
        return self.notes["group"].value_counts().index.tolist()

    def _subset(self, frame: pd.DataFrame, group: str | None) -> pd.DataFrame:
        return frame if group in (None, ALL) else frame[frame["group"] == group]

    def status_table(self, group: str | None = None) -> pd.DataFrame:
        """Notes per status (and share of all notes), in the spec's order, errors last."""
        notes = self._subset(self.notes, group)
        counts = notes["status"].value_counts()
        order = [*STATUSES, ERROR, *sorted(set(counts.index) - {*STATUSES, ERROR})]
        table = pd.DataFrame({"notes": counts.reindex(order, fill_value=0).astype(int)})
        table["share"] = [_share(n, len(notes)) for n in table["notes"]]
        table.index.name = "status"
        return table

    def element_table(self, group: str | None = None) -> pd.DataFrame:
        """Per element: notes affirmed (and share of analysed notes), evidence by assertion.

        Rows and columns are the same for every group: every element and every assertion
        found anywhere in the corpus (the most frequent assertion first).
        """
        notes = self._subset(self.notes, group)
        analysed = notes[notes["status"] != ERROR]
        # Elements seen only in evidence (e.g. an alternative cause) come after the report's.
        rows = [*self.elements, *sorted(set(self.evidence["element"]) - set(self.elements))]
        table = pd.DataFrame(index=pd.Index(rows, name="element"))
        table["notes_affirmed"] = [
            int(analysed[e].sum()) if e in analysed else 0 for e in table.index
        ]
        table["share"] = [_share(n, len(analysed)) for n in table["notes_affirmed"]]
        evidence = self._subset(self.evidence, group)
        counted = evidence[evidence["counted"].astype(bool)].groupby("element").size()
        table["evidence_counted"] = counted.reindex(table.index, fill_value=0).astype(int)
        assertions = self.evidence["assertion"].value_counts().index
        by_assertion = pd.crosstab(evidence["element"], evidence["assertion"]).reindex(
            index=table.index, columns=assertions, fill_value=0
        )
        for assertion in assertions:
            table[f"evidence_{assertion}"] = by_assertion[assertion].astype(int)
        return table

    def gap_table(self, group: str | None = None) -> pd.DataFrame:
        """The ``top`` most frequent gap keys: notes with the gap, share of analysed notes."""
        notes = self._subset(self.notes, group)
        n_analysed = int((notes["status"] != ERROR).sum())
        counts = self._subset(self.gaps, group)["key"].value_counts().head(self.top)
        table = pd.DataFrame({"notes": counts.astype(int)})
        table["share"] = [_share(n, n_analysed) for n in table["notes"]]
        table.index.name = "gap"
        return table

    def by_group(self, measure: str) -> pd.DataFrame:
        """One measure as rows (in the overall table's order) x groups.

        ``status``: notes; ``element``: share affirmed; ``gap``: notes, for the overall top
        gaps, counted in full in every group (a group's own top may differ).
        """
        if measure == "gap":
            rows = self.gap_table().index
            counts = pd.crosstab(self.gaps["key"], self.gaps["group"])
            frame = counts.reindex(index=rows, columns=self.groups, fill_value=0)
        elif measure in ("status", "element"):
            table, column = (
                (self.status_table, "notes")
                if measure == "status"
                else (self.element_table, "share")
            )
            frame = pd.DataFrame(
                {g: table(g)[column] for g in self.groups}, index=table(None).index
            ).fillna(0)
        else:
            raise ValueError(f"unknown measure {measure!r}; choose status, element or gap")
        frame.index.name = measure
        return frame

    # -- output ---------------------------------------------------------------------
    def _section(self, group: str | None) -> dict[str, Any]:
        notes = self._subset(self.notes, group)
        return {
            "notes": len(notes),
            "errors": int((notes["status"] == ERROR).sum()),
            "status": self.status_table(group).to_dict(orient="index"),
            "elements": self.element_table(group).to_dict(orient="index"),
            "gaps": self.gap_table(group).to_dict(orient="index"),
        }

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain JSON-ready data: overall, then per group."""
        data: dict[str, Any] = {"group_by": self.group_by, ALL: self._section(None)}
        if self.group_by:
            data["groups"] = {g: self._section(g) for g in self.groups}
        return json.loads(json.dumps(data, default=_json_number))

    def to_long(self) -> pd.DataFrame:
        """One tidy table (group, table, key, measure, value) for CSV and for pandas users."""
        rows: list[tuple[str, str, str, str, Any]] = []
        for group in [ALL, *self.groups]:
            for name, table in (
                ("status", self.status_table(group)),
                ("element", self.element_table(group)),
                ("gap", self.gap_table(group)),
            ):
                # itertuples, not iterrows: a row Series would turn counts into floats.
                for key, *values in table.itertuples(index=True, name=None):
                    rows.extend(
                        (group, name, str(key), str(m), _json_number(v))
                        for m, v in zip(table.columns, values, strict=True)
                    )
        frame = pd.DataFrame(rows, columns=_LONG_COLUMNS)
        # Counts stay integers beside the shares (a float column would write 3 as 3.0).
        frame["value"] = pd.Series([row[-1] for row in rows], dtype=object)
        return frame

    def write_csv(self, path: Path) -> None:
        """Save :meth:`to_long` as CSV."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.to_long().to_csv(path, index=False)

    def write_json(self, path: Path) -> None:
        """Save :meth:`to_dict` as JSON."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")


def _json_number(value: Any) -> Any:
    """Turn numpy scalars (from pandas) into Python numbers; leave anything else."""
    return value.item() if hasattr(value, "item") else value


# -- terminal tables ----------------------------------------------------------------
def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.1%}"
    return str(value)


def _frame_table(frame: pd.DataFrame, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(str(frame.index.name or ""))
    for column in frame.columns:
        table.add_column(str(column).replace("evidence_", "ev. "), justify="right")
    for key, *values in frame.itertuples(index=True, name=None):
        table.add_row(str(key), *(_cell(v) for v in values))
    return table


def render_stats(stats: CorpusStats, console: Console) -> None:
    """Print the overall tables, then the same broken down by group."""
    n = len(stats.notes)
    console.print(f"{n} notes, {int((stats.notes['status'] == ERROR).sum())} not analysed")
    console.print(_frame_table(stats.status_table(), "Status distribution"))
    console.print(_frame_table(stats.element_table(), "Element prevalence (by assertion)"))
    console.print(_frame_table(stats.gap_table(), f"Top {stats.top} gaps"))
    if stats.group_by:
        for measure, title in (
            ("status", "Notes per status"),
            ("element", "Share of analysed notes with the element affirmed"),
            ("gap", "Notes per gap"),
        ):
            frame = stats.by_group(measure)
            if measure != "element":
                frame = frame.astype(int)
            console.print(_frame_table(frame, f"{title}, by {stats.group_by}"))
