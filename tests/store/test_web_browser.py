"""The web worklist in a real browser: Playwright driving Debian's Chromium, never a download.

The router is served by uvicorn on a loopback port (a bare FastAPI app), on SQLite and on
PostgreSQL. One reviewer signs in, filters, opens a note (its evidence highlighted), accepts
one item, drafts a query on another, is refused sending a leading edit, sends the compliant
one; a second reviewer acting on a stale page gets the conflict message. With
``DOCGAP_SCREENSHOTS=1`` the worklist and the note view are saved to ``docs/``.

Without ``/usr/bin/chromium`` the tests skip outside CI and fail in CI (``CI=true``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect, sync_playwright

from docgap.store import add_user, ingest
from docgap.web import worklist_router

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    if os.environ.get("CI"):
        pytest.fail("Debian's chromium is not installed (make ensure-chromium)", pytrace=False)
    pytest.skip(
        "Debian's chromium is not installed (make ensure-chromium)", allow_module_level=True
    )

DOCS = Path(__file__).resolve().parents[2] / "docs"
PASSWORD = "correct horse battery"
SUPPORTED = "01-supported-neurology"
QUERY_NOTE = "05-downcode-query-opportunity"
AT_RISK = "02-at-risk-chiro-no-level"
LEADING = "Please document cervicocranial syndrome to support M53.0."
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def base_url(db_url: str, example_reports, example_texts) -> Iterator[str]:
    """The worklist of the example notes, served by uvicorn on a free loopback port."""
    ingest(db_url, example_reports, example_texts, docgap_version="t", lexicon_hash="a" * 64)
    add_user(db_url, "ann", "reviewer", PASSWORD)
    add_user(db_url, "bob", "reviewer", PASSWORD)
    app = FastAPI()
    app.include_router(worklist_router(db_url, secret=b"s" * 32, prefix="/worklist"))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        assert thread.is_alive(), "uvicorn stopped"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/worklist"
    server.should_exit = True
    thread.join(timeout=30)


def _sign_in(browser: Browser, base_url: str, name: str) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{base_url}/login")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Worklist")).to_be_visible()
    return page


def _act(page: Page, action: str) -> None:
    page.locator(f'form.action:has(input[name="action"][value="{action}"]) button').click()


def _screenshot(page: Page, name: str, db_url: str) -> None:
    if os.environ.get("DOCGAP_SCREENSHOTS") == "1" and db_url.startswith("sqlite"):
        page.screenshot(path=str(DOCS / name), full_page=True)


def test_review_flow_in_the_browser(browser: Browser, base_url: str, db_url: str) -> None:
    ann = _sign_in(browser, base_url, "ann")
    rows = ann.locator("#worklist tbody tr")
    expect(rows).to_have_count(12)
    ann.locator('select[name="status"]').select_option("downcode")
    ann.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(3)
    for cell in rows.locator("td:nth-child(2)").all_inner_texts():
        assert cell == "downcode"
    ann.locator('select[name="status"]').select_option("")
    ann.locator('select[name="sort"]').select_option("-score")
    ann.get_by_role("button", name="Filter").click()
    expect(rows.first.locator("td").first).to_have_text("03-supported-chiro-level")

    # accept one item: its evidence is highlighted in the note view
    ann.get_by_role("link", name=SUPPORTED).click()
    expect(ann.get_by_role("heading", name=SUPPORTED, exact=True)).to_be_visible()
    marks = ann.locator("pre.note mark.affirmed")
    expect(marks.first).to_be_visible()
    assert marks.count() >= 2
    _act(ann, "accept")
    expect(ann.locator("#state")).to_have_text("accepted")

    # a query on another: a leading edit is kept but refused on send, visibly
    ann.goto(f"{base_url}/notes/{QUERY_NOTE}")
    draft = ann.locator('textarea[name="query_text"]')
    suggested = draft.input_value()
    assert suggested.strip()
    draft.fill(suggested + "\n" + LEADING)
    _act(ann, "draft-query")
    expect(ann.locator("#state")).to_have_text("query_drafted")
    _act(ann, "send-query")
    alert = ann.get_by_role("alert")
    expect(alert).to_contain_text("not compliant")
    expect(ann.locator("#state")).to_have_text("query_drafted")
    ann.locator('textarea[name="query_text"]').fill(suggested)
    _act(ann, "draft-query")
    _act(ann, "send-query")
    expect(ann.locator("#state")).to_have_text("query_sent")
    expect(ann.get_by_role("heading", name="Query", exact=True)).to_be_visible()

    # two reviewers on one item: the second acts on a stale version and is told so
    bob = _sign_in(browser, base_url, "bob")
    bob.goto(f"{base_url}/notes/{AT_RISK}")
    ann.goto(f"{base_url}/notes/{AT_RISK}")
    _act(ann, "claim")
    expect(ann.locator("#state")).to_have_text("in_review")
    _act(bob, "accept")
    expect(bob.get_by_role("alert")).to_contain_text("Conflict")
    expect(bob.get_by_role("alert")).to_contain_text("changed by someone else")
    expect(bob.locator("#state")).to_have_text("in_review")  # reloaded, nothing lost
    expect(bob.get_by_text("assigned to ann")).to_be_visible()
    ann.goto(f"{base_url}/notes/{QUERY_NOTE}")
    _screenshot(ann, "worklist-note.png", db_url)
    history = ann.locator("table").last.inner_text()
    assert "send-query" in history and "ann" in history

    ann.goto(f"{base_url}/?sort=-score")
    states = dict(zip(rows.locator("td:nth-child(1)").all_inner_texts(),
                      rows.locator("td:nth-child(3)").all_inner_texts(), strict=True))  # fmt: skip
    assert (states[SUPPORTED], states[QUERY_NOTE], states[AT_RISK]) == (
        "accepted",
        "query_sent",
        "in_review",
    )
    _screenshot(ann, "worklist.png", db_url)

    # the metrics page: 3 reviewed (claims count), 1 query sent of them
    ann.get_by_role("link", name="Metrics").click()
    expect(ann.locator("#rates")).to_contain_text("3 / 1 / 0")
    expect(ann.locator("#rates tr").first).to_contain_text("33%")
