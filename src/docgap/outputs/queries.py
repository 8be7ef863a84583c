"""Compliant query drafts for at-risk notes and query opportunities, and a leading-language check.

The wording is data (``lexicons/packs/m53.0/queries.yml``), reviewed by CDI staff and
validated here: unknown keys are an error, every template must compile, and every query is
checked against the file's own leading-language rules when it loads, so a draft that leads
the provider or mentions money cannot ship. A draft only cites what the analysis found
(the record's evidence); it never re-decides anything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined, Template, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from docgap.report import STATUSES
from docgap.resources import lexicon_dir
from docgap.rules.lexicon import ASSERTIONS, Lexicon, LexiconError, load_lexicon

__all__ = [
    "Indicator",
    "QueryDraft",
    "QueryFile",
    "QueryFileError",
    "check_query",
    "draft_queries",
    "load_queries",
    "queries_path",
]

# Plain-text output: HTML escaping happens where the text is shown, never here.
_ENV = SandboxedEnvironment(
    autoescape=False, undefined=StrictUndefined, keep_trailing_newline=False
)


class QueryFileError(LexiconError):
    """The query file is missing, invalid, or one of its queries leads."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CiteDef(_Strict):
    """Which evidence a query cites as clinical indicators."""

    elements: list[str] = Field(min_length=1)
    counted: bool = True
    except_concepts: list[str] = Field(default_factory=list)


class OptionDef(_Strict):
    """A clinical option; ``if_concepts`` limits it to notes where one of them counts.

    ``unless_written`` drops it from notes that already mention one of those concepts
    (whatever the assertion): offering back a diagnosis the provider wrote, or considered
    and set aside, leads rather than clarifies.
    """

    text: str = Field(min_length=1)
    if_concepts: list[str] = Field(default_factory=list)
    unless_written: list[str] = Field(default_factory=list)

    @property
    def always(self) -> bool:
        """Whether the option is offered on every note the query is drafted for."""
        return not self.if_concepts and not self.unless_written


class QueryDef(_Strict):
    """One query: the gap that calls for it, what it cites, and what it asks."""

    key: str
    gap: str
    statuses: list[str] = Field(min_length=1)
    title: str
    cite: list[CiteDef] = Field(min_length=1)
    question: str
    options: list[OptionDef] = Field(min_length=1)

    @field_validator("statuses")
    @classmethod
    def _known_statuses(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(STATUSES))
        if unknown:
            raise ValueError(f"unknown statuses {unknown}; choose from {list(STATUSES)}")
        return value


class LeadingRule(_Strict):
    """A phrase a query must never contain, and why."""

    pattern: str
    reason: str

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"regex {value!r} does not compile: {exc}") from None
        return value


class QueryFile(_Strict):
    """The whole query file."""

    preamble: str
    indicator_heading: str
    assertion_wording: dict[str, str]
    no_section: str
    date_meta_keys: list[str] = Field(default_factory=list)
    required_options: list[str] = Field(min_length=1)
    min_clinical_options: int = Field(default=2, ge=1)
    option_marker: str = Field(min_length=1)
    max_indicators: int = Field(default=8, ge=1)
    cite_section_titles: bool = False
    layout: str
    queries: list[QueryDef]
    leading_language: list[LeadingRule] = Field(min_length=1)

    @field_validator("assertion_wording")
    @classmethod
    def _every_assertion(cls, value: dict[str, str]) -> dict[str, str]:
        if set(value) != set(ASSERTIONS):
            raise ValueError(f"needs exactly the assertions {list(ASSERTIONS)}")
        return value

    @field_validator("layout")
    @classmethod
    def _layout_compiles(cls, value: str) -> str:
        try:
            _ENV.from_string(value)
        except TemplateSyntaxError as exc:
            raise ValueError(f"layout template line {exc.lineno}: {exc.message}") from None
        return value

    @model_validator(mode="after")
    def _unique_keys(self) -> QueryFile:
        keys = [q.key for q in self.queries]
        if len(set(keys)) != len(keys):
            raise ValueError("two queries share a key")
        return self

    @model_validator(mode="after")
    def _enough_options_on_every_note(self) -> QueryFile:
        # Conditional options may all drop out: the unconditional ones alone must be enough.
        for query in self.queries:
            always = sum(o.always for o in query.options)
            if always < self.min_clinical_options:
                raise ValueError(
                    f"query {query.key!r} offers {always} option(s) on every note; "
                    f"min_clinical_options is {self.min_clinical_options}"
                )
        return self

    def compiled_rules(self) -> list[tuple[re.Pattern[str], str]]:
        """The leading-language rules, compiled once per rule set."""
        return _compile_rules(tuple((r.pattern, r.reason) for r in self.leading_language))


@lru_cache(maxsize=8)
def _compile_rules(rules: tuple[tuple[str, str], ...]) -> list[tuple[re.Pattern[str], str]]:
    return [(re.compile(pattern, re.IGNORECASE), reason) for pattern, reason in rules]


