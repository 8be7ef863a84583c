"""``docgap scan``: analyse notes and write one report record per note."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from docgap.inputs.reading import InputError, NoteInput, Source, open_sources
from docgap.outputs.writers import (
    OutputError,
    ReportWriter,
    complete_records,
)
from docgap.report import NoteReport

if TYPE_CHECKING:  # importing the analyzer loads spaCy: only when a command needs it
    from docgap.analyzer import Analyzer

from docgap.cli.base import (
    _EXIT_HELP,
    EXIT_BROKEN_PIPE,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    Engine,
    InFormat,
    OutFormat,
    SortKey,
    _default_analyzer,
    _fail,
    _internal_errors,
    _notes,
    _pack_analyzer,
    _progress,
    _say,
    app,
)
from docgap.cli.common import (
    _check_out_path,
    _detach_stdout,
    _no_notes,
    _open_output,
    _records,
    _reports,
    _say_skipped,
    _Tally,
)


@app.command(epilog=_EXIT_HELP)
def scan(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Folders of .txt notes (recursive; id = file stem), .txt, .csv, .tsv, "
            ".jsonl or .parquet files, or - for standard input.",
            show_default=False,
        ),
    ],
    fmt: Annotated[
        OutFormat, typer.Option("--format", "-f", help="Report format.")
    ] = OutFormat.jsonl,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Report file (default: standard output); a folder with --engine spark.",
        ),
    ] = None,
    id_col: Annotated[
        str, typer.Option("--id-col", help="Id column/field of tables and JSON Lines.")
    ] = "note_id",
    text_col: Annotated[
        str, typer.Option("--text-col", help="Text column/field of tables and JSON Lines.")
    ] = "text",
    input_format: Annotated[
        InFormat, typer.Option("--input-format", help="Input format (auto: by file suffix).")
    ] = InFormat.auto,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            "-j",
            min=0,
            help="Processes analysing notes; 0 = all cores (or $DOCGAP_WORKERS). "
            "Output order is the input order.",
        ),
    ] = 0,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Continue an interrupted JSON Lines scan: keep the complete records already "
            "in --out, skip those inputs, append the rest.",
        ),
    ] = False,
    sort: Annotated[
        SortKey | None,
        typer.Option(
            "--sort",
            help="score: review priority, the order of `docgap worklist` (at_risk, query "
            "downcodes, redirects, other downcodes, then the rest; needs the review model; "
            "the output is written at the end).",
        ),
    ] = None,
    review_only: Annotated[
        bool,
        typer.Option(
            "--review-only",
            help="Keep only the notes the review model flags for review (and failed notes).",
        ),
    ] = False,
    engine: Annotated[
        Engine,
        typer.Option(
            "--engine",
            help="local: this machine (--workers); spark: Apache Spark (pip install "
            "'docgap[spark]'), writes a Parquet folder partitioned by status to --out.",
        ),
    ] = Engine.local,
    master: Annotated[
        str, typer.Option("--master", help="Spark master URL (--engine spark).")
    ] = "local[*]",
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar and no summary line.")
    ] = False,
    pack: Annotated[
        str | None,
        typer.Option("--pack", help="Code pack to check notes against (default: m53_0.v1)."),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Also store the reports and their notes in this worklist database "
            "(e.g. sqlite:///docgap.db; run 'docgap db upgrade' first). A rescan of the same "
            "text under the same rules adds nothing.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Analyse notes and write one report per note, as they are analysed.

    Every input record appears in the output exactly once: a record that cannot be
    analysed (empty, binary, undecodable, malformed) is written with an 'error'.
    """
    workers = workers or int(os.environ.get("DOCGAP_WORKERS") or 0) or _usable_cpus()
    if engine is Engine.spark:
        _scan_spark(inputs, fmt, out, master, id_col, text_col, input_format, 1, quiet)
    if resume and (fmt is not OutFormat.jsonl or out is None or str(out) == "-"):
        _fail("--resume continues a JSON Lines report file: use --format jsonl --out FILE")
    if resume and (sort or review_only):
        _fail("--resume cannot continue a --sort or --review-only report (not in input order)")
    if out is not None and out.is_dir():
        _fail(f"{out} is a folder: --out takes a file")
    if fmt is OutFormat.parquet and (out is None or str(out) == "-"):
        _fail("Parquet output needs a file: add --out FILE.parquet")
    try:
        sources = open_sources(inputs, fmt=input_format.value, id_col=id_col, text_col=text_col)
    except InputError as exc:
        _fail(str(exc))
    out_path = None if out is None or str(out) == "-" else out
    _check_out_path(out_path, inputs)
    tally = _Tally()
    writer: ReportWriter | None = None
    done = 0  # records a resumed report already holds

    def written() -> str:
        count = writer.count if writer else 0
        return f"{_notes(count)} written{f' to {out_path}' if out_path else ''}"

    if fmt is OutFormat.html:
        _scan_html(sources, inputs, out_path, workers, quiet)
        return
    try:
        with _internal_errors(written, expected=(InputError, BrokenPipeError, OutputError)):
            # With worker processes, each builds its own pipeline: the parent builds none.
            job = _ScanJob.start(pack, workers)
            if (sort or review_only) and not job.has_model():
                _fail("--sort score and --review-only need the review model, which is not loaded")
            records, meta_keys = _records(sources, peek_meta=fmt is OutFormat.csv)
            done = 0
            if resume and out_path is not None:
                records, done = _resume(out_path, records, tally)
                if done and not quiet:
                    _say(f"resuming: {_notes(done)} already in {out_path}")
            writer = _open_output(fmt.value, out_path, job.elements, meta_keys, append=resume)
            store = _StoreBuffer(db) if db else None
            if store is not None:
                records = store.keep_texts(records)
            with writer, _progress("scanning", not quiet) as advance:
                reports = job.reports(records)
                if sort or review_only:
                    reports = _review_order(reports, sort, review_only)
                for report in reports:
                    writer.write(report)
                    tally.add(report)
                    if store is not None:
                        store.add(report)
                    advance()
            if store is not None:
                store.flush(job.pack_name, quiet)
    except KeyboardInterrupt:
        _say(f"interrupted: {written()}")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except InputError as exc:  # an input that went bad while it was read
        _fail(f"{exc}; {written()} before it")
    except OutputError as exc:  # the output failed while being written (a full disk)
        _fail(f"{exc}; {written()} before it")
    except BrokenPipeError:
        _detach_stdout()
        raise typer.Exit(EXIT_BROKEN_PIPE) from None
    total = (writer.count if writer else 0) + done
    if total == 0:
        _no_notes(sources)
    if not quiet:
        _say_skipped(sources)
        _say(tally.line(total, out_path))
    raise typer.Exit(EXIT_FAILED if tally.failed else EXIT_OK)


