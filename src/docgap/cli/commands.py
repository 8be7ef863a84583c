"""The ``docgap`` command line: scan notes, list the work, evaluate, count.

A thin layer over the library: it reads inputs (:mod:`docgap.inputs.reading`), runs the
:class:`~docgap.analyzer.Analyzer` built once per process, and writes reports
(:mod:`docgap.outputs.writers`); the worklist (:mod:`docgap.outputs.worklist`) and the statistics
(:mod:`docgap.evaluation.stats`) read reports a scan wrote. No NLP happens here.

Exit codes (all commands):

====  =====================================================================================
code  meaning
====  =====================================================================================
0     every note was analysed (``evaluate``, ``worklist``, ``stats``: the command succeeded)
1     an unexpected internal error (the message names the error type, never note text)
2     unusable input or usage error: a missing file, an unknown format, a table without the
      text column, a malformed gold or report file, a bad option
3     ``scan``: some records could not be analysed; each is in the output with its ``error``
130   interrupted (Ctrl-C); what was written so far is complete and flushed
141   ``scan``: the output pipe was closed early (``docgap scan ... | head``)
====  =====================================================================================

Notes are PHI: no message, log line or traceback of this module contains note text (set
``DOCGAP_DEBUG=1`` to see the full traceback of an internal error on your own machine).
"""

from __future__ import annotations

import contextlib
import enum
import json
import logging
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from itertools import chain, islice
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import click
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from docgap.inputs.reading import InputError, NoteInput, Source, open_sources
from docgap.outputs.worklist import build_worklist, render_worklist
from docgap.outputs.writers import (
    ReportFileError,
    ReportWriter,
    complete_records,
    is_report_file,
    open_writer,
    read_reports,
)
from docgap.report import STATUSES, NoteReport

if TYPE_CHECKING:  # importing the analyzer loads spaCy: only when a command needs it
    from docgap.analyzer import Analyzer
    from docgap.evaluation.scores import Scores

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_FAILED",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_UNUSABLE",
    "app",
    "main",
]

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_UNUSABLE = 2
EXIT_FAILED = 3
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as other Unix tools

_EXIT_HELP = (
    "Exit codes: 0 all notes analysed; 3 some records could not be analysed (each is in the "
    "output with an 'error'); 2 unusable input or usage error (missing file, unknown format, "
    "table without the text column); 1 unexpected internal error; 130 interrupted (Ctrl-C), "
    "output flushed; 141 the output pipe was closed."
)

log = logging.getLogger("docgap")

app = typer.Typer(
    name="docgap",
    help="Does a clinical note support ICD-10-CM M53.0 (cervicocranial syndrome), and if not, "
    "why? Scan notes, list the work for CDI, evaluate against gold labels, count coverage.",
    epilog=_EXIT_HELP,
    pretty_exceptions_show_locals=False,  # locals would print note text
    add_completion=False,
    no_args_is_help=True,
)


class OutFormat(str, enum.Enum):
    """Report formats of ``scan``."""

    jsonl = "jsonl"
    csv = "csv"
    parquet = "parquet"
    html = "html"


class SortKey(str, enum.Enum):
    """Orders of ``scan`` output besides input order."""

    score = "score"


class Engine(str, enum.Enum):
    """Where ``scan`` analyses notes."""

    local = "local"
    spark = "spark"


class InFormat(str, enum.Enum):
    """Input formats (``auto`` goes by the file suffix; a folder is a folder of .txt)."""

    auto = "auto"
    txt = "txt"
    csv = "csv"
    tsv = "tsv"
    jsonl = "jsonl"
    parquet = "parquet"
    fhir = "fhir"


# -- plumbing -----------------------------------------------------------------------
def _say(message: str) -> None:
    typer.echo(f"docgap: {message}", err=True)


def _notes(count: int) -> str:
    return f"{count:,} note{'' if count == 1 else 's'}"


def _fail(message: str, code: int = EXIT_UNUSABLE) -> NoReturn:
    """One clear line on stderr, no traceback, and the exit code."""
    _say(f"error: {message}")
    raise typer.Exit(code)


