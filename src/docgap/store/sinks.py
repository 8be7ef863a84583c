"""The worklist database as the sink of the HL7 listener and of the CDS Hooks feedback.

``docgap mllp --db`` hands each analysed document to :class:`StoreReportSink` (through
:func:`docgap.store.ingest`, so a re-sent document adds nothing and an edited one adds a
revision) and each MDM^T11 to :class:`StoreCancellationSink`; ``docgap serve --db`` hands
CDS card feedback to :class:`StoreFeedbackSink`. Each call is one transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from docgap.store.events import cancel, record_feedback
from docgap.store.ingest import ingest

if TYPE_CHECKING:
    from docgap.inputs.hl7 import Cancellation
    from docgap.report import NoteReport
    from docgap.service.cds_hooks import FeedbackEvent

__all__ = ["StoreCancellationSink", "StoreFeedbackSink", "StoreReportSink"]


class StoreReportSink:
    """Reports into the store, with their note's text (for the web note view and gold)."""

    def __init__(self, db_url: str, *, pack: str = "m53.0", lexicon_hash: str | None = None):
        self.db_url = db_url
        self.pack = pack
        self._lexicon_hash = lexicon_hash

    def _rules(self) -> str:
        if self._lexicon_hash is None:  # once per sink, not per message
            from docgap.rules.lexicon import load_lexicon

            self._lexicon_hash = load_lexicon().sha256
        return self._lexicon_hash

    def write(self, report: NoteReport) -> None:
        """Store ``report`` without its text (what a plain :class:`ReportSink` gets)."""
        self.write_with_text(report, None)

    def write_with_text(self, report: NoteReport, text: str | None) -> None:
        """Store ``report`` and, when known, the text it was made from."""
        texts = {report.note_id: text} if text is not None else None
        ingest(self.db_url, [report.to_dict()], texts, pack=self.pack, lexicon_hash=self._rules())


class StoreCancellationSink:
    """MDM^T11 cancellations: the note leaves the open worklist, audited as ``hl7:<facility>``."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url

    def cancel(self, cancellation: Cancellation) -> None:
        """Cancel ``cancellation.note_id`` (an unknown note is recorded, not an error)."""
        meta = cancellation.meta
        origin = meta.get("sending_facility") or meta.get("sending_application") or "unknown"
        cancel(
            self.db_url,
            cancellation.note_id,
            user=f"hl7:{origin}",
            reason=f"HL7 {meta.get('hl7_event') or 'T11'} document cancelled",
            meta=meta,
        )


class StoreFeedbackSink:
    """CDS card feedback into the audit log (``user`` names the CDS client)."""

    def __init__(self, db_url: str, user: str = "cds:client") -> None:
        self.db_url = db_url
        self.user = user

    def record(self, event: FeedbackEvent) -> None:
        """Append the card's outcome, with the override reason (code, display, comment)."""
        reason = " - ".join(part for part in (event.override_code, event.override_display) if part)
        if event.user_comment:
            reason = f"{reason} ({event.user_comment})" if reason else event.user_comment
        record_feedback(
            self.db_url, event.note_id, event.outcome, reason or None, event.card, self.user
        )