def _usable_cpus() -> int:
    from docgap.engines.cpus import usable_cpus

    return usable_cpus()


class _ScanJob:
    """Where a scan's notes are analysed: here (one pipeline) or in worker processes.

    With workers the parent process builds no pipeline: the pack's elements come from its
    ``pack.yml`` and the review model is checked against the rules' hash, both cheap.
    """

    def __init__(self, pack_name: str, workers: int, analyzer: Analyzer | None) -> None:
        self.pack_name = pack_name
        self.workers = workers
        self.analyzer = analyzer

    @classmethod
    def start(cls, pack: str | None, workers: int) -> _ScanJob:
        from docgap.packs.registry import DEFAULT_PACK, UnknownPackError, get_pack_class

        name = pack or DEFAULT_PACK
        if workers > 1:
            try:
                get_pack_class(name)
            except UnknownPackError as exc:
                _fail(str(exc))
            return cls(name, workers, None)
        analyzer = _default_analyzer() if pack is None else _pack_analyzer(pack)
        return cls(analyzer.pack.name, workers, analyzer)

    @property
    def elements(self) -> tuple[str, ...]:
        if self.analyzer is not None:
            return tuple(self.analyzer.pack.elements)
        from docgap.packs.registry import pack_info

        return pack_info(self.pack_name).elements

    def has_model(self) -> bool:
        if self.analyzer is not None:
            return self.analyzer.model is not None
        from docgap.rules.lexicon import load_lexicon
        from docgap.scoring.model import load_default_model

        sha = load_lexicon(None, self.pack_name).sha256
        return load_default_model(lexicon_sha256=sha) is not None

    def reports(self, records: Iterator[NoteInput]) -> Iterator[NoteReport]:
        if self.analyzer is None:
            from docgap.engines.parallel import analyze_parallel

            options = {"pack": self.pack_name}
            return analyze_parallel(records, self.workers, analyzer_options=options)
        return _reports(records, self.analyzer, 1)


