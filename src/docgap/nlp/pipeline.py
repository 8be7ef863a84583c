"""Build the medspaCy pipeline from the rule files, once per process.

Stages: medspaCy's clinical tokenizer, docgap's sentence splitter, medspaCy's Sectionizer,
TargetMatcher and one ConText pass per rule layer, each loaded with the rules in
``lexicons/``. The default (fast) pipeline uses docgap's faster versions of the medspaCy
components and splits sentences only around targets, inside ConText.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import spacy
from spacy.language import Language

import docgap.nlp.components  # noqa: F401  (registers docgap's components)
from docgap.nlp.fastpath import TextKeepingTokenizer, prepare
from docgap.nlp.medspacy_parts import (
    ConTextRule,
    SectionRule,
    TargetRule,
    create_medspacy_tokenizer,
)
from docgap.rules.lexicon import Lexicon

__all__ = [
    "VARIANTS",
    "Variant",
    "build_nlp",
    "context_layers",
    "context_rules",
    "section_rules",
    "target_rules",
]


def _quiet_loguru() -> None:
    """PyRuSH (imported by medspaCy) formats a DEBUG line per token through loguru."""
    try:
        from loguru import logger

        logger.disable("PyRuSH")
    except ImportError:  # pragma: no cover - loguru ships with medspaCy
        pass


def target_rules(lexicon: Lexicon) -> list[TargetRule]:
    """One TargetRule per phrase, regex or token pattern, tagged with its concept."""
    rules: list[TargetRule] = []
    for target_file, concept in lexicon.concepts():
        label = target_file.label
        meta = {"label": label, "concept": concept.concept}
        for phrase in concept.phrases:
            rules.append(
                TargetRule(
                    phrase,
                    label,
                    metadata={**meta, "rule": f"{label}/{concept.concept}: phrase {phrase!r}"},
                )
            )
        for i, regex in enumerate(concept.regex):
            rules.append(
                TargetRule(
                    f"{concept.concept} regex {i}",
                    label,
                    pattern=regex,
                    metadata={**meta, "rule": f"{label}/{concept.concept}: regex {i}"},
                )
            )
        for i, pattern in enumerate(concept.patterns):
            rules.append(
                TargetRule(
                    f"{concept.concept} pattern {i}",
                    label,
                    pattern=pattern,
                    metadata={**meta, "rule": f"{label}/{concept.concept}: pattern {i}"},
                )
            )
    return rules


def _title_regex(titles: list[str], suffixes: Sequence[str] = ()) -> str:
    """A section title at a line start (or after "." / "," in run-together text).

    A space in a title matches any spacing, and so does the space around its "/"
    ("ASSESSMENT / PLAN"). A long title may carry one of ``suffixes`` before its colon or
    line end ("Impression (02/03/2026):", "Assessment/Plan per Dr X:"); a suffixed title
    needs that colon or line end, so prose ("Assessment of the neck showed ...") is no title.
    """
    long_titles = sorted((t for t in titles if len(t) > 1), key=len, reverse=True)
    short_titles = [t for t in titles if len(t) == 1]
    alternatives = []
    if long_titles:
        body = "|".join(
            re.escape(t).replace(r"\ ", r"\s+").replace("/", r"\s*/\s*") for t in long_titles
        )
        if suffixes:
            # First, so that "PLAN - revised:" is one title, not "PLAN -" and a body.
            tail = "|".join(f"(?:{suffix})" for suffix in suffixes)
            alternatives.append(rf"(?:{body})[ \t]*(?:{tail})[ \t]*(?::|[ \t]*(?=\r?\n))")
        alternatives.append(rf"(?:{body})[ \t]*(?::|[ \t]-[ \t]|[ \t]*(?=\r?\n))")
    if short_titles:
        body = "|".join(re.escape(t) for t in short_titles)
        alternatives.append(rf"(?:{body})[ \t]*:")
    return rf"(?m)(?:^|(?<=[.,;]))[ \t]*(?:{'|'.join(alternatives)})"


def section_rules(lexicon: Lexicon) -> list[SectionRule]:
    """One regex SectionRule per section category's titles, one per extra pattern."""
    rules = []
    for section in lexicon.sections.sections:
        if section.titles:
            rules.append(
                SectionRule(
                    literal=section.category,
                    category=section.category,
                    pattern=_title_regex(section.titles, lexicon.sections.title_suffixes),
                )
            )
        for i, pattern in enumerate(section.patterns):
            rules.append(
                SectionRule(
                    literal=f"{section.category} pattern {i}",
                    category=section.category,
                    pattern=pattern,
                )
            )
    return rules


def context_layers(lexicon: Lexicon) -> list[str]:
    """The ConText layers, in file order (each becomes one ConText pass)."""
    return list(dict.fromkeys(group.layer for group in lexicon.context.rules))


