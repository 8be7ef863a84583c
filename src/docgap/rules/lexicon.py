"""Reviewed rule files: their schema, validation on load, and write-back.

Every rule docgap applies lives in ``lexicons/`` as YAML that a clinician can edit.
The models below forbid unknown keys and compile every regular expression on load, so
a typo is a clear error naming the file and the rule, never a silently ignored rule.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from docgap.resources import lexicon_dir
from docgap.rules.variants import VariantsFile, expand_phrases

__all__ = [
    "ASSERTIONS",
    "DEFAULT_PACK",
    "ContextFile",
    "ContextRuleGroup",
    "DiscourseFile",
    "DiscourseRule",
    "ElementDef",
    "GapDef",
    "LevelsFile",
    "Lexicon",
    "LexiconError",
    "PackContextFile",
    "PackFile",
    "RegionDef",
    "SectionsFile",
    "SentencesFile",
    "TargetConcept",
    "TargetFile",
    "TemplatesFile",
    "dump_yaml",
    "find_pack_dir",
    "load_lexicon",
    "read_yaml",
]

# The pack a lexicon folder is read for when the caller names none.
DEFAULT_PACK = "m53_0.v1"

Assertion = Literal["affirmed", "negated", "family", "hypothetical", "uncertain", "historical"]
ASSERTIONS: tuple[str, ...] = (
    "affirmed",
    "negated",
    "family",
    "hypothetical",
    "uncertain",
    "historical",
)
Direction = Literal["FORWARD", "BACKWARD", "BIDIRECTIONAL", "TERMINATE", "PSEUDO"]


class LexiconError(ValueError):
    """A rule file is missing, unreadable or invalid."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_regexes(values: list[str]) -> list[str]:
    for pattern in values:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"regex {pattern!r} does not compile: {exc}") from None
    return values


class _Matchable(_Strict):
    """Something matched in text: literal phrases, regular expressions or token patterns."""

    phrases: list[str] = Field(default_factory=list)
    regex: list[str] = Field(default_factory=list)
    patterns: list[list[dict[str, Any]]] = Field(default_factory=list)

    @field_validator("regex")
    @classmethod
    def _regex_compiles(cls, value: list[str]) -> list[str]:
        return _check_regexes(value)

    @field_validator("phrases")
    @classmethod
    def _phrases_not_blank(cls, value: list[str]) -> list[str]:
        if any(not p.strip() for p in value):
            raise ValueError("a phrase is empty")
        return value

    def has_matcher(self) -> bool:
        return bool(self.phrases or self.regex or self.patterns)


class TargetConcept(_Matchable):
    """One concept of an element (e.g. vertigo) and the words that name it."""

    concept: str
    group: str | None = None
    flags: list[str] = Field(default_factory=list)
    explains: list[str] = Field(default_factory=list)
    requires_any: list[str] = Field(default_factory=list)
    rejected_by: list[str] = Field(default_factory=list)
    rescued_by: list[str] = Field(default_factory=list)
    note: str | None = None

    @model_validator(mode="after")
    def _has_matcher(self) -> TargetConcept:
        if not self.has_matcher():
            raise ValueError(f"concept {self.concept!r} has no phrases, regex or patterns")
        return self


class TargetFile(_Strict):
    """All concepts of one target label; file-level qualifiers apply to every concept."""

    label: str
    description: str
    rejected_by: list[str] = Field(default_factory=list)
    requires_any: list[str] = Field(default_factory=list)
    rescued_by: list[str] = Field(default_factory=list)
    concepts: list[TargetConcept]


class ContextRuleGroup(_Matchable):
    """ConText modifiers sharing a category, a direction and a scope."""

    category: str
    direction: Direction
    layer: str = "assertion"
    max_scope: int | None = Field(default=None, ge=1)
    allowed_types: list[str] | None = None
    excluded_types: list[str] | None = None
    terminated_by: list[str] | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _has_matcher(self) -> ContextRuleGroup:
        if not self.has_matcher():
            raise ValueError(f"{self.category} rule group has no phrases, regex or patterns")
        return self


class ContextFile(_Strict):
    """Assertion categories, their precedence, and the modifier rules."""

    assertions: dict[str, Assertion]
    precedence: list[Assertion]
    rules: list[ContextRuleGroup]


