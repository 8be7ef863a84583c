"""Run docgap inside Spark executors: the same reports as the local engine, on a cluster.

:func:`analyze_dataframe` maps a DataFrame of notes to a DataFrame of reports with
``mapInPandas`` (Arrow batches). Each Python worker process builds the
:class:`~docgap.analyzer.Analyzer` once, on its first batch, and keeps it for every later
batch and task it runs (Spark reuses Python workers by default,
``spark.python.worker.reuse=true``); nothing but note ids, texts and reports crosses a
process boundary (medspaCy pipelines cannot be pickled).

Every input row becomes exactly one report row. A row that cannot be analysed (no text, an
empty or binary text, a text column that is not a string) gets an ``error`` and no status,
decided by the same code the local engine uses (:mod:`docgap.inputs.reading` and
:meth:`Analyzer.analyze_input`). The report columns are those of the local Parquet report,
both derived from the field table (:func:`docgap.schema.arrow_schema`), without ``meta``;
the element columns are the pack's.

:func:`scan_with_spark` is ``docgap scan --engine spark``: it reads CSV, TSV, JSON Lines or
Parquet with Spark and writes the reports as Parquet partitioned by ``outcome``
(:data:`PARTITION_COLUMN`): the status, or ``error`` for a note that could not be analysed.
The report's own ``status`` column stays in the files unchanged (null for a failure, as in
the local report); a non-null partition value is what lets pandas and pyarrow read the
folder back (``pd.read_parquet``: a ``status=__HIVE_DEFAULT_PARTITION__`` folder would be
"Cannot yet unify dictionaries with nulls").

Values pass :func:`docgap.outputs.sanitize.clean_value` as in the local writers: a lone
surrogate in an id or a text becomes U+FFFD in both engines (Spark would write ``?``).

pyspark is an optional extra (``pip install 'docgap[spark]'``); this module imports it only
when a function needs it, so ``import docgap.engines.spark`` works without it.
"""

from __future__ import annotations

import functools
import gc
import logging
import math
import os
import shutil
import sys
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docgap.inputs.decoding import DEFAULT_MAX_CHARS
from docgap.inputs.reading import SUFFIX_FORMATS, InputError, NoteInput
from docgap.inputs.reading import note_input as _note_record
from docgap.outputs.sanitize import clean_value
from docgap.packs.registry import DEFAULT_PACK, pack_info
from docgap.report import NoteReport
from docgap.schema import arrow_row, arrow_schema

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

    from docgap.analyzer import Analyzer

# The report's element columns, as the default pack's pack.yml declares them.

__all__ = [
    "BUILD_LOG_ENV",
    "INSTALL_HINT",
    "PARTITION_COLUMN",
    "SPARK_FORMATS",
    "SparkScan",
    "SparkUnavailableError",
    "analyze_dataframe",
    "report_schema",
    "scan_with_spark",
    "spark_session",
    "worker_analyzer",
]

# The folder a Spark scan partitions by: the status, or FAILED_OUTCOME for a failure. Not
# ``status`` itself: a null partition value breaks pandas/pyarrow reading the folder back.
PARTITION_COLUMN = "outcome"
FAILED_OUTCOME = "error"

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'docgap[spark]'"
# When set (to a folder), every worker process that builds an analyzer leaves one file
# there named after its pid: tests count them to check "once per worker, never per batch".
BUILD_LOG_ENV = "DOCGAP_SPARK_BUILD_LOG"
SPARK_FORMATS = ("csv", "tsv", "jsonl", "parquet")
_SUFFIXES = {k: v for k, v in SUFFIX_FORMATS.items() if v in SPARK_FORMATS}
_TEXT_SUFFIXES = frozenset(k for k, v in SUFFIX_FORMATS.items() if v == "txt")
# Internal column names of the projected input (unlikely to clash with a user's columns).
_ID, _ROW, _TEXT, _READ_ERROR = "_docgap_id", "_docgap_row", "_docgap_text", "_docgap_error"
# Spark's JSON reader puts a line it cannot parse here (its text is PHI: never output).
_CORRUPT = "_corrupt_record"
# Spark reads an empty CSV field as null unless nullValue is something else; an empty
# text must stay "" to get the local engine's "empty note" error.
_CSV_NULL = "\u0000docgap-null\u0000"


class SparkUnavailableError(RuntimeError):
    """pyspark or Java is missing: the message says what to install."""


