"""``docgap report``: the CDI reviewer's HTML report from a scan's reports."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from docgap.inputs.reading import InputError
from docgap.outputs.writers import OutputError, ReportFileError, read_reports

if TYPE_CHECKING:  # importing the analyzer loads spaCy: only when a command needs it
    pass

from docgap.cli.base import (
    _READER_EXITS,
    InFormat,
    _fail,
    _internal_errors,
    _say,
    app,
)

_SPLIT_HINT = 2_000  # more notes than this in one page: say how to split it


def _is_folder(html: str) -> bool:
    """Whether ``--html`` names a folder: an existing one, or a path ending in a separator."""
    return html.endswith(("/", "\\")) or Path(html).is_dir()


@app.command(epilog=_READER_EXITS)
def report(
    report_file: Annotated[
        Path,
        typer.Argument(metavar="REPORT", help="A JSON Lines report written by 'docgap scan'."),
    ],
    html: Annotated[
        str,
        typer.Option(
            "--html",
            help=(
                "The HTML file to write; a folder (an existing one, or a path ending in '/') "
                "gets index.html and parts of --notes-per-part notes, for large scans."
            ),
        ),
    ],
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
    notes_per_part: Annotated[
        int,
        typer.Option("--notes-per-part", min=1, help="With --html FOLDER/: notes in each part."),
    ] = 250,  # html_pages.DEFAULT_PER_PART (not imported here: it loads the code tables)
) -> None:
    """Write the CDI reviewer's HTML report (worklist, highlighted evidence, query drafts)."""
    from docgap.outputs.html_pages import write_html_pages
    from docgap.outputs.html_report import write_html
    from docgap.outputs.texts import AmbiguousTextsError, match_texts, read_texts

    expected = (ReportFileError, InputError, AmbiguousTextsError, OutputError)
    with _internal_errors(lambda: "no HTML written", expected=expected):
        try:
            records = list(read_reports(report_file))
            if texts:
                found = read_texts(texts, fmt=input_format.value, id_col=id_col, text_col=text_col)
                for record, text in zip(records, match_texts(records, found), strict=True):
                    if text is not None:
                        record["text"] = text
            if _is_folder(html):
                path = write_html_pages(
                    records,
                    Path(html),
                    source=str(report_file),
                    per_part=notes_per_part,
                    page_size=page_size,
                )
            else:
                path = write_html(records, html, source=str(report_file), page_size=page_size)
                if len(records) > _SPLIT_HINT:
                    _say(
                        f"{len(records):,} notes in one page: --html FOLDER/ splits the report "
                        f"into parts of {notes_per_part} notes that open faster"
                    )
        except (ReportFileError, InputError, AmbiguousTextsError, OutputError) as exc:
            _fail(str(exc))
        except OSError as exc:
            _fail(f"cannot write {html}: {exc.strerror or type(exc).__name__}")
    _say(f"HTML report: {path.resolve()}")


# -- check (a gate for pipelines) --------------------------------------------------------
