"""The report record's one field table, and every view of it derived from that table.

A report travels as a JSON Lines record, a CSV row, a Parquet/Arrow row, a Spark row, an
HTTP response and an HTML page. Five hand-written copies of its fields drifted apart (the
HTML page showed the review model's fields under "Other fields"), so each field is
declared once here, in :data:`REPORT_FIELDS`, with its Python type, whether spec section 5
keeps it stable, how the JSON record writes it, and the columns it becomes in CSV and
Arrow; :meth:`NoteReport.to_dict`, :meth:`NoteReport.from_dict`, the CSV header and rows,
the Arrow, Parquet and Spark schemas, the service's response model and the HTML page's
known keys are all computed from it.

The element keys are the pack's (``analyzer.pack.elements``), never a module's constant:
every view that names elements takes them as a parameter.

Column positions are explicit because the CSV and Parquet column orders predate the table
and are part of what users' spreadsheets and queries rely on; a new field without a
position goes after every positioned column of its view.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, is_dataclass
from dataclasses import fields as dc_fields
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

    from docgap.report import NoteReport

__all__ = [
    "PROVENANCE_KEYS",
    "REPORT_FIELDS",
    "SEVERITIES",
    "Column",
    "DictForm",
    "Kind",
    "ReportField",
    "arrow_row",
    "arrow_schema",
    "csv_columns",
    "csv_row",
    "field_names",
    "known_keys",
    "record_of",
    "response_model",
    "severity_rank",
    "stable_keys",
]

# Gap severities, most severe first: the one order the gate, the worklist and the page use.
SEVERITIES: tuple[str, ...] = ("required", "recommended", "info")
# What ``provenance`` holds on every analysed record (which code and rules decided it).
PROVENANCE_KEYS: tuple[str, ...] = ("docgap_version", "pack", "pack_version", "lexicon_sha256")

_CSV_WARNING_SEP = " | "  # warnings themselves may contain ';'
_CSV_KEY_SEP = ";"


def severity_rank(severity: object) -> int:
    """Sort key of a gap severity (unknown severities sort after every known one)."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


class DictForm(Enum):
    """When the JSON record carries a field (absent keys keep old records and failures small)."""

    ALWAYS = "always"
    OMIT_NONE = "omit_none"  # absent when None (``error``, ``provenance``)
    OMIT_EMPTY = "omit_empty"  # absent when empty (``warnings``, ``meta``)


class Kind(Enum):
    """How a field's value becomes a column's value."""

    VALUE = "value"  # the value itself
    ELEMENTS = "elements"  # one boolean column per element key (names are the elements)
    KEYS = "keys"  # the gaps' machine keys (CSV: ';'-joined; Arrow: a list)
    COUNT = "count"  # how many items
    LIST = "list"  # a list of strings (CSV: ' | '-joined; Arrow: a list)
    JSON = "json"  # the JSON text of the record's value
    META = "meta"  # CSV: one column per meta key; Arrow: JSON text


@dataclass(frozen=True)
class Column:
    """One column a field becomes in a flat view (CSV or Arrow)."""

    name: str
    kind: Kind = Kind.VALUE
    position: int | None = None  # the view's column order; None: after the positioned ones
    arrow: str | None = None  # Arrow type code (see ``_ARROW_TYPES``); Arrow columns only
    nullable: bool = True
    spark: bool = True  # also a column of the Spark report (meta is not: Spark reads no meta)


@dataclass(frozen=True)
class ReportField:
    """One field of the report record and its form in every view."""

    name: str
    type: Any  # the Python type of the record's value (the service model's annotation)
    description: str
    stable: bool = False  # a key spec section 5 keeps
    required: bool = False  # a record without it is not a report (``from_dict``)
    dict_form: DictForm = DictForm.ALWAYS
    csv: tuple[Column, ...] = ()
    arrow: tuple[Column, ...] = ()


