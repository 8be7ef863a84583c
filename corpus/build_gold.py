"""Rebuild ``corpus/dev/gold.jsonl`` from the labelled parts and the adjudications.

The parts (``corpus/dev/parts/*.jsonl``) hold the first labels, note by note, as their
authors wrote them. ``corpus/dev/adjudications.jsonl`` records every disagreement with
the independent second labelling and how it was resolved. The gold file is the parts,
in file order, with the resolutions applied, so it can always be rebuilt and checked:

    python corpus/build_gold.py            # writes corpus/dev/gold.jsonl
    python corpus/build_gold.py --check    # exit 1 if gold.jsonl is out of date
    python corpus/build_gold.py --describe # the README's count tables, as markdown

(Named ``build_gold`` rather than ``build`` so it never shadows the PyPA ``build`` tool.)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

DEV = Path(__file__).resolve().parent / "dev"
PARTS = DEV / "parts"
ADJUDICATIONS = DEV / "adjudications.jsonl"
GOLD = DEV / "gold.jsonl"
SPEC_CHANGES_FILE = "spec_changes.jsonl"
SPEC_CHANGE_NOTE = "Relabelled after the spec change of section 3 rule 5"
MTSAMPLES_PREFIX = "mts-"
STATUSES = ("supported", "at_risk", "downcode", "redirect", "not_applicable")

# The part authors tagged phenomena freely; these groups (regexes over the lower-cased
# tags) aggregate the tags for the README. A note counts once per group.
PHENOMENON_GROUPS: dict[str, str] = {
    "negation, incl. negated lists": r"negat|pertinent negatives|^no radiculopathy",
    "uncertainty: rule-out, differential, possible, consistent with": (
        r"rule-out|differential|possible|consistent with|compatible with|uncertain|x vs y|hedged"
    ),
    "family history": r"family history",
    "resolved or historical": r"resolved|historical|past medical history|remote surgical",
    "hypothetical: return precautions, risks, plans": r"hypothetical|conditional|planned",
    "symptom attributed to another cause": (
        r"attributed to other cause|bppv|sinus|migraine|orthostatic|otitis|meniere|carpal tunnel"
        r"|concussion|tmj|ulnar neuropathy|noise-induced|tension headache|attribution withdrawn"
    ),
    "another provider's diagnosis: adopted, reported or disputed": (
        r"other-provider|referring diagnosis|referral diagnosis|adopted diagnosis|records review"
    ),
    "cervicogenic headache or a sibling syndrome named instead": (
        r"cervicogenic|cervicalgic|sibling syndrome|cervicobrachial"
    ),
    "syndrome name variants (Barre-Lieou, posterior cervical sympathetic, spelling)": (
        r"barre|posterior cervical sympathetic|hyphenated|accented|inclusion term"
    ),
    "bare code without diagnostic words": r"bare code",
    "spinal level stated (OC-C1 to C7-T1, listings)": (
        r"^(disc )?level (o|c|t1$|atlas|axis)|listing|multilevel"
    ),
    "level below T1 or another region": (
        r"below t1|^level (t[2-9]|l\d)|subluxation other region|thoracic findings only"
    ),
    "subluxation wording: no level, region only, restriction, spondylolisthesis": (
        r"without level|no level|region-only|named as subluxation|not subluxation"
    ),
    "imaging ordered, pending or unavailable": r"ordered no result|result not available",
    "normal imaging or imaging of another region": (
        r"\bnormal imaging|normal testing|another region|other region|lumbar|non-cervical imaging"
        r"|vascular imaging"
    ),
    "abnormal cervical imaging": r"abnormal imaging|prior imaging with result|radiology report",
    "templates: checkbox, key-value, unfilled, stale ROS, copy-forward": (
        r"template|checkbox|copy-forward|ros contradicted"
    ),
    "writing: abbreviations, misspellings, lay phrasing, quotes, OCR noise, caps": (
        r"abbreviation|misspelling|lay phrasing|patient quotes|ocr|all caps|truncated"
    ),
    "chiropractic encounter rules: CMT here or elsewhere, DO OMT, PT thrust, PART": (
        r"chiropractic|adjustments elsewhere|omt|osteopathic|pt thrust|manipulation|gonstead|part "
        r"|cmt"
    ),
    "upper-extremity symptoms, radiculopathy, disc disorder (with or without the syndrome)": (
        r"upper extremity|radiculopathy|shoulder pain|myelopathy|gap m53.1"
    ),
    "autonomic features": r"autonomic|flushing|lacrimation|horner",
    "etiology: whiplash/MVA, work or sports injury, fall, RA, post-traumatic": (
        r"whiplash|mva|work injury|ra atlanto|inflammatory|trauma|fall|sports injury|etiology"
    ),
    "normal findings": r"normal findings|normal neck exam",
    "query opportunity (downcode with cranial and cervical)": r"query opportunity",
    "procedure, operative and injection notes": (
        r"procedure note|operative|injection|block|ablation|preoperative|postoperative"
    ),
    "telehealth (with or without an exam)": r"telehealth",
    "neck one problem of several, or no neck problem": (
        r"multiple problems|non-neck control|annual physical|numbered problems|no neck complaint"
    ),
}


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every non-blank line of a JSON Lines file."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def first_labels(parts: Path = PARTS) -> list[dict[str, Any]]:
    """The parts merged in file-name order, each note tagged with its part and source."""
    notes: list[dict[str, Any]] = []
    for part in sorted(parts.glob("*.jsonl")):
        for note in read_jsonl(part):
            source = "mtsamples" if note["id"].startswith(MTSAMPLES_PREFIX) else "hand-written"
            notes.append({**note, "part": part.stem, "source": source})
    ids = [n["id"] for n in notes]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"duplicate ids across parts: {', '.join(duplicates)}")
    return notes


def apply_adjudications(
    notes: list[dict[str, Any]],
    adjudications: list[dict[str, Any]],
    why: str = "Adjudicated after second labelling",
) -> list[dict[str, Any]]:
    """Apply each resolution to a copy of the notes; a stale record is an error."""
    by_id = {n["id"]: json.loads(json.dumps(n)) for n in notes}
    for adj in adjudications:
        note = by_id.get(adj["id"])
        if note is None:
            raise ValueError(f"adjudication for unknown id {adj['id']}")
        gold = note["gold"]
        target = gold["elements"] if adj["field"] in gold["elements"] else gold
        if target.get(adj["field"]) != adj["first"]:
            raise ValueError(f"{adj['id']}: the first label of {adj['field']} has changed")
        target[adj["field"]] = adj["resolved"]
        if adj["resolved"] != adj["first"]:
            note["rationale"] = (
                f"{note.get('rationale', '')} [{why}: "
                f"{adj['field']} = {json.dumps(adj['resolved'])}. {adj['reason']}]"
            ).strip()
    return [by_id[n["id"]] for n in notes]


def build(parts: Path = PARTS, adjudications: Path = ADJUDICATIONS) -> list[dict[str, Any]]:
    """The gold notes: first labels with every adjudication, then every spec change, applied.

    ``spec_changes.jsonl`` (beside ``adjudications.jsonl``) holds labels changed because the
    spec itself changed (same record format: id, field, first, resolved, reason); they are
    applied after the adjudications, so the first labels stay as written.
    """
    resolved = read_jsonl(adjudications) if adjudications.exists() else []
    notes = apply_adjudications(first_labels(parts), resolved)
    changes = adjudications.parent / SPEC_CHANGES_FILE
    if changes.exists():
        notes = apply_adjudications(notes, read_jsonl(changes), SPEC_CHANGE_NOTE)
    return notes


def dumps(notes: list[dict[str, Any]]) -> str:
    """The gold file's exact text (UTF-8 JSON Lines, one note per line)."""
    return "".join(json.dumps(n, ensure_ascii=False) + "\n" for n in notes)