@dataclass(frozen=True)
class Indicator:
    """A clinical indicator cited in a query: what was found, how, where and when."""

    text: str
    wording: str
    where: str
    when: str | None
    element: str
    section: str | None
    start: int
    end: int


@dataclass(frozen=True)
class QueryDraft:
    """A query ready for a CDI specialist to review and send."""

    key: str
    gap: str
    title: str
    indicators: tuple[Indicator, ...]
    question: str
    options: tuple[str, ...]
    text: str

    def to_dict(self) -> dict[str, Any]:
        """The draft as JSON-ready data (for the report page)."""
        return asdict(self) | {
            "indicators": [asdict(i) for i in self.indicators],
            "options": list(self.options),
        }


def queries_path(code: str = "M53.0") -> Path:
    """Where the query file of a code pack lives in the shipped lexicons."""
    return lexicon_dir() / "packs" / code.lower() / "queries.yml"


def load_queries(path: Path | None = None, lexicon: Lexicon | None = None) -> QueryFile:
    """Read, validate and self-check the query file (the shipped one by default).

    ``lexicon`` is the rule set whose gaps, elements and concepts the file may name (the
    shipped rules by default); loads against the shipped rules are cached per path.
    """
    path = Path(path) if path is not None else queries_path()
    return _load(path, lexicon) if lexicon is not None else _load_cached(path)


@lru_cache(maxsize=8)
def _load_cached(path: Path) -> QueryFile:
    return _load(path, None)


def _load(path: Path, lexicon: Lexicon | None) -> QueryFile:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise QueryFileError(f"{path}: query file is missing") from None
    except yaml.YAMLError as exc:
        raise QueryFileError(f"{path}: not valid YAML: {exc}") from None
    try:
        queries = QueryFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'/'.join(str(p) for p in err['loc']) or '<top>'}: {err['msg']}"
            for err in exc.errors()
        )
        raise QueryFileError(f"{path}: {problems}") from None
    _check_references(queries, lexicon or load_lexicon(), path)
    _self_check(queries, path)
    return queries


def _check_references(queries: QueryFile, lexicon: Lexicon, path: Path) -> None:
    """Gaps, elements and concepts named in the file must exist in the rules."""
    gaps = set(lexicon.pack.gaps)
    # Evidence elements: the pack's elements, the target labels, and the chiropractic test.
    elements = set(lexicon.pack.elements) | {t.label for t in lexicon.targets} | {"chiropractic"}
    concepts = {concept.concept for _, concept in lexicon.concepts()}
    for query in queries.queries:
        where = f"{path}: query {query.key!r}"
        if query.gap not in gaps:
            raise QueryFileError(f"{where}: gap {query.gap!r} is not a gap of pack.yml")
        for cite in query.cite:
            unknown = sorted(set(cite.elements) - elements)
            if unknown:
                raise QueryFileError(f"{where}: cites unknown elements {unknown}")
            unknown = sorted(set(cite.except_concepts) - concepts)
            if unknown:
                raise QueryFileError(f"{where}: unknown concepts {unknown}")
        for option in query.options:
            unknown = sorted({*option.if_concepts, *option.unless_written} - concepts)
            if unknown:
                raise QueryFileError(f"{where}: option names unknown concepts {unknown}")


def _self_check(queries: QueryFile, path: Path) -> None:
    """Render every query with every option and run the leading-language check on it."""
    sample = Indicator(
        "finding",
        queries.assertion_wording["affirmed"],
        queries.no_section,
        None,
        "element",
        None,
        0,
        0,
    )
    for query in queries.queries:
        options = (*(o.text for o in query.options), *queries.required_options)
        try:
            text = _render(queries, query, (sample,), options)
        except Exception as exc:  # any template failure is a file error
            raise QueryFileError(f"{path}: query {query.key!r}: layout fails: {exc}") from None
        problems = check_query(text, queries)
        if problems:
            raise QueryFileError(f"{path}: query {query.key!r} is not compliant: {problems}")


@lru_cache(maxsize=8)
def _layout(source: str) -> Template:
    """The compiled layout (compiling it per draft would dominate a large report)."""
    return _ENV.from_string(source)


def _render(
    queries: QueryFile, query: QueryDef, indicators: Sequence[Indicator], options: Sequence[str]
) -> str:
    text = _layout(queries.layout).render(
        title=query.title,
        preamble=queries.preamble,
        indicator_heading=queries.indicator_heading,
        indicators=indicators,
        question=" ".join(query.question.split()),
        options=options,
        option_marker=queries.option_marker,
    )
    return text.strip() + "\n"


def _section_name(section: str | None, queries: QueryFile) -> str:
    if not section:
        return queries.no_section
    return "the " + section.replace("_", " ") + " section"


def _when(record: Mapping[str, Any], queries: QueryFile) -> str | None:
    meta = record.get("meta") or {}
    for key in queries.date_meta_keys:
        value = meta.get(key)
        if value not in (None, ""):
            return str(value)
    return None


