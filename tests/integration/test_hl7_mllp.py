"""``docgap mllp`` for real: a subprocess on a loopback port, MLLP clients on real sockets.

One listener serves the whole module (building the analyzer takes seconds); the SIGTERM
test starts its own. Every ACK is parsed and checked, and so is the report file.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 180
NOTE = (
    "HPI: Neck pain \\T\\ occipital headaches since the MVC.\\.br\\"
    "Exam: tenderness at C1-C2, reduced rotation."
)
SECRET = "Zyxwvut-secret"


def mdm(event: str, doc_id: str, control: str, text: str = NOTE, kind: str = "MDM") -> bytes:
    segments = [
        f"MSH|^~\\&|SCRIBE|CLINIC|DOCGAP|CDI|20240101120000||{kind}^{event}|{control}|P|2.5",
        f"EVN|{event}|20240101120000",
        "PID|1||PAT123^^^HOSP^MR||DOE^JANE",
        "PV1|1|O|||||||||||||||||ENC456",
        f"TXA|1|CN|TX|20240101120000||||||||{doc_id}||||||AU",
    ]
    if text:
        segments.append(f"OBX|1|TX|NOTE^Note||{text}||||||F")
    return "\r".join(segments).encode()


def frame(message: bytes) -> bytes:
    return b"\x0b" + message + b"\x1c\r"


@dataclass
class Ack:
    code: str
    control_id: str
    text: str
    raw: str


_PENDING: dict[int, bytes] = {}  # bytes read past an ACK, per socket (two ACKs in one read)


def read_ack(sock: socket.socket) -> Ack:
    data = _PENDING.pop(sock.fileno(), b"")
    while b"\x1c\r" not in data:
        chunk = sock.recv(65_536)
        assert chunk, f"connection closed before the ACK (got {data!r})"
        data += chunk
    ack, rest = data.split(b"\x1c\r", 1)
    if rest:
        _PENDING[sock.fileno()] = rest
    assert ack.startswith(b"\x0b")
    segments = ack[1:].decode().strip("\r").split("\r")
    assert segments[0].startswith("MSH|^~\\&|")
    assert segments[0].split("|")[8].startswith("ACK")
    msa = segments[1].split("|")
    assert msa[0] == "MSA"
    return Ack(msa[1], msa[2], msa[3] if len(msa) > 3 else "", "\r".join(segments))


@dataclass
class Listener:
    port: int
    out: Path
    cancellations: Path
    process: subprocess.Popen[bytes]
    log: Path

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=60)

    def send(self, message: bytes, sock: socket.socket | None = None) -> Ack:
        own = sock is None
        sock = sock or self.connect()
        try:
            sock.sendall(frame(message))
            return read_ack(sock)
        finally:
            if own:
                sock.close()

    def reports(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.read_text().splitlines() if line]


def start(folder: Path) -> Listener:
    out, log = folder / "reports.jsonl", folder / "mllp.log"
    env = {k: v for k, v in os.environ.items() if k != "DOCGAP_DEBUG"}
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "docgap.cli", "mllp", "--port", "0", "--out", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=handle,
            cwd=ROOT,
            env=env,
        )
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if "listening for MLLP on" in text:
            port = int(text.split("listening for MLLP on 127.0.0.1:")[1].split()[0])
            cancellations = folder / "reports.jsonl.cancellations.jsonl"
            return Listener(port, out, cancellations, process, log)
        if process.poll() is not None:
            pytest.fail(f"docgap mllp exited early: {text[-2000:]}")
        time.sleep(0.2)
    process.kill()
    pytest.fail("docgap mllp did not start")


@pytest.fixture(scope="module")
def listener(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Listener]:
    running = start(tmp_path_factory.mktemp("mllp"))
    yield running
    running.process.send_signal(signal.SIGTERM)
    assert running.process.wait(timeout=60) == 0
    assert SECRET not in running.log.read_text(errors="replace")


def test_t02_edit_and_cancel_are_acknowledged_and_recorded(listener: Listener) -> None:
    ack = listener.send(mdm("T02", "DOC-1", "C-1"))
    assert (ack.code, ack.control_id) == ("AA", "C-1")
    assert ack.text.startswith("analysed: ")
    ack = listener.send(mdm("T08", "DOC-1", "C-2", NOTE + "\\.br\\Addendum: no vertigo."))
    assert (ack.code, ack.control_id) == ("AA", "C-2")
    ack = listener.send(mdm("T11", "DOC-1", "C-3", text=""))
    assert (ack.code, ack.control_id, ack.text) == ("AA", "C-3", "cancellation recorded")

    first, edit = (r for r in listener.reports() if r["note_id"] == "DOC-1")
    assert first["status"] is not None and "error" not in first
    assert first["meta"] == {
        "hl7_event": "T02",
        "message_control_id": "C-1",
        "patient_id": "PAT123",
        "encounter_id": "ENC456",
    }
    assert first["text_length"] == len(NOTE.replace("\\T\\", "&").replace("\\.br\\", "\n"))
    assert edit["meta"]["hl7_event"] == "T08"
    assert edit["text_length"] > first["text_length"]
    (cancel,) = [json.loads(x) for x in listener.cancellations.read_text().splitlines()]
    assert cancel["note_id"] == "DOC-1" and cancel["action"] == "cancelled"
    assert cancel["meta"]["hl7_event"] == "T11"


def test_bad_messages_get_ae_or_ar_and_the_connection_goes_on(listener: Listener) -> None:
    with listener.connect() as sock:
        garbage = listener.send(f"{SECRET} this is not HL7".encode(), sock)
        assert garbage.code == "AE" and SECRET not in garbage.raw
        assert "ERR|" in garbage.raw
        adt = listener.send(mdm("A01", "X", "C-10", kind="ADT"), sock)
        assert (adt.code, adt.control_id) == ("AR", "C-10")
        assert "not taken" in adt.text
        no_text = listener.send(mdm("T02", "DOC-2", "C-11", text=""), sock)
        assert (no_text.code, no_text.control_id) == ("AE", "C-11")
        no_id = listener.send(mdm("T02", "", "C-12", text=SECRET), sock)
        assert no_id.code == "AE" and "TXA-12" in no_id.text and SECRET not in no_id.raw
        good = listener.send(mdm("T02", "DOC-3", "C-13"), sock)
        assert (good.code, good.control_id) == ("AA", "C-13")
    by_id = {r["note_id"]: r for r in listener.reports()}
    assert "error" in by_id["DOC-2"]
    assert by_id["DOC-3"]["status"] is not None


def test_a_client_gone_mid_frame_does_not_stop_the_listener(listener: Listener) -> None:
    with listener.connect() as sock:
        sock.sendall(b"\x0b" + mdm("T02", "DOC-CUT", "C-20")[:40])
    assert listener.send(mdm("T02", "DOC-4", "C-21")).code == "AA"
    ids = [r["note_id"] for r in listener.reports()]
    assert "DOC-4" in ids and "DOC-CUT" not in ids


def test_two_frames_in_one_write_get_two_acks_in_order(listener: Listener) -> None:
    with listener.connect() as sock:
        sock.sendall(frame(mdm("T02", "DOC-5", "C-30")) + frame(mdm("T04", "DOC-6", "C-31")))
        assert [read_ack(sock).control_id for _ in range(2)] == ["C-30", "C-31"]


def test_sigterm_answers_what_it_received_then_exits_cleanly(tmp_path: Path) -> None:
    own = start(tmp_path)
    idle = own.connect()  # a connection with nothing to say must not hold up the stop
    with own.connect() as sock:
        sock.sendall(frame(mdm("T02", "DOC-A", "C-40")) + frame(mdm("T02", "DOC-B", "C-41")))
        time.sleep(0.3)  # received by the listener, still being analysed or answered
        own.process.send_signal(signal.SIGTERM)
        acks = [read_ack(sock) for _ in range(2)]
    assert [(a.code, a.control_id) for a in acks] == [("AA", "C-40"), ("AA", "C-41")]
    assert own.process.wait(timeout=60) == 0
    assert idle.recv(1) == b""  # closed by the listener
    idle.close()
    assert [r["note_id"] for r in own.reports()] == ["DOC-A", "DOC-B"]
    assert "stopped: 2 AA, 0 AE, 0 AR" in own.log.read_text()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", own.port), timeout=5).close()


def test_scan_reads_an_hl7_file(tmp_path: Path, docgap_proc: Any) -> None:
    feed = tmp_path / "feed.hl7"
    feed.write_bytes(
        b"\n".join(
            m.replace(b"\r", b"\n")
            for m in (mdm("T02", "DOC-1", "C-1"), mdm("T11", "DOC-1", "C-2", text=""))
        )
        + b"\nMSH|garbage\n"
    )
    done = docgap_proc(["scan", feed])
    records = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert [r["note_id"] for r in records] == ["DOC-1", "feed#message-3"]
    assert records[0]["status"] is not None and records[0]["meta"]["patient_id"] == "PAT123"
    assert "error" in records[1]
    assert done.returncode == 3  # one record could not be analysed