class _StderrHandler(logging.Handler):
    """Library warnings on the current stderr (looked up per record: tests swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(f"docgap: {record.levelname.lower()}: {record.getMessage()}\n")
        except Exception:  # logging must never break a run
            self.handleError(record)


def _configure_logging() -> None:
    if not any(isinstance(h, _StderrHandler) for h in log.handlers):
        handler = _StderrHandler(logging.WARNING)
        log.addHandler(handler)
        if log.level == logging.NOTSET:
            log.setLevel(logging.WARNING)


# Exceptions that are how a command ends on purpose (typer's own and click's).
_CLI_EXITS: tuple[type[Exception], ...] = (
    typer.Exit,
    typer.Abort,
    click.exceptions.Exit,
    click.exceptions.Abort,
    click.ClickException,
)


@contextlib.contextmanager
def _internal_errors(
    done: Callable[[], str] = lambda: "", expected: tuple[type[Exception], ...] = ()
) -> Iterator[None]:
    """Turn an unexpected exception into exit 1 and a message without its text (PHI).

    ``expected`` exceptions pass through for the caller to handle.
    """
    try:
        yield
    except (*_CLI_EXITS, *expected):
        raise
    except Exception as exc:
        if os.environ.get("DOCGAP_DEBUG"):
            raise
        where = done()
        _say(
            f"internal error ({type(exc).__name__}){'; ' + where if where else ''}; "
            "set DOCGAP_DEBUG=1 for the traceback"
        )
        raise typer.Exit(EXIT_INTERNAL) from None


def _stdout_console() -> Console:
    """Tables on stdout; wide enough not to wrap when piped to a file."""
    console = Console()
    return console if console.is_terminal else Console(width=160)


@contextlib.contextmanager
def _progress(label: str, enabled: bool) -> Iterator[Callable[[], None]]:
    """A progress counter on stderr when it is a terminal; yields ``advance()``."""
    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield lambda: None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn(label),
        TextColumn("{task.completed:,} notes"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=None)
        yield lambda: progress.advance(task)


def _default_analyzer() -> Analyzer:
    """The process-wide analyzer (built once; tests share it with the library)."""
    import docgap

    return docgap.default_analyzer()


def _pack_analyzer(pack: str) -> Analyzer:
    """An analyzer for the code pack registered as ``pack`` (``scan --pack``)."""
    from docgap.analyzer import Analyzer
    from docgap.packs.registry import UnknownPackError

    try:
        return Analyzer(pack=pack)
    except UnknownPackError as exc:
        _fail(str(exc))


def _version(value: bool) -> None:
    if not value:
        return
    import docgap
    from docgap.rules.lexicon import load_lexicon

    typer.echo(f"docgap {docgap.__version__} (lexicon sha256 {load_lexicon().sha256})")
    raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version,
            is_eager=True,
            help="Print the version and the hash of the rule files, then exit.",
        ),
    ] = False,
) -> None:
    _configure_logging()


# -- scan -----------------------------------------------------------------------------
def _records(sources: list[Source], peek_meta: bool) -> tuple[Iterator[NoteInput], list[str]]:
    """All records in order; with ``peek_meta``, also the meta keys of each source's first.

    The CSV header must be known before the first row, and meta keys differ between inputs
    (a folder's ``source``, a table's extra columns).
    """
    if not peek_meta:
        return chain.from_iterable(s.records() for s in sources), []
    streams: list[Iterable[NoteInput]] = []
    keys: dict[str, None] = {}
    for source in sources:
        records = source.records()
        first = next(records, None)
        if first is not None:
            keys.update(dict.fromkeys(first.meta))
            streams.append(chain([first], records))
    return chain.from_iterable(streams), list(keys)


class _Tally:
    """Counts for the closing summary line."""

    def __init__(self) -> None:
        self.status: Counter[str] = Counter()
        self.failed = 0
        self.warned = 0

    def add(self, report: NoteReport) -> None:
        if report.error is not None:
            self.failed += 1
        else:
            self.status[str(report.status)] += 1
        if report.warnings:
            self.warned += 1

    def line(self, written: int, out: Path | None) -> str:
        statuses = ", ".join(f"{self.status[s]} {s}" for s in STATUSES if self.status[s])
        where = f" to {out}" if out is not None else ""
        return (
            f"{_notes(written)} written{where}: {statuses or 'none analysed'}; "
            f"{self.failed} failed; {self.warned} with warnings"
        )


def _reports(
    records: Iterator[NoteInput], analyzer: Analyzer, workers: int
) -> Iterator[NoteReport]:
    if workers > 1:  # each worker process builds its own analyzer
        from docgap.engines.parallel import analyze_parallel

        options = {"pack": analyzer.pack.name}
        return analyze_parallel(records, workers, analyzer_options=options, analyzer=analyzer)
    return (analyzer.analyze_input(record) for record in records)


def _open_output(
    fmt: str,
    out: Path | None,
    elements: tuple[str, ...],
    meta_keys: list[str],
    append: bool = False,
) -> ReportWriter:
    try:
        return open_writer(fmt, out, elements, meta_keys=meta_keys, append=append)
    except OSError as exc:
        _fail(f"cannot write {out}: {exc.strerror or type(exc).__name__}")


def _detach_stdout() -> None:
    """After a closed pipe (``docgap scan | head``): no more writes, no noise at exit."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


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
            help="score: the worklist in review order (highest probability of M53.0 first; "
            "needs the review model; the output is written at the end).",
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
) -> None:
    """Analyse notes and write one report per note, as they are analysed.

    Every input record appears in the output exactly once: a record that cannot be
    analysed (empty, binary, undecodable, malformed) is written with an 'error'.
    """
    workers = workers or int(os.environ.get("DOCGAP_WORKERS") or 0) or (os.cpu_count() or 1)
    if engine is Engine.spark:
        _scan_spark(inputs, fmt, out, master, id_col, text_col, input_format, 1, quiet)
    if resume and (fmt is not OutFormat.jsonl or out is None or str(out) == "-"):
        _fail("--resume continues a JSON Lines report file: use --format jsonl --out FILE")
    if out is not None and out.is_dir():
        _fail(f"{out} is a folder: --out takes a file")
    if fmt is OutFormat.parquet and (out is None or str(out) == "-"):
        _fail("Parquet output needs a file: add --out FILE.parquet")
    try:
        sources = open_sources(inputs, fmt=input_format.value, id_col=id_col, text_col=text_col)
    except InputError as exc:
        _fail(str(exc))
    out_path = None if out is None or str(out) == "-" else out
    tally = _Tally()
    writer: ReportWriter | None = None

    def written() -> str:
        count = writer.count if writer else 0
        return f"{_notes(count)} written{f' to {out_path}' if out_path else ''}"

    if fmt is OutFormat.html:
        _scan_html(sources, inputs, out_path, workers, quiet)
        return
    try:
        with _internal_errors(written, expected=(InputError, BrokenPipeError)):
            analyzer = _default_analyzer() if pack is None else _pack_analyzer(pack)
            if (sort or review_only) and analyzer.model is None:
                _fail("--sort score and --review-only need the review model, which is not loaded")
            records, meta_keys = _records(sources, peek_meta=fmt is OutFormat.csv)
            done = complete_records(out_path) if resume and out_path is not None else 0
            if done:
                records = islice(records, done, None)
                if not quiet:
                    _say(f"resuming: {_notes(done)} already in {out_path}")
            writer = _open_output(
                fmt.value, out_path, analyzer.pack.elements, meta_keys, append=resume
            )
            with writer, _progress("scanning", not quiet) as advance:
                reports = _reports(records, analyzer, workers)
                if sort or review_only:
                    reports = _review_order(reports, sort, review_only)
                for report in reports:
                    writer.write(report)
                    tally.add(report)
                    advance()
    except KeyboardInterrupt:
        _say(f"interrupted: {written()}")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except InputError as exc:  # an input that went bad while it was read
        _fail(f"{exc}; {written()} before it")
    except BrokenPipeError:
        _detach_stdout()
        raise typer.Exit(EXIT_BROKEN_PIPE) from None
    if not quiet:
        _say(tally.line(writer.count if writer else 0, out_path))
    raise typer.Exit(EXIT_FAILED if tally.failed else EXIT_OK)


