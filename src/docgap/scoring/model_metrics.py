"""How good the review model's probabilities are, and where its review threshold goes.

Every figure is computed from predictions made for notes the model did not see
(cross-validation folds or a held-out file): log loss and Brier score, per-status F1, a
calibration table, and what the ``review`` flag does (the share of notes it flags and the
share of the rules' errors it catches). Confidence intervals come from a bootstrap over
notes; when a note was predicted several times (repeated cross-validation) its predictions
are resampled together.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score

from docgap.report import STATUSES

__all__ = [
    "BOOTSTRAP_ROUNDS",
    "CALIBRATION_BINS",
    "calibration_table",
    "choose_threshold",
    "log_losses",
    "metrics_markdown",
    "plot_calibration",
    "review_flags",
    "summarize",
]

BOOTSTRAP_ROUNDS = 1000
CALIBRATION_BINS = 10
_EPS = 1e-15
_SUPPORTED = STATUSES.index("supported")


def _r(value: Any) -> float:
    """Figures are stored to four decimals: enough to read, stable to compare."""
    return round(float(value), 4)


def log_losses(proba: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """Each prediction's log loss (natural log), probabilities clipped away from zero."""
    picked = proba[np.arange(len(gold)), gold]
    return -np.log(np.clip(picked, _EPS, 1.0))


