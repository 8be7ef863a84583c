"""Choose MTSamples notes for the second real-text batch (issue 12): hard negatives and near misses.

Never reads a reserved note: every id in ``reserved_ids.txt`` (which lists each id sharing a
reserved text) is dropped before any text is looked at, and so is every text already in
``corpus/``. From the remaining distinct texts it keeps those that mention one of the
near-miss themes below, and draws a seeded sample stratified by theme.

    python corpus/select_mtsamples.py --n 220 --out corpus/mtsamples2/selection.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "corpora" / "mtsamples"

# Theme -> pattern. Order matters only for reporting: a note is filed under its first theme.
THEMES: dict[str, str] = {
    "cervical_spine": (
        r"\bcervical (spine|disc|fusion|spondylosis|stenosis|radiculopathy|collar)\b"
        r"|\bC[1-7]-?[1-7]?\b"
    ),
    "neck": r"\bneck\b",
    "cervical_other": r"\bcervi(x|cal)\b",
    "dizziness_vertigo": r"\b(dizz\w*|vertig\w*|lightheaded\w*|tinnitus)\b",
    "headache": r"\b(headaches?|migraines?|occipital)\b",
    "numbness": r"\b(numbness|tingling|paresthesia\w*|radiculopathy|radicular)\b",
    "spine_surgery": (
        r"\b(laminectomy|discectomy|fusion|fixation|instrumentation|lumbar|thoracic)\b"
    ),
}


def main() -> None:
    """Write the seeded, theme-stratified selection."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=220)
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    reserved = set((SHARED / "reserved_ids.txt").read_text().split())
    used: set[str] = set()
    for path in (REPO / "corpus").rglob("*.jsonl"):
        if "mtsamples2" in path.parts:
            continue  # this batch itself (the selection and its labels)
        for line in path.read_text().splitlines():
            if line.strip():
                rec = json.loads(line)
                used.add(rec.get("id", ""))
                if "text" in rec:
                    used.add(rec["text"])
    by_theme: dict[str, list[dict[str, str]]] = defaultdict(list)
    seen_texts: set[str] = set()
    with (SHARED / "mtsamples.jsonl").open() as fh:
        for line in fh:
            rec = json.loads(line)
            if rec["note_id"] in reserved:
                continue  # never look at a reserved note's text
            text = rec["text"]
            if not text or text in seen_texts or text in used or rec["note_id"] in used:
                continue
            seen_texts.add(text)
            theme = next(
                (t for t, p in THEMES.items() if re.search(p, text, re.IGNORECASE)), "other"
            )
            by_theme[theme].append(
                {"id": rec["note_id"], "theme": theme, "setting": rec["specialty"]}
            )
    rng = random.Random(args.seed)
    themes = [t for t in THEMES if by_theme[t]] + ["other"]
    quota = {t: args.n // (len(themes) + 2) for t in themes}
    quota["other"] = max(10, quota["other"] // 2)
    picked: list[dict[str, str]] = []
    for theme in themes:
        pool = by_theme[theme]
        rng.shuffle(pool)
        picked.extend(pool[: quota[theme]])
    rest = [r for t in themes if t != "other" for r in by_theme[t][quota[t] :]]
    rng.shuffle(rest)
    picked.extend(rest[: args.n - len(picked)])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w") as fh:
        for rec in sorted(picked, key=lambda r: r["id"]):
            fh.write(json.dumps(rec) + "\n")
    counts = {t: sum(r["theme"] == t for r in picked) for t in themes}
    print(f"{len(picked)} notes from {len(seen_texts)} distinct free texts: {counts}")


if __name__ == "__main__":
    main()