class PackContextFile(_Strict):
    """A pack's own modifier rules, run after the common ones (same schema, no assertions)."""

    rules: list[ContextRuleGroup]


class SectionDef(_Strict):
    """A section category, the titles that open it, and what it implies for mentions in it."""

    category: str
    titles: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)
    assertion: Assertion | None = None
    qualifier: str | None = None

    @field_validator("patterns")
    @classmethod
    def _regex_compiles(cls, value: list[str]) -> list[str]:
        return _check_regexes(value)

    note: str | None = None


class SectionsFile(_Strict):
    """The section titles file.

    ``title_suffixes`` are regexes for what may stand between a known title and its colon
    (an author, a date, "revised"): without them "ASSESSMENT (Dr. X):" opened no section,
    and the attributions and diagnoses in it were read as history. A suffix must not
    contain a colon or a line break, so it cannot swallow the section's first line.
    """

    sections: list[SectionDef]
    title_suffixes: list[str] = Field(default_factory=list)

    @field_validator("title_suffixes")
    @classmethod
    def _suffix_regex_compiles(cls, value: list[str]) -> list[str]:
        for suffix in _check_regexes(value):
            if re.search(suffix, ":") or re.search(suffix, "\n"):
                raise ValueError(f"title suffix {suffix!r} matches a colon or a line break")
        return value


class TemplatesFile(_Strict):
    """How checkbox and key-value template lines state a value."""

    affirm_values: list[str]
    negate_values: list[str]
    unfilled_values: list[str]
    checked_boxes: list[str]
    empty_boxes: list[str]
    affirm_prefixes: list[str]
    negate_prefixes: list[str]
    # Regexes of unselected pick-lists and placeholders ("{a/b/***}", "[select diagnosis]"):
    # a mention inside one names nothing (spec 1).
    pick_lists: list[str] = Field(default_factory=list)

    @field_validator("pick_lists")
    @classmethod
    def _regex_compiles(cls, value: list[str]) -> list[str]:
        return _check_regexes(value)


class DiscourseRule(_Strict):
    """One cross-sentence rule of discourse.yml: a cue and the mentions it overrides.

    ``kind`` says what the cue does (see docgap.nlp.discourse): ``resolution`` (a later
    statement that a symptom is gone), ``retraction`` (a diagnosis withdrawn as entered in
    error), ``answer`` (a question's answer decides it), ``quotation`` (a diagnosis quoted
    from another record is reported, not adopted), ``dispute`` (the author later rejects or
    disputes a diagnosis raised earlier by a referral, a claim, a relative or the patient, so
    the earlier mentions no longer count), ``gloss`` (an apposition such as "X, also known as
    Y" names nothing by itself: Y takes X's assertion). ``labels`` limits the rule to mentions of
    those target labels (empty: every label); ``window`` is how many characters from a
    mention a cue may stand; ``becomes`` is the assertion an overridden mention takes
    (none: it keeps its assertion and is only rejected, with ``reason``).
    """

    kind: Literal["resolution", "retraction", "answer", "quotation", "dispute", "gloss"]
    cues: list[str] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)
    window: int = Field(default=60, ge=1)
    becomes: Assertion | None = None
    reason: str
    # dispute only: what marks an earlier mention as the author's own adopted assessment,
    # which a dispute does not reach (a qualifier, or a section unless the dispute stands
    # in one of these sections too): see docgap.nlp.discourse.
    keeps_qualifiers: list[str] = Field(default_factory=list)
    keeps_sections: list[str] = Field(default_factory=list)
    note: str | None = None
    # Words a cue does not reach a mention across ("occipital headaches persist, but the
    # dizziness has gone away": the "but" keeps the headaches current). A wide window reads a
    # cue after a relative clause ("the headaches which were prominent two years ago have
    # gone away"); the barriers keep it from reaching another clause's symptom.
    barriers: list[str] = Field(default_factory=list)
    # resolution only. Barriers that stop a cue standing *before* the mention: "ear pain
    # resolved; occipital headaches persist" keeps the headaches, while "blurred vision; none
    # now" (cue after the mention) still resolves it.
    leading_barriers: list[str] = Field(default_factory=list)
    # resolution only. A later sentence that resolves the symptoms of the sentence before it
    # by pointing back ("That has since cleared.", "These have all settled."): the regex
    # must match at the start of a sentence with no mention of the rule's labels, within
    # ``window`` characters after the previous mention.
    anaphors: list[str] = Field(default_factory=list)

    @field_validator("cues", "barriers", "leading_barriers", "anaphors")
    @classmethod
    def _regex_compiles(cls, value: list[str]) -> list[str]:
        return _check_regexes(value)

    @model_validator(mode="after")
    def _fits_kind(self) -> DiscourseRule:
        """A dispute or gloss needs cues; keeps_* is a dispute's and barriers a resolution's."""
        if self.kind in ("dispute", "gloss") and not self.cues:
            raise ValueError(f"a {self.kind} rule needs cues")
        if self.kind != "dispute" and (self.keeps_qualifiers or self.keeps_sections):
            raise ValueError("keeps_qualifiers and keeps_sections belong to a dispute rule")
        if self.kind == "gloss" and self.becomes is not None:
            raise ValueError("a gloss takes the assertion of the mention it glosses (no becomes)")
        # Barriers are read between a mention and its cue, which only resolution rules use.
        if (self.barriers or self.leading_barriers or self.anaphors) and self.kind != "resolution":
            raise ValueError(f"barriers and anaphors apply to resolution rules, not {self.kind!r}")
        return self


