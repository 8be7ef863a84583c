"""``docgap evaluate`` agrees with an independent scorer reading ``docgap scan``'s output.

The scorer below is plain Python (no scikit-learn, nothing from docgap.evaluation.scores): status
accuracy, element micro-F1 and the false ``supported`` verdicts, counted by hand from the
JSON Lines report that ``docgap scan`` writes for the same notes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import EXAMPLES, REPO

ELEMENTS = (
    "named_syndrome", "cranial_symptoms", "cervical_findings", "etiology", "imaging",
    "subluxation_level", "upper_extremity", "autonomic",
)
WRONG_LABEL_ID = "10-not-applicable-headache"  # labelled wrongly on purpose below


def _gold_lines() -> list[dict[str, Any]]:
    """Example notes (one with a wrong label, so there is an error to show) + dev notes."""
    expected = json.loads((REPO / "examples" / "expected.json").read_text(encoding="utf-8"))
    lines = []
    for note_id, label in sorted(expected.items()):
        gold = dict(label)
        if note_id == WRONG_LABEL_ID:
            gold = {**gold, "status": "supported", "would_code": "M53.0",
                    "elements": {**gold["elements"], "named_syndrome": True}}
        text = (EXAMPLES / f"{note_id}.txt").read_text(encoding="utf-8")
        lines.append({"id": note_id, "text": text, "gold": gold, "setting": "example"})
    dev = REPO / "corpus" / "dev" / "gold.jsonl"
    if dev.exists():  # every 8th development note: many styles, some hard cases
        dev_lines = dev.read_text(encoding="utf-8").splitlines()
        lines += [json.loads(line) for line in dev_lines[::8] if line.strip()]
    return lines


@pytest.fixture(scope="module")
def gold_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gold") / "gold.jsonl"
    path.write_text("".join(json.dumps(g) + "\n" for g in _gold_lines()), encoding="utf-8")
    return path


def independent_scores(gold: list[dict[str, Any]], scanned: list[dict[str, Any]]) -> dict[str, Any]:
    """Score a scan's records against gold labels, by hand."""
    by_id = {r["note_id"]: r for r in scanned}
    assert len(by_id) == len(scanned) == len(gold)
    right = tp = fp = fn = false_pass = not_supported = 0
    per_element = {e: [0, 0, 0] for e in ELEMENTS}  # tp, fp, fn
    for note in gold:
        label, pred = note["gold"], by_id[str(note["id"])]
        right += label["status"] == pred["status"]
        if label["status"] != "supported":
            not_supported += 1
            false_pass += pred["status"] == "supported"
        for element in ELEMENTS:
            g, p = label["elements"][element], bool(pred["elements"].get(element))
            tp += g and p
            fp += p and not g
            fn += g and not p
            counts = per_element[element]
            counts[0] += g and p
            counts[1] += p and not g
            counts[2] += g and not p
    return {  # None: nothing to measure (no gold and no predicted case), printed "n/a"
        "status_accuracy": round(right / len(gold), 4),
        "element_micro_f1": round(2 * tp / (2 * tp + fp + fn), 4) if tp + fp + fn else None,
        "false_pass": false_pass,
        "false_pass_rate": round(false_pass / not_supported, 4) if not_supported else None,
        "f1": {e: round(2 * c[0] / (2 * c[0] + c[1] + c[2]), 4) if sum(c) else None
               for e, c in per_element.items()},
    }