def _review_order(
    reports: Iterable[NoteReport], sort: SortKey | None, review_only: bool
) -> Iterator[NoteReport]:
    """The worklist in review order: highest score first, ties and failures in input order."""
    kept = [r for r in reports if not review_only or r.review or r.error is not None]
    if sort is SortKey.score:
        kept.sort(key=lambda r: -r.score if r.score is not None else 1.0)
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
@app.command(epilog=_EXIT_HELP)
def report(
    report_file: Annotated[
        Path, typer.Argument(help="A JSON Lines report written by 'docgap scan'.")
    ],
    html: Annotated[Path, typer.Option("--html", help="The HTML file to write.", dir_okay=False)],
    texts: Annotated[
        list[str] | None,
        typer.Option("--texts", help="The scan's inputs, to show each note's text."),
    ] = None,
    id_col: Annotated[str, typer.Option("--id-col", help="Id column of --texts tables.")] = (
        "note_id"
    ),
    text_col: Annotated[
        str, typer.Option("--text-col", help="Text column of --texts tables.")
    ] = "text",
    input_format: Annotated[
        InFormat, typer.Option("--input-format", help="Format of --texts inputs.")
    ] = InFormat.auto,
    page_size: Annotated[
        int, typer.Option("--page-size", min=1, help="Worklist rows a page.")
    ] = 50,
) -> None:
    """Write the CDI reviewer's HTML report (worklist, highlighted evidence, query drafts)."""
    from docgap.outputs.html_report import load_texts, write_html

    with _internal_errors(lambda: "no HTML written", expected=(ReportFileError, InputError)):
        try:
            note_texts = (
                load_texts(texts, fmt=input_format.value, id_col=id_col, text_col=text_col)
                if texts
                else None
            )
            path = write_html(
                read_reports(report_file),
                html,
                source=str(report_file),
                texts=note_texts,
                page_size=page_size,
            )
        except (ReportFileError, InputError) as exc:
            _fail(str(exc))
        except OSError as exc:
            _fail(f"cannot write {html}: {exc.strerror or type(exc).__name__}")
    _say(f"HTML report: {path.resolve()}")


