"""Choose MTSamples notes for the second real-text batch (issue 12): hard negatives and near misses.

Never reads a reserved note: every id in ``reserved_ids.txt`` (which lists each id sharing a
reserved text) is dropped before any text is looked at, and so is every text already in
``corpus/``. From the remaining distinct texts it keeps those that mention one of the
near-miss themes below, and draws a seeded sample stratified by theme.

    python corpus/select_mtsamples.py --n 220 --out corpus/mtsamples2/selection.jsonl

The third batch (``corpus/mtsamples3``) asks for more than a theme: a note must name the neck
or the cervical spine *and* a symptom or study the elements read (dizziness, headache,
numbness, imaging), the real-text voice where an element is most easily misread (review of
systems lists, "Neck: supple" exams, symptoms of other causes):

    python corpus/select_mtsamples.py --batch 3 --n 150 --out corpus/mtsamples3/selection.jsonl
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

# Batch 3: both patterns must match (the themes above then only file the note).
NECK = r"\bneck\b|\bc-spine\b|\bcervical (spine|disc|spondyl\w*|stenosis|radicul\w*)"
SYMPTOM_OR_STUDY = (
    r"dizz|vertig|headache|occipital|numb|tingl|radicul|\bmri\b|x-ray|\bct\b|tinnitus"
)


def main() -> None:
    """Write the seeded, theme-stratified selection."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=220)
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--batch", type=int, choices=(2, 3), default=2)
    args = parser.parse_args()
    own = f"mtsamples{args.batch}"

    reserved = set((SHARED / "reserved_ids.txt").read_text().split())
    used: set[str] = set()
    for path in (REPO / "corpus").rglob("*.jsonl"):
        if own in path.parts:
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
            if args.batch == 3 and not (
                re.search(NECK, text, re.IGNORECASE)
                and re.search(SYMPTOM_OR_STUDY, text, re.IGNORECASE)
            ):
                continue
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