def _fields() -> tuple[ReportField, ...]:
    """The table, in JSON record order (stable keys first, as spec section 5 lists them)."""
    str_opt = str | None
    return (
        ReportField(
            "note_id",
            str,
            "The input's id.",
            stable=True,
            required=True,
            csv=(Column("note_id", position=1),),
            arrow=(Column("note_id", position=1, arrow="string", nullable=False),),
        ),
        ReportField(
            "status",
            str_opt,
            "supported, at_risk, downcode, redirect or not_applicable; null on error",
            stable=True,
            required=True,
            csv=(Column("status", position=2),),
            arrow=(Column("status", position=2, arrow="string"),),
        ),
        ReportField(
            "would_code",
            str_opt,
            "The code the note supports as written.",
            stable=True,
            csv=(Column("would_code", position=3),),
            arrow=(Column("would_code", position=3, arrow="string"),),
        ),
        ReportField(
            "elements",
            dict[str, bool],
            "Each element mapped to affirmed (true) or not.",
            stable=True,
            required=True,
            csv=(Column("elements", Kind.ELEMENTS, position=9),),
            arrow=(Column("elements", Kind.ELEMENTS, position=10, arrow="bool"),),
        ),
        ReportField(
            "chiropractic",
            bool,
            "A chiropractic encounter.",
            stable=True,
            csv=(Column("chiropractic", position=5),),
            arrow=(Column("chiropractic", position=6, arrow="bool"),),
        ),
        ReportField(
            "gaps",
            list[dict[str, Any]],
            "What the chart lacks: key, message, severity, codes.",
            stable=True,
            csv=(Column("gap_keys", Kind.KEYS, position=10),),
            arrow=(
                Column("gap_keys", Kind.KEYS, position=11, arrow="list<string>"),
                Column("gaps", Kind.JSON, position=16, arrow="string"),
            ),
        ),
        ReportField(
            "evidence",
            list[dict[str, Any]],
            "Each affirmed or rejected mention: element, text, offsets, section, assertion.",
            stable=True,
            csv=(Column("n_evidence", Kind.COUNT, position=11),),
            arrow=(
                Column("n_evidence", Kind.COUNT, position=12, arrow="int32"),
                Column("evidence", Kind.JSON, position=17, arrow="string"),
            ),
        ),
        ReportField(
            "code",
            str,
            "The code the analysis is about (the pack's).",
            csv=(Column("code", position=4),),
            arrow=(Column("code", position=5, arrow="string"),),
        ),
        ReportField(
            "would_code_description",
            str_opt,
            "The ICD-10-CM title of would_code.",
            arrow=(Column("would_code_description", position=4, arrow="string"),),
        ),
        ReportField(
            "query_opportunity",
            bool,
            "A compliant physician query could settle the code.",
            csv=(Column("query_opportunity", position=6),),
            arrow=(Column("query_opportunity", position=7, arrow="bool"),),
        ),
        ReportField(
            "score",
            float | None,
            "The review model's probability (null without a model).",
            csv=(Column("score", position=7),),
            arrow=(Column("score", position=8, arrow="float64"),),
        ),
        ReportField(
            "review",
            bool | None,
            "Whether the review model flags the note for a person.",
            csv=(Column("review", position=8),),
            arrow=(Column("review", position=9, arrow="bool"),),
        ),
        # The model's per-status view and reasons vary in shape: JSON record only.
        ReportField(
            "status_probabilities",
            dict[str, float] | None,
            "The review model's probability of each status.",
        ),
        ReportField(
            "top_features",
            list[dict[str, Any]] | None,
            "The features that weighed most in the review model's score.",
        ),
        ReportField(
            "text_length",
            int,
            "The note's length in characters.",
            arrow=(Column("text_length", position=15, arrow="int64"),),
        ),
        ReportField(
            "warnings",
            list[str],
            "What was odd about the input (e.g. not UTF-8).",
            dict_form=DictForm.OMIT_EMPTY,
            csv=(Column("warnings", Kind.LIST, position=12),),
            arrow=(Column("warnings", Kind.LIST, position=13, arrow="list<string>"),),
        ),
        ReportField(
            "meta",
            dict[str, Any],
            "The input's other columns, passed through.",
            dict_form=DictForm.OMIT_EMPTY,
            csv=(Column("meta", Kind.META, position=15),),
            arrow=(Column("meta", Kind.META, position=18, arrow="string", spark=False),),
        ),
        ReportField(
            "error",
            str_opt,
            "Why the note could not be analysed.",
            stable=True,
            dict_form=DictForm.OMIT_NONE,
            csv=(Column("error", position=13),),
            arrow=(Column("error", position=14, arrow="string"),),
        ),
        ReportField(
            "provenance",
            dict[str, str] | None,
            "What decided the verdict: docgap_version, pack, pack_version, lexicon_sha256.",
            dict_form=DictForm.OMIT_NONE,
            csv=(Column("provenance", position=14),),
            arrow=(Column("provenance", position=19, arrow="provenance"),),
        ),
    )