# -- check (a gate for pipelines) --------------------------------------------------------
class Require(str, enum.Enum):
    """What ``check`` requires of every note."""

    supported = "supported"
    not_downcode = "not-downcode"


class VerdictFormat(str, enum.Enum):
    """Output of ``check``."""

    text = "text"
    json = "json"


_CHECK_EXITS = (
    "Exit codes: 0 every note meets --require; 4 some note falls short; 3 some note could "
    "not be analysed (wins over 4); 2 unusable input or usage error; 1 internal error."
)


@app.command(epilog=_CHECK_EXITS)
def check(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Notes: .txt files, folders, tables, JSON Lines, FHIR JSON, or -.",
            show_default=False,
        ),
    ],
    require: Annotated[
        Require,
        typer.Option(
            "--require",
            "-r",
            help="supported: status supported; not-downcode: any status but downcode.",
        ),
    ] = Require.supported,
    fmt: Annotated[VerdictFormat, typer.Option("--format", "-f", help="Verdict format.")] = (
        VerdictFormat.text
    ),
    id_col: Annotated[str, typer.Option("--id-col", help="Id column/field.")] = "note_id",
    text_col: Annotated[str, typer.Option("--text-col", help="Text column/field.")] = "text",
    input_format: Annotated[
        InFormat, typer.Option("--input-format", help="Input format (auto: by suffix).")
    ] = InFormat.auto,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary line.")] = False,
) -> None:
    """Gate notes like a linter: a short verdict per note and an exit code to act on."""
    from docgap.outputs.gate import Gate, format_verdict

    try:
        sources = open_sources(inputs, fmt=input_format.value, id_col=id_col, text_col=text_col)
    except InputError as exc:
        _fail(str(exc))
    gate = Gate(require.value)
    with _internal_errors(lambda: f"{gate.total} notes checked", expected=(InputError,)):
        analyzer = _default_analyzer()
        records, _ = _records(sources, peek_meta=False)
        for record in records:
            verdict = analyzer.analyze_input(record)
            gate.add(verdict)
            typer.echo(format_verdict(verdict, fmt.value, require=require.value))
    if not quiet:
        _say(gate.summary())
    raise typer.Exit(gate.exit_code)


