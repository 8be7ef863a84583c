"""Inter-annotator agreement between the first labels and the independent second labelling.

The second labeller read a random sample of the notes (seed 20261126) against the spec
without seeing the first labels. This script pairs the two labellings on their shared
ids and reports, per element and for ``chiropractic``, ``status`` and ``would_code``,
raw agreement and Cohen's kappa (scikit-learn), as a markdown table, then lists every
disagreement with its recorded resolution (``dev/adjudications.jsonl``).

The headline figures compare the labels as first written (the parts, before
adjudication): comparing the adjudicated ``gold.jsonl`` would count the resolutions as
agreement. The last line says how many disagreements remain in ``gold.jsonl`` (those
where adjudication upheld the first label).

    python corpus/agreement.py [--second corpus/dev/second_labels.jsonl]
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from build_gold import ADJUDICATIONS, DEV, GOLD, first_labels, read_jsonl
from sklearn.metrics import cohen_kappa_score

from docgap.evaluation.scores import load_gold
from docgap.packs.m53_0 import ELEMENTS
from docgap.report import STATUSES

SECOND = DEV / "second_labels.jsonl"
FIELDS: tuple[str, ...] = (*ELEMENTS, "chiropractic", "status", "would_code")
BOOLEAN_FIELDS: tuple[str, ...] = (*ELEMENTS, "chiropractic")
POOLED = "all elements (pooled)"

Labels = dict[str, Any]


def labels_of(gold: Mapping[str, Any], where: str) -> Labels:
    """Flatten a ``gold`` block (spec section 6) into field -> value, checking its shape."""
    elements = gold.get("elements", {})
    missing = [e for e in ELEMENTS if not isinstance(elements.get(e), bool)]
    if missing:
        raise ValueError(f"{where}: gold.elements lacks booleans for {', '.join(missing)}")
    if gold.get("status") not in STATUSES:
        raise ValueError(f"{where}: gold.status must be one of {', '.join(STATUSES)}")
    return {
        **{e: elements[e] for e in ELEMENTS},
        "chiropractic": bool(gold.get("chiropractic", False)),
        "status": gold["status"],
        "would_code": gold.get("would_code"),
    }


def load_labels(path: Path) -> dict[str, Labels]:
    """Id -> labels for a file of ``{"id", "gold"}`` lines (text optional)."""
    return {
        str(obj["id"]): labels_of(obj["gold"], f"{path}:{obj['id']}") for obj in read_jsonl(path)
    }


def gold_label_map(path: Path = GOLD) -> dict[str, Labels]:
    """The adjudicated gold labels, read through docgap's own gold loader."""
    return {
        g.id: {
            **g.elements,
            "chiropractic": g.chiropractic,
            "status": g.status,
            "would_code": g.would_code,
        }
        for g in load_gold(path)
    }


@dataclass(frozen=True)
class Row:
    """Agreement on one field over the shared notes."""

    field: str
    n: int
    agree: int
    kappa: float
    first_true: int | None = None
    second_true: int | None = None

    @property
    def raw(self) -> float:
        """The share of notes on which the two labellings agree."""
        return self.agree / self.n if self.n else math.nan


def _kappa(a: list[Any], b: list[Any]) -> float:
    # Both raters using one and the same value leaves kappa undefined (0/0): NaN, shown "n/a".
    values = sorted({str(v) for v in a + b})
    return float(
        cohen_kappa_score([str(v) for v in a], [str(v) for v in b], labels=values)
        if len(values) > 1
        else math.nan
    )


def agreement(first: Mapping[str, Labels], second: Mapping[str, Labels]) -> list[Row]:
    """One row per field, plus the elements pooled, on the ids both labellings share."""
    ids = sorted(set(first) & set(second))
    rows: list[Row] = []
    pooled_a: list[Any] = []
    pooled_b: list[Any] = []
    for field in FIELDS:
        a = [first[i][field] for i in ids]
        b = [second[i][field] for i in ids]
        if field in ELEMENTS:
            pooled_a.extend(a)
            pooled_b.extend(b)
        boolean = field in BOOLEAN_FIELDS
        rows.append(
            Row(
                field=field,
                n=len(ids),
                agree=sum(x == y for x, y in zip(a, b, strict=True)),
                kappa=_kappa(a, b),
                first_true=sum(a) if boolean else None,
                second_true=sum(b) if boolean else None,
            )
        )
    rows.insert(
        len(ELEMENTS),
        Row(
            field=POOLED,
            n=len(pooled_a),
            agree=sum(x == y for x, y in zip(pooled_a, pooled_b, strict=True)),
            kappa=_kappa(pooled_a, pooled_b),
            first_true=sum(pooled_a),
            second_true=sum(pooled_b),
        ),
    )
    return rows