class DiscourseFile(_Strict):
    """Cross-sentence rules applied to a note's mentions after ConText (discourse.yml)."""

    rules: list[DiscourseRule] = Field(default_factory=list)


class RegionDef(_Strict):
    """The spinal region packs ask about, so no region name is hard-coded in Python.

    A level from C0 down to ``lowest`` is in the region; a mention whose sentence states one
    gets ``qualifier`` (``outside_qualifier`` for a level outside it), and a mention whose
    concept carries ``flag`` is in the region by its own words. ``name`` and ``outside`` are
    the values a mention's ``region`` takes.
    """

    name: str
    lowest: Annotated[str, StringConstraints(pattern=r"^[CTLS]\d{1,2}$")]
    flag: str
    qualifier: str
    outside: str
    outside_qualifier: str


class LevelsFile(_Strict):
    """Spinal level notation: vertebra aliases, area names and chiropractic listings."""

    aliases: dict[str, str]
    listings: list[str]
    not_a_level_before: list[str] = Field(default_factory=list)
    not_a_level_after: list[str]
    exam_level_before: list[str] = Field(default_factory=list)
    exam_level_after: list[str] = Field(default_factory=list)
    region: RegionDef

    @field_validator(
        "not_a_level_after", "not_a_level_before", "exam_level_before", "exam_level_after"
    )
    @classmethod
    def _regex_compiles(cls, value: list[str]) -> list[str]:
        return _check_regexes(value)


class SpokenBreaks(_Strict):
    """Punctuation spoken as words in raw speech-recognition text ("period", "new paragraph").

    Dictation transcribed verbatim has no "." at all, so one negation ("she denies
    dizziness ... period no arm pain") ran on to the end of the note. ``words`` are the
    spoken marks, each one or more words; ``not_after`` and ``not_before`` are the words
    beside a mark that make it the ordinary word ("a period of two weeks", "menstrual
    period", "the next line of treatment").
    """

    words: list[str] = Field(default_factory=list)
    not_after: list[str] = Field(default_factory=list)
    not_before: list[str] = Field(default_factory=list)

    @field_validator("words", "not_after", "not_before")
    @classmethod
    def _lower_words(cls, value: list[str]) -> list[str]:
        for word in value:
            if not word.strip() or word != word.lower():
                raise ValueError(f"spoken-break word {word!r} must be non-blank lower case")
        return value


class SentencesFile(_Strict):
    """Tokens after which a period does not end a sentence; spoken sentence ends."""

    no_break_after: list[str]
    spoken_breaks: SpokenBreaks = Field(default_factory=SpokenBreaks)


_AFFIRMED_ONLY: list[Assertion] = ["affirmed"]


class ElementDef(_Strict):
    """An element of the code's criteria, which assertions make it count, and how it is read.

    ``region_gated``: a mention outside the region (levels.yml) does not count.
    ``attributable``: a mention the note explains by another cause does not count.
    ``applicability``: an affirmed mention makes the code applicable to the note at all.
    """

    description: str
    counts: list[Assertion] = Field(default_factory=lambda: _AFFIRMED_ONLY.copy())
    region_gated: bool = False
    attributable: bool = False
    applicability: bool = False


