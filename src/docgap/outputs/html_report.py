"""The CDI reviewer's report: one self-contained HTML file from ``docgap scan`` records.

It shows what the analysis decided (it recomputes nothing): a summary, a worklist that
stays responsive at 10,000 notes (rows are drawn a page at a time from a JSON blob), the
note with every evidence span highlighted, and compliant query drafts (docgap.outputs.queries).
Note text is untrusted: Jinja autoescapes the page, per-note data travels as JSON inside a
``<script type="application/json">`` tag with ``<``, ``>`` and ``&`` escaped, the page's
script only ever sets ``textContent``, and a Content-Security-Policy allows no network and
no script but the page's own (by hash).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from docgap import __version__
from docgap.inputs.reading import NoteInput
from docgap.outputs.queries import QueryFile, draft_queries, load_queries
from docgap.outputs.sanitize import clean_text, clean_value
from docgap.outputs.texts import match_texts, read_texts
from docgap.outputs.worklist import build_worklist
from docgap.outputs.writers import output_errors
from docgap.report import STATUSES, NoteReport
from docgap.rules.codes import describe
from docgap.rules.lexicon import load_lexicon
from docgap.schema import known_keys

__all__ = [
    "attach_texts",
    "highlight_segments",
    "load_texts",
    "pair_texts",
    "render_html",
    "report_data",
    "write_html",
]

_STATUS_LABELS: dict[str, str] = {
    "at_risk": "At risk",
    "query_opportunity": "Query opportunity",
    "supported": "Supported",
    "downcode": "Downcode",
    "redirect": "Redirect",
    "not_applicable": "Not applicable",
    "error": "Error",
}
# The report's own keys (the field table) and the text the page joins to a record: any
# other key is shown under "Other fields".
_KNOWN_KEYS = known_keys() | {"text"}
# What the note view shows of each piece of evidence.
_EVIDENCE_KEYS = ("element", "concept", "text", "section", "assertion", "counted", "reason", "rule")
_MAX_FILTER_VALUES = 30  # a metadata field with more distinct values is not a filter
_MAX_FILTERS = 4
_MAX_META_COLUMNS = 6  # worklist columns for the input's meta (patient, encounter, ...)
# Meta keys a specialist assigns and sorts work by: shown first when the input has them.
_ASSIGNMENT_WORDS = ("patient", "mrn", "encounter", "visit", "date", "dos", "provider", "payer")
_MAX_FLAGGED_LISTED = 50


# ---------------------------------------------------------------------------- inputs
def load_texts(
    inputs: Iterable[str], *, fmt: str = "auto", id_col: str = "note_id", text_col: str = "text"
) -> dict[str, str]:
    """Note texts by id, read from the scan's original inputs (raises ``InputError``).

    An id that two records carry with different texts raises ``AmbiguousTextsError``: a
    dict by id cannot hold both (``docgap.outputs.texts.match_texts`` pairs by position).
    """
    records = read_texts(inputs, fmt=fmt, id_col=id_col, text_col=text_col)
    unique = list(dict.fromkeys(r.note_id for r in records))
    matched = match_texts([{"note_id": n} for n in unique], records)
    return {n: t for n, t in zip(unique, matched, strict=True) if t is not None}


def attach_texts(
    records: Iterable[Mapping[str, Any]], texts: Mapping[str, str] | None
) -> Iterator[dict[str, Any]]:
    """Records with their note's ``text`` (from ``texts`` first, else the record's own)."""
    for record in records:
        joined = dict(record)
        if texts is not None and record.get("note_id") in texts:
            joined["text"] = texts[record["note_id"]]
        yield joined


def pair_texts(
    notes: Iterable[NoteInput],
    analyze: Callable[[Iterator[NoteInput]], Iterable[NoteReport]],
) -> Iterator[tuple[NoteReport, str | None]]:
    """Each report with its note's text, for a scan that writes HTML (``scan --format html``).

    ``analyze`` turns the notes into reports one for one, in order (``Analyzer.pipe``,
    ``analyze_parallel``), and may read ahead. Pairing by position, not by id, keeps the
    right text with each report when two inputs share an id.
    """
    pending: deque[str | None] = deque()

    def feed() -> Iterator[NoteInput]:
        for note in notes:
            pending.append(note.text)
            yield note

    for report in analyze(feed()):
        yield report, pending.popleft()


# ---------------------------------------------------------------------------- per note
def highlight_segments(
    text: str, evidence: Sequence[Mapping[str, Any]]
) -> tuple[list[list[Any]], list[int]]:
    """Cut ``text`` at every evidence boundary: ``[[piece, [evidence ids]], ...]``.

    Each piece lists the evidence covering it, the one to draw first (counted before not
    counted, then the narrowest). Working on pieces rather than offsets keeps the browser
    away from character arithmetic (JavaScript counts UTF-16 units, Python code points).
    Evidence whose offsets do not slice ``text`` to its own text (the note changed after
    the scan) is left out; its ids are returned second.
    """
    spans: list[tuple[int, int, int]] = []
    mismatched: list[int] = []
    for i, ev in enumerate(evidence):
        start, end = ev.get("start"), ev.get("end")
        if (
            isinstance(start, int)
            and isinstance(end, int)
            and 0 <= start < end <= len(text)
            and text[start:end] == ev.get("text")
        ):
            spans.append((start, end, i))
        else:
            mismatched.append(i)
    bounds = sorted({0, len(text), *(s for s, _, _ in spans), *(e for _, e, _ in spans)})
    starting: dict[int, list[int]] = {}
    ending: dict[int, list[int]] = {}
    for start, end, i in spans:
        starting.setdefault(start, []).append(i)
        ending.setdefault(end, []).append(i)
    order = {i: (not evidence[i].get("counted"), end - start, i) for start, end, i in spans}
    active: set[int] = set()
    ids: list[int] = []
    segments: list[list[Any]] = []
    for a, b in pairwise(bounds):
        if a in starting or a in ending:
            active.difference_update(ending.get(a, ()))
            active.update(starting.get(a, ()))
            ids = sorted(active, key=order.__getitem__)
        if segments and not ids and not segments[-1][1]:
            segments[-1][0] += text[a:b]
        else:
            segments.append([text[a:b], ids])
    return segments, mismatched


def _describe(code: str | None) -> str | None:
    try:
        return describe(code)
    except KeyError:
        return None


def _review_flag(record: Mapping[str, Any]) -> bool | None:
    review = record.get("review")
    if isinstance(review, Mapping):
        review = review.get("flag", review.get("review"))
    return None if review is None else bool(review)


def _score(record: Mapping[str, Any]) -> float | None:
    score = record.get("score")
    return float(score) if isinstance(score, (int, float)) and not isinstance(score, bool) else None


def _group(record: Mapping[str, Any]) -> str:
    """The worklist group: the status, with query opportunities and failures apart."""
    if record.get("error") or not record.get("status"):
        return "error"
    if record.get("query_opportunity"):
        return "query_opportunity"
    return str(record["status"])


def _has(meta: Mapping[str, Any], key: str) -> bool:
    value = meta.get(key)
    return value is not None and not (isinstance(value, float) and not math.isfinite(value))


def _meta_text(value: Any) -> str:
    return clean_text(str(value))


def _meta_values(record: Mapping[str, Any]) -> dict[str, Any]:
    values = dict(record.get("meta") or {})
    if "setting" in record and "setting" not in values:
        values["setting"] = record["setting"]
    return values


class _Strings:
    """A string table for the page: each repeated string travels once.

    Evidence labels, rules, gap messages and query lines repeat across thousands of notes;
    notes carry indices into the table.
    """

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def ref(self, value: Any) -> int | None:
        if value is None:
            return None
        text = str(value)
        found = self.index.get(text)
        if found is None:
            found = self.index[text] = len(self.index)
        return found

    def table(self) -> list[str]:
        return list(self.index)


def _evidence_row(ev: Mapping[str, Any], strings: _Strings) -> list[Any]:
    """One piece of evidence in ``_EVIDENCE_KEYS`` order, labels as string-table indices."""
    ref = strings.ref
    return [
        ref(ev.get("element")),
        ref(ev.get("concept")),
        ev.get("text"),
        ref(ev.get("section")),
        ref(ev.get("assertion")),
        bool(ev.get("counted")),
        ref(ev.get("reason")),
        ref(ev.get("rule")),
    ]


def _note_detail(
    record: Mapping[str, Any],
    queries: QueryFile,
    codes: dict[str, str | None],
    strings: _Strings,
) -> dict[str, Any]:
    """What the note view shows of one record, its repeated strings as ``strings`` indices.

    Evidence rows follow ``_EVIDENCE_KEYS`` (all but ``text`` and ``counted`` as indices);
    elements are ``[key, found]``, gaps ``[key, message, severity]``, a query draft's text
    a list of lines.
    """
    evidence = list(record.get("evidence") or ())
    text = record.get("text")
    segments, mismatched = (
        highlight_segments(text, evidence) if isinstance(text, str) else (None, [])
    )
    elements = record.get("elements") or {}
    would_code = record.get("would_code")
    code = record.get("code")
    if would_code and would_code not in codes:
        codes[would_code] = record.get("would_code_description") or _describe(would_code)
    if code and code not in codes:
        codes[code] = _describe(code)
    ref = strings.ref
    return {
        "id": str(record.get("note_id")),
        "status": record.get("status"),
        "group": _group(record),
        "error": record.get("error"),
        "would_code": would_code,
        "code": code,
        "chiropractic": record.get("chiropractic"),
        "query_opportunity": bool(record.get("query_opportunity")),
        "elements": [[ref(key), int(bool(found))] for key, found in elements.items()],
        "gaps": [
            [ref(g.get("key")), ref(g.get("message")), ref(g.get("severity"))]
            for g in record.get("gaps") or ()
        ],
        "evidence": [_evidence_row(ev, strings) for ev in evidence],
        "segments": segments,
        "mismatched": mismatched,
        "text_length": record.get("text_length"),
        "queries": [
            {
                "key": d.key,
                "gap": d.gap,
                "title": d.title,
                "lines": [ref(line) for line in d.text.split("\n")],
            }
            for d in draft_queries(record, queries)
        ],
        "warnings": list(record.get("warnings") or ()),
        "meta": _meta_values(record),
        "score": _score(record),
        "review": _review_flag(record),
        "extra": {k: v for k, v in record.items() if k not in _KNOWN_KEYS},
    }


# ---------------------------------------------------------------------------- whole report
def _filter_keys(metas: list[dict[str, Any]]) -> list[str]:
    """Metadata fields worth a filter: scalar values, few distinct ones; ``setting`` first."""
    distinct: dict[str, set[str]] = {}
    broken: set[str] = set()
    for meta in metas:
        for key, value in meta.items():
            if value is None:
                continue
            if isinstance(value, (dict, list)):
                broken.add(key)
                continue
            distinct.setdefault(key, set()).add(str(value))
    keys = [k for k, v in distinct.items() if k not in broken and 1 <= len(v) <= _MAX_FILTER_VALUES]
    keys.sort(key=lambda k: (k != "setting", k))
    return keys[:_MAX_FILTERS]


def _column_keys(metas: list[dict[str, Any]]) -> list[str]:
    """Meta fields shown as worklist columns: scalar ones, assignment fields first.

    Patient, encounter, date of service, provider and payer (by name) come first so work
    can be assigned and sorted; then the other scalar fields, in first-seen order.
    """
    seen: dict[str, bool] = {}
    for meta in metas:
        for key, value in meta.items():
            scalar = not isinstance(value, (dict, list))
            seen[key] = seen.get(key, True) and scalar
    keys = [k for k, scalar in seen.items() if scalar]

    def priority(key: str) -> int:
        low = key.lower()
        found = [i for i, word in enumerate(_ASSIGNMENT_WORDS) if word in low]
        return found[0] if found else len(_ASSIGNMENT_WORDS)

    keys.sort(key=priority)  # stable: first-seen order within a rank
    return keys[:_MAX_META_COLUMNS]


def _status_bars(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Bars by status, as the status filter selects them; query opportunities are downcodes."""
    statuses = Counter(row["status"] for row in rows)
    counts: list[tuple[str, int, bool]] = [(key, statuses.get(key, 0), False) for key in STATUSES]
    opportunities = sum(1 for row in rows if row["group"] == "query_opportunity")
    counts.insert(STATUSES.index("downcode") + 1, ("query_opportunity", opportunities, True))
    counts.append(("error", statuses.get("error", 0), False))
    top = max(count for _, count, _ in counts) or 1
    return [
        {
            "key": key,
            "label": _STATUS_LABELS[key],
            "count": count,
            "sub": sub,
            "width": round(300 * count / top, 1),
        }
        for key, count, sub in counts
    ]


