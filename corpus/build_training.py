"""Assemble the review model's training file from the tunable gold corpora.

The review model learns where the rules go wrong; trained on the development corpus alone it
learnt that corpus's authors (on 220 real notes it never saw it flagged 58% of them). The
training file is every *tunable* corpus, each note tagged with its corpus as ``part``, so the
model's leave-one-part-out figures say how it does on a corpus it has not seen:

    python corpus/build_training.py            # writes corpus/training.jsonl
    python corpus/build_training.py --check    # exit 1 if it is out of date

``mtsamples3`` (real text) is left out on purpose: it is where the shipped model's flags are
measured on real notes it never saw (``docgap model evaluate corpus/mtsamples3/gold.jsonl``).
The blind held-out sets are never training data.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

CORPUS = Path(__file__).resolve().parent
SOURCES = ("dev", "voices", "voices3", "mtsamples2")
OUT = CORPUS / "training.jsonl"
FIELDS = ("id", "text", "gold")


def build() -> str:
    """The training file's text: each source's gold records, in order, tagged by corpus."""
    lines = []
    for name in SOURCES:
        for line in (CORPUS / name / "gold.jsonl").read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                kept = {key: record[key] for key in FIELDS}
                kept["part"] = name
                lines.append(json.dumps(kept, ensure_ascii=False))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the training file, or with ``--check`` say whether it is up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    text = build()
    if args.check:
        if not OUT.exists() or OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT} is out of date: run python corpus/build_training.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {text.count(chr(10))} notes to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