def _table(header: list[str], rows: list[list[object]]) -> str:
    numeric = [all(isinstance(r[i], int) for r in rows) for i in range(len(header))]
    align = ["---:" if n else "---" for n in numeric]
    lines = [f"| {' | '.join(header)} |", f"| {' | '.join(align)} |"]
    lines += [f"| {' | '.join(str(c) for c in row)} |" for row in rows]
    return "\n".join(lines)


def describe(notes: list[dict[str, Any]]) -> list[str]:
    """The corpus counts as markdown tables: status by source, settings, phenomena."""
    sources = sorted({n["source"] for n in notes})
    by_status = Counter((n["gold"]["status"], n["source"]) for n in notes)
    status_rows: list[list[object]] = [
        [f"`{s}`", *(by_status[s, src] for src in sources), sum(by_status[s, x] for x in sources)]
        for s in STATUSES
    ]
    totals = Counter(n["source"] for n in notes)
    chiro = Counter(n["source"] for n in notes if n["gold"]["chiropractic"])
    status_rows.append(["all", *(totals[s] for s in sources), len(notes)])
    status_rows.append(
        ["chiropractic encounters", *(chiro[s] for s in sources), sum(chiro.values())]
    )

    settings = Counter((n["source"], n.get("setting") or "unknown") for n in notes)
    setting_rows: list[list[object]] = [
        [f"{setting} ({source})", count]
        for (source, setting), count in sorted(
            settings.items(), key=lambda x: (x[0][0], -x[1], x[0])
        )
    ]

    tags = [(n["id"], t.lower()) for n in notes for t in n.get("phenomena", [])]
    group_rows: list[list[object]] = []
    grouped: set[str] = set()
    for group, pattern in PHENOMENON_GROUPS.items():
        hits = [(i, t) for i, t in tags if re.search(pattern, t)]
        grouped |= {t for _, t in hits}
        examples = ", ".join(t for t, _ in Counter(t for _, t in hits).most_common(4))
        group_rows.append([group, len({i for i, _ in hits}), examples])
    other = sorted({t for _, t in tags} - grouped)
    group_rows.append(["other tags", len({i for i, t in tags if t in other}), ", ".join(other)])
    return [
        _table(["status", *sources, "total"], status_rows),
        _table(["setting (source)", "notes"], setting_rows),
        _table(["phenomenon", "notes", "most frequent tags"], group_rows),
    ]


def main(argv: list[str] | None = None) -> int:
    """Write the gold file, or with ``--check`` report whether it is up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument("--describe", action="store_true", help="print the count tables")
    parser.add_argument(
        "--corpus",
        type=Path,
        default=DEV,
        help="corpus folder with parts/ and adjudications.jsonl (default: corpus/dev)",
    )
    parser.add_argument("--out", type=Path, default=None, help="default: CORPUS/gold.jsonl")
    args = parser.parse_args(argv)
    args.out = args.out or args.corpus / "gold.jsonl"
    notes = build(args.corpus / "parts", args.corpus / "adjudications.jsonl")
    if args.describe:
        print("\n\n".join(describe(notes)))
        return 0
    text = dumps(notes)
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(
                f"{args.out} is out of date: run python corpus/build_gold.py --corpus "
                f"{args.corpus}",
                file=sys.stderr,
            )
            return 1
        print(f"{args.out} is up to date")
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {text.count(chr(10))} notes to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