def _brier(proba: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """Each prediction's multi-class Brier score: squared distance to the one-hot truth."""
    truth = np.zeros_like(proba)
    truth[np.arange(len(gold)), gold] = 1.0
    return ((proba - truth) ** 2).sum(axis=1)


def review_flags(proba: np.ndarray, rules: np.ndarray, threshold: float) -> np.ndarray:
    """``review``: the model's likeliest status is not the rules', or the rules' is unlikely."""
    rules_proba = proba[np.arange(len(rules)), rules]
    return (proba.argmax(axis=1) != rules) | (rules_proba < threshold)


def choose_threshold(
    proba: np.ndarray, gold: np.ndarray, rules: np.ndarray, budget: float
) -> float:
    """The review threshold that catches the most rule errors flagging at most ``budget``.

    Among thresholds that flag no more than ``budget`` of the notes, the one that flags the
    most notes whose rules' status is wrong; of equals, the one that flags fewest notes.
    Notes where the model's likeliest status is not the rules' are flagged at any threshold;
    should they alone exceed the budget, the threshold is 0 (flag only those).
    """
    rules_proba = proba[np.arange(len(rules)), rules]
    wrong = gold != rules
    best: tuple[int, float, float] | None = None  # (-caught, share, threshold)
    for threshold in (0.0, *np.unique(rules_proba).tolist(), 1.0 + 1e-9):
        flags = review_flags(proba, rules, threshold)
        share = float(flags.mean())
        if share > budget:
            break  # the share only grows with the threshold
        key = (-int((flags & wrong).sum()), share, float(threshold))
        if best is None or key < best:
            best = key
    return best[2] if best is not None else 0.0


def calibration_table(
    predicted: np.ndarray, observed: np.ndarray, bins: int = CALIBRATION_BINS
) -> list[dict[str, Any]]:
    """Equal-width bins of predicted probability: count, mean prediction, observed rate."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(predicted, edges[1:-1], right=False), 0, bins - 1)
    rows = []
    for b in range(bins):
        inside = which == b
        count = int(inside.sum())
        rows.append(
            {
                "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                "n": count,
                "mean_predicted": _r(predicted[inside].mean()) if count else None,
                "observed": _r(observed[inside].mean()) if count else None,
            }
        )
    return rows


def _ece(table: list[dict[str, Any]]) -> float:
    """Expected calibration error: the count-weighted gap between prediction and outcome."""
    total = sum(row["n"] for row in table)
    gap = sum(
        row["n"] * abs(row["mean_predicted"] - row["observed"]) for row in table if row["n"]
    )
    return _r(gap / total) if total else 0.0


def _figures(
    proba: np.ndarray, gold: np.ndarray, rules: np.ndarray, threshold: float
) -> dict[str, Any]:
    """Point figures over a set of predictions (one row per prediction)."""
    predicted = proba.argmax(axis=1)
    labels = list(range(len(STATUSES)))
    f1 = f1_score(gold, predicted, labels=labels, average=None, zero_division=0.0)
    flags = review_flags(proba, rules, threshold)
    wrong = gold != rules
    supported = (gold == _SUPPORTED).astype(float)
    return {
        "log_loss": float(log_losses(proba, gold).mean()),
        "brier": float(_brier(proba, gold).mean()),
        "score_brier": float(((proba[:, _SUPPORTED] - supported) ** 2).mean()),
        "accuracy": float((predicted == gold).mean()),
        "macro_f1": float(np.mean(f1)),
        **{f"f1:{STATUSES[k]}": float(f1[k]) for k in labels},
        "review_share": float(flags.mean()),
        "rule_errors_caught": float((flags & wrong).sum() / wrong.sum()) if wrong.any() else 1.0,
    }


def summarize(
    proba: np.ndarray,
    gold: np.ndarray,
    rules: np.ndarray,
    threshold: float,
    *,
    note_index: np.ndarray | None = None,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = 0,
) -> dict[str, Any]:
    """Every figure the model card reports, with 95% bootstrap intervals over notes.

    ``proba`` holds one row per prediction, columns in ``STATUSES`` order; ``gold`` and
    ``rules`` are status indexes. ``note_index`` maps each row to its note when notes were
    predicted more than once; the bootstrap resamples notes with all their rows.
    """
    notes = np.arange(len(gold)) if note_index is None else note_index
    point = _figures(proba, gold, rules, threshold)
    rows_of = [np.flatnonzero(notes == n) for n in np.unique(notes)]
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {name: [] for name in point}
    for _ in range(rounds):
        picked = rng.integers(0, len(rows_of), len(rows_of))
        idx = np.concatenate([rows_of[i] for i in picked])
        for name, value in _figures(proba[idx], gold[idx], rules[idx], threshold).items():
            samples[name].append(value)
    figures = {
        name: {
            "value": _r(value),
            "ci95": [_r(np.percentile(samples[name], 2.5)), _r(np.percentile(samples[name], 97.5))]
            if rounds
            else None,
        }
        for name, value in point.items()
    }
    flags = review_flags(proba, rules, threshold)
    wrong = gold != rules
    score_table = calibration_table(proba[:, _SUPPORTED], (gold == _SUPPORTED).astype(float))
    pooled = calibration_table(
        proba.ravel(), np.eye(len(STATUSES))[gold].ravel()
    )
    return {
        "predictions": len(gold),
        "notes": len(rows_of),
        "rules_accuracy": _r((gold == rules).mean()),
        "rule_errors": int(wrong.sum()),
        "flagged": int(flags.sum()),
        "flagged_rule_errors": int((flags & wrong).sum()),
        "figures": figures,
        "calibration": {
            "score": score_table,
            "score_ece": _ece(score_table),
            "all_statuses": pooled,
            "all_statuses_ece": _ece(pooled),
        },
    }


def plot_calibration(summary: dict[str, Any], path: Path, title: str) -> None:
    """Reliability diagram of the score and of all statuses pooled (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(6, 7), gridspec_kw={"height_ratios": [3, 1]}, sharex=True
    )
    top.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfect calibration")
    tables: Sequence[tuple[str, str, str]] = (
        ("score", "score = P(supported)", "tab:blue"),
        ("all_statuses", "all five statuses pooled", "tab:orange"),
    )
    width = 1.0 / CALIBRATION_BINS
    for offset, (key, label, color) in enumerate(tables):
        rows = [r for r in summary["calibration"][key] if r["n"]]
        top.plot(
            [r["mean_predicted"] for r in rows],
            [r["observed"] for r in rows],
            marker="o",
            color=color,
            label=label,
        )
        lefts = [float(r["bin"].split("-")[0]) + offset * width / 2 for r in summary[
            "calibration"][key]]
        bottom.bar(
            lefts,
            [r["n"] for r in summary["calibration"][key]],
            width=width / 2,
            align="edge",
            color=color,
            log=True,
        )
    top.set_ylabel("observed frequency")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_title(title)
    top.legend(loc="upper left")
    bottom.set_xlabel("predicted probability")
    bottom.set_ylabel("predictions")
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)


def _ci(figure: dict[str, Any]) -> str:
    low, high = figure["ci95"] or (None, None)
    return f"{figure['value']:.4f} [{low:.4f}, {high:.4f}]" if low is not None else (
        f"{figure['value']:.4f}")