def by_source(
    first: Mapping[str, Labels], second: Mapping[str, Labels], sources: Mapping[str, str]
) -> str:
    """A small table of agreement split by where the notes came from (written vs real)."""
    lines = [
        "| source | notes | element decisions agreed | pooled element kappa | status kappa |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for source in sorted({sources[i] for i in set(first) & set(second)}):
        ids = [i for i in sorted(set(first) & set(second)) if sources[i] == source]
        a = [first[i][e] for i in ids for e in ELEMENTS]
        b = [second[i][e] for i in ids for e in ELEMENTS]
        status = _kappa([first[i]["status"] for i in ids], [second[i]["status"] for i in ids])
        agreed = sum(x == y for x, y in zip(a, b, strict=True))
        lines.append(
            f"| {source} | {len(ids)} | {agreed}/{len(a)} | {_fmt(_kappa(a, b))} | {_fmt(status)} |"
        )
    return "\n".join(lines)


def disagreements(
    first: Mapping[str, Labels], second: Mapping[str, Labels]
) -> list[tuple[str, str, Any, Any]]:
    """(id, field, first value, second value) for every field the two labellings differ on."""
    return [
        (i, f, first[i][f], second[i][f])
        for i in sorted(set(first) & set(second))
        for f in FIELDS
        if first[i][f] != second[i][f]
    ]


def _fmt(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f}"


def markdown_table(rows: list[Row]) -> str:
    """The agreement table as GitHub markdown."""
    lines = [
        "| field | notes | first: true | second: true | agreements | raw agreement "
        "| Cohen's kappa |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        t1 = "" if r.first_true is None else str(r.first_true)
        t2 = "" if r.second_true is None else str(r.second_true)
        name = f"`{r.field}`" if r.field in FIELDS else r.field
        lines.append(
            f"| {name} | {r.n} | {t1} | {t2} | {r.agree} | {_fmt(r.raw)} | {_fmt(r.kappa)} |"
        )
    return "\n".join(lines)


def report(second_path: Path = SECOND, gold_path: Path = GOLD, corpus: Path = DEV) -> str:
    """The full markdown report: table, disagreements with resolutions, what remains."""
    second = load_labels(second_path)
    notes = first_labels(corpus / "parts")
    first = {n["id"]: labels_of(n["gold"], f"parts:{n['id']}") for n in notes}
    unknown = sorted(set(second) - set(first))
    if unknown:
        raise ValueError(f"second labels for ids not in the corpus: {', '.join(unknown)}")
    adjudications = corpus / "adjudications.jsonl"
    records = read_jsonl(adjudications) if adjudications.exists() else []
    resolved = {(a["id"], a["field"]): a for a in records}
    out = [
        f"Agreement on {len(second)} notes, first labels (before adjudication) vs second labels:",
        "",
        markdown_table(agreement(first, second)),
        "",
        "By source:",
        "",
        by_source(first, second, {n["id"]: n["source"] for n in notes}),
        "",
        "Disagreements:",
    ]
    found = disagreements(first, second)
    for note_id, field, a, b in found:
        adj = resolved.get((note_id, field))
        outcome = (
            f"resolved to {adj['resolved']!r}: {adj['reason']}" if adj else "NOT YET ADJUDICATED"
        )
        out.append(f"- {note_id} `{field}`: first {a!r}, second {b!r}; {outcome}")
    if not found:
        out.append("- none")
    remaining = disagreements(gold_label_map(gold_path), second)
    out += ["", f"Disagreements left in gold.jsonl (first label upheld): {len(remaining)}"]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Print the agreement report."""
    parser = argparse.ArgumentParser(description="Agreement between first and second labels.")
    parser.add_argument("--corpus", type=Path, default=DEV, help="default: corpus/dev")
    parser.add_argument("--second", type=Path, default=None, help="CORPUS/second_labels.jsonl")
    parser.add_argument("--gold", type=Path, default=None, help="default: CORPUS/gold.jsonl")
    args = parser.parse_args(argv)
    second = args.second or args.corpus / "second_labels.jsonl"
    print(report(second, args.gold or args.corpus / "gold.jsonl", args.corpus))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