# -- serve ------------------------------------------------------------------------------
@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token-file",
            exists=True,
            dir_okay=False,
            help="A file holding the bearer token clients must send.",
        ),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Server processes.")] = 1,
    threads: Annotated[int, typer.Option(min=1, help="Analysis threads a process.")] = 1,
    max_body_bytes: Annotated[int, typer.Option(help="Largest request body.")] = 10 * 1024 * 1024,
    max_batch: Annotated[int, typer.Option(help="Most notes in one batch request.")] = 64,
    max_note_chars: Annotated[int, typer.Option(help="Longest note, in characters.")] = 1_000_000,
    timeout: Annotated[float, typer.Option(help="Seconds a request may take.")] = 30.0,
) -> None:
    """Serve the analyzer over HTTP (FastAPI + uvicorn): /v1/analyze, /v1/fhir, /healthz."""
    from docgap.service import ServiceSettings
    from docgap.service import serve as run

    try:
        settings = ServiceSettings(
            max_body_bytes=max_body_bytes,
            max_batch=max_batch,
            max_note_chars=max_note_chars,
            timeout_seconds=timeout,
            threads=threads,
        )
        run(host, port, token_file, settings=settings, workers=workers)
    except (ValueError, OSError) as exc:  # an empty or unreadable token file, a bad limit
        _fail(str(exc))


# -- train ------------------------------------------------------------------------------
@app.command(epilog=_EXIT_HELP)
def train(
    gold: Annotated[Path, typer.Argument(help="A gold file (spec section 6).")],
    out: Annotated[
        Path, typer.Option("--out", help="Folder for the model and its metadata.")
    ] = Path("models/review"),
    repeats: Annotated[
        int, typer.Option("--repeats", min=1, help="Repeats of the grouped cross-validation.")
    ] = 2,
) -> None:
    """Train the review-priority model on gold labels (reproducible: fixed seeds)."""
    from docgap.analyzer import Analyzer
    from docgap.evaluation.scores import GoldError
    from docgap.scoring.training import TrainingError
    from docgap.scoring.training import train as fit

    with _internal_errors(lambda: "no model written", expected=(GoldError, TrainingError)):
        try:
            metadata = fit(gold, out, analyzer=Analyzer(model=None), repeats=repeats)
        except (GoldError, TrainingError, FileNotFoundError) as exc:
            _fail(str(exc))
    cv = metadata.get("metrics", metadata)
    _say(f"model written to {out}; cross-validated figures in {out / 'metadata.json'}")
    if isinstance(cv, dict) and "log_loss" in cv:
        _say(f"log loss {cv['log_loss']}")


# -- worklist ---------------------------------------------------------------------------
@app.command(epilog=_EXIT_HELP)
def worklist(
    report: Annotated[
        Path,
        typer.Argument(help="A JSON Lines report written by 'docgap scan'.", show_default=False),
    ],
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", min=1, help="Show at most N notes.")
    ] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Also list supported, not_applicable and failed notes.")
    ] = False,
) -> None:
    """The notes a CDI specialist should act on, most urgent first.

    Order: at_risk, then query-opportunity downcodes, then redirect, then other downcodes.
    Reads the scan's report as written; nothing is re-analysed.
    """
    with _internal_errors(expected=(ReportFileError,)):
        try:
            items, total = build_worklist(read_reports(report), include_all=show_all)
        except ReportFileError as exc:
            _fail(str(exc))
        console = _stdout_console()
        render_worklist(items, total, console, limit=limit)
        if not show_all and total > len(items):
            console.print(
                f"{total - len(items)} supported, not_applicable or failed notes not listed "
                "(--all lists them)"
            )


# -- evaluate ---------------------------------------------------------------------------
def _ci(figures: dict[str, Any], measure: str) -> str:
    low_high = (figures.get("ci95") or {}).get(measure)
    value = f"{figures[measure]:.3f}"
    return f"{value} [{low_high[0]:.3f}, {low_high[1]:.3f}]" if low_high else value


