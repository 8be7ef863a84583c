"""The Python API gives the query drafts and documentation fixes the service gives."""

from __future__ import annotations

from pathlib import Path

import docgap
from docgap.service.schemas import analysis_body

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "notes"


def test_drafts_match_the_service_body_for_every_example(analyzer: docgap.Analyzer) -> None:
    for path in sorted(EXAMPLES.glob("*.txt")):
        report = analyzer.analyze(path.read_text(encoding="utf-8"), path.stem)
        help_ = docgap.drafts(report)
        body = analysis_body(report.to_dict())
        assert help_ == {"queries": body["queries"], "fixes": body["fixes"]}
        assert [f["gap"] for f in help_["fixes"]] == report.gap_keys()


def test_a_query_opportunity_gets_a_non_leading_draft(analyzer: docgap.Analyzer) -> None:
    text = (EXAMPLES / "05-downcode-query-opportunity.txt").read_text(encoding="utf-8")
    help_ = docgap.drafts(analyzer.analyze(text, "05"))
    assert help_["queries"], "a query opportunity calls for a query draft"
    fix = next(f for f in help_["fixes"] if f["gap"] == "query_opportunity")
    assert fix["query"] in {q["key"] for q in help_["queries"]}
    assert all(q["text"] for q in help_["queries"])


def test_a_failed_report_needs_no_draft() -> None:
    failed = docgap.NoteReport.failed("x", "record has no text")
    assert docgap.drafts(failed) == {"queries": [], "fixes": []}