class _StoreBuffer:
    """``scan --db``: the reports and their notes' texts, stored in one ingest at the end."""

    def __init__(self, url: str) -> None:
        from docgap.store import StoreError
        from docgap.store.db import current_revision, head_revision

        self.url = url
        try:
            current = current_revision(url)
        except StoreError as exc:
            _fail(f"--db: {exc}")
        except Exception as exc:  # a bad URL or an unreachable server
            _fail(f"--db: cannot open the database ({type(exc).__name__})")
        if current != head_revision():
            _fail("--db: the database schema is not current: run 'docgap db upgrade --db URL'")
        self.texts: dict[str, str] = {}
        self.records: list[dict[str, Any]] = []

    def keep_texts(self, records: Iterator[NoteInput]) -> Iterator[NoteInput]:
        for record in records:
            if record.text is not None:
                self.texts[record.note_id] = record.text
            yield record

    def add(self, report: NoteReport) -> None:
        self.records.append(report.to_dict())

    def flush(self, pack: str, quiet: bool) -> None:
        from docgap.store import ingest

        provenance: dict[str, Any] = next(
            (r["provenance"] for r in self.records if r.get("provenance")), {}
        )
        result = ingest(
            self.url,
            self.records,
            self.texts,
            pack=pack,
            lexicon_hash=provenance.get("lexicon_sha256"),
            docgap_version=provenance.get("docgap_version"),
        )
        if not quiet:
            changed = len(result.changed)
            _say(
                f"--db: {result.reports_added} reports stored, {result.unchanged} unchanged"
                f"{f', {changed} changed status' if changed else ''}"
            )


def _resume(
    out: Path, records: Iterator[NoteInput], tally: _Tally
) -> tuple[Iterator[NoteInput], int]:
    """Check the report already in ``out`` against the inputs; return the records still to do.

    Records are matched by note id and position: the report must hold exactly the first
    records of the inputs, in order, or it is refused (changed inputs, another input's
    report). Its error records count towards the exit code like new ones.
    """
    complete_records(out)  # drops a last line cut off mid-write
    done = 0
    try:
        handle = out.open(encoding="utf-8")
    except FileNotFoundError:
        return records, 0
    except OSError as exc:
        _fail(f"--resume: cannot read {out}: {exc.strerror}")
    with handle:
        for line_no, line in enumerate(handle, start=1):
            try:
                record = json.loads(line)
            except ValueError:
                _fail(f"--resume: {out} line {line_no} is not a JSON record")
            if not isinstance(record, dict) or "note_id" not in record:
                _fail(f"--resume: {out} line {line_no} is not a docgap report record")
            note = next(records, None)
            if note is None:
                _fail(f"--resume: {out} holds more records than the inputs; start a new report")
            if note.note_id != record["note_id"]:
                _fail(
                    f"--resume: record {line_no} of {out} is not input record {line_no} "
                    "(the inputs changed, or the report is another input's); start a new report"
                )
            if record.get("error") is not None:
                tally.failed += 1
            else:
                tally.status[str(record.get("status"))] += 1
            done += 1
    return records, done