# -- schema and rows -------------------------------------------------------------------
def _arrow_schema(elements: Sequence[str]) -> Any:
    """The local Parquet report's columns (field table, Spark view: no ``meta``)."""
    return arrow_schema(elements, spark=True)


@functools.lru_cache(maxsize=4)
def _driver_elements(options: tuple[tuple[str, Any], ...]) -> tuple[str, ...]:
    """The element keys of the pack the executors will use, asked on the driver.

    The schema must be declared before any executor runs; the registry reads the pack's
    ``pack.yml`` for it, without building a pipeline on the driver.
    """
    settings = dict(options)
    lexicons = settings.get("lexicon_dir")
    pack = settings.get("pack") or DEFAULT_PACK
    return pack_info(pack, Path(lexicons) if lexicons else None).elements


def report_schema(
    elements: Sequence[str] | None = None, *, analyzer_options: Mapping[str, Any] | None = None
) -> StructType:
    """The declared Spark schema of the report DataFrame.

    ``elements``: the pack's element keys (one boolean column each); by default those of
    the analyzer ``analyzer_options`` build.
    """
    from pyspark.sql.pandas.types import from_arrow_schema

    if elements is None:
        elements = _driver_elements(_options_key(analyzer_options))
    return from_arrow_schema(_arrow_schema(elements))