REPORT_FIELDS: tuple[ReportField, ...] = _fields()
Fields = Sequence[ReportField]


# -- names -------------------------------------------------------------------------------
def field_names(fields: Fields = REPORT_FIELDS) -> tuple[str, ...]:
    """The record's keys, in record order."""
    return tuple(f.name for f in fields)


def stable_keys(fields: Fields = REPORT_FIELDS) -> tuple[str, ...]:
    """The keys spec section 5 keeps (their names and meanings do not change)."""
    return tuple(f.name for f in fields if f.stable)


def known_keys(fields: Fields = REPORT_FIELDS) -> frozenset[str]:
    """Every key a report record may carry (what the HTML page does not call "other")."""
    return frozenset(field_names(fields))


# -- the JSON record ---------------------------------------------------------------------
def _plain(value: Any) -> Any:
    """A record value as JSON-ready data: dataclasses as dicts, tuples as lists."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dc_fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def record_of(report: NoteReport, fields: Fields = REPORT_FIELDS) -> dict[str, Any]:
    """The JSON record of ``report`` (what :meth:`NoteReport.to_dict` returns)."""
    record: dict[str, Any] = {}
    for spec in fields:
        value = getattr(report, spec.name)
        if spec.dict_form is DictForm.OMIT_NONE and value is None:
            continue
        if spec.dict_form is DictForm.OMIT_EMPTY and not value:
            continue
        record[spec.name] = _plain(value)
    return record


# -- flat views (CSV, Arrow, Spark) ------------------------------------------------------
def _ordered(columns: Iterable[tuple[ReportField, Column]]) -> list[tuple[ReportField, Column]]:
    """Columns by position; unpositioned ones after, in table order."""
    listed = list(columns)
    last = max((c.position or 0 for _, c in listed), default=0)
    return sorted(
        listed,
        key=lambda fc: fc[1].position if fc[1].position is not None else last + 1,
    )


def _csv_specs(fields: Fields) -> list[tuple[ReportField, Column]]:
    return _ordered((f, c) for f in fields for c in f.csv)


def _arrow_specs(fields: Fields, spark: bool) -> list[tuple[ReportField, Column]]:
    return _ordered((f, c) for f in fields for c in f.arrow if c.spark or not spark)


def _meta_name(key: str, taken: set[str]) -> str:
    """A CSV column for a meta key: the key itself, unless a report column has that name."""
    return f"meta_{key}" if key in taken else key


def _csv_taken(fields: Fields, elements: Sequence[str]) -> set[str]:
    """The report's own CSV column names (a meta key with one of them gets ``meta_``)."""
    taken: set[str] = set()
    for _, column in _csv_specs(fields):
        if column.kind is Kind.ELEMENTS:
            taken.update(elements)
        elif column.kind is not Kind.META:
            taken.add(column.name)
    return taken


def csv_columns(
    elements: Sequence[str], meta_keys: Sequence[str] = (), fields: Fields = REPORT_FIELDS
) -> list[str]:
    """The CSV header: the table's columns, one boolean per element, one per meta key."""
    taken = _csv_taken(fields, elements)
    names: list[str] = []
    for _, column in _csv_specs(fields):
        if column.kind is Kind.ELEMENTS:
            names.extend(elements)
        elif column.kind is Kind.META:
            names.extend(_meta_name(k, taken) for k in meta_keys)
        else:
            names.append(column.name)
    return names


def _json(value: Any) -> str:
    # default=str: a meta value read from Parquet may be a date or a decimal.
    return json.dumps(_plain(value), ensure_ascii=False, default=str)


def _keys(value: Any) -> list[str]:
    return [g["key"] if isinstance(g, Mapping) else g.key for g in value or ()]