def metrics_markdown(metadata: dict[str, Any]) -> str:
    """The model card's generated section: every figure, read from a model's metadata."""
    cv = metadata["cross_validation"]
    figures = cv["metrics"]
    review = metadata["review"]
    data = metadata["training_data"]
    lines = [
        f"Model `{metadata['model_sha256'][:12]}`, trained on `{data['file']}` "
        f"(sha256 `{data['sha256'][:12]}`, {data['notes']} notes) with lexicon "
        f"`{metadata['lexicon_sha256'][:12]}`, scikit-learn {metadata['versions']['scikit-learn']}."
        f" The rules alone get {data['rules_accuracy']:.4f} of the statuses right on these "
        f"notes ({data['rule_errors']} errors).",
        "",
        f"Cross-validation: {cv['scheme']}. Figures are over the {cv['predictions']} "
        "out-of-fold predictions, with 95% bootstrap intervals over notes.",
        "",
        f"**Model choice.** Rule: {cv['selection_rule']}.",
        "",
        "| candidate | log loss | minus best | SE of difference | within 1 SE |",
        "| --- | ---: | ---: | ---: | :---: |",
    ]
    for row in cv["candidates"]:
        mark = " **chosen**" if row["candidate"] == cv["chosen"] else ""
        lines.append(
            f"| {row['candidate']}{mark} | {row['log_loss']:.4f} | {row['minus_best']:.4f} | "
            f"{row['se_of_difference']:.4f} | {'yes' if row['within_one_se'] else 'no'} |"
        )
    lines += ["", "**Out-of-fold metrics** of the chosen model:", "",
              "| metric | value [95% CI] |", "| --- | ---: |"]
    names = {
        "log_loss": "log loss (5 statuses)",
        "brier": "Brier score (5 statuses, sum over classes)",
        "score_brier": "Brier score of `score` (supported or not)",
        "accuracy": "accuracy of the likeliest status",
        "macro_f1": "macro-F1",
    }
    for key, figure in figures.items():
        if key.startswith(("review", "rule_errors")):
            continue
        label = names.get(key, f"F1 `{key.split(':', 1)[1]}`" if ":" in key else key)
        lines.append(f"| {label} | {_ci(figure)} |")
    lines += [
        "",
        f"**Review flag** (threshold {review['threshold']:.4f} on the rules' status "
        f"probability, chosen out of fold for a budget of {review['budget']:.2f}): flags "
        f"{_ci(review['share_flagged'])} of the notes ({review['flagged']} of "
        f"{cv['predictions']} predictions) and catches {_ci(review['rule_errors_caught'])} "
        f"of the rules' errors ({review['flagged_rule_errors']} of {review['rule_errors']}).",
        "",
        "**Calibration** (out of fold; ECE: count-weighted mean gap between predicted and "
        f"observed): `score` ECE {cv['calibration']['score_ece']:.4f}, all statuses pooled "
        f"ECE {cv['calibration']['all_statuses_ece']:.4f}.",
        "",
        "| predicted | `score`: n | mean predicted | observed | all statuses: n | "
        "mean predicted | observed |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]

    def cell(value: float | None) -> str:
        return "" if value is None else f"{value:.4f}"

    for s, p in zip(cv["calibration"]["score"], cv["calibration"]["all_statuses"], strict=True):
        lines.append(
            f"| {s['bin']} | {s['n']} | {cell(s['mean_predicted'])} | {cell(s['observed'])} | "
            f"{p['n']} | {cell(p['mean_predicted'])} | {cell(p['observed'])} |"
        )
    by_part = metadata.get("leave_one_part_out")
    if by_part:
        f = by_part["figures"]
        lines += [
            "",
            f"**Leave one source part out** ({by_part['scheme']}): log loss "
            f"{f['log_loss']:.4f}, Brier {f['brier']:.4f}, accuracy {f['accuracy']:.4f}, "
            f"review flags {f['review_share']:.4f} of the notes and catches "
            f"{by_part['flagged_rule_errors']} of {by_part['rule_errors']} rule errors.",
            "",
            "| part | notes | log loss | review share | rule errors | flagged |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for part, row in by_part["parts"].items():
            lines.append(
                f"| `{part}` | {row['notes']} | {row['log_loss']:.4f} | "
                f"{row['review_share']:.4f} | {row['rule_errors']} | "
                f"{row['rule_errors_flagged']} |"
            )
    return "\n".join(lines) + "\n"