def _first_present(
    records: Sequence[Mapping[str, Any]], key: str, provenance_key: str | None = None
) -> str | None:
    """The first recorded value of ``key`` (the scan's docgap version, its lexicon hash).

    A record's provenance (as ``provenance_key``) comes first; a record's own key or its
    meta is what older scans left.
    """
    for record in records:
        provenance = record.get("provenance")
        meta = record.get("meta")
        candidates = [
            provenance.get(provenance_key)
            if provenance_key and isinstance(provenance, Mapping)
            else None,
            record.get(key),
            meta.get(key) if isinstance(meta, Mapping) else None,
        ]
        for value in candidates:
            if value:
                return str(value)
    return None


def report_data(
    records: Iterable[Mapping[str, Any]],
    *,
    source: str,
    generated_at: datetime | None = None,
    page_size: int = 50,
    texts: Mapping[str, str] | None = None,
    docgap_version: str | None = None,
    lexicon_hash: str | None = None,
    queries: QueryFile | None = None,
    parts: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything the page shows, as plain data (what ``render_html`` puts in the template).

    ``parts`` is the navigation of a split report (:mod:`docgap.outputs.html_pages`): this
    page's number and count and the file names of the index and the neighbouring parts.
    """
    queries = queries or load_queries()
    pack = load_lexicon().pack
    element_info = {key: el.description for key, el in pack.elements.items()}
    rows: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    codes: dict[str, str | None] = {}
    strings = _Strings()
    all_records = list(attach_texts(records, texts))
    # The worklist's priority order (at_risk and query opportunities first), as `worklist`.
    work, _ = build_worklist(all_records, include_all=True)
    ranked = {item.order: item for item in work}
    for index, record in enumerate(all_records):
        detail = _note_detail(record, queries, codes, strings)
        notes.append(detail)
        rows.append(
            {
                "i": index,
                "id": detail["id"],
                "status": detail["status"] or "error",
                "group": detail["group"],
                "rank": ranked[index].rank,
                "code": detail["would_code"],
                "gaps": list(dict.fromkeys(ranked[index].gaps)),  # most severe first
                "score": detail["score"],
                "review": detail["review"],
                "nq": len(detail["queries"]),
                "meta": detail["meta"],
                "found": sum(found for _, found in detail["elements"]),
            }
        )
    filter_keys = _filter_keys([row["meta"] for row in rows])
    column_keys = _column_keys([row["meta"] for row in rows])
    row_keys = list(dict.fromkeys([*column_keys, *filter_keys]))
    for row in rows:
        row["meta"] = {k: _meta_text(row["meta"][k]) for k in row_keys if _has(row["meta"], k)}

    bars = _status_bars(rows)
    gap_counts: Counter[str] = Counter(g for row in rows for g in row["gaps"])
    gap_severity = {
        g.get("key"): g.get("severity") for r in all_records for g in r.get("gaps") or ()
    }
    has_review = any(row["review"] is not None for row in rows)
    flagged = [row for row in rows if row["review"]]
    flagged.sort(key=lambda r: (r["rank"], -(r["score"] or 0.0)))
    labels = list(element_info)
    labels += sorted(
        {str(ev.get("element")) for r in all_records for ev in r.get("evidence") or ()}
        - set(labels)
    )
    return {
        "source": source,
        "generated_at": (generated_at or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
        "docgap_version": docgap_version or __version__,
        "scan_version": _first_present(all_records, "docgap_version", "docgap_version"),
        "lexicon_hash": lexicon_hash
        or _first_present(all_records, "lexicon_hash", "lexicon_sha256"),
        "code": pack.code,
        "code_description": _describe(pack.code),
        "total": len(rows),
        "with_text": sum(1 for n in notes if n["segments"] is not None),
        "bars": bars,
        "top_gaps": [
            {"key": k, "count": c, "severity": gap_severity.get(k)}
            for k, c in gap_counts.most_common(10)
        ],
        "has_review": has_review,
        "flagged_total": len(flagged),
        "flagged": [
            {"i": r["i"], "id": r["id"], "status": r["status"], "score": r["score"]}
            for r in flagged[:_MAX_FLAGGED_LISTED]
        ],
        "has_score": any(row["score"] is not None for row in rows),
        "meta_columns": column_keys,
        "queries_total": sum(row["nq"] for row in rows),
        "legend": [
            {"key": key, "label": key.replace("_", " "), "description": element_info.get(key)}
            for key in labels
        ],
        "filters": {
            "statuses": [{"key": b["key"], "label": b["label"]} for b in bars if b["count"]],
            "gaps": sorted(gap_counts),
            "meta": {
                k: sorted({row["meta"][k] for row in rows if k in row["meta"]}) for k in filter_keys
            },
        },
        "config": {
            "pageSize": max(1, int(page_size)),
            "statusLabels": _STATUS_LABELS,
            "elements": labels,
            "elementInfo": element_info,
            "evidenceKeys": _EVIDENCE_KEYS,
            "metaColumns": column_keys,
            "codes": codes,
            "strings": strings.table(),
        },
        "parts": dict(parts) if parts else None,
        "rows": rows,
        "notes": notes,
    }


# ---------------------------------------------------------------------------- rendering
def _script_json(value: Any) -> Markup:
    """JSON safe inside ``<script type="application/json">``: no ``</script>``, no ``<!--``."""
    # clean_value: NaN/Infinity from input fields would make JSON.parse fail (strict JSON).
    text = json.dumps(
        clean_value(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )
    text = (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )
    return Markup(text)  # escaped above for this one context


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("docgap.outputs", "report_templates"),
        autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["script_json"] = _script_json
    return env


@lru_cache(maxsize=1)
def _assets() -> tuple[Markup, Markup, str]:
    """The page's inline CSS and JS, and the CSP hash that lets only that script run."""
    env = _environment()
    assert env.loader is not None
    css = env.loader.get_source(env, "report.css")[0]
    js = env.loader.get_source(env, "report.js")[0]
    if "</" in css or "</" in js:
        raise ValueError("report.css/report.js must not contain '</' (it would end the tag)")
    digest = base64.b64encode(hashlib.sha256(js.encode("utf-8")).digest()).decode("ascii")
    return Markup(css), Markup(js), f"sha256-{digest}"  # our own static files


def render_html(
    records: Iterable[Mapping[str, Any]],
    *,
    source: str,
    generated_at: datetime | None = None,
    page_size: int = 50,
    texts: Mapping[str, str] | None = None,
    docgap_version: str | None = None,
    lexicon_hash: str | None = None,
    parts: Mapping[str, Any] | None = None,
) -> str:
    """The report as one self-contained HTML page (no network, works from file://)."""
    data = report_data(
        records,
        source=source,
        generated_at=generated_at,
        page_size=page_size,
        texts=texts,
        docgap_version=docgap_version,
        lexicon_hash=lexicon_hash,
        parts=parts,
    )
    css, js, script_hash = _assets()
    return (
        _environment()
        .get_template("report.html.j2")
        .render(data=data, css=css, js=js, script_hash=script_hash)
    )


def write_html(records: Iterable[Mapping[str, Any]], path: Path | str, **options: Any) -> Path:
    """Render the report and write it to ``path`` (UTF-8); returns the path.

    An output that cannot be written is an ``OutputError`` (one line: path and reason).
    """
    path = Path(path)
    page = render_html(records, **options)
    with output_errors(path):
        path.write_text(page, encoding="utf-8")
    return path
