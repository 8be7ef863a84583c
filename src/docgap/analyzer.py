"""The analyzer: one pipeline per process, any number of notes through it.

It only wires: the rule files (:mod:`docgap.rules.lexicon`), the pipeline built from them
(:mod:`docgap.nlp.pipeline`), the code pack found by name in the registry
(:mod:`docgap.packs.registry`) and the review model. It knows no code pack by name.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

from docgap.inputs.decoding import DEFAULT_MAX_CHARS, check_text
from docgap.inputs.reading import NoteInput
from docgap.nlp.chunking import DEFAULT_CHUNK_CHARS, chunks
from docgap.nlp.levels import LevelMention
from docgap.nlp.mentions import Mention, MentionExtractor, Origin, Section
from docgap.nlp.pipeline import Variant, build_nlp
from docgap.nlp.textmap import FoldedText
from docgap.packs.base import CodePack
from docgap.packs.registry import get_pack_class
from docgap.report import NoteReport
from docgap.rules.codes import describe
from docgap.rules.lexicon import DEFAULT_PACK, Lexicon, load_lexicon
from docgap.scoring.model import ReviewModel, load_default_model

__all__ = ["AnalysisTimeout", "Analyzer"]

log = logging.getLogger(__name__)


class AnalysisTimeout(TimeoutError):  # noqa: N818 (the name the service and issue 13 use)
    """A note's analysis passed its deadline and was stopped between two chunks.

    A ``TimeoutError``, raised (never turned into an error record) so that the caller
    decides: the service answers 504 and frees the worker, a batch may write its own
    record. The message holds only counts and seconds, never note text or ids (PHI).
    """

    def __init__(self, chunks_done: int, seconds: float) -> None:
        super().__init__(
            f"analysis stopped at its deadline after {chunks_done} chunk(s), {seconds:.2f} s"
        )
        self.chunks_done = chunks_done
        self.seconds = seconds


def _deadline_of(deadline: float | None, timeout: float | None) -> float | None:
    """The earlier of ``deadline`` (``time.monotonic()`` clock) and now + ``timeout``."""
    if timeout is not None:
        if timeout < 0:
            raise ValueError("timeout must be at least 0 seconds")
        by_timeout = time.monotonic() + timeout
        deadline = by_timeout if deadline is None else min(deadline, by_timeout)
    return deadline


def _docgap_version() -> str:
    try:
        return version("docgap")
    except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        return "0.0.0"


class Analyzer:
    """Builds the pipeline once from the rule files, then analyses notes one by one."""

    def __init__(
        self,
        lexicon_dir: Path | str | None = None,
        *,
        pack: str = DEFAULT_PACK,
        variant: Variant = "fast",
        chunk_chars: int = DEFAULT_CHUNK_CHARS,
        max_chars: int = DEFAULT_MAX_CHARS,
        model: ReviewModel | Literal["default"] | None = "default",
    ) -> None:
        # The pack class first: an unknown name fails before any rule file is read.
        pack_class = get_pack_class(pack)
        self.lexicon: Lexicon = load_lexicon(Path(lexicon_dir) if lexicon_dir else None, pack)
        self.pack: CodePack = pack_class(self.lexicon)
        self.variant = variant
        self.nlp = build_nlp(self.lexicon, variant=variant)
        self.nlp.max_length = max(self.nlp.max_length, chunk_chars + 1)
        self._extractor = MentionExtractor(self.lexicon)
        self._provenance: dict[str, Any] = {
            "docgap_version": _docgap_version(),
            "pack": self.pack.name,
            "pack_version": self.pack.version,
            "lexicon_sha256": self.lexicon.sha256,
        }
        self.chunk_chars = chunk_chars
        self.max_chars = max_chars
        # The review model scores what the rules decided; one that does not match these
        # rules (another lexicon hash) is refused with a warning, never used stale.
        self.model: ReviewModel | None = (
            load_default_model(lexicon_sha256=self.lexicon.sha256) if model == "default" else model
        )

    @property
    def lexicon_hash(self) -> str:
        """The sha256 of the rule files this analyzer was built from."""
        return self.lexicon.sha256

    @property
    def provenance(self) -> dict[str, Any]:
        """What made every report: docgap's version, the pack and the exact rule set."""
        return dict(self._provenance)

    def _stamp(self, report: NoteReport) -> NoteReport:
        """Attach the provenance (to failed reports too: they were made by these rules)."""
        report.provenance = self.provenance
        return report

    def _failed(self, note: NoteInput, error: str) -> NoteReport:
        """The error record of ``note``: its warnings and meta kept, one row per input."""
        return NoteReport.failed(
            note.note_id,
            error,
            elements=self.pack.elements,
            text_length=len(note.text or ""),
            warnings=note.warnings,
            meta=note.meta,
        )

    def _read(
        self, text: str, deadline: float | None = None
    ) -> tuple[list[Mention], list[LevelMention], list[Section], int]:
        """Run the pipeline over the (space-folded, chunked) text; offsets are the original's.

        With a ``deadline`` (``time.monotonic()`` clock) it is checked before each chunk: a
        chunk costs time linear in its length, so a long note stops within one chunk's time.
        """
        started = time.monotonic()
        folded = FoldedText(text)
        levels = self._extractor.levels(text)
        mentions: list[Mention] = []
        sections: list[Section] = []
        pieces = 0
        for offset, piece in chunks(folded.text, self.chunk_chars):
            if deadline is not None and time.monotonic() >= deadline:
                raise AnalysisTimeout(pieces, time.monotonic() - started)
            pieces += 1
            doc = self.nlp(piece)

            def to_original(position: int, start: int = offset) -> int:
                return folded.to_original(start + position)

            origin = Origin(text, to_original)
            chunk_sections = self._extractor.sections(doc, origin)
            mentions.extend(self._extractor.extract(doc, origin, levels, chunk_sections))
            sections.extend(chunk_sections)
        return mentions, levels, sections, pieces

    def analyze(
        self,
        text: str,
        note_id: str = "note",
        *,
        deadline: float | None = None,
        timeout: float | None = None,
    ) -> NoteReport:
        """Analyse one note's text (``deadline``/``timeout``: see :meth:`analyze_input`)."""
        return self.analyze_input(NoteInput(note_id, text), deadline=deadline, timeout=timeout)

    def analyze_input(
        self,
        note: NoteInput,
        *,
        deadline: float | None = None,
        timeout: float | None = None,
    ) -> NoteReport:
        """Analyse one input record; a record that cannot be analysed gets an ``error``.

        ``timeout`` (seconds from now) or ``deadline`` (a ``time.monotonic()`` value; the
        earlier one counts) bounds the time spent: it is checked between chunks
        (``chunk_chars`` characters each), and :class:`AnalysisTimeout` is raised when it
        has passed, so a worker is never held by one very long note.
        """
        return self._stamp(self._analyze_input(note, _deadline_of(deadline, timeout)))

    def _analyze_input(self, note: NoteInput, deadline: float | None = None) -> NoteReport:
        if note.error is not None or note.text is None:
            return self._failed(note, note.error or "no text")
        problem = check_text(note.text, self.max_chars)
        if problem:
            return self._failed(note, problem)
        try:
            mentions, levels, sections, pieces = self._read(note.text, deadline)
            decision = self.pack.decide(mentions, levels, sections, note.text)
        except AnalysisTimeout:
            log.warning("note %r: analysis stopped at its deadline", note.note_id)
            raise
        except Exception as exc:
            # The exception text may quote the note: log only its type (PHI).
            log.error("note %r: analysis failed (%s)", note.note_id, type(exc).__name__)
            return self._failed(note, f"analysis failed ({type(exc).__name__})")
        warnings = list(note.warnings)
        if pieces > 1:
            warnings.append(
                f"long note analysed in {pieces} chunks of up to {self.chunk_chars:,} characters"
            )
        report = NoteReport(
            note_id=note.note_id,
            status=decision.status,
            would_code=decision.would_code,
            elements=decision.elements,
            chiropractic=decision.chiropractic,
            gaps=decision.gaps,
            evidence=decision.evidence,
            code=self.pack.code,
            would_code_description=describe(decision.would_code),
            query_opportunity=decision.query_opportunity,
            warnings=warnings,
            text_length=len(note.text),
            meta=dict(note.meta),
        )
        if self.model is not None:
            try:
                view = self.model.predict_report(report, note.text)
            except Exception as exc:
                log.error("note %r: review model failed (%s)", note.note_id, type(exc).__name__)
            else:
                report.score = view["score"]
                report.review = view["review"]
                report.status_probabilities = view["status_probabilities"]
                report.top_features = view["top_features"]
        return report

    def pipe(self, notes: Iterable[NoteInput | str | tuple[str, str]]) -> Iterator[NoteReport]:
        """Analyse a stream of notes lazily, in order: records, texts or (id, text) pairs."""
        for i, note in enumerate(notes, start=1):
            if isinstance(note, NoteInput):
                yield self.analyze_input(note)
            elif isinstance(note, str):
                yield self.analyze(note, f"note-{i}")
            else:
                note_id, text = note
                yield self.analyze(text, note_id)
