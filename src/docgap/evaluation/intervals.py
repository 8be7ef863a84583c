"""Confidence intervals that stay honest on the small gold sets researchers bring.

A percentile bootstrap of a proportion over 20 notes is ragged and too narrow (a resample
cannot produce a value the sample does not hold), and with no positive cases it collapses to
``[0, 0]``. Precision, recall, accuracy and rates are proportions, so they get the Wilson
score interval, which is exact enough at any n and never leaves ``[0, 1]``. F1 is not a
proportion: it gets a percentile bootstrap over notes that skips resamples where F1 is
undefined, and no interval at all when too few notes take part for one to mean anything.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["BOOTSTRAP", "F1_MIN_POSITIVES", "WILSON", "bootstrap_f1", "f1_of", "wilson"]

WILSON = "wilson"
BOOTSTRAP = "bootstrap-percentile"
# Below this many notes that are positive in gold or prediction, an F1 interval is noise.
F1_MIN_POSITIVES = 10
_Z95 = 1.959963984540054


def wilson(successes: int, trials: int, z: float = _Z95) -> tuple[float, float] | None:
    """Wilson score interval of ``successes / trials`` (``None`` when there are no trials)."""
    if trials <= 0:
        return None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def f1_of(gold: np.ndarray, pred: np.ndarray) -> float | None:
    """F1 of the positive class; ``None`` when neither gold nor prediction has a positive."""
    tp = int(np.sum(gold & pred))
    wrong = int(np.sum(gold ^ pred))
    return None if tp + wrong == 0 else 2 * tp / (2 * tp + wrong)


def bootstrap_f1(
    gold: np.ndarray, pred: np.ndarray, rng: np.random.Generator, rounds: int
) -> tuple[float, float] | None:
    """Percentile bootstrap 95% interval of F1 over notes, or ``None`` when it means nothing.

    ``None`` when ``rounds`` is 0 or fewer than :data:`F1_MIN_POSITIVES` notes are positive
    in gold or prediction; resamples without any positive are skipped, not counted as 0.
    """
    if rounds <= 0 or int(np.sum(gold | pred)) < F1_MIN_POSITIVES:
        return None
    n = len(gold)
    samples = []
    for _ in range(rounds):
        idx = rng.integers(0, n, n)
        value = f1_of(gold[idx], pred[idx])
        if value is not None:
            samples.append(value)
    if not samples:
        return None
    return float(np.percentile(samples, 2.5)), float(np.percentile(samples, 97.5))