def _print_scores(scores: Scores, console: Console) -> None:
    table = Table(title=f"Elements ({scores.n} notes, 95% bootstrap CI)", title_justify="left")
    for name in ("element", "gold", "predicted", "precision", "recall", "F1"):
        table.add_column(name, justify="left" if name == "element" else "right")
    for element, figures in scores.elements.items():
        table.add_row(
            element,
            str(figures["support"]),
            str(figures["predicted"]),
            _ci(figures, "precision"),
            _ci(figures, "recall"),
            _ci(figures, "f1"),
        )
    console.print(table)
    not_supported = sum(
        n for gold, row in scores.confusion.items() if gold != "supported" for n in row.values()
    )
    for label, value in (
        ("status accuracy", f"{scores.status_accuracy:.4f}"),
        ("status macro-F1", f"{scores.status_macro_f1:.4f}"),
        ("element micro-F1", f"{scores.element_micro_f1:.4f}"),
        (
            "false supported",
            f"{scores.false_pass} (rate {scores.false_pass_rate:.4f} of the {not_supported} notes "
            "whose gold status is not supported)",
        ),
        ("chiropractic accuracy", f"{scores.chiropractic_accuracy:.4f}"),
        ("would-code accuracy", f"{scores.would_code_accuracy:.4f}"),
        ("notes not analysed", str(scores.failed)),
    ):
        console.print(f"{label + ':':<24}{value}")
    labels = list(next(iter(scores.confusion.values())).keys())
    matrix = Table(title="Status confusion (rows: gold, columns: predicted)", title_justify="left")
    matrix.add_column("gold \\ predicted")
    for label in labels:
        matrix.add_column(label, justify="right")
    for gold, row in scores.confusion.items():
        matrix.add_row(gold, *(str(row[p]) for p in labels))
    console.print(matrix)


def _print_errors(errors: list[dict[str, Any]], console: Console) -> None:
    console.print(f"\n{len(errors)} notes with a wrong status or element:")
    for error in errors:
        console.print(
            f"\n[bold]{error['id']}[/bold]  status gold {error['gold_status']} / predicted "
            f"{error['predicted_status']}  would_code gold {error['gold_would_code']} / "
            f"predicted {error['predicted_would_code']}",
            highlight=False,
        )
        if error.get("error"):
            console.print(f"  not analysed: {error['error']}", highlight=False)
        for element, values in error["wrong_elements"].items():
            console.print(
                f"  {element}: gold {values['gold']}, predicted {values['predicted']}",
                highlight=False,
            )
        for ev in error["evidence"]:
            why = f" ({ev['reason']})" if ev.get("reason") else ""
            console.print(
                f"    {ev['element']} {ev['text']!r} @{ev['start']} "
                f"[{ev.get('section') or '-'}] {ev['assertion']}"
                f"{' counted' if ev['counted'] else ' not counted'}{why}",
                highlight=False,
                markup=False,
            )


