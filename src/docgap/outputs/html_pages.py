"""A CDI report for thousands of notes: an index page and parts of N notes each.

One self-contained page holds every note's text and evidence (about 2 kB a short note, 5 kB
a typical one: 10-25 MB for 5,000 notes), which a browser opens slowly and a mail system
will not carry. :func:`write_html_pages` writes a folder instead:

* ``index.html``: the summary and every note in the worklist's priority order (status,
  score, review flag, code, gaps and the input's meta), each linked to the part that shows
  it; no script, so it opens instantly;
* ``part-0001.html``, ...: the ordinary report (:func:`docgap.outputs.html_report.render_html`)
  of ``per_part`` notes each, most urgent notes in the first part, with links to the index
  and the neighbouring parts.

The pages link to one another by relative file name, so the folder can be moved or zipped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from docgap import __version__
from docgap.outputs.html_report import (
    _STATUS_LABELS,
    _assets,
    _column_keys,
    _describe,
    _environment,
    _group,
    _meta_values,
    render_html,
)
from docgap.outputs.sanitize import clean_text
from docgap.outputs.worklist import build_worklist
from docgap.outputs.writers import output_errors
from docgap.rules.lexicon import load_lexicon

__all__ = ["DEFAULT_PER_PART", "INDEX_NAME", "part_name", "write_html_pages"]

DEFAULT_PER_PART = 250
INDEX_NAME = "index.html"


def part_name(number: int) -> str:
    """The file name of part ``number`` (1-based)."""
    return f"part-{number:04d}.html"


def _index_row(
    priority: int, record: Mapping[str, Any], item: Any, part: int, local: int, keys: list[str]
) -> dict[str, Any]:
    group = _group(record)
    meta = _meta_values(record)
    return {
        "priority": priority,
        "id": str(record.get("note_id")),
        "href": f"{part_name(part)}#n={local}",
        "status": "error" if group == "error" else str(record.get("status")),
        "label": _STATUS_LABELS.get(
            "error" if group == "error" else str(record.get("status")), group
        ),
        "query": group == "query_opportunity",
        "score": item.score,
        "review": item.review,
        "code": record.get("would_code"),
        "gaps": ", ".join(k.replace("_", " ") for k in item.gaps),
        "meta": {k: clean_text(str(meta[k])) for k in keys if meta.get(k) is not None},
        "part": part,
    }


def write_html_pages(
    records: Iterable[Mapping[str, Any]],
    folder: Path | str,
    *,
    source: str,
    per_part: int = DEFAULT_PER_PART,
    generated_at: datetime | None = None,
    **options: Any,
) -> Path:
    """Write the index and the parts into ``folder`` (created); returns the index's path.

    ``options`` go to :func:`render_html` for each part (``page_size``, ``lexicon_hash``...).
    Records should carry their ``text`` already (``docgap.outputs.texts.match_texts``).
    An output that cannot be written is an ``OutputError``.
    """
    if per_part < 1:
        raise ValueError("per_part must be at least 1")
    folder = Path(folder)
    all_records = [dict(r) for r in records]
    items, _ = build_worklist(all_records, include_all=True)
    ordered = [(item, all_records[item.order]) for item in items]
    chunks = [ordered[i : i + per_part] for i in range(0, len(ordered), per_part)] or [[]]
    generated_at = generated_at or datetime.now(timezone.utc)
    keys = _column_keys([_meta_values(r) for r in all_records])
    rows: list[dict[str, Any]] = []
    with output_errors(folder / INDEX_NAME):
        folder.mkdir(parents=True, exist_ok=True)
    for number, chunk in enumerate(chunks, start=1):
        first = (number - 1) * per_part + 1
        parts = {
            "index": INDEX_NAME,
            "number": number,
            "count": len(chunks),
            "first": first,
            "last": first + len(chunk) - 1,
            "prev": part_name(number - 1) if number > 1 else None,
            "next": part_name(number + 1) if number < len(chunks) else None,
        }
        page = render_html(
            [record for _, record in chunk],
            source=source,
            generated_at=generated_at,
            parts=parts,
            **options,
        )
        path = folder / part_name(number)
        with output_errors(path):
            path.write_text(page, encoding="utf-8")
        rows.extend(
            _index_row(first + local, record, item, number, local, keys)
            for local, (item, record) in enumerate(chunk)
        )
    pack = load_lexicon().pack
    statuses = Counter(row["status"] for row in rows)
    opportunities = sum(1 for row in rows if row["query"])
    status_rows = [
        {"key": key, "label": label, "count": statuses.get(key, 0)}
        for key, label in _STATUS_LABELS.items()
        if key != "query_opportunity" and statuses.get(key)
    ]
    if opportunities:
        status_rows.append(
            {
                "key": "query_opportunity",
                "label": "of which query opportunity",
                "count": opportunities,
            }
        )
    index = {
        "source": source,
        "generated_at": generated_at.isoformat(timespec="seconds"),
        "docgap_version": options.get("docgap_version") or __version__,
        "code": pack.code,
        "code_description": _describe(pack.code),
        "total": len(rows),
        "per_part": per_part,
        "parts": [
            {
                "file": part_name(n),
                "first": (n - 1) * per_part + 1,
                "last": (n - 1) * per_part + len(c),
            }
            for n, c in enumerate(chunks, start=1)
            if c
        ],
        "statuses": status_rows,
        "has_score": any(row["score"] is not None for row in rows),
        "has_review": any(row["review"] is not None for row in rows),
        "meta_columns": keys,
        "rows": rows,
    }
    css, _, _ = _assets()
    html = _environment().get_template("index.html.j2").render(index=index, css=css)
    path = folder / INDEX_NAME
    with output_errors(path):
        path.write_text(html, encoding="utf-8")
    return path
