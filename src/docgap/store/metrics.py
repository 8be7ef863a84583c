"""CDI program metrics from the audit log: what was queried, answered, agreed, overridden.

Rates follow the usual program definitions: the query rate is queries sent over charts
reviewed, the response rate is answers over queries sent, the agreement rate is "agree"
answers over answers. docgap's own precision per status is how often reviewers kept its
status when they accepted or overrode it. Computed from the audit log alone, so a
``--since`` window counts the actions taken in it.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from docgap.store.audit import audit_entries
from docgap.store.db import session
from docgap.store.ingest import SYSTEM_USER
from docgap.store.models import AuditEntry

__all__ = ["EXTERNAL_ACTIONS", "compute_metrics", "metrics"]

#: audit actions from upstream systems (HL7 cancellations, CDS feedback): not a review
EXTERNAL_ACTIONS = frozenset({"cancel", "cds-feedback"})


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def compute_metrics(entries: Sequence[AuditEntry]) -> dict[str, Any]:
    """The metrics of a run of audit entries (in the order they were written)."""
    reviewed: set[str] = set()
    sent: dict[str, dt.datetime] = {}
    answered: dict[str, tuple[dt.datetime, str]] = {}
    by_reason: Counter[str] = Counter()
    by_element: Counter[str] = Counter()
    decisions: dict[str, tuple[str | None, str | None]] = {}  # note -> (docgap, reviewer)
    for entry in entries:
        if entry.user == SYSTEM_USER or entry.action in EXTERNAL_ACTIONS:
            continue
        reviewed.add(entry.note_id)
        details = entry.details or {}
        docgap_status = (entry.evidence or {}).get("status")
        if entry.action == "send-query":
            sent.setdefault(entry.note_id, entry.at)
        elif entry.action == "answer":
            answered[entry.note_id] = (entry.at, str(details.get("response")))
        elif entry.action == "accept":
            decisions[entry.note_id] = (docgap_status, docgap_status)
        elif entry.action == "override":
            by_reason[str(details.get("reason"))] += 1
            found = (entry.evidence or {}).get("elements") or {}
            for element, value in (details.get("elements") or {}).items():
                if found.get(element) != value:
                    by_element[element] += 1
            decisions[entry.note_id] = (docgap_status, details.get("status"))
    answered = {k: v for k, v in answered.items() if k in sent}
    turnaround = [(at - sent[note]).total_seconds() / 3600 for note, (at, _) in answered.items()]
    agree = sum(1 for _, response in answered.values() if response == "agree")
    precision: dict[str, dict[str, Any]] = {}
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for docgap_status, reviewer_status in decisions.values():
        key = str(docgap_status)
        tally[key][1] += 1
        tally[key][0] += docgap_status == reviewer_status
    for key, (kept, total) in sorted(tally.items()):
        precision[key] = {"kept": kept, "decided": total, "precision": _rate(kept, total)}
    return {
        "reviewed": len(reviewed),
        "queries_sent": len(sent),
        "answered": len(answered),
        "agreed": agree,
        "query_rate": _rate(len(sent), len(reviewed)),
        "response_rate": _rate(len(answered), len(sent)),
        "agreement_rate": _rate(agree, len(answered)),
        "median_turnaround_hours": (
            round(statistics.median(turnaround), 3) if turnaround else None
        ),
        "overrides_by_reason": dict(by_reason.most_common()),
        "overrides_by_element": dict(by_element.most_common()),
        "precision_by_status": precision,
    }


def metrics(db_url: str, since: dt.datetime | None = None) -> dict[str, Any]:
    """The metrics of the store's audit log, from ``since`` if given."""
    with session(db_url) as db:
        return compute_metrics(audit_entries(db, since=since))
