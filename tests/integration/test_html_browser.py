"""The HTML report in a real browser: Playwright (from PyPI) driving Debian's Chromium.

Playwright launches the system browser (``executable_path="/usr/bin/chromium"``, or
DOCGAP_CHROMIUM): no browser is ever downloaded (never run ``playwright install``). Without
a Chromium these tests are skipped with the reason, except in CI (``CI`` set), where a
missing browser is a failure. Set DOCGAP_SCREENSHOT to a path (e.g.
``docs/report-screenshot.png``) to keep the screenshot the test takes.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from docgap.outputs.html_report import write_html

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "notes"
XSS_TEXT = (
    "HPI: occipital headaches and dizziness. <script>window.__xss = 1; alert(1)</script>\n"
    'Exam: <img src=x onerror="window.__xss = 2"> <b>bold</b> cervical tenderness & neck pain.\n'
    "Assessment: Cervicocranial syndrome.\n"
)
XSS_ID = "<script>window.__xss = 3</script><i>id</i>"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1440, "height": 1000}


def find_chromium() -> str | None:
    """Debian's chromium (or DOCGAP_CHROMIUM); None when there is none on this machine."""
    candidates = [os.environ.get("DOCGAP_CHROMIUM"), "/usr/bin/chromium"]
    candidates += [shutil.which(n) for n in ("chromium", "chromium-browser")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="module")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        reason = (
            "no Chromium: install Debian's chromium (`make ensure-chromium` or "
            "`apt-get install -y chromium`) or set DOCGAP_CHROMIUM to a Chromium binary"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright, chromium_path: str) -> Iterator[Browser]:
    launched = playwright.chromium.launch(
        executable_path=chromium_path, headless=True, args=LAUNCH_ARGS
    )
    try:
        yield launched
    finally:
        launched.close()