def csv_row(
    report: NoteReport,
    elements: Sequence[str],
    meta_keys: Sequence[str] = (),
    fields: Fields = REPORT_FIELDS,
) -> dict[str, Any]:
    """One report keyed by :func:`csv_columns` (values not yet written as CSV cells)."""
    taken = _csv_taken(fields, elements)
    row: dict[str, Any] = {}
    for spec, column in _csv_specs(fields):
        value = getattr(report, spec.name)
        kind = column.kind
        if kind is Kind.ELEMENTS:
            row.update((e, bool(value.get(e, False))) for e in elements)
        elif kind is Kind.META:
            row.update((_meta_name(k, taken), value.get(k)) for k in meta_keys)
        elif kind is Kind.KEYS:
            row[column.name] = _CSV_KEY_SEP.join(_keys(value))
        elif kind is Kind.LIST:
            row[column.name] = _CSV_WARNING_SEP.join(value or ())
        elif kind is Kind.COUNT:
            row[column.name] = len(value or ())
        elif kind is Kind.JSON:
            row[column.name] = _json(value)
        else:
            row[column.name] = _plain(value)
    return row


_ARROW_TYPES: dict[str, Callable[[Any], Any]] = {
    "string": lambda pa: pa.string(),
    "bool": lambda pa: pa.bool_(),
    "float64": lambda pa: pa.float64(),
    "int32": lambda pa: pa.int32(),
    "int64": lambda pa: pa.int64(),
    "list<string>": lambda pa: pa.list_(pa.string()),
    "provenance": lambda pa: pa.struct([pa.field(k, pa.string()) for k in PROVENANCE_KEYS]),
}


def arrow_schema(
    elements: Sequence[str], *, spark: bool = False, fields: Fields = REPORT_FIELDS
) -> Any:
    """The declared Arrow schema of a Parquet report (``spark``: of the Spark report)."""
    import pyarrow as pa

    columns: list[Any] = []
    for _, column in _arrow_specs(fields, spark):
        if column.arrow is None:
            raise ValueError(f"Arrow column {column.name!r} declares no type")
        kind = _ARROW_TYPES[column.arrow](pa)
        if column.kind is Kind.ELEMENTS:
            columns.extend(pa.field(e, kind) for e in elements)
        else:
            columns.append(pa.field(column.name, kind, nullable=column.nullable))
    return pa.schema(columns)


def arrow_row(
    report: NoteReport,
    elements: Sequence[str],
    *,
    spark: bool = False,
    fields: Fields = REPORT_FIELDS,
) -> dict[str, Any]:
    """One report as a row of :func:`arrow_schema` (same options)."""
    row: dict[str, Any] = {}
    for spec, column in _arrow_specs(fields, spark):
        value = getattr(report, spec.name)
        kind = column.kind
        if kind is Kind.ELEMENTS:
            row.update((e, bool(value.get(e, False))) for e in elements)
        elif kind is Kind.KEYS:
            row[column.name] = _keys(value)
        elif kind is Kind.LIST:
            row[column.name] = list(value or ())
        elif kind is Kind.COUNT:
            row[column.name] = len(value or ())
        elif kind in (Kind.JSON, Kind.META):
            row[column.name] = _json(value if value is not None else {})
        else:
            row[column.name] = _plain(value)
    return row


# -- the service's response model --------------------------------------------------------
def response_model(
    name: str = "ReportOut", fields: Fields = REPORT_FIELDS, doc: str | None = None
) -> type[BaseModel]:
    """A pydantic model of the record: keys always present are required, others optional.

    It documents the response (OpenAPI) and accepts keys the table does not know, since
    spec section 5 lets fields be added.
    """
    from pydantic import ConfigDict, Field, create_model

    definitions: dict[str, Any] = {}
    for spec in fields:
        if spec.dict_form is DictForm.ALWAYS:
            definitions[spec.name] = (spec.type, Field(description=spec.description))
        else:
            definitions[spec.name] = (
                spec.type | None,
                Field(default=None, description=spec.description),
            )
    model: type[BaseModel] = create_model(
        name,
        __config__=ConfigDict(extra="allow"),
        __doc__=doc
        or "One note's report: the stable keys of the scan record (spec section 5), and more.",
        **definitions,
    )
    return model