def context_rules(lexicon: Lexicon, layer: str | None = None) -> list[ConTextRule]:
    """ConTextRules for every phrase, regex and token pattern of a layer's rule groups."""
    rules: list[ConTextRule] = []
    for group in lexicon.context.rules:
        if layer is not None and group.layer != layer:
            continue
        shared: dict[str, Any] = {
            "category": group.category,
            "direction": group.direction,
            "max_scope": group.max_scope,
            "allowed_types": {t.upper() for t in group.allowed_types}
            if group.allowed_types
            else None,
            "excluded_types": {t.upper() for t in group.excluded_types}
            if group.excluded_types
            else None,
            "terminated_by": {t.upper() for t in group.terminated_by}
            if group.terminated_by
            else None,
        }
        for phrase in group.phrases:
            rules.append(ConTextRule(phrase, **shared))
        for i, regex in enumerate(group.regex):
            rules.append(ConTextRule(f"{group.category} regex {i}", pattern=regex, **shared))
        for i, pattern in enumerate(group.patterns):
            rules.append(ConTextRule(f"{group.category} pattern {i}", pattern=pattern, **shared))
    return rules


def _reads_sentences(lexicon: Lexicon) -> bool:
    """Whether a token pattern tests sentence starts (the fast path splits sentences late)."""
    groups = [concept for _, concept in lexicon.concepts()] + list(lexicon.context.rules)
    return any(
        "SENT_START" in key.upper()
        for group in groups
        for pattern in group.patterns
        for token in pattern
        for key in token
    )


Variant = Literal["fast", "reference"]
VARIANTS: tuple[str, ...] = ("fast", "reference")


def build_nlp(lexicon: Lexicon, *, variant: Variant = "fast", fast: bool | None = None) -> Language:
    """A fresh pipeline loaded with ``lexicon``'s rules (build once; it is reusable).

    ``"fast"`` uses docgap's faster versions of medspaCy's components
    (:mod:`docgap.nlp.fastpath`): the same reports, several times sooner. ``"reference"``
    is the pipeline of stock medspaCy components that the fast one is tested against.
    An unknown variant is an error, and so is asking for the fast pipeline with rules it
    cannot run (token patterns that test sentence starts): it never silently becomes the
    reference pipeline. ``fast=True``/``False`` is the older spelling of the two variants.
    """
    if fast is not None:
        variant = "fast" if fast else "reference"
    if variant == "fast":
        if _reads_sentences(lexicon):
            raise ValueError(
                "the fast pipeline splits sentences only around targets, so token patterns "
                "cannot test SENT_START; build it with variant='reference'"
            )
        builder = _build_fast
    elif variant == "reference":
        builder = _build_reference
    else:
        raise ValueError(f"unknown pipeline variant {variant!r} (one of {', '.join(VARIANTS)})")
    _quiet_loguru()
    nlp = spacy.blank("en")
    nlp.tokenizer = create_medspacy_tokenizer(nlp)
    builder(nlp, lexicon)
    return nlp


def _add_targets(nlp: Language, factory: str, lexicon: Lexicon) -> None:
    matcher: Any = nlp.add_pipe(factory, config={"result_type": "ents"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        matcher.add(target_rules(lexicon))


def _spoken_breaks(lexicon: Lexicon) -> dict[str, list[str]]:
    """The spoken sentence ends, as the splitter's config (plain lists, serialisable)."""
    return lexicon.sentences.spoken_breaks.model_dump()


def _build_fast(nlp: Language, lexicon: Lexicon) -> None:
    """The fast components (docgap.nlp.fastpath): sentences split late, around targets."""
    no_break_after = list(lexicon.sentences.no_break_after)
    spoken = _spoken_breaks(lexicon)
    nlp.tokenizer = TextKeepingTokenizer(nlp.tokenizer)
    sectionizer: Any = nlp.add_pipe("docgap_sectionizer_v1")
    sectionizer.add(section_rules(lexicon))
    _add_targets(nlp, "docgap_target_matcher_v1", lexicon)
    for layer in context_layers(lexicon):
        context: Any = nlp.add_pipe(
            "docgap_context_v1",
            name=f"context_{layer}",
            config={"no_break_after": no_break_after, "spoken_breaks": spoken},
        )
        context.add(context_rules(lexicon, layer))
    prepare(nlp)


def _build_reference(nlp: Language, lexicon: Lexicon) -> None:
    """Stock medspaCy components after docgap's sentence splitter.

    ConText is medspaCy's, with the sentence-scoped graph of
    :mod:`docgap.nlp.contextgraph` (the same edges; ``tests/test_fast_path.py`` checks
    them against medspaCy's own graph).
    """
    no_break_after = list(lexicon.sentences.no_break_after)
    nlp.add_pipe(
        "docgap_sentences_v1",
        config={"no_break_after": no_break_after, "spoken_breaks": _spoken_breaks(lexicon)},
    )
    sectionizer: Any = nlp.add_pipe(
        "medspacy_sectionizer", config={"rules": None, "span_attrs": None}
    )
    sectionizer.add(section_rules(lexicon))
    _add_targets(nlp, "medspacy_target_matcher", lexicon)
    for layer in context_layers(lexicon):
        context: Any = nlp.add_pipe(
            "docgap_reference_context_v1",
            name=f"context_{layer}",
        )
        context.add(context_rules(lexicon, layer))
