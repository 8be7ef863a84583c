"""The web worklist through FastAPI's TestClient, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from docgap.store import add_user, ingest
from docgap.web import worklist_router
from docgap.web.highlight import highlight
from docgap.web.sessions import SessionSigner

NOTE = "05-downcode-query-opportunity"
PASSWORD = "correct horse battery"


@pytest.fixture
def web(db_url, example_reports, example_texts) -> tuple[str, FastAPI]:
    ingest(db_url, example_reports, example_texts, docgap_version="t", lexicon_hash="a" * 64)
    add_user(db_url, "ann", "reviewer", PASSWORD)
    add_user(db_url, "bob", "reviewer", PASSWORD)
    app = FastAPI()
    app.include_router(worklist_router(db_url, secret=b"s" * 32, prefix="/worklist"))
    return db_url, app


def _signed_in(app: FastAPI, name: str = "ann") -> TestClient:
    client = TestClient(app)
    response = client.post(
        "/worklist/login", data={"name": name, "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 303
    return client


def _form_fields(page: str, action: str) -> dict[str, str]:
    form = re.search(
        rf'<form class="action"[^>]*>((?:(?!</form>).)*name="action" value="{action}"'
        r"(?:(?!</form>).)*)</form>",
        page,
        re.S,
    )
    assert form, f"no {action} form"
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form.group(1)))


def test_sign_in_required_and_wrong_password(web) -> None:
    _, app = web
    client = TestClient(app)
    assert client.get("/worklist/", follow_redirects=False).headers["location"] == "/worklist/login"
    bad = client.post("/worklist/login", data={"name": "ann", "password": "nope nope"})
    assert bad.status_code == 401 and "Wrong name or password" in bad.text
    assert "docgap_session" not in client.cookies


def test_list_filters_and_sorts(web, example_reports) -> None:
    _, app = web
    client = _signed_in(app)
    page = client.get("/worklist/", params={"status": "at_risk"}).text
    rows = re.findall(r'<a href="/worklist/notes/([^"]+)">', page)
    assert rows == ["02-at-risk-chiro-no-level", "04-at-risk-no-cranial"]
    by_score = client.get("/worklist/", params={"sort": "-score"}).text
    scores = {r["note_id"]: r.get("score") or 0.0 for r in example_reports}
    order = re.findall(r'<a href="/worklist/notes/([^"]+)">', by_score)
    assert [scores[n] for n in order] == sorted(scores.values(), reverse=True)
    gap = client.get("/worklist/", params={"gap": "query_opportunity"}).text
    expected = sorted(
        r["note_id"]
        for r in example_reports
        if any(g["key"] == "query_opportunity" for g in r.get("gaps") or ())
    )
    assert NOTE in expected
    assert re.findall(r'<a href="/worklist/notes/([^"]+)">', gap) == expected


def test_note_view_highlights_escaped_evidence(web) -> None:
    _, app = web
    page = _signed_in(app).get(f"/worklist/notes/{NOTE}").text
    assert '<mark class="affirmed"' in page
    assert 'name="action" value="draft-query"' in page
    # the queries.yml draft, ready to edit in the form
    assert re.search(r'<textarea name="query_text"[^>]*>[^<]*Clarification is requested', page)


def test_highlight_escapes_the_note() -> None:
    out = highlight("<b>neck</b> pain", [{"start": 3, "end": 7, "assertion": "negated"}])
    assert (
        str(out)
        == '&lt;b&gt;<mark class="negated" title="None (negated)">neck</mark>&lt;/b&gt; pain'
    )


def test_actions_need_csrf_and_follow_the_lifecycle(web, caplog, example_texts) -> None:
    _, app = web
    client = _signed_in(app)
    page = client.get(f"/worklist/notes/{NOTE}").text
    fields = _form_fields(page, "draft-query")
    forged = client.post(f"/worklist/notes/{NOTE}/action", data={**fields, "csrf": "forged"})
    assert forged.status_code == 403
    with caplog.at_level(logging.DEBUG):
        done = client.post(f"/worklist/notes/{NOTE}/action", data=fields, follow_redirects=True)
    assert done.status_code == 200 and '<b id="state">query_drafted</b>' in done.text
    sent = client.post(
        f"/worklist/notes/{NOTE}/action",
        data=_form_fields(done.text, "send-query"),
        follow_redirects=True,
    )
    assert '<b id="state">query_sent</b>' in sent.text
    wrong = client.post(
        f"/worklist/notes/{NOTE}/action",
        data={**_form_fields(sent.text, "answer"), "action": "accept"},
    )
    assert wrong.status_code == 400 and "cannot accept" in wrong.text
    assert caplog.records  # the SQL and HTTP layers logged; none of it quotes the note
    assert not any(example_texts[NOTE][:40] in r.getMessage() for r in caplog.records)


def test_second_reviewer_on_a_stale_page_gets_a_conflict(web) -> None:
    _, app = web
    ann, bob = _signed_in(app, "ann"), _signed_in(app, "bob")
    note = "02-at-risk-chiro-no-level"
    ann_fields = _form_fields(ann.get(f"/worklist/notes/{note}").text, "accept")
    bob_fields = _form_fields(bob.get(f"/worklist/notes/{note}").text, "claim")
    assert ann.post(f"/worklist/notes/{note}/action", data=ann_fields).status_code == 200
    late = bob.post(f"/worklist/notes/{note}/action", data=bob_fields)
    assert late.status_code == 409 and "changed by someone else" in late.text
    assert '<b id="state">accepted</b>' in late.text and "assigned to ann" in late.text


def test_metrics_page_and_logout(web) -> None:
    _, app = web
    client = _signed_in(app)
    page = client.get("/worklist/metrics").text
    assert 'id="rates"' in page and "query_rate" in page
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf
    out = client.post("/worklist/logout", data={"csrf": csrf.group(1)}, follow_redirects=False)
    assert out.status_code == 303


def test_session_cookie_cannot_be_forged() -> None:
    signer = SessionSigner(b"k" * 32)
    cookie, session = signer.issue("ann", "reviewer")
    assert signer.read(cookie) == session
    payload, _, sig = cookie.rpartition(".")
    assert signer.read(payload + "." + "0" * len(sig)) is None
    assert SessionSigner(b"x" * 32).read(cookie) is None
    assert signer.csrf_ok(session, session.csrf) and not signer.csrf_ok(session, "x")


def test_an_edited_leading_draft_is_saved_but_cannot_be_sent(web) -> None:
    _, app = web
    client = _signed_in(app)
    page = client.get(f"/worklist/notes/{NOTE}").text
    draft = re.search(r'<textarea name="query_text"[^>]*>([^<]*)</textarea>', page)
    assert draft
    edited = draft.group(1).replace("&#34;", '"').replace("&#39;", "'").replace("&amp;", "&")
    edited += "\nPlease document cervicocranial syndrome to support M53.0.\n"
    saved = client.post(
        f"/worklist/notes/{NOTE}/action",
        data={**_form_fields(page, "draft-query"), "query_text": edited},
        follow_redirects=True,
    )
    assert '<b id="state">query_drafted</b>' in saved.text
    assert "Please document cervicocranial syndrome" in saved.text  # the edit was kept
    refused = client.post(
        f"/worklist/notes/{NOTE}/action", data=_form_fields(saved.text, "send-query")
    )
    assert refused.status_code == 400 and "not compliant" in refused.text
    assert '<b id="state">query_drafted</b>' in refused.text


def test_only_an_admin_may_cancel_from_the_web(web) -> None:
    db_url, app = web
    add_user(db_url, "ada", "admin", PASSWORD)
    reviewer = _signed_in(app, "ann")
    page = reviewer.get(f"/worklist/notes/{NOTE}").text
    assert 'value="cancel"' not in page
    fields = _form_fields(page, "claim")
    refused = reviewer.post(
        f"/worklist/notes/{NOTE}/action", data={**fields, "action": "cancel", "reason": "dup"}
    )
    assert refused.status_code == 403 and "role may not" in refused.text
    admin = _signed_in(app, "ada")
    page = admin.get(f"/worklist/notes/{NOTE}").text
    done = admin.post(
        f"/worklist/notes/{NOTE}/action",
        data={**_form_fields(page, "cancel"), "reason": "duplicate document"},
    )
    assert done.status_code == 200 and '<b id="state">cancelled</b>' in done.text
    assert NOTE not in admin.get("/worklist/").text
    assert NOTE in admin.get("/worklist/?state=cancelled").text


def test_a_cookie_with_an_unknown_role_is_no_session(web) -> None:
    _, app = web
    cookie, _ = SessionSigner(b"s" * 32).issue("mallory", "root")
    client = TestClient(app, cookies={"docgap_session": cookie})
    assert client.get("/worklist/", follow_redirects=False).status_code == 303