class GapDef(_Strict):
    """A gap's human message (a format string over the gap's fields)."""

    message: str
    severity: Literal["required", "recommended", "info"] = "recommended"


class PackFile(_Strict):
    """The code pack: which code, its elements, codes, flags, gap messages and parameters.

    ``parameters`` stays untyped here because its schema belongs to the pack's decision
    (docgap.packs): the pack validates it, with unknown keys forbidden, when it is built.
    """

    name: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*\.v\d+$")]
    code: str
    version: str
    codes: dict[str, str] = Field(default_factory=dict)
    elements: dict[str, ElementDef]
    features: dict[str, str] = Field(default_factory=dict)
    evidence_elements: dict[str, str] = Field(default_factory=dict)
    neck: list[str] = Field(default_factory=list)
    symptom_labels: list[str] = Field(default_factory=list)
    flags: dict[str, str] = Field(default_factory=dict)
    gaps: dict[str, GapDef]
    parameters: dict[str, Any] = Field(default_factory=dict)

    @field_validator("code")
    @classmethod
    def _code_exists(cls, value: str) -> str:
        return _check_code(value)

    @field_validator("codes")
    @classmethod
    def _codes_exist(cls, value: dict[str, str]) -> dict[str, str]:
        for role, code in value.items():
            try:
                _check_code(code)
            except ValueError as exc:
                raise ValueError(f"codes/{role}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _names_are_declared(self) -> PackFile:
        elements = set(self.elements)
        for label, element in self.evidence_elements.items():
            if element not in elements and element not in self.features:
                raise ValueError(
                    f"evidence_elements/{label}: {element!r} is not a declared element or feature"
                )
        for key in ("neck", "symptom_labels"):
            unknown = sorted(set(getattr(self, key)) - elements)
            if unknown:
                raise ValueError(f"{key}: {unknown} are not declared elements")
        return self


def _check_code(code: str) -> str:
    """A code (or a category with a trailing "-") the ICD-10-CM tabular list holds."""
    from docgap.rules.codes import code_facts

    try:
        code_facts(code)
    except KeyError:
        raise ValueError(f"{code!r} is not an ICD-10-CM code") from None
    return code


@dataclass(frozen=True)
class Lexicon:
    """Every rule file, validated, with a hash that identifies this exact rule set."""

    root: Path
    sections: SectionsFile
    context: ContextFile
    templates: TemplatesFile
    levels: LevelsFile
    sentences: SentencesFile
    pack: PackFile
    targets: tuple[TargetFile, ...]
    sha256: str
    files: tuple[str, ...] = field(default_factory=tuple)
    pack_dir: Path | None = None
    # ``context`` merges these two files; they are kept apart for write-back.
    common_context: ContextFile | None = None
    pack_context: PackContextFile | None = None
    discourse: DiscourseFile = field(default_factory=DiscourseFile)

    def concepts(self) -> Iterable[tuple[TargetFile, TargetConcept]]:
        """Every (target file, concept) pair, in file order."""
        for target_file in self.targets:
            for concept in target_file.concepts:
                yield target_file, concept


def read_yaml(path: Path) -> Any:
    """A YAML rule file's data; a missing or malformed file is a LexiconError naming it."""
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except FileNotFoundError:
        raise LexiconError(f"{path}: rule file is missing") from None
    except yaml.YAMLError as exc:
        raise LexiconError(f"{path}: not valid YAML: {exc}") from None


def _parse(model: type[BaseModel], path: Path) -> Any:
    data = read_yaml(path)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'/'.join(str(p) for p in err['loc']) or '<top>'}: {err['msg']}"
            for err in exc.errors()
        )
        raise LexiconError(f"{path}: {problems}") from None


