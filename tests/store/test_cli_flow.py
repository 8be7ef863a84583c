"""The issue's "Done when" through the command line, on SQLite and PostgreSQL.

db upgrade, a scan of examples/notes ingested twice (the second adds nothing), each kind
of transition by ``docgap review``, the audit log with each user, the metrics, and
``docgap export-gold`` output that ``docgap evaluate``'s loader accepts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from docgap.cli import app
from docgap.evaluation.scores import load_gold
from docgap.store import verify_user

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_REPORTS = REPO / "tests" / "golden" / "examples.jsonl"
EXAMPLE_NOTES = REPO / "examples" / "notes"

runner = CliRunner()


def run(*args: object, input: str | None = None, code: int = 0) -> str:
    result = runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture
def ingested(db_url: str) -> str:
    run("db", "upgrade", "--db", db_url)  # already at head: a no-op that still succeeds
    first = json.loads(
        run("db", "ingest", EXAMPLE_REPORTS, "--texts", EXAMPLE_NOTES, "--db", db_url, "--json")
    )
    assert first["reports_added"] == 12 and first["notes_added"] == 12
    return db_url


def test_second_ingest_adds_nothing(ingested: str) -> None:
    again = json.loads(
        run("db", "ingest", EXAMPLE_REPORTS, "--texts", EXAMPLE_NOTES, "--db", ingested, "--json")
    )
    assert again == {
        "scan_id": None,
        "notes_added": 0,
        "reports_added": 0,
        "unchanged": 12,
        "changed": [],
    }


def test_every_transition_audit_metrics_and_gold(ingested: str, tmp_path: Path) -> None:
    db = ingested
    # accept -> close (the final code defaults to docgap's when accepted)
    run("review", "01-supported-neurology", "--db", db, "--user", "ann", "--action", "accept")
    run("review", "01-supported-neurology", "--db", db, "--user", "ann", "--action", "close")
    # override with reason, status and an element
    run(
        "review", "04-at-risk-no-cranial", "--db", db, "--user", "bob", "--action", "override",
        "--status", "downcode", "--reason", "syndrome named only as history",
        "--element", "named_syndrome=false",
    )  # fmt: skip
    # the query path, from queries.yml, to a close with the final code
    note = "05-downcode-query-opportunity"
    for action, extra in [
        ("draft-query", []),
        ("send-query", []),
        ("answer", ["--response", "agree"]),
        ("close", ["--final-code", "M53.0"]),
    ]:
        run("review", note, "--db", db, "--user", "cara", "--action", action, *extra)
    # a query answered "disagree" (another note with a query draft)
    run(
        "review",
        "02-at-risk-chiro-no-level",
        "--db",
        db,
        "--user",
        "cara",
        "--action",
        "draft-query",
    )
    run(
        "review",
        "02-at-risk-chiro-no-level",
        "--db",
        db,
        "--user",
        "cara",
        "--action",
        "send-query",
    )
    run(
        "review", "02-at-risk-chiro-no-level", "--db", db, "--user", "cara", "--action", "answer",
        "--response", "disagree",
    )  # fmt: skip

    # an impossible transition: a clear error, exit 2
    out = run("review", note, "--db", db, "--user", "ann", "--action", "accept", code=2)
    assert "cannot accept an item in state 'closed'" in out

    audit = json.loads(run("audit", "--db", db, "--format", "json"))
    users = {(e["note_id"], e["action"]): e["user"] for e in audit}
    assert users[("01-supported-neurology", "accept")] == "ann"
    assert users[("04-at-risk-no-cranial", "override")] == "bob"
    assert users[(note, "send-query")] == "cara"
    assert users[(note, "ingest")] == "docgap"
    one = json.loads(run("audit", "--db", db, "--note", note, "--format", "json"))
    assert [e["action"] for e in one] == [
        "ingest", "claim", "draft-query", "send-query", "answer", "close",
    ]  # fmt: skip
    assert "evidence" not in one[0]

    figures = json.loads(run("metrics", "--db", db, "--format", "json"))
    assert figures["reviewed"] == 4
    assert figures["queries_sent"] == 2 and figures["query_rate"] == 0.5
    assert figures["response_rate"] == 1.0 and figures["agreement_rate"] == 0.5
    assert figures["median_turnaround_hours"] is not None
    assert figures["overrides_by_reason"] == {"syndrome named only as history": 1}
    assert figures["overrides_by_element"] == {"named_syndrome": 1}
    assert figures["precision_by_status"]["supported"]["precision"] == 1.0
    assert figures["precision_by_status"]["at_risk"]["precision"] == 0.0
    later = json.loads(run("metrics", "--db", db, "--since", "2999-01-01", "--format", "json"))
    assert later["reviewed"] == 0 and later["query_rate"] is None

    gold_path = tmp_path / "gold.jsonl"
    run("export-gold", "--db", db, "--out", gold_path)
    gold = {g.id: g for g in load_gold(gold_path)}
    assert set(gold) == {
        "01-supported-neurology", "04-at-risk-no-cranial", note, "02-at-risk-chiro-no-level",
    }  # fmt: skip
    assert gold["01-supported-neurology"].status == "supported"
    assert gold["04-at-risk-no-cranial"].status == "downcode"
    assert gold["04-at-risk-no-cranial"].elements["named_syndrome"] is False
    assert gold[note].text == (EXAMPLE_NOTES / f"{note}.txt").read_text(encoding="utf-8")

    listed = json.loads(run("worklist", "--db", db, "--state", "closed", "--format", "json"))
    assert sorted(i["note_id"] for i in listed) == ["01-supported-neurology", note]
    mine = json.loads(run("worklist", "--db", db, "--assignee", "bob", "--format", "json"))
    assert [i["note_id"] for i in mine] == ["04-at-risk-no-cranial"]


def test_users_add_hashes_with_argon2(ingested: str) -> None:
    out = run(
        "users", "add", "dana", "--role", "admin", "--db", ingested, "--password-stdin",
        input="correct horse battery\n",
    )  # fmt: skip
    assert "dana" in out and "correct horse" not in out
    assert verify_user(ingested, "dana", "correct horse battery") == "admin"
    assert verify_user(ingested, "dana", "wrong password") is None
    assert verify_user(ingested, "nobody", "correct horse battery") is None
    again = run(
        "users", "add", "dana", "--db", ingested, "--password-stdin", input="another pass\n",
        code=2,
    )  # fmt: skip
    assert "exists" in again
    bad = run("users", "add", "eve", "--role", "root", "--db", ingested, "--password-stdin",
              input="longenough\n", code=2)  # fmt: skip
    assert "unknown role" in bad


def test_a_database_not_upgraded_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    out = run("worklist", "--db", url, code=2)
    assert "docgap db upgrade" in out


def test_scan_then_ingest_real_reports(db_url: str, tmp_path: Path, cli) -> None:
    """A real scan of examples/notes, ingested twice: the second adds nothing."""
    report = tmp_path / "scan.jsonl"
    assert cli(["scan", EXAMPLE_NOTES, "--out", report]).exit_code == 0
    for expected in (12, 0):
        summary = json.loads(
            run("db", "ingest", report, "--texts", EXAMPLE_NOTES, "--db", db_url, "--json")
        )
        assert summary["reports_added"] == expected


def test_rescan_with_changed_rules_shows_changed_statuses(ingested: str, tmp_path: Path) -> None:
    """New rules: every note gets a new report, the changed one is listed and kept visible."""
    lines = EXAMPLE_REPORTS.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    for record in records:
        if record["note_id"] == "04-at-risk-no-cranial":
            record["status"] = "downcode"
    rescan = tmp_path / "rescan.jsonl"
    rescan.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    out = run(
        "db", "ingest", rescan, "--texts", EXAMPLE_NOTES, "--db", ingested,
        "--lexicon-hash", "f" * 64,
    )  # fmt: skip
    assert "12 report(s) added" in out
    assert "status changed: 04-at-risk-no-cranial: at_risk -> downcode" in out
    items = {
        i["note_id"]: i for i in json.loads(run("worklist", "--db", ingested, "--format", "json"))
    }
    changed = items["04-at-risk-no-cranial"]
    assert (changed["status"], changed["previous_status"], changed["status_changed"]) == (
        "downcode", "at_risk", True,
    )  # fmt: skip
    assert not items["01-supported-neurology"]["status_changed"]
    table = run("worklist", "--db", ingested)
    assert "at_risk -> downcode" in table


def test_users_add_prompts_for_the_password(ingested: str) -> None:
    run(
        "users", "add", "fay", "--db", ingested, input="longenough1\nlongenough1\n",
    )  # fmt: skip
    assert verify_user(ingested, "fay", "longenough1") == "reviewer"


def test_review_option_errors_exit_2(ingested: str) -> None:
    note = "04-at-risk-no-cranial"
    bad = run("review", note, "--db", ingested, "--user", "ann", "--action", "override",
              "--element", "named_syndrome", "--reason", "x", code=2)  # fmt: skip
    assert "ELEMENT=true|false" in bad
    missing = run("review", note, "--db", ingested, "--user", "ann", "--action", "override",
                  "--status", "downcode", code=2)  # fmt: skip
    assert "override needs a reason" in missing
    unknown = run("review", "nope", "--db", ingested, "--user", "ann", "--action", "accept",
                  code=2)  # fmt: skip
    assert "no review item" in unknown


def test_users_list_and_role_changes_are_checked(ingested: str) -> None:
    for name, role in (("ada", "admin"), ("ann", "reviewer")):
        run("users", "add", name, "--role", role, "--db", ingested, "--password-stdin",
            input="correct horse battery\n")  # fmt: skip
    assert run("users", "list", "--db", ingested).splitlines() == ["ada\tadmin", "ann\treviewer"]
    last = run("users", "role", "ada", "reviewer", "--db", ingested, code=2)
    assert "last admin" in last
    assert "unknown role" in run("users", "role", "ann", "root", "--db", ingested, code=2)
    assert "no user" in run("users", "role", "zed", "admin", "--db", ingested, code=2)
    run("users", "role", "ann", "admin", "--db", ingested)
    run("users", "role", "ada", "reviewer", "--db", ingested)
    assert verify_user(ingested, "ada", "correct horse battery") == "reviewer"
    assert verify_user(ingested, "ann", "correct horse battery") == "admin"


def test_review_cancel_takes_the_note_off_the_worklist(ingested: str) -> None:
    note = "05-downcode-query-opportunity"
    assert "reason" in run("review", note, "--db", ingested, "--user", "ada",
                           "--action", "cancel", code=2)  # fmt: skip
    run("review", note, "--db", ingested, "--user", "ada", "--action", "cancel",
        "--reason", "duplicate document")  # fmt: skip
    listed = json.loads(run("worklist", "--db", ingested, "--format", "json"))
    assert note not in [i["note_id"] for i in listed]
    cancelled = json.loads(run("worklist", "--db", ingested, "--state", "cancelled",
                               "--format", "json"))  # fmt: skip
    assert [i["note_id"] for i in cancelled] == [note]
    audit = json.loads(run("audit", "--db", ingested, "--note", note, "--format", "json"))
    assert (audit[-1]["user"], audit[-1]["action"], audit[-1]["after"]) == (
        "ada",
        "cancel",
        "cancelled",
    )