class Tab:
    """One page of the report, with the dialogs it tried to open (an alert means XSS)."""

    def __init__(self, browser: Browser, url: str, viewport: dict[str, int] = VIEWPORT) -> None:
        self.context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
        self.page: Page = self.context.new_page()
        self.dialogs: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.goto(url)
        self.page.wait_for_selector("#rows tr")

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def js(self, expression: str) -> Any:
        return self.page.evaluate(expression)

    def wait_for(self, expression: str) -> None:
        # As a function, not a string: the page's CSP forbids eval of a string predicate.
        self.page.wait_for_function(f"() => ({expression})", timeout=15_000)

    def click(self, selector: str) -> None:
        self.page.click(selector)

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module")
def example_report(analyzer, tmp_path_factory) -> tuple[Path, list[dict[str, Any]]]:
    """The example notes, plus one hostile note, as an HTML report."""
    notes = {p.stem: p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.txt"))}
    notes[XSS_ID] = XSS_TEXT
    records = [analyzer.analyze(text, note_id).to_dict() for note_id, text in notes.items()]
    path = tmp_path_factory.mktemp("html") / "report.html"
    write_html(
        records, path, source="examples/notes", texts=notes, lexicon_hash=analyzer.lexicon_hash
    )
    return path, records


@pytest.fixture(scope="module")
def page(browser, example_report) -> Iterator[Tab]:
    tab = Tab(browser, example_report[0].as_uri())
    try:
        yield tab
    finally:
        tab.close()


def open_note(page: Tab, note_id: str) -> None:
    page.js("document.getElementById('f-reset').click()")
    page.wait_for("document.querySelectorAll('#rows tr').length > 1")
    page.js(
        "(() => { const i = document.getElementById('f-search');"
        f" i.value = {json.dumps(note_id)}; i.dispatchEvent(new Event('input')); }})()"
    )
    page.wait_for("document.querySelectorAll('#rows tr').length === 1")
    page.click("#rows tr")
    page.wait_for(f"document.getElementById('note-id')?.textContent === {json.dumps(note_id)}")


def test_screenshot(browser, analyzer, tmp_path: Path) -> None:
    """The example notes' report, a query opportunity open: the README's screenshot."""
    notes = {p.stem: p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.txt"))}
    records = [analyzer.analyze(text, note_id).to_dict() for note_id, text in notes.items()]
    page_path = write_html(
        records,
        tmp_path / "examples.html",
        source="examples/notes",
        texts=notes,
        lexicon_hash=analyzer.lexicon_hash,
    )
    tab = Tab(browser, page_path.as_uri())
    try:
        tab.click('#rows tr[data-group="query_opportunity"]')
        tab.wait_for("document.getElementById('note-text') !== null")
        # The worklist and the highlighted note side by side, as a reviewer sees them.
        tab.js(
            "(() => { window.scrollTo(0, document.getElementById('worklist').offsetTop - 8);"
            " const view = document.getElementById('note');"
            " view.scrollTop = document.getElementById('note-text').offsetTop - view.offsetTop"
            " - 140; })()"
        )
        data = tab.page.screenshot(path=str(tmp_path / "report.png"))
    finally:
        tab.close()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000  # a blank page is a few kB
    keep = os.environ.get("DOCGAP_SCREENSHOT")
    if keep:
        Path(keep).parent.mkdir(parents=True, exist_ok=True)
        Path(keep).write_bytes(data)


@pytest.mark.parametrize(
    "note_id",
    [
        "01-supported-neurology",
        "02-at-risk-chiro-no-level",
        "07-downcode-negated-list",
        "12-supported-posterior-cervical-sympathetic",
    ],
)
def test_highlights_sit_on_the_evidence_text(page, example_report, note_id) -> None:
    record = next(r for r in example_report[1] if r["note_id"] == note_id)
    open_note(page, note_id)
    marks = page.js(
        "[...document.querySelectorAll('#note-text mark')].map(m =>"
        " [m.textContent, m.getAttribute('data-ev').split(' ').map(Number),"
        "  m.getAttribute('data-element'), m.getAttribute('data-assertion')])"
    )
    pieces: dict[int, list[str]] = {}
    for text, ids, element, assertion in marks:
        top = record["evidence"][ids[0]]
        assert (element, assertion) == (top["element"], top["assertion"])
        for i in ids:
            pieces.setdefault(i, []).append(text)
    assert set(pieces) == set(range(len(record["evidence"])))
    for i, ev in enumerate(record["evidence"]):
        assert "".join(pieces[i]) == ev["text"], ev
    shown = page.js("document.getElementById('note-text').textContent")
    assert shown == (EXAMPLES / f"{note_id}.txt").read_text(encoding="utf-8")


def test_assertions_are_styled_and_explained(page) -> None:
    open_note(page, "07-downcode-negated-list")
    negated = page.js(
        "[...document.querySelectorAll('#note-text mark.a-negated')].map(m =>"
        " [getComputedStyle(m).textDecorationLine, m.title])"
    )
    assert negated
    for decoration, title in negated:
        assert "line-through" in decoration
        assert "negated" in title


@pytest.mark.parametrize("status", ["at_risk", "supported", "downcode", "query_opportunity"])
def test_filtering_by_status_changes_the_rows(page, example_report, status) -> None:
    records = example_report[1]
    expected = sorted(
        r["note_id"]
        for r in records
        if r["status"] == status or (status == "query_opportunity" and r["query_opportunity"])
    )
    page.js("document.getElementById('f-reset').click()")
    page.wait_for(f"document.querySelectorAll('#rows tr').length === {len(records)}")
    page.js(
        "(() => { const s = document.getElementById('f-status');"
        f" s.value = {json.dumps(status)}; s.dispatchEvent(new Event('change')); }})()"
    )
    page.wait_for(f"document.querySelectorAll('#rows tr').length === {len(expected)}")
    shown = page.js("[...document.querySelectorAll('#rows tr td.id')].map(td => td.textContent)")
    assert sorted(shown) == expected
    page.js("document.getElementById('f-reset').click()")
    page.wait_for(f"document.querySelectorAll('#rows tr').length === {len(records)}")


def test_worklist_puts_at_risk_and_query_opportunities_first(page, example_report) -> None:
    page.js("document.getElementById('f-reset').click()")
    page.wait_for(f"document.querySelectorAll('#rows tr').length === {len(example_report[1])}")
    groups = page.js("[...document.querySelectorAll('#rows tr')].map(tr => tr.dataset.group)")
    wanted = {"at_risk", "query_opportunity"}
    first = [g in wanted for g in groups]
    assert any(first)
    assert first == sorted(first, reverse=True)


def test_markup_in_notes_and_ids_is_shown_as_text(page) -> None:
    open_note(page, XSS_ID)
    assert page.js("typeof window.__xss") == "undefined"
    assert page.dialogs == []
    text = page.js("document.getElementById('note-text').textContent")
    assert text == XSS_TEXT
    assert page.js("document.getElementById('note-id').textContent") == XSS_ID
    injected = page.js(
        "document.querySelectorAll('#note-body img, #note-body b, #note-body i, "
        "#note-body script, #rows img, #rows i, #rows script').length"
    )
    assert injected == 0
    assert page.js("document.scripts.length") == 4  # config, rows, notes, and the page's own


def test_query_drafts_are_shown_for_at_risk_notes(page, example_report) -> None:
    open_note(page, "02-at-risk-chiro-no-level")
    drafts = page.js("[...document.querySelectorAll('.query pre')].map(p => p.textContent)")
    assert drafts
    for draft in drafts:
        assert "[ ] Other (please specify)" in draft
        assert "[ ] Clinically undetermined" in draft


@pytest.fixture(scope="module")
def large_report(example_report, tmp_path_factory) -> tuple[Path, int]:
    """10,000 notes (the examples repeated under new ids), with their texts."""
    records = example_report[1]
    texts = {p.stem: p.read_text(encoding="utf-8") for p in EXAMPLES.glob("*.txt")}
    texts[XSS_ID] = XSS_TEXT
    many, many_texts = [], {}
    for n in range(10_000):
        record = dict(records[n % len(records)])
        many_texts[f"bulk-{n:05d}"] = texts[record["note_id"]]
        record["note_id"] = f"bulk-{n:05d}"
        many.append(record)
    path = tmp_path_factory.mktemp("html-large") / "large.html"
    write_html(many, path, source="synthetic", texts=many_texts, page_size=50)
    return path, len(many)


def test_large_report_draws_one_page_at_a_time(browser, large_report) -> None:
    path, total = large_report
    tab = Tab(browser, path.as_uri())
    try:
        assert tab.js("document.querySelectorAll('#rows tr').length") == 50
        assert tab.js("document.querySelectorAll('#note-text').length") == 0
        assert tab.js("document.getElementsByTagName('*').length") < 3_000
        assert str(total) in tab.js("document.getElementById('count').textContent")
        tab.click("#p-last")
        tab.wait_for("document.getElementById('p-next').disabled")
        last = tab.js("document.querySelector('#rows tr:last-child td.id').textContent")
        assert last.startswith("bulk-")
        tab.click("#rows tr:last-child")
        tab.wait_for(f"document.getElementById('note-id')?.textContent === {json.dumps(last)}")
    finally:
        tab.close()


# -- usable at 1400 px (issue 15) --------------------------------------------------------
LONG_ROOT = "/mnt/clinical-share/cdi/2024/q2/neurology-and-chiropractic/scanned-notes/"


def test_score_and_review_are_on_screen_at_1400px(browser, example_report, tmp_path) -> None:
    """Long path ids and assignment meta must not push Score and Review off-screen."""
    texts = {p.stem: p.read_text(encoding="utf-8") for p in EXAMPLES.glob("*.txt")}
    records, by_id = [], {}
    for i, record in enumerate(r for r in example_report[1] if r["note_id"] in texts):
        note_id = f"{LONG_ROOT}{record['note_id']}.txt"
        by_id[note_id] = texts[record["note_id"]]
        meta = {
            "patient_id": f"PAT-{i:06d}",
            "encounter_id": f"ENC-2024-{i:08d}",
            "date_of_service": f"2024-05-{i + 1:02d}",
            "provider": "Dr Alexandra Montgomery-Fitzgerald",
            "payer": "Blue Cross Blue Shield of Somewhere",
        }
        records.append(
            record | {"note_id": note_id, "score": i / 20, "review": i % 3 == 0, "meta": meta}
        )
    path = write_html(records, tmp_path / "wide.html", source=LONG_ROOT, texts=by_id)
    tab = Tab(browser, path.as_uri(), viewport={"width": 1400, "height": 900})
    try:
        boxes = tab.js(
            "(() => { const wrap = document.querySelector('.table-wrap').getBoundingClientRect();"
            " return ['score', 'review', 'status'].map(k => {"
            "  const b = document.querySelector(`#worklist-table th button[data-sort=${k}]`);"
            "  const r = b.getBoundingClientRect();"
            "  return {key: k, left: r.left, right: r.right, wrapRight: wrap.right,"
            "   vw: window.innerWidth}; }); })()"
        )
        for box in boxes:
            assert 0 <= box["left"] < box["right"] <= min(box["wrapRight"], box["vw"]), box
        # The cells under them too, on the first row.
        cells = tab.js(
            "(() => { const ths = [...document.querySelectorAll('#worklist-table thead th')];"
            " const i = ths.findIndex(th => th.querySelector('[data-sort=review]'));"
            " const td = document.querySelector('#rows tr').children[i];"
            " return [td.getBoundingClientRect().right, window.innerWidth]; })()"
        )
        assert cells[0] <= cells[1]
        shown = tab.js("document.querySelector('#rows tr td.id').title")
        assert shown.startswith(LONG_ROOT)  # the full path stays available on hover
        headers = tab.js(
            "[...document.querySelectorAll('#worklist-table thead th')].map(t => t.textContent)"
        )
        for name in ("patient id", "encounter id", "date of service", "provider", "payer"):
            assert name in headers
    finally:
        tab.close()


def test_a_split_report_index_link_opens_the_note_in_its_part(
    browser, example_report, tmp_path
) -> None:
    from docgap.outputs.html_pages import write_html_pages

    texts = {p.stem: p.read_text(encoding="utf-8") for p in EXAMPLES.glob("*.txt")}
    texts[XSS_ID] = XSS_TEXT
    records = [r | {"text": texts[r["note_id"]]} for r in example_report[1]]
    index = write_html_pages(records, tmp_path / "split", source="examples/notes", per_part=4)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.goto(index.as_uri())
        link = page.locator("#index-table tbody tr").nth(5).locator("a.id-text")
        note_id = link.get_attribute("title")
        link.click()
        page.wait_for_function(
            f"() => document.getElementById('note-id')?.textContent === {json.dumps(note_id)}"
        )
        assert page.url.split("/")[-1].startswith("part-0002.html#n=")
        assert page.locator("nav.parts a[rel=prev]").count() == 1
    finally:
        context.close()
