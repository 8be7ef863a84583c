"""The worklist database commands (issue 16): a system of record for CDI review.

``db upgrade``, ``db ingest``, ``review``, ``audit``, ``metrics``, ``export-gold`` and
``users add``.

Thin over :mod:`docgap.store`: this module parses options, calls the store, and prints.
A database URL may carry a password, and the store holds PHI: error messages name the
error's type and the store's own explanation, never the URL or a note's text.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from docgap.cli.base import (
    _EXIT_HELP,
    InFormat,
    _fail,
    _internal_errors,
    _say,
    _stdout_console,
    app,
)

__all__ = ["DbOption", "db_app", "show_db_worklist", "users_app"]

DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        envvar="DOCGAP_DB",
        help="Database URL: sqlite:///docgap.db (default) or postgresql+psycopg://user@host/db.",
    ),
]
_DEFAULT_DB = "sqlite:///docgap.db"

db_app = typer.Typer(help="Create, migrate and fill the worklist database.", no_args_is_help=True)
users_app = typer.Typer(help="Users of the web worklist.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")


@contextlib.contextmanager
def _store_errors() -> Iterator[None]:
    """The store's expected failures as one clear line and exit 2 (no URL, no note text)."""
    from sqlalchemy.exc import SQLAlchemyError

    from docgap.store import ConflictError, StoreError, TransitionError, UnknownNoteError, UserError

    expected = (ConflictError, StoreError, TransitionError, UnknownNoteError, UserError)
    with _internal_errors(expected=(*expected, SQLAlchemyError)):
        try:
            yield
        except ConflictError as exc:
            _fail(f"conflict: {exc}")
        except (StoreError, TransitionError, UnknownNoteError, UserError) as exc:
            _fail(str(exc))
        except SQLAlchemyError as exc:
            _fail(f"database error ({type(exc).__name__}); check --db and 'docgap db upgrade'")


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


@db_app.command("upgrade", epilog=_EXIT_HELP)
def db_upgrade(db: DbOption = _DEFAULT_DB) -> None:
    """Create the worklist schema, or migrate it to this docgap's newest revision."""
    from docgap.store import upgrade

    with _store_errors():
        revision = upgrade(db)
    _say(f"database schema at revision {revision}")


