"""Micro-benchmark: the review model's cost per note, as the analyzer pays it.

    PYTHONPATH=src python benchmarks/model_bench.py [--notes 300] [--repeat 5]

Analyses ``--notes`` non-reserved MTSamples notes once (the rules' reports), then times,
on one core, what the analyzer does with the model for each note: ``predict(report.to_dict(),
text)`` (the old call: a second ``to_dict`` and scikit-learn's vectorizers) and, when the
model has it, ``predict_report(report, text)`` (reads the report directly, numpy only).
It prints the median over ``--repeat`` passes of the mean CPU time per note (CPU time:
on a shared machine it varies far less than wall time), and whether a fresh process that
loads and applies the model imports scikit-learn.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import corpus_path, load_line, machine_line
from notes import usable_notes

_PROBE = (
    "import sys\n"
    "from docgap.scoring.model import load_default_model\n"
    "load_default_model().predict({'status': 'at_risk', 'elements': {}}, 'neck pain')\n"
    "print(any(m.split('.')[0] == 'sklearn' for m in sys.modules))\n"
)


def _per_note_ms(call: Callable[[Any, str], Any], pairs: list[tuple[Any, str]],
                 repeat: int) -> float:
    passes = []
    for _ in range(repeat):
        start = time.process_time()
        for report, text in pairs:
            call(report, text)
        passes.append((time.process_time() - start) / len(pairs) * 1000)
    return statistics.median(passes)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--corpus")
    args = parser.parse_args(argv)

    from docgap import Analyzer
    from docgap.scoring.model import load_default_model

    analyzer = Analyzer(model=None)
    model = load_default_model(lexicon_sha256=analyzer.lexicon.sha256)
    if model is None:
        sys.exit("model_bench: the shipped review model did not load")
    sklearn_loaded = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True
    ).stdout.strip()
    notes = usable_notes(corpus_path(args.corpus), args.notes)
    pairs = [(analyzer.analyze(text, note_id), text) for note_id, text in notes]
    print(machine_line())
    print(load_line())
    print(f"{len(pairs)} notes, {sum(len(t) for _, t in notes) / len(notes):,.0f} characters "
          f"on average; a process applying the model imports scikit-learn: {sklearn_loaded}")
    old = _per_note_ms(lambda r, t: model.predict(r.to_dict(), t), pairs, args.repeat)
    print(f"predict(report.to_dict(), text): {old:.3f} ms CPU per note")
    if hasattr(model, "predict_report"):
        new = _per_note_ms(model.predict_report, pairs, args.repeat)
        print(f"predict_report(report, text):    {new:.3f} ms CPU per note")


if __name__ == "__main__":
    main()