def _hash(paths: list[Path], root: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _check_references(
    lexicon: Lexicon, target_paths: dict[str, Path], context_paths: list[Path]
) -> None:
    """Qualifiers and flags must be declared; a phrase may belong to one concept only."""
    known = {group.category for group in lexicon.context.rules}
    context_where = " or ".join(str(p) for p in context_paths)
    sections_path = lexicon.root / "common" / "sections.yml"
    pack_path = (lexicon.pack_dir or lexicon.root) / "pack.yml"
    for target_file, concept in lexicon.concepts():
        for name in (
            *target_file.requires_any,
            *target_file.rejected_by,
            *target_file.rescued_by,
            *concept.requires_any,
            *concept.rejected_by,
            *concept.rescued_by,
        ):
            if name not in known:
                raise LexiconError(
                    f"{target_paths[target_file.label]}: concept '{concept.concept}': "
                    f"qualifier {name!r} is not a category of any context rule in {context_where}"
                )
        undeclared = sorted(set(concept.flags) - set(lexicon.pack.flags))
        if undeclared:
            raise LexiconError(
                f"{target_paths[target_file.label]}: concept '{concept.concept}': flags "
                f"{undeclared} are not declared in {pack_path} (flags:)"
            )
    labels = {t.label for t in lexicon.targets}
    unknown_labels = sorted(set(lexicon.pack.evidence_elements) - labels)
    if unknown_labels:
        raise LexiconError(
            f"{pack_path}: evidence_elements names labels {unknown_labels} of no target file"
        )
    concept_names = {concept.concept for _, concept in lexicon.concepts()}
    for target_file, concept in lexicon.concepts():
        unknown = set(concept.explains) - concept_names
        if unknown:
            raise LexiconError(
                f"{target_paths[target_file.label]}: concept '{concept.concept}': explains "
                f"unknown concepts {sorted(unknown)}"
            )
    owner: dict[str, str] = {}
    for target_file, concept in lexicon.concepts():
        where = f"{target_paths[target_file.label]} ({concept.concept})"
        for phrase in concept.phrases:
            key = " ".join(phrase.lower().split())
            if key in owner and owner[key] != where:
                raise LexiconError(
                    f"phrase {phrase!r} is in both {owner[key]} and {where}; "
                    "a phrase names one concept (use flags to let it count twice)"
                )
            owner[key] = where
    seen: dict[tuple[str, str], str] = {}
    for group in lexicon.context.rules:
        for phrase in group.phrases:
            layer_key = (group.layer, " ".join(phrase.lower().split()))
            if layer_key in seen:
                raise LexiconError(
                    f"{context_where}: phrase {phrase!r} is in {seen[layer_key]} and "
                    f"{group.category} "
                    f"in layer {group.layer!r}; overlapping modifiers of one layer cancel out "
                    "(use one BIDIRECTIONAL group, or another layer)"
                )
            seen[layer_key] = group.category
    for section in lexicon.sections.sections:
        if section.qualifier and section.qualifier not in known:
            raise LexiconError(
                f"{sections_path}: section {section.category!r}: qualifier {section.qualifier!r} "
                "is not a category of any context rule"
            )
    for category in lexicon.context.assertions:
        if category not in known:
            raise LexiconError(f"{context_paths[0]}: assertion category {category!r} has no rules")
    _check_discourse(lexicon, known)
    region = lexicon.levels.region
    for qualifier in (region.qualifier, region.outside_qualifier):
        if qualifier not in known:
            raise LexiconError(
                f"{lexicon.root / 'common' / 'levels.yml'}: region qualifier {qualifier!r} is "
                f"not a category of any context rule in {context_where}"
            )


def _check_discourse(lexicon: Lexicon, known: set[str]) -> None:
    """A dispute rule's kept qualifiers and kept sections must exist.

    A misspelt name would silently let a dispute reach the author's own assessment. (Labels
    are not checked: discourse.yml is common to every pack, each with its own labels.)
    """
    where = lexicon.root / "common" / "discourse.yml"
    sections = {s.category for s in lexicon.sections.sections}
    for i, rule in enumerate(lexicon.discourse.rules):
        problems = [
            *(
                f"qualifier {x!r} is not a category of any context rule"
                for x in rule.keeps_qualifiers
                if x not in known
            ),
            *(
                f"section {x!r} is not in sections.yml"
                for x in rule.keeps_sections
                if x not in sections
            ),
        ]
        if problems:
            raise LexiconError(f"{where}: rule {i} ({rule.kind}): {'; '.join(problems)}")


def find_pack_dir(root: Path, pack: str = DEFAULT_PACK) -> Path:
    """The folder under ``root/packs`` whose pack.yml declares ``name: <pack>``.

    Only each pack.yml's ``name`` is read, so finding a pack costs no validation.
    """
    packs = root / "packs"
    found: list[str] = []
    for path in sorted(packs.glob("*/pack.yml")):
        data = read_yaml(path)
        name = data.get("name") if isinstance(data, dict) else None
        if name == pack:
            return path.parent
        found.append(str(name))
    raise LexiconError(f"{packs}: no pack.yml declares name {pack!r} (found: {found or 'none'})")


def load_lexicon(root: Path | None = None, pack: str = DEFAULT_PACK) -> Lexicon:
    """Read and validate the common rule files and ``pack``'s files under ``root``.

    ``root`` is the packaged lexicons by default (or ``$DOCGAP_LEXICONS``).
    """
    return _load_cached(Path(root) if root is not None else lexicon_dir(), pack)


@lru_cache(maxsize=8)
def _load_cached(root: Path, pack: str) -> Lexicon:
    common = root / "common"
    pack_dir = find_pack_dir(root, pack)
    target_paths = sorted((pack_dir / "targets").glob("*.yml"))
    if not target_paths:
        raise LexiconError(f"{pack_dir / 'targets'}: no target files found")
    targets = tuple(_parse(TargetFile, path) for path in target_paths)
    variants_path = common / "variants.yml"
    variants: VariantsFile | None = None
    if variants_path.is_file():
        variants = _parse(VariantsFile, variants_path)
        targets = tuple(_with_variants(t, variants) for t in targets)
    labels = [t.label for t in targets]
    if len(set(labels)) != len(labels):
        raise LexiconError(f"{pack_dir / 'targets'}: a label is defined in two files")
    pack_context = pack_dir / "context.yml"
    context_paths = [common / "context.yml"]
    if pack_context.is_file():
        context_paths.append(pack_context)
    files = [
        common / "sections.yml",
        common / "context.yml",
        common / "templates.yml",
        common / "levels.yml",
        common / "sentences.yml",
        pack_dir / "pack.yml",
        *context_paths[1:],
        *target_paths,
    ]
    discourse_path = common / "discourse.yml"
    if discourse_path.is_file():
        files.append(discourse_path)
    if variants is not None:
        files.append(variants_path)
    common_context: ContextFile = _parse(ContextFile, files[1])
    context = common_context
    extra: PackContextFile | None = None
    if len(context_paths) > 1:
        # The pack's modifiers run after the common ones, as if appended to that file.
        extra = _parse(PackContextFile, pack_context)
        context = ContextFile(
            assertions=common_context.assertions,
            precedence=common_context.precedence,
            rules=[*common_context.rules, *extra.rules],
        )
    lexicon = Lexicon(
        root=root,
        sections=_parse(SectionsFile, files[0]),
        context=context,
        templates=_parse(TemplatesFile, files[2]),
        levels=_parse(LevelsFile, files[3]),
        sentences=_parse(SentencesFile, files[4]),
        pack=_parse(PackFile, files[5]),
        targets=targets,
        sha256=_hash(files, root),
        files=tuple(p.relative_to(root).as_posix() for p in files),
        pack_dir=pack_dir,
        common_context=common_context,
        pack_context=extra,
        discourse=(
            _parse(DiscourseFile, discourse_path) if discourse_path.is_file() else DiscourseFile()
        ),
    )
    _check_references(lexicon, dict(zip(labels, target_paths, strict=True)), context_paths)
    return lexicon


def _with_variants(target: TargetFile, variants: VariantsFile) -> TargetFile:
    """``target`` with each phrase's misspelling variants added (idempotent)."""
    concepts = [
        c.model_copy(update={"phrases": expand_phrases(c.phrases, variants)})
        for c in target.concepts
    ]
    return target.model_copy(update={"concepts": concepts})


def dump_yaml(model: BaseModel, path: Path) -> None:
    """Write a rule file back (round-trips through the same schema)."""
    data = model.model_dump(mode="json", exclude_defaults=True)
    with path.open("w", encoding="utf-8") as handle:
        yaml.safe_dump(data, handle, sort_keys=False, allow_unicode=True, width=100)