@pytest.fixture(scope="module")
def evaluated(gold_file: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run ``evaluate --json --errors`` and ``scan`` over the same gold file, once."""
    from typer.testing import CliRunner

    from docgap.cli import app

    runner = CliRunner()
    out = tmp_path_factory.mktemp("eval") / "scores.json"
    evaluation = runner.invoke(
        app, ["evaluate", str(gold_file), "--json", str(out), "--errors", "--bootstrap", "200"]
    )
    scan = runner.invoke(app, ["scan", str(gold_file), "--id-col", "id", "--quiet"])
    return {
        "evaluation": evaluation,
        "scores": json.loads(out.read_text(encoding="utf-8")) if out.exists() else None,
        "scan": scan,
    }


def test_evaluate_matches_an_independent_scorer(evaluated: dict[str, Any], gold_file: Path) -> None:
    assert evaluated["evaluation"].exit_code == 0, evaluated["evaluation"].stderr
    assert evaluated["scan"].exit_code == 0, evaluated["scan"].stderr
    gold = [json.loads(line) for line in gold_file.read_text(encoding="utf-8").splitlines()]
    scanned = [json.loads(line) for line in evaluated["scan"].stdout.splitlines()]
    mine = independent_scores(gold, scanned)
    scores = evaluated["scores"]
    for key in ("status_accuracy", "element_micro_f1", "false_pass", "false_pass_rate"):
        assert scores[key] == pytest.approx(mine[key], abs=1e-4), key
    for element in ELEMENTS:
        assert scores["elements"][element]["f1"] == pytest.approx(mine["f1"][element], abs=1e-4)
    present = {n["gold"]["status"] for n in gold} | {r["status"] for r in scanned}
    assert set(scores["status_labels"]) == present
    # The deliberately wrong label makes the scores imperfect: the comparison has teeth.
    assert mine["status_accuracy"] < 1.0


def test_evaluate_prints_the_figures(evaluated: dict[str, Any]) -> None:
    stdout = evaluated["evaluation"].stdout
    scores = evaluated["scores"]
    assert f"status accuracy:        {scores['status_accuracy']:.4f}" in stdout
    assert f"element micro-F1:       {scores['element_micro_f1']:.4f}" in stdout
    assert f"false supported:        {scores['false_pass']} (rate" in stdout
    assert "Status confusion" in stdout
    for element in ELEMENTS:
        assert element in stdout


def test_json_has_the_promised_top_level_keys(evaluated: dict[str, Any]) -> None:
    scores = evaluated["scores"]
    for key in ("status_accuracy", "status_macro_f1", "false_pass", "false_pass_rate",
                "element_micro_f1", "elements"):
        assert key in scores
    assert scores["ci_method"]["precision"] == "wilson"
    assert scores["ci_method"]["f1"].startswith("bootstrap-percentile (200 rounds")
    for figures in scores["elements"].values():
        for measure in ("precision", "recall", "f1"):
            if figures["ci95"][measure] is not None:
                low, high = figures["ci95"][measure]
                assert low <= figures[measure] <= high, measure


def test_errors_show_the_wrong_note_with_its_evidence(evaluated: dict[str, Any]) -> None:
    stdout = evaluated["evaluation"].stdout
    wrong = next(e for e in evaluated["scores"]["errors"] if e["id"] == WRONG_LABEL_ID)
    assert wrong["gold_status"] == "supported"
    block = stdout[stdout.index(WRONG_LABEL_ID):]
    assert f"status gold supported / predicted {wrong['predicted_status']}" in block
    assert "named_syndrome: gold True, predicted False" in block
    listed = [e["id"] for e in evaluated["scores"]["errors"]]
    assert all(note_id in stdout for note_id in listed)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", ":1: malformed JSON"),
        ('{"id": "a", "gold": {}}', ":1: missing required key 'text'"),
        ('{"id": "a", "text": "x", "gold": {"elements": {}, "status": "supported"}}',
         ":1: gold.elements lacks booleans"),
        (json.dumps({"id": "a", "text": "x",
                     "gold": {"elements": dict.fromkeys(ELEMENTS, False), "status": "fine"}}),
         ":1: gold.status must be one of"),
        ('{"id": "a", "text": "x", "gold": []}', ":1: 'gold' must be a JSON object"),
        ('{"id": "a", "text": "x", "gold": {"elements": [true]}}',
         ":1: gold.elements must be a JSON object"),
        (json.dumps({"id": "a", "text": "x",
                     "gold": {"elements": dict.fromkeys(ELEMENTS, False),
                              "status": "downcode", "would_code": 54.2}}),
         ":1: gold.would_code must be a string or null"),
        ('{"note_id": "a", "text": "x", "gold": {}}', "missing required key 'id' (name the id"),
        ('[1, 2]', ":1: not a JSON object"),
    ],
    ids=["malformed", "no-text", "no-elements", "bad-status", "gold-list", "elements-list",
         "code-number", "no-id", "array"],
)
def test_malformed_gold_is_a_clear_error(
    tmp_path: Path, cli: Any, line: str, message: str
) -> None:
    path = tmp_path / "gold.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    result = cli(["evaluate", str(path)])
    assert result.exit_code == 2
    (only,) = result.stderr.strip().splitlines()
    assert only.startswith("docgap: error: ") and message in only


@pytest.mark.parametrize("content", [None, "", "\n\n"], ids=["missing", "empty", "blank"])
def test_missing_or_empty_gold(tmp_path: Path, cli: Any, content: str | None) -> None:
    path = tmp_path / "gold.jsonl"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = cli(["evaluate", str(path)])
    assert result.exit_code == 2
    assert result.stderr.startswith("docgap: error: ")


# -- small sets: n/a, macro-F1 over the statuses present, Wilson intervals, --id-col ---------
def _small_gold(tmp_path: Path, id_key: str = "id") -> Path:
    """Two supported example notes: most elements present, upper_extremity in neither."""
    expected = json.loads((REPO / "examples" / "expected.json").read_text(encoding="utf-8"))
    lines = []
    for note_id in ("01-supported-neurology", "12-supported-posterior-cervical-sympathetic"):
        text = (EXAMPLES / f"{note_id}.txt").read_text(encoding="utf-8")
        lines.append(json.dumps({id_key: note_id, "text": text, "gold": expected[note_id]}))
    path = tmp_path / "small.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_small_set_is_scored_honestly(tmp_path: Path, cli: Any) -> None:
    gold = _small_gold(tmp_path)
    labels = [json.loads(line)["gold"] for line in gold.read_text(encoding="utf-8").splitlines()]
    absent = [e for e in ELEMENTS if not any(g["elements"][e] for g in labels)]
    assert absent, "the fixture needs an element absent from gold"
    out = tmp_path / "scores.json"
    result = cli(["evaluate", str(gold), "--json", str(out), "--quiet"])
    assert result.exit_code == 0, result.stderr
    scores = json.loads(out.read_text(encoding="utf-8"))
    assert scores["status_labels"] == ["supported"]  # not five statuses, four of them 0
    assert scores["status_macro_f1"] == 1.0
    assert scores["false_pass_rate"] is None  # no note whose gold status is not supported
    for element in absent:
        figures = scores["elements"][element]
        if figures["predicted"] == 0:
            assert figures["precision"] is figures["recall"] is figures["f1"] is None
    # Wilson 95% for 2/2 is [0.342, 1]; a bootstrap would have said [1, 1].
    assert scores["status_accuracy_ci95"] == pytest.approx([0.3424, 1.0], abs=1e-3)
    # Two notes are too few for an F1 interval: none, rather than a degenerate one.
    assert all(f["ci95"]["f1"] is None for f in scores["elements"].values())
    assert "n/a" in result.stdout
    assert "over supported" in result.stdout
    assert "Wilson" in result.stdout


def test_id_col_names_the_gold_id_field(tmp_path: Path, cli: Any) -> None:
    gold = _small_gold(tmp_path, id_key="note_id")
    missing = cli(["evaluate", str(gold), "--quiet"])
    assert missing.exit_code == 2
    assert "--id-col" in missing.stderr
    out = tmp_path / "scores.json"
    result = cli(["evaluate", str(gold), "--id-col", "note_id", "--json", str(out), "--quiet",
                  "--errors"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(out.read_text(encoding="utf-8"))["n"] == 2


@pytest.mark.parametrize(
    ("successes", "trials", "expected"),
    [(0, 10, (0.0, 0.2775)), (5, 10, (0.2366, 0.7634)), (10, 10, (0.7225, 1.0))],
)
def test_wilson_interval_matches_the_textbook(
    successes: int, trials: int, expected: tuple[float, float]
) -> None:
    from docgap.evaluation.intervals import wilson

    low, high = wilson(successes, trials) or (None, None)
    assert (low, high) == pytest.approx(expected, abs=1e-4)
    assert wilson(0, 0) is None


def test_bootstrap_f1_skips_too_few_positives() -> None:
    import numpy as np

    from docgap.evaluation.intervals import F1_MIN_POSITIVES, bootstrap_f1

    rng = np.random.default_rng(0)
    few = np.array([True] * (F1_MIN_POSITIVES - 1) + [False] * 20)
    assert bootstrap_f1(few, few, rng, 100) is None
    many = np.array([True, False] * 20)
    pred = many.copy()
    pred[:4] = ~pred[:4]
    low, high = bootstrap_f1(many, pred, rng, 200) or (0.0, 0.0)
    assert 0.0 < low < high <= 1.0


# -- error analysis: --errors prints the grouped causes, --errors-json writes them ----------
def test_errors_json_groups_disagreements_by_cause(tmp_path: Path, cli: Any) -> None:
    """A note written here, labelled wrongly on purpose: named syndrome and headache claimed."""
    text = "CHIEF COMPLAINT: Neck pain.\nHPI: The patient denies headache. No dizziness.\n"
    gold = {"elements": {**dict.fromkeys(ELEMENTS, False), "named_syndrome": True,
                         "cranial_symptoms": True},
            "status": "supported", "would_code": "M53.0", "chiropractic": False}
    path = tmp_path / "gold.jsonl"
    path.write_text(json.dumps({"id": "w1", "text": text, "gold": gold}) + "\n", encoding="utf-8")
    out = tmp_path / "errors.json"
    result = cli(["evaluate", str(path), "--errors", "--errors-json", str(out), "--quiet",
                  "--bootstrap", "0"])
    assert result.exit_code == 0, result.stderr
    document = json.loads(out.read_text(encoding="utf-8"))
    assert set(document) == {"format", "n_notes", "totals", "records", "groups"}
    assert document["n_notes"] == 1
    records = {(r["element"], r["kind"]): r for r in document["records"]["elements"]}
    assert records[("named_syndrome", "false_negative")]["causes"] == ["no mention found"]
    headache = records[("cranial_symptoms", "false_negative")]
    assert headache["causes"] and "no mention found" not in headache["causes"]
    (status,) = document["records"]["statuses"]
    assert status["gold"] == "supported" and status["predicted"] != "supported"
    assert set(status["elements"]) >= {"named_syndrome", "cranial_symptoms"}
    # The summary follows the scores, names causes and ids, and quotes no note words.
    stdout = result.stdout
    summary = stdout[stdout.index("Error analysis ("):]
    assert stdout.index("status accuracy") < stdout.index("Error analysis (")
    assert "named_syndrome false_negative: 1" in summary
    assert "no mention found  (e.g. w1)" in summary
    assert "false negative elements 2" in summary
    assert "supported -> " in summary
    assert "denies" not in json.dumps(document["groups"]) and "denies" not in summary