def _review_order(
    reports: Iterable[NoteReport], sort: SortKey | None, review_only: bool
) -> Iterator[NoteReport]:
    """The reports in review priority (``--sort score``), or only those flagged for review.

    Review priority is the CDI worklist's order, from the worklist's own ranking
    (:func:`docgap.outputs.worklist.build_worklist`), so ``scan --sort score`` and
    ``docgap worklist --all`` list notes alike: ``at_risk``, query-opportunity downcodes,
    redirects, other downcodes, then failed, supported and not_applicable notes. The ranking
    is given only the fields it orders by, not the evidence (a scan may hold many reports).
    """
    kept = [r for r in reports if not review_only or r.review or r.error is not None]
    if sort is SortKey.score:
        from docgap.outputs.worklist import build_worklist

        ranked = (
            {
                "note_id": r.note_id,
                "status": r.status,
                "error": r.error,
                "query_opportunity": r.query_opportunity,
                "score": r.score,
                "review": r.review,
            }
            for r in kept
        )
        items, _ = build_worklist(ranked, include_all=True)
        kept = [kept[item.order] for item in items]
    return iter(kept)


def _scan_spark(
    inputs: list[str],
    fmt: OutFormat,
    out: Path | None,
    master: str,
    id_col: str,
    text_col: str,
    input_format: InFormat,
    workers: int,
    quiet: bool,
) -> NoReturn:
    """``scan --engine spark``: Spark reads, analyses and writes; no note passes through here."""
    from docgap.engines.spark import SparkUnavailableError, scan_with_spark

    if out is None or str(out) == "-":
        _fail("the Spark engine writes a Parquet folder: add --out OUT.parquet")
    if fmt not in (OutFormat.jsonl, OutFormat.parquet):  # jsonl is the default, not chosen
        _fail("the Spark engine writes Parquet only (drop --format)")
    if workers != 1:
        _fail("--workers is for the local engine; Spark uses --master (e.g. 'local[4]')")
    try:
        with _internal_errors(
            lambda: "Spark job failed", expected=(InputError, SparkUnavailableError)
        ):
            result = scan_with_spark(
                inputs,
                str(out),
                master=master,
                id_col=id_col,
                text_col=text_col,
                input_format=input_format.value,
            )
    except KeyboardInterrupt:
        _say("interrupted: the Spark job was cancelled; the output folder is incomplete")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except (InputError, SparkUnavailableError) as exc:
        _fail(str(exc))
    if not quiet:
        by_status = ", ".join(f"{s} {n:,}" for s, n in sorted(result.statuses.items()))
        _say(
            f"{_notes(result.notes)} written to {out}/ (Parquet, by status: {by_status}); "
            f"{result.failed:,} could not be analysed"
        )
    raise typer.Exit(EXIT_FAILED if result.failed else EXIT_OK)


def _scan_html(
    sources: list[Source], inputs: list[str], out: Path | None, workers: int, quiet: bool
) -> NoReturn:
    """``scan --format html``: the page needs every note, so it is written at the end."""
    from docgap.outputs.html_report import pair_texts, render_html

    tally = _Tally()
    collected: list[dict[str, Any]] = []
    try:
        with _internal_errors(lambda: f"{_notes(len(collected))} analysed"):
            analyzer = _default_analyzer()
            records, _ = _records(sources, peek_meta=False)
            with _progress("scanning", not quiet) as advance:
                for report, text in pair_texts(
                    records, lambda notes: _reports(notes, analyzer, workers)
                ):
                    record = report.to_dict()
                    if text is not None:
                        record["text"] = text
                    collected.append(record)
                    tally.add(report)
                    advance()
            page = render_html(
                collected, source=", ".join(inputs), lexicon_hash=analyzer.lexicon_hash
            )
    except KeyboardInterrupt:
        _say(f"interrupted after {_notes(len(collected))}; no HTML written")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if out is None:
        sys.stdout.write(page)
    else:
        try:
            out.write_text(page, encoding="utf-8")
        except OSError as exc:
            _fail(f"cannot write {out}: {exc.strerror or type(exc).__name__}")
    if not quiet:
        _say(tally.line(len(collected), out))
        if out is not None:
            _say(f"HTML report: {out.resolve()}")
    raise typer.Exit(EXIT_FAILED if tally.failed else EXIT_OK)


# -- report (HTML) -----------------------------------------------------------------------