@db_app.command("ingest", epilog=_EXIT_HELP)
def db_ingest(
    reports: Annotated[Path, typer.Argument(help="A JSON Lines report written by 'docgap scan'.")],
    texts: Annotated[
        list[str] | None,
        typer.Option("--texts", help="The scan's inputs, to store each note's text."),
    ] = None,
    db: DbOption = _DEFAULT_DB,
    input_format: Annotated[
        InFormat, typer.Option("--input-format", help="Format of --texts inputs.")
    ] = InFormat.auto,
    id_col: Annotated[str, typer.Option("--id-col", help="Id column of --texts tables.")] = (
        "note_id"
    ),
    text_col: Annotated[str, typer.Option("--text-col", help="Text column of --texts tables.")] = (
        "text"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    lexicon_hash: Annotated[
        str | None,
        typer.Option(
            "--lexicon-hash",
            help="The rules the reports were scanned with (default: the shipped rules' hash).",
        ),
    ] = None,
) -> None:
    """Store a scan's reports: the same text under the same rules adds nothing.

    New text or new rules add a revision and keep the old one; a note whose status changed
    goes back to 'new' and is listed here.
    """
    from docgap.inputs.reading import InputError, open_sources
    from docgap.outputs.writers import ReportFileError, read_reports
    from docgap.store import ingest

    with _store_errors():
        try:
            note_texts: dict[str, str] = {}
            for source in open_sources(
                texts or (), fmt=input_format.value, id_col=id_col, text_col=text_col
            ):
                for note in source.records():
                    if note.text is not None:
                        note_texts.setdefault(note.note_id, note.text)
            result = ingest(db, read_reports(reports), note_texts, lexicon_hash=lexicon_hash)
        except (ReportFileError, InputError) as exc:
            _fail(str(exc))
    if as_json:
        _print_json(result.to_dict())
        return
    _say(
        f"{result.reports_added} report(s) added, {result.unchanged} unchanged, "
        f"{result.notes_added} new note text(s), {len(result.changed)} status change(s)"
    )
    for change in result.changed:
        _say(f"status changed: {change.note_id}: {change.before} -> {change.after}")


@app.command(epilog=_EXIT_HELP)
def review(
    note_id: Annotated[str, typer.Argument(help="The note's id.")],
    user: Annotated[str, typer.Option("--user", help="Who takes the action.")],
    action: Annotated[
        str,
        typer.Option(
            "--action",
            help="claim, accept, override, draft-query, send-query, answer, close or cancel.",
        ),
    ],
    db: DbOption = _DEFAULT_DB,
    status: Annotated[str | None, typer.Option("--status", help="override: the status.")] = None,
    element: Annotated[
        list[str] | None,
        typer.Option("--element", help="override: ELEMENT=true|false (repeatable)."),
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="override, cancel: why.")] = None,
    query_file: Annotated[
        Path | None,
        typer.Option("--query-file", help="draft-query: the edited query text (else queries.yml)."),
    ] = None,
    response: Annotated[
        str | None, typer.Option("--response", help="answer: agree, disagree or undetermined.")
    ] = None,
    final_code: Annotated[str | None, typer.Option("--final-code", help="close: the code.")] = None,
    expect_version: Annotated[
        int | None,
        typer.Option("--expect-version", help="Refuse if the item changed since this version."),
    ] = None,
) -> None:
    """Move a note's review item through the query lifecycle (every step is audited)."""
    from docgap.store import ReviewRequest, act

    elements: dict[str, bool] = {}
    for pair in element or ():
        name, _, value = pair.partition("=")
        if value.lower() not in ("true", "false"):
            _fail(f"--element takes ELEMENT=true|false, not {pair!r}")
        elements[name] = value.lower() == "true"
    query_text = None
    if query_file is not None:
        try:
            query_text = query_file.read_text(encoding="utf-8")
        except OSError as exc:
            _fail(f"cannot read {query_file}: {exc.strerror or type(exc).__name__}")
    request = ReviewRequest(
        action=action,
        status=status,
        elements=elements or None,
        reason=reason,
        query_text=query_text,
        response=response,
        final_code=final_code,
        expected_version=expect_version,
    )
    with _store_errors():
        item = act(db, note_id, user, request)
    _say(f"{note_id}: {item['state']} (version {item['version']})")