@app.command(epilog=_EXIT_HELP)
def evaluate(
    gold: Annotated[
        Path, typer.Argument(help="Gold file (JSON Lines, spec section 6).", show_default=False)
    ],
    json_out: Annotated[
        Path | None,
        typer.Option("--json", help="Also write the scores as JSON to FILE.", dir_okay=False),
    ] = None,
    errors: Annotated[
        bool, typer.Option("--errors", help="List each wrong note with its evidence.")
    ] = False,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", min=0, help="Bootstrap rounds for the 95% CIs (0: none).")
    ] = 1000,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Run docgap over a gold file and score it against the labels.

    Per element: precision, recall, F1 with bootstrap CIs; status accuracy, macro-F1, the
    confusion matrix and the false 'supported' verdicts.
    """
    from docgap.evaluation.scores import GoldError, load_gold, score  # scikit-learn: loaded on use

    try:
        notes = list(load_gold(gold))
    except GoldError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{gold}: cannot read ({exc.strerror or type(exc).__name__})")
    except UnicodeDecodeError:
        _fail(f"{gold}: not UTF-8 text")
    if not notes:
        _fail(f"{gold}: no labelled notes")
    try:
        with _internal_errors():
            analyzer = _default_analyzer()
            pairs = []
            with _progress("evaluating", not quiet) as advance:
                for note in notes:
                    text = note.text if isinstance(note.text, str) else None
                    problem = None if text is not None else "gold text is not a string"
                    pairs.append((note, analyzer.analyze_input(NoteInput(note.id, text, problem))))
                    advance()
            scores = score(pairs, bootstrap_rounds=bootstrap, keep_errors=errors)
            console = _stdout_console()
            _print_scores(scores, console)
            if errors:
                _print_errors(scores.errors, console)
            if json_out is not None:
                json_out.parent.mkdir(parents=True, exist_ok=True)
                json_out.write_text(json.dumps(scores.to_dict(), indent=2) + "\n", encoding="utf-8")
    except KeyboardInterrupt:
        _say("interrupted")
        raise typer.Exit(EXIT_INTERRUPTED) from None


# -- stats ------------------------------------------------------------------------------
def _stats_records(
    inputs: list[str], *, input_format: str, id_col: str, text_col: str, quiet: bool
) -> Iterator[dict[str, Any]]:
    """Report records from scan reports as they are, and from raw inputs by scanning them."""
    reports = [i for i in inputs if input_format == "auto" and is_report_file(Path(i))]
    raw = [i for i in inputs if i not in reports]
    # Validate every raw input before reading anything (a missing file is exit 2 at once).
    sources = open_sources(raw, fmt=input_format, id_col=id_col, text_col=text_col) if raw else []
    for item in reports:
        yield from read_reports(Path(item))
    if sources:
        analyzer = _default_analyzer()
        with _progress("scanning", not quiet) as advance:
            for record in chain.from_iterable(s.records() for s in sources):
                yield analyzer.analyze_input(record).to_dict()
                advance()


@app.command(epilog=_EXIT_HELP)
def stats(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="JSON Lines reports of 'docgap scan', or raw inputs (scanned first).",
            show_default=False,
        ),
    ],
    group_by: Annotated[
        str | None,
        typer.Option(
            "--group-by",
            "-g",
            help="Break down by this column (a meta key of the reports, e.g. specialty).",
        ),
    ] = None,
    csv_out: Annotated[
        Path | None,
        typer.Option("--csv", help="Write the figures as one tidy CSV.", dir_okay=False),
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the figures as JSON.", dir_okay=False)
    ] = None,
    top: Annotated[int, typer.Option("--top", min=1, help="How many gaps to list.")] = 10,
    id_col: Annotated[str, typer.Option("--id-col", help="Id column of raw inputs.")] = "note_id",
    text_col: Annotated[
        str, typer.Option("--text-col", help="Text column of raw inputs.")
    ] = "text",
    input_format: Annotated[
        InFormat,
        typer.Option(
            "--input-format",
            help="Raw input format (auto: reports are recognised, other files go by suffix).",
        ),
    ] = InFormat.auto,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No tables on stdout.")] = False,
) -> None:
    """Coverage statistics: element prevalence by assertion, statuses, top gaps, by group."""
    from docgap.evaluation.stats import NO_GROUP, CorpusStats, render_stats  # pandas: loaded on use

    with _internal_errors(expected=(InputError, ReportFileError)):
        try:
            records = _stats_records(
                inputs,
                input_format=input_format.value,
                id_col=id_col,
                text_col=text_col,
                quiet=quiet,
            )
            figures = CorpusStats.from_records(records, group_by=group_by, top=top)
        except (InputError, ReportFileError) as exc:
            _fail(str(exc))
        except KeyboardInterrupt:
            _say("interrupted")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        if figures.notes.empty:
            _fail("no notes in the input")
        if group_by and set(figures.notes["group"]) == {NO_GROUP}:
            _say(f"warning: no note has a {group_by!r} column or meta key")
        if not quiet:
            render_stats(figures, _stdout_console())
        if csv_out is not None:
            figures.write_csv(csv_out)
        if json_out is not None:
            figures.write_json(json_out)


def main() -> None:
    """Entry point of the ``docgap`` script."""
    app(prog_name="docgap")


if __name__ == "__main__":
    main()
