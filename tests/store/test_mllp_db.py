"""``docgap mllp --db`` for real: a subprocess listener, a T02 then a T11 over a loopback socket.

On SQLite and PostgreSQL: the document is ingested with its text, the cancellation takes it
off the open worklist, and the audit log names the sending facility as the user.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from docgap.store import session
from docgap.store.audit import audit_entries
from docgap.store.review import get_item, list_items

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 180
NOTE = "HPI: Neck pain and occipital headaches since the MVC.\\.br\\Exam: tenderness at C1-C2."


def _mdm(event: str, control: str, text: str | None) -> bytes:
    segments = [
        f"MSH|^~\\&|SCRIBE|NORTHCLINIC|DOCGAP|CDI|20240101120000||MDM^{event}|{control}|P|2.5",
        f"EVN|{event}|20240101120000",
        "PID|1||PAT123^^^HOSP^MR||DOE^JANE",
        "PV1|1|O|||||||||||||||||ENC456",
        "TXA|1|CN|TX|20240101120000||||||||DOC-DB-1||||||AU",
    ]
    if text:
        segments.append(f"OBX|1|TX|NOTE^Note||{text}||||||F")
    return b"\x0b" + "\r".join(segments).encode() + b"\x1c\r"


def _ack(sock: socket.socket) -> list[str]:
    data = b""
    while b"\x1c\r" not in data:
        chunk = sock.recv(65_536)
        assert chunk, "connection closed before the ACK"
        data += chunk
    segments = data.split(b"\x1c")[0][1:].decode().strip("\r").split("\r")
    return segments[1].split("|")  # MSA


def _start(db_url: str, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    env = {k: v for k, v in os.environ.items() if k != "DOCGAP_DEBUG"}
    env["PYTHONPATH"] = str(ROOT / "src")
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "docgap.cli", "mllp", "--port", "0", "--db", db_url],
            stdout=subprocess.DEVNULL,
            stderr=handle,
            cwd=ROOT,
            env=env,
        )
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if "listening for MLLP on" in text:
            return process, int(text.split("listening for MLLP on 127.0.0.1:")[1].split()[0])
        if process.poll() is not None:
            pytest.fail(f"docgap mllp exited early: {text[-2000:]}")
        time.sleep(0.2)
    process.kill()
    pytest.fail("docgap mllp did not start")


def test_t02_then_t11_leaves_the_note_cancelled_with_its_audit(db_url: str, tmp_path: Path):
    process, port = _start(db_url, tmp_path / "mllp.log")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
            sock.sendall(_mdm("T02", "C-1", NOTE))
            t02 = _ack(sock)
            with session(db_url) as db:
                item = get_item(db, "DOC-DB-1")
                assert item.state == "new"
                assert item.report.note.text is not None and "C1-C2" in item.report.note.text
                assert item.report.record["meta"]["patient_id"] == "PAT123"
            sock.sendall(_mdm("T11", "C-2", None))
            t11 = _ack(sock)
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    assert (t02[1], t02[2]) == ("AA", "C-1") and t02[3].startswith("analysed: ")
    assert t11[1:4] == ["AA", "C-2", "cancellation recorded"]
    assert code == 0
    with session(db_url) as db:
        assert "DOC-DB-1" not in [i.note_id for i in list_items(db)]
        assert get_item(db, "DOC-DB-1").state == "cancelled"
        entries = [(e.user, e.action, e.before_state, e.after_state)
                   for e in audit_entries(db, note_id="DOC-DB-1")]  # fmt: skip
    assert entries == [
        ("docgap", "ingest", None, "new"),
        ("hl7:NORTHCLINIC", "cancel", "new", "cancelled"),
    ]
    log = (tmp_path / "mllp.log").read_text(errors="replace")
    assert "C1-C2" not in log and "stopped: 2 AA, 0 AE, 0 AR" in log


def test_an_unmigrated_database_is_refused_at_start(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "docgap.cli", "mllp", "--port", "0", "--db", str(empty)],
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert done.returncode != 0
    assert b"docgap db upgrade" in done.stderr
