"""The ``docgap`` command line: shared plumbing (the Typer app, exit codes, messages, logging).

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
import logging
import os
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import click
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from typer.core import TyperArgument, TyperCommand, TyperOption

if TYPE_CHECKING:  # importing the analyzer loads spaCy: only when a command needs it
    from docgap.analyzer import Analyzer


__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_FAILED",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_UNUSABLE",
    "app",
]


EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_UNUSABLE = 2
EXIT_FAILED = 3
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as other Unix tools

# ``scan``'s exit codes (it imports this name); every other command states its own, below.
_EXIT_HELP = (
    "Exit codes: 0 all notes analysed; 3 some records could not be analysed (each is in the "
    "output with an 'error'); 2 unusable input or usage error (missing file, unknown format, "
    "table without the text column); 1 unexpected internal error; 130 interrupted (Ctrl-C), "
    "output flushed; 141 the output pipe was closed."
)
# The codes every command shares (the root help); each command's help adds what it means.
_ROOT_EXITS = (
    "Exit codes: 0 success; 2 unusable input or usage error; 1 unexpected internal error; "
    "130 interrupted. 'scan' and 'check' add their own (see their --help)."
)
# Commands that read a file and write a table or a file.
_READER_EXITS = (
    "Exit codes: 0 written; 2 unusable input (missing or malformed file) or usage error; "
    "1 unexpected internal error."
)

log = logging.getLogger("docgap")


class _Argument(TyperArgument):
    """An argument whose help names what it holds (``NOTES...``), not a Python type."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None


def _metavar(param: TyperOption) -> str:
    """The placeholder of an option's value: ``[a|b]`` for choices, else FILE/PATH/N/TEXT."""
    desc = param.type_descriptor
    if desc.is_choice:
        return "[" + "|".join(str(getattr(c, "value", c)) for c in desc.choices or ()) + "]"
    if desc.is_path:
        label = "FILE" if desc.path_type == "file" else "PATH"
    else:
        label = {"int": "N", "float": "NUMBER"}.get(param.bare_type().removeprefix("list["), "")
        label = label or "TEXT"
    return f"{label}..." if desc.is_list else label


class _Option(TyperOption):
    """An option whose help shows a placeholder (FILE, N, [a|b]), never ``<bool>`` or ``<str>``."""

    def display_type_rich(self, ctx: Any) -> str | None:
        if self.is_flag:
            return None
        return self.metavar if self.metavar is not None else _metavar(self)


class _Command(TyperCommand):
    """Typer's command with plain placeholders in its help (typer shows Python type names)."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        for param in params:
            if type(param) is TyperArgument:
                param.__class__ = _Argument
            elif type(param) is TyperOption:
                param.__class__ = _Option
        return params


class _App(typer.Typer):
    """The docgap app: every command gets :class:`_Command` unless it names its own class.

    Help is plain text: rich markup would eat "[spark]" in "pip install 'docgap[spark]'".
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("rich_markup_mode", None)
        super().__init__(**kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", _Command)
        return super().command(*args, **kwargs)


app = _App(
    name="docgap",
    help="Does a clinical note support ICD-10-CM M53.0 (cervicocranial syndrome), and if not, "
    "why? Scan notes, list the work for CDI, evaluate against gold labels, count coverage.",
    epilog=_ROOT_EXITS,
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