@app.command(epilog=_EXIT_HELP)
def audit(
    db: DbOption = _DEFAULT_DB,
    note: Annotated[str | None, typer.Option("--note", help="Only this note's entries.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    evidence: Annotated[
        bool, typer.Option("--evidence", help="json: include each entry's evidence snapshot.")
    ] = False,
) -> None:
    """The audit log: every transition with its user, time, and states before and after."""
    from rich.table import Table

    from docgap.store import session
    from docgap.store.audit import audit_entries, entry_dict

    if fmt not in ("table", "json"):
        _fail(f"unknown format {fmt!r}; choose table or json")
    with _store_errors(), session(db) as s:
        rows = [entry_dict(e, with_evidence=evidence) for e in audit_entries(s, note_id=note)]
    if fmt == "json":
        _print_json(rows)
        return
    table = Table("at", "note", "user", "action", "before", "after")
    for row in rows:
        table.add_row(
            row["at"][:19],
            row["note_id"],
            row["user"],
            row["action"],
            row["before"] or "",
            row["after"],
        )
    _stdout_console().print(table)


def _since(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        _fail(f"--since takes a date (YYYY-MM-DD) or an ISO time, not {value!r}")
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


@app.command(epilog=_EXIT_HELP)
def metrics(
    db: DbOption = _DEFAULT_DB,
    since: Annotated[str | None, typer.Option("--since", help="Count actions from DATE.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """CDI program metrics: query, response and agreement rates, turnaround, overrides."""
    from docgap.store import metrics as store_metrics

    if fmt not in ("table", "json"):
        _fail(f"unknown format {fmt!r}; choose table or json")
    with _store_errors():
        figures = store_metrics(db, since=_since(since))
    if fmt == "json":
        _print_json(figures)
        return
    for key, value in figures.items():
        shown = json.dumps(value) if isinstance(value, dict) else value
        typer.echo(f"{key}: {'-' if shown is None else shown}")


@app.command("export-gold", epilog=_EXIT_HELP)
def export_gold(
    out: Annotated[Path, typer.Option("--out", help="The gold file to write (JSON Lines).")],
    db: DbOption = _DEFAULT_DB,
) -> None:
    """Reviewed notes as gold labels (JSON Lines) for 'docgap evaluate' and 'docgap train'."""
    from docgap.store import export_gold as store_export

    with _store_errors():
        try:
            written, skipped = store_export(db, out)
        except OSError as exc:
            _fail(f"cannot write {out}: {exc.strerror or type(exc).__name__}")
    _say(
        f"{written} gold note(s) written to {out}"
        + (f"; {skipped} reviewed note(s) without a stored text skipped" if skipped else "")
    )


@users_app.command("add", epilog=_EXIT_HELP)
def users_add(
    name: Annotated[str, typer.Argument(help="The user's sign-in name.")],
    role: Annotated[str, typer.Option("--role", help="reviewer or admin.")] = "reviewer",
    db: DbOption = _DEFAULT_DB,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Add a user of the web worklist (the password is kept only as an argon2 hash)."""
    from docgap.store import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with _store_errors():
        add_user(db, name, role, password)
    _say(f"user {name} added ({role})")


@users_app.command("list", epilog=_EXIT_HELP)
def users_list(db: DbOption = _DEFAULT_DB) -> None:
    """The users of the web worklist and their roles."""
    from docgap.store.users import list_users

    with _store_errors():
        users = list_users(db)
    for name, role in users:
        typer.echo(f"{name}\t{role}")


@users_app.command("role", epilog=_EXIT_HELP)
def users_role(
    name: Annotated[str, typer.Argument(help="The user's sign-in name.")],
    role: Annotated[str, typer.Argument(help="reviewer or admin.")],
    db: DbOption = _DEFAULT_DB,
) -> None:
    """Change a user's role (reviewers work items; admins may also cancel them)."""
    from docgap.store.users import set_role

    with _store_errors():
        set_role(db, name, role)
    _say(f"user {name} is now {role}")


def show_db_worklist(
    db: str, *, state: str | None, assignee: str | None, fmt: str, limit: int | None
) -> None:
    """``docgap worklist --db``: the review items, as a table or JSON (no note text)."""
    from rich.table import Table

    from docgap.store import STATES, session
    from docgap.store.review import item_dict, list_items

    if fmt not in ("table", "json"):
        _fail(f"unknown format {fmt!r}; choose table or json")
    if state is not None and state not in STATES:
        _fail(f"unknown state {state!r}; choose from {', '.join(STATES)}")
    with _store_errors(), session(db) as s:
        rows = [item_dict(i) for i in list_items(s, state=state, assignee=assignee)]
    rows = rows[:limit] if limit else rows
    if fmt == "json":
        _print_json(rows)
        return
    table = Table("note", "status", "state", "assignee", "score", "gaps", "changed")
    for row in rows:
        changed = f"{row['previous_status']} -> {row['status']}" if row["status_changed"] else ""
        score = "" if row["score"] is None else f"{row['score']:.2f}"
        table.add_row(
            row["note_id"],
            str(row["status"]),
            row["state"],
            row["assignee"] or "",
            score,
            ", ".join(row["gaps"]),
            changed,
        )
    _stdout_console().print(table)