@functools.lru_cache(maxsize=4)
def _columns(elements: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(_arrow_schema(elements).names)


def _row(report: NoteReport, elements: Sequence[str]) -> dict[str, Any]:
    """One report as a row of :func:`report_schema` (the local Parquet row, same values)."""
    return {k: clean_value(v) for k, v in arrow_row(report, elements, spark=True).items()}


# -- the worker side -------------------------------------------------------------------
def _log_build() -> None:
    folder = os.environ.get(BUILD_LOG_ENV)
    if folder:
        path = Path(folder) / f"{os.getpid()}-{uuid.uuid4().hex}"
        path.write_text(str(os.getpid()), encoding="utf-8")


@functools.lru_cache(maxsize=1)
def worker_analyzer(options: tuple[tuple[str, Any], ...] = ()) -> Analyzer:
    """The analyzer of this process, built on first use and kept (one per Python worker)."""
    from docgap.analyzer import Analyzer

    analyzer = Analyzer(**dict(options))
    # PySpark's worker runs gc.collect() after every task; over the pipeline's millions of
    # objects that costs ~0.2 s a task. It lives as long as the process: keep it out of
    # collections (gc.freeze moves every object alive now to a permanent generation).
    gc.collect()
    gc.freeze()
    _log_build()
    return analyzer


def _python_value(value: Any) -> Any:
    """A pandas cell of a string or binary column as the value the local readers see."""
    if isinstance(value, float) and math.isnan(value):
        return None  # not expected from string columns; a null either way
    if isinstance(value, bytearray):
        return bytes(value)
    return value


def _note_input(raw_id: Any, row_no: Any, value: Any, error: Any, max_chars: int) -> NoteInput:
    """The record the local engine would read from the same cell (same errors, same text)."""
    raw_id = _python_value(raw_id)
    note_id = str(raw_id) if raw_id not in (None, "") else f"row-{int(row_no)}"
    error = _python_value(error)
    if error is not None:
        return NoteInput(note_id, None, str(error))
    return _note_record(note_id, _python_value(value), max_chars)


def _failed(note: NoteInput, exc: Exception, analyzer: Analyzer) -> NoteReport:
    """The failure record of a note the analyzer raised on (its warnings and meta kept)."""
    return NoteReport.failed(
        note.note_id,
        f"analysis failed ({type(exc).__name__})",
        elements=tuple(analyzer.pack.elements),
        text_length=len(note.text or ""),
        warnings=note.warnings,
        meta=note.meta,
        # Set by the analyzer on its own reports; absent on analyzers that predate it.
        provenance=getattr(analyzer, "provenance", None),
    )


def _analyze_batches(
    batches: Iterable[pd.DataFrame], options: tuple[tuple[str, Any], ...]
) -> Iterator[pd.DataFrame]:
    """``mapInPandas`` function: a batch of notes in, a batch of reports out."""
    import pandas as pd

    analyzer = worker_analyzer(options)
    max_chars = int(dict(options).get("max_chars", DEFAULT_MAX_CHARS))
    elements = tuple(analyzer.pack.elements)
    columns = list(_columns(elements))
    for batch in batches:
        rows = []
        for raw_id, row_no, value, error in zip(
            batch[_ID], batch[_ROW], batch[_TEXT], batch[_READ_ERROR], strict=True
        ):
            note = _note_input(raw_id, row_no, value, error, max_chars)
            try:
                report = analyzer.analyze_input(note)
            except Exception as exc:  # one bad note must not fail the task
                log.error("note %s: analysis failed (%s)", note.note_id, type(exc).__name__)
                report = _failed(note, exc, analyzer)
            rows.append(_row(report, elements))
        yield pd.DataFrame(rows, columns=columns)


def _options_key(options: Mapping[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    items = dict(options or {})
    if items.get("lexicon_dir") is not None:
        items["lexicon_dir"] = str(items["lexicon_dir"])
    return tuple(sorted(items.items()))


# -- the driver side -------------------------------------------------------------------
def _require_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise SparkUnavailableError(
            f"the Spark engine needs pyspark, which is not installed: {INSTALL_HINT}"
        ) from None


def _analyze_projected(df: DataFrame, options: Mapping[str, Any] | None) -> DataFrame:
    """Reports for a DataFrame of (_docgap_id, _docgap_row, _docgap_text, _docgap_error)."""
    key = _options_key(options)
    function = functools.partial(_analyze_batches, options=key)
    return df.mapInPandas(function, schema=report_schema(_driver_elements(key)))


# What the local readers (pyarrow's ``to_pylist``) give for a cell of a Spark type, to say
# "text is a <type>, not a string" as they do; any other type gives its Spark name.
_PYTHON_TYPES = {
    "tinyint": "int",
    "smallint": "int",
    "int": "int",
    "bigint": "int",
    "float": "float",
    "double": "float",
    "boolean": "bool",
    "date": "date",
    "timestamp": "datetime",
    "timestamp_ntz": "datetime",
    "decimal": "Decimal",
    "array": "list",
    "map": "list",
    "struct": "dict",
}


def _project(df: DataFrame, id_col: str, text_col: str, error: Any = None) -> DataFrame:
    """The four columns the analysis takes: id, row number, text (or null) and read error."""
    from pyspark.sql import functions as F  # noqa: N812 - the usual alias
    from pyspark.sql.types import BinaryType, StringType

    if text_col not in df.columns:
        # The column count, never the names: a CSV without a header has a note as its header.
        raise InputError(
            f"no column {text_col!r} (the input has {len(df.columns)} columns; is the first "
            "row a header?); use --text-col"
        )
    note_id = F.col(id_col).cast("string") if id_col in df.columns else F.lit(None).cast("string")
    text = F.col(text_col)
    kind = df.schema[text_col].dataType
    if not isinstance(kind, (StringType, BinaryType)):
        # Strings and bytes go to the worker as they are; other types would arrive changed
        # by pandas (an int column with nulls becomes float): decide their error here.
        name = kind.simpleString().split("(")[0].split("<")[0]
        name = _PYTHON_TYPES.get(name, name)
        problem = F.when(text.isNotNull(), F.lit(f"text is a {name}, not a string"))
        error = problem if error is None else F.coalesce(error, problem)
        text = F.lit(None).cast("string")
    return df.select(
        note_id.alias(_ID),
        # Unique, and 1..n within a single partition: the id of a row that has none.
        (F.monotonically_increasing_id() + 1).alias(_ROW),
        text.alias(_TEXT),
        (error if error is not None else F.lit(None)).cast("string").alias(_READ_ERROR),
    )


def analyze_dataframe(
    df: DataFrame,
    id_col: str = "note_id",
    text_col: str = "text",
    *,
    analyzer_options: Mapping[str, Any] | None = None,
) -> DataFrame:
    """Analyse every row of ``df``: one report row per input row (see :func:`report_schema`).

    ``text_col`` must exist; a row whose ``id_col`` is missing or empty gets the id
    ``row-N`` (N unique, not contiguous across partitions). ``analyzer_options`` are the
    keyword arguments of :class:`~docgap.analyzer.Analyzer` on the executors (a
    ``lexicon_dir`` must exist there). Spark runs one Python worker per task slot: give the
    DataFrame a few partitions per executor core (``df.repartition(n)``) to use them all.
    """
    return _analyze_projected(_project(df, id_col, text_col), analyzer_options)


def spark_session(
    master: str = "local[*]", *, app_name: str = "docgap", conf: Mapping[str, str] | None = None
) -> SparkSession:
    """A SparkSession for docgap; in local mode its Python workers run this interpreter."""
    _require_pyspark()
    from pyspark.sql import SparkSession

    local = master.startswith("local")
    if local and not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise SparkUnavailableError(
            "Spark needs a Java runtime (17 or newer) and none was found: install one "
            "(Debian/Ubuntu: apt-get install -y default-jre-headless) or set JAVA_HOME"
        )
    if local:
        # pyspark starts its local workers with PYSPARK_PYTHON, else `python3` on PATH,
        # which may lack docgap: use the interpreter docgap runs in.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.python.worker.reuse", "true")  # the analyzer lives in the worker
    )
    if local:
        builder = builder.config("spark.ui.enabled", "false")
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def _is_remote(item: str) -> bool:
    return "://" in item or item.startswith("dbfs:")


def _format_of(item: str, fmt: str) -> str:
    text_files = (
        f"the Spark engine reads {', '.join(SPARK_FORMATS)}: use the local engine for text files"
    )
    if fmt != "auto":
        if fmt not in SPARK_FORMATS:
            raise InputError(f"{item}: {text_files}")
        return fmt
    suffix = Path(item.rstrip("/")).suffix.lower()
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    found: set[str] = set()
    path = Path(item)
    if not _is_remote(item) and path.is_dir():  # a data-lake table: a folder of part files
        found = {p.suffix.lower() for p in path.rglob("*") if p.is_file()}
        formats = sorted({_SUFFIXES[s] for s in found if s in _SUFFIXES})
        if len(formats) == 1:
            return formats[0]
    if suffix in _TEXT_SUFFIXES or (found and found <= {*_TEXT_SUFFIXES, ".md", ""}):
        raise InputError(f"{item}: {text_files}")
    raise InputError(
        f"{item}: cannot tell the input format; use --input-format ({', '.join(SPARK_FORMATS)})"
    )


# A JSON ``\uXXXX`` escape of a high surrogate not followed by a low one, or of a low
# surrogate not preceded by a high one (a Java regex: bounded look-behind).
_LONE_SURROGATE_ESCAPE = (
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def _without_lone_surrogates(spark: SparkSession, item: str) -> Any:
    """The lines of a JSON Lines input with each lone surrogate escape as U+FFFD.

    Spark's strings are UTF-8: its JSON reader turns ``"\ud83d"`` into ``?`` (which no
    later step can tell from a real ``?``), where the local engine writes U+FFFD
    (:mod:`docgap.outputs.sanitize`). Rewriting the escape in the raw line, in the JVM,
    before the JSON is parsed gives both engines the same text. pyspark before 4 cannot
    parse a DataFrame of lines: it reads the file as it is.
    """
    from pyspark.sql import functions as F  # noqa: N812

    if int(spark.version.split(".")[0]) < 4:
        return item
    lines = spark.read.text(item)
    return lines.select(F.regexp_replace("value", _LONE_SURROGATE_ESCAPE, "\ufffd").alias("value"))


def _read(spark: SparkSession, item: str, fmt: str, id_col: str, text_col: str) -> DataFrame:
    """One input as the projected DataFrame the analysis takes."""
    from pyspark.sql import functions as F  # noqa: N812

    reader = spark.read
    if fmt in ("csv", "tsv"):
        df = reader.csv(
            item,
            header=True,
            sep="\t" if fmt == "tsv" else ",",
            quote='"',
            escape='"',  # RFC 4180 doubled quotes, as Python's csv module writes them
            multiLine=True,  # notes hold line breaks inside quoted cells
            inferSchema=False,
            nullValue=_CSV_NULL,
            encoding="UTF-8",
            mode="PERMISSIVE",
        )
        df = df.toDF(*[c.lstrip("\ufeff") for c in df.columns])  # a UTF-8 byte-order mark
        return _project(df, id_col, text_col)
    if fmt == "jsonl":
        df = reader.json(
            _without_lone_surrogates(spark, item),
            mode="PERMISSIVE",
            columnNameOfCorruptRecord=_CORRUPT,
        )
        # Spark refuses queries on a raw JSON file that read only its corrupt column.
        df = df.cache() if _CORRUPT in df.columns else df
        if id_col not in df.columns and "id" in df.columns:
            id_col = "id"  # as the local JSON Lines reader
        error = (
            F.when(F.col(_CORRUPT).isNotNull(), F.lit("malformed JSON record"))
            if _CORRUPT in df.columns
            else None
        )
        if text_col not in df.columns and error is not None:
            df = df.withColumn(text_col, F.lit(None).cast("string"))
        return _project(df, id_col, text_col, error)
    return _project(reader.parquet(item), id_col, text_col)


@dataclass(frozen=True)
class SparkScan:
    """What a Spark scan wrote: how many notes, how many with an error, per status."""

    out: str
    notes: int
    failed: int
    statuses: dict[str, int]


def _check_output(out: str) -> str:
    """Overwrite only nothing or an earlier Spark output (never a file or another folder)."""
    if _is_remote(out):
        return "errorifexists"
    path = Path(out)
    if not path.exists():
        return "errorifexists"
    if path.is_dir() and ((path / "_SUCCESS").exists() or not any(path.iterdir())):
        return "overwrite"
    raise InputError(
        f"{out}: exists and is not an earlier Spark report folder; remove it or choose another"
    )


def scan_with_spark(
    inputs: Sequence[str],
    out: str,
    master: str = "local[*]",
    id_col: str = "note_id",
    text_col: str = "text",
    input_format: str = "auto",
    *,
    partitions: int | None = None,
    analyzer_options: Mapping[str, Any] | None = None,
    spark: SparkSession | None = None,
) -> SparkScan:
    """Read ``inputs`` with Spark, analyse them, write Parquet partitioned by ``outcome``.

    ``out`` is a folder (Spark writes part files: ``outcome=supported/``, ...,
    ``outcome=error/`` for the notes with an error, whose ``status`` column is null). The
    input is spread over at least ``partitions`` tasks (default: twice Spark's default
    parallelism). Uses ``spark`` when given, else the active session, else starts one on
    ``master`` and stops it at the end.
    Raises :class:`SparkUnavailableError` without pyspark or Java, and
    :class:`~docgap.inputs.reading.InputError` for an unusable input or output.
    """
    _require_pyspark()
    if not inputs:
        raise InputError("no input given")
    formats = []
    for item in inputs:
        if item == "-":
            raise InputError("the Spark engine cannot read stdin; give a file or folder")
        if not _is_remote(item) and not Path(item).exists():
            raise InputError(f"{item}: no such file or folder")
        formats.append(_format_of(item, input_format))
    mode = _check_output(out)
    if spark is None:
        from pyspark.sql import SparkSession

        spark = SparkSession.getActiveSession()  # e.g. a notebook's or a test module's
    own = spark is None
    session = spark or spark_session(master)
    try:
        projected = [
            _read(session, item, fmt, id_col, text_col)
            for item, fmt in zip(inputs, formats, strict=True)
        ]
        wanted = partitions or 2 * session.sparkContext.defaultParallelism
        reports = None
        for df in projected:
            if _partitions(df) < wanted:
                df = df.repartition(wanted)
            part = _analyze_projected(df, analyzer_options)
            reports = part if reports is None else reports.unionByName(part)
        assert reports is not None
        from pyspark.sql import functions as F  # noqa: N812

        outcome = F.coalesce(F.col("status"), F.lit(FAILED_OUTCOME))
        reports = reports.withColumn(PARTITION_COLUMN, outcome)
        reports.write.mode(mode).partitionBy(PARTITION_COLUMN).parquet(out)
        return _summary(session, out)
    finally:
        if own:
            session.stop()


def _partitions(df: DataFrame) -> int:
    """How many partitions ``df`` has (0 where the session cannot say, as Spark Connect)."""
    try:
        return int(df.rdd.getNumPartitions())
    except Exception:  # Spark Connect has no RDD API
        return 0


def _summary(spark: SparkSession, out: str) -> SparkScan:
    from pyspark.sql import functions as F  # noqa: N812

    counts = (
        spark.read.parquet(out)
        .groupBy("status")
        .agg(F.count(F.lit(1)).alias("n"), F.count("error").alias("failed"))
        .collect()
    )
    statuses = {row["status"]: int(row["n"]) for row in counts if row["status"] is not None}
    return SparkScan(
        out=out,
        notes=sum(int(row["n"]) for row in counts),
        failed=sum(int(row["failed"]) for row in counts),
        statuses=statuses,
    )
