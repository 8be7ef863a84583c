"""Micro-benchmark: the review model's cost per note, as the analyzer pays it.

    PYTHONPATH=src python benchmarks/model_bench.py [--notes 300] [--repeat 5]

Analyses ``--notes`` non-reserved MTSamples notes once (the rules' reports), then times,
on one core, what the analyzer does with the model for each note: ``predict(report.to_dict(),
text)`` (the old call: a second ``to_dict`` and scikit-learn's vectorizers) and, when the
model has it, ``predict_report(report, text)`` (reads the report directly, numpy only).
It prints the median over ``--repeat`` passes of the mean time per note, and whether
scikit-learn was imported by loading the model.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import corpus_path, load_line, machine_line
from notes import usable_notes


def _per_note_ms(call: Callable[[Any, str], Any], pairs: list[tuple[Any, str]],
                 repeat: int) -> float:
    passes = []
    for _ in range(repeat):
        start = time.perf_counter()
        for report, text in pairs:
            call(report, text)
        passes.append((time.perf_counter() - start) / len(pairs) * 1000)
    return statistics.median(passes)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--corpus")
    args = parser.parse_args(argv)

    from docgap import Analyzer

    analyzer = Analyzer(model=None)
    from docgap.scoring.model import load_default_model

    before = set(sys.modules)
    model = load_default_model(lexicon_sha256=analyzer.lexicon.sha256)
    if model is None:
        sys.exit("model_bench: the shipped review model did not load")
    sklearn_loaded = any(m == "sklearn" or m.startswith("sklearn.") for m in sys.modules
                         if m not in before)
    notes = usable_notes(corpus_path(args.corpus), args.notes)
    pairs = [(analyzer.analyze(text, note_id), text) for note_id, text in notes]
    print(machine_line())
    print(load_line())
    print(f"{len(pairs)} notes; loading the model imported scikit-learn: {sklearn_loaded}")
    old = _per_note_ms(lambda r, t: model.predict(r.to_dict(), t), pairs, args.repeat)
    print(f"predict(report.to_dict(), text): {old:.3f} ms per note")
    if hasattr(model, "predict_report"):
        new = _per_note_ms(model.predict_report, pairs, args.repeat)
        print(f"predict_report(report, text):    {new:.3f} ms per note")


if __name__ == "__main__":
    main()
