"""The note's text with its evidence marked, escaped for HTML (the note view)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from markupsafe import Markup, escape

__all__ = ["highlight"]


def highlight(text: str, evidence: Iterable[Mapping[str, Any]]) -> Markup:
    """``text`` escaped, each evidence span in a ``<mark>`` (overlapping spans: the first wins).

    The class says the assertion (affirmed, negated, other) and the title the element, so
    a reviewer sees what docgap counted and what it rejected.
    """
    spans = sorted(
        (int(ev.get("start", 0)), int(ev.get("end", 0)), ev)
        for ev in evidence
        if 0 <= int(ev.get("start", 0)) < int(ev.get("end", 0)) <= len(text)
    )
    parts: list[str] = []
    at = 0
    for start, end, ev in spans:
        if start < at:
            continue
        assertion = str(ev.get("assertion", "other"))
        kind = assertion if assertion in ("affirmed", "negated") else "other"
        title = f"{ev.get('element')} ({assertion})"
        parts.append(str(escape(text[at:start])))
        parts.append(
            f'<mark class="{kind}" title="{escape(title)}">{escape(text[start:end])}</mark>'
        )
        at = end
    parts.append(str(escape(text[at:])))
    return Markup("".join(parts))
