"""The HTML report in a real browser: headless Chromium driven over the DevTools protocol.

The protocol runs over a pipe (``--remote-debugging-pipe``: Chromium reads commands on fd 3
and writes replies on fd 4, NUL-terminated JSON), so the test needs no websocket library, no
network port and no browser download: only Debian's ``chromium``. Set DOCGAP_SCREENSHOT to a
path (e.g. ``docs/report-screenshot.png``) to keep the screenshot the test takes.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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
LAUNCH_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def find_chromium() -> str | None:
    """Debian's chromium (or DOCGAP_CHROMIUM); None when there is none on this machine."""
    candidates = [os.environ.get("DOCGAP_CHROMIUM"), "/usr/bin/chromium"]
    candidates += [shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


class Chromium:
    """A headless Chromium and one page, driven over the DevTools pipe."""

    def __init__(self, executable: str, width: int = 1440, height: int = 1000) -> None:
        self.profile = tempfile.mkdtemp(prefix="docgap-chromium-")
        read_cmd, self._write = os.pipe()
        self._read, write_reply = os.pipe()
        # Move Chromium's ends above fd 4 so the shell can map them onto 3 and 4 safely.
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (read_cmd, write_reply)]
        os.close(read_cmd)
        os.close(write_reply)
        read_cmd, write_reply = high
        args = [
            executable,
            *LAUNCH_FLAGS,
            f"--user-data-dir={self.profile}",
            f"--window-size={width},{height}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        script = f'exec "$@" 3<&{read_cmd} 4>&{write_reply} {read_cmd}<&- {write_reply}>&-'
        self.proc = subprocess.Popen(
            ["bash", "-c", script, "chromium", *args],
            pass_fds=(read_cmd, write_reply),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(read_cmd)
        os.close(write_reply)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None
        self.width, self.height = width, height

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session: bool = True,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self._next_id:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply.get("result", {})
                self.events.append(reply)
            self._receive(deadline, method)

    def _receive(self, deadline: float, waiting_for: str) -> None:
        ready, _, _ = select.select([self._read], [], [], max(deadline - time.monotonic(), 0))
        if not ready:
            raise TimeoutError(f"{waiting_for}: no answer from Chromium in time")
        chunk = os.read(self._read, 1 << 20)
        if not chunk:
            raise RuntimeError("Chromium closed the DevTools pipe")
        self._buffer += chunk

    def wait_event(self, method: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                self.events.append(json.loads(raw))
            for event in self.events:
                if event.get("method") == method:
                    self.events.remove(event)
                    return event
            self._receive(deadline, method)

    def open(self, url: str) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)
        attached = self.send(
            "Target.attachToTarget",
            {"targetId": target["targetId"], "flatten": True},
            session=False,
        )
        self.session = attached["sessionId"]
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False},
        )
        self.send("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired")
        self.wait_for("document.documentElement.getAttribute('data-ready') === '1'")

    def js(self, expression: str) -> Any:
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            thrown = details.get("exception", {}).get("description", details.get("text"))
            raise RuntimeError(f"page script failed: {thrown}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.js(f"!!({expression})"):
                return
            time.sleep(0.05)
        raise TimeoutError(f"page never satisfied: {expression}")

    def click(self, selector: str) -> None:
        """A real mouse click at the centre of the element (scrolled into view first)."""
        box = self.js(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": box[0], "y": box[1], "button": "left", "clickCount": 1},
            )

    def screenshot(self, path: Path) -> bytes:
        data = base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"})["data"])
        path.write_bytes(data)
        return data

    def dialogs(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("method") == "Page.javascriptDialogOpening"]

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.send("Browser.close", session=False, timeout=5)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._write)
        os.close(self._read)
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture(scope="module")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        pytest.skip(
            "no Chromium: install Debian's chromium (`make ensure-chromium` or "
            "`apt-get install -y chromium`) or set DOCGAP_CHROMIUM to a Chromium binary"
        )
    return path


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
def page(chromium_path, example_report) -> Iterator[Chromium]:
    browser = Chromium(chromium_path)
    try:
        browser.open(example_report[0].as_uri())
        yield browser
    finally:
        browser.close()


def open_note(page: Chromium, note_id: str) -> None:
    page.js("document.getElementById('f-reset').click()")
    page.wait_for("document.querySelectorAll('#rows tr').length > 1")
    page.js(
        "(() => { const i = document.getElementById('f-search');"
        f" i.value = {json.dumps(note_id)}; i.dispatchEvent(new Event('input')); }})()"
    )
    page.wait_for("document.querySelectorAll('#rows tr').length === 1")
    page.click("#rows tr")
    page.wait_for(f"document.getElementById('note-id')?.textContent === {json.dumps(note_id)}")


def test_screenshot(chromium_path, analyzer, tmp_path: Path) -> None:
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
    browser = Chromium(chromium_path)
    try:
        browser.open(page_path.as_uri())
        browser.click('#rows tr[data-group="query_opportunity"]')
        browser.wait_for("document.getElementById('note-text') !== null")
        # The worklist and the highlighted note side by side, as a reviewer sees them.
        browser.js(
            "(() => { window.scrollTo(0, document.getElementById('worklist').offsetTop - 8);"
            " const view = document.getElementById('note');"
            " view.scrollTop = document.getElementById('note-text').offsetTop - view.offsetTop"
            " - 140; })()"
        )
        data = browser.screenshot(tmp_path / "report.png")
    finally:
        browser.close()
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
    assert page.dialogs() == []
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


def test_large_report_draws_one_page_at_a_time(chromium_path, large_report) -> None:
    path, total = large_report
    browser = Chromium(chromium_path)
    try:
        browser.open(path.as_uri())
        assert browser.js("document.querySelectorAll('#rows tr').length") == 50
        assert browser.js("document.querySelectorAll('#note-text').length") == 0
        assert browser.js("document.getElementsByTagName('*').length") < 3_000
        assert str(total) in browser.js("document.getElementById('count').textContent")
        browser.click("#p-last")
        browser.wait_for("document.getElementById('p-next').disabled")
        last = browser.js("document.querySelector('#rows tr:last-child td.id').textContent")
        assert last.startswith("bulk-")
        browser.click("#rows tr:last-child")
        browser.wait_for(f"document.getElementById('note-id')?.textContent === {json.dumps(last)}")
    finally:
        browser.close()