@lru_cache(maxsize=1)
def _section_titles() -> frozenset[str]:
    """Every section title of the shipped rules (lexicons/common/sections.yml), lower case."""
    return frozenset(
        " ".join(title.lower().split())
        for section in load_lexicon().sections.sections
        for title in section.titles
    )


def _indicators(
    record: Mapping[str, Any], query: QueryDef, queries: QueryFile
) -> tuple[Indicator, ...]:
    when = _when(record, queries)
    # A mention that is only a heading word ("IMAGING", "MRI") says nothing clinical: the
    # finding under it is cited on its own.
    titles = frozenset() if queries.cite_section_titles else _section_titles()
    found: list[Indicator] = []
    for cite in query.cite:
        seen: set[tuple[str, str | None, str]] = set()
        taken = 0
        for ev in record.get("evidence") or ():
            if (
                ev.get("element") not in cite.elements
                or bool(ev.get("counted")) != cite.counted
                or ev.get("concept") in cite.except_concepts
            ):
                continue
            text = " ".join(str(ev.get("text", "")).split())
            assertion = str(ev.get("assertion", "affirmed"))
            key = (text.lower(), ev.get("section"), assertion)
            if not text or key in seen or text.lower() in titles:
                continue
            seen.add(key)
            found.append(
                Indicator(
                    text=text,
                    wording=queries.assertion_wording.get(assertion, assertion),
                    where=_section_name(ev.get("section"), queries),
                    when=when,
                    element=str(ev.get("element")),
                    section=ev.get("section"),
                    start=int(ev.get("start", 0)),
                    end=int(ev.get("end", 0)),
                )
            )
            taken += 1
            if taken >= queries.max_indicators:
                break
    return tuple(found)


def draft_queries(record: Mapping[str, Any], queries: QueryFile | None = None) -> list[QueryDraft]:
    """The query drafts a report record calls for (none for notes that need no query)."""
    if record.get("error") or not record.get("status"):
        return []
    queries = queries or load_queries()
    status = record["status"]
    gap_keys = {gap.get("key") for gap in record.get("gaps") or ()}
    counted_concepts = {
        ev.get("concept") for ev in record.get("evidence") or () if ev.get("counted")
    }
    written_concepts = {ev.get("concept") for ev in record.get("evidence") or ()}
    drafts = []
    for query in queries.queries:
        if query.gap not in gap_keys or status not in query.statuses:
            continue
        indicators = _indicators(record, query, queries)
        options = (
            *(
                o.text
                for o in query.options
                if (not o.if_concepts or counted_concepts & set(o.if_concepts))
                and not written_concepts & set(o.unless_written)
            ),
            *queries.required_options,
        )
        drafts.append(
            QueryDraft(
                key=query.key,
                gap=query.gap,
                title=query.title,
                indicators=indicators,
                question=" ".join(query.question.split()),
                options=options,
                text=_render(queries, query, indicators, options),
            )
        )
    return drafts


def check_query(text: str, queries: QueryFile | None = None) -> list[str]:
    """Problems that make a query non-compliant (an empty list when it passes).

    Leading phrases, money, codes and audits (the file's ``leading_language`` rules), and for
    a multiple-choice query: the required options and enough clinical options besides them.
    """
    queries = queries or load_queries()
    problems = []
    for pattern, reason in queries.compiled_rules():
        match = pattern.search(text)
        if match:
            problems.append(f"{reason}: {match.group(0).strip()!r}")
    marker = queries.option_marker
    options = [
        line.strip()[len(marker.strip()) :].strip()
        for line in text.splitlines()
        if line.strip().startswith(marker.strip())
    ]
    if options:
        for required in queries.required_options:
            if required not in options:
                problems.append(f"multiple-choice query without the option {required!r}")
        clinical = [o for o in options if o not in queries.required_options]
        if len(clinical) < queries.min_clinical_options:
            problems.append(
                f"only {len(clinical)} clinical option(s); a query offers at least "
                f"{queries.min_clinical_options} so that it does not lead to one answer"
            )
        if len(set(options)) != len(options):
            problems.append("an option is offered twice")
    return problems


def documentation_help(record: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The query drafts a record calls for, and a documentation fix per gap.

    A fix is the pack's wording of what the chart lacks, with the key of the query draft to
    send when the provider must be asked instead (a CDI specialist never adds a diagnosis).
    The service's responses and :func:`docgap.drafts` both give exactly this.
    """
    drafts = draft_queries(record)
    by_gap = {d.gap: d.key for d in drafts}
    fixes = [
        {
            "gap": gap.get("key"),
            "severity": gap.get("severity"),
            "suggestion": gap.get("message"),
            "query": by_gap.get(gap.get("key")),
        }
        for gap in record.get("gaps") or ()
    ]
    return {"queries": [d.to_dict() for d in drafts], "fixes": fixes}
