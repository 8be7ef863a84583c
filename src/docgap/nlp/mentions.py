"""Turn a processed Doc into mentions: what was found, where, and whether it counts.

This is the generic machinery shared by every code pack. Each target match becomes a
:class:`Mention` carrying its assertion (from ConText, the section and template values),
its qualifiers (the non-assertion ConText categories and the spinal levels in its
sentence), and, when a rule file's requirements are not met, the reason it was rejected.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass

from spacy.tokens import Doc, Span

from docgap.nlp.discourse import DiscourseReader
from docgap.nlp.levels import LevelFinder, LevelMention, index_of
from docgap.nlp.templates import TemplateReader
from docgap.rules.lexicon import Lexicon, TargetConcept, TargetFile

__all__ = ["Mention", "MentionExtractor", "Modifier", "Origin", "Section"]


@dataclass(frozen=True)
class Origin:
    """Where a Doc's text came from: the original note and how to map offsets back to it."""

    text: str
    to_original: Callable[[int], int]

    @classmethod
    def identity(cls, text: str) -> Origin:
        """A Doc read from ``text`` itself."""
        return cls(text, lambda position: position)


@dataclass(frozen=True)
class Modifier:
    """A ConText modifier that applied to a mention."""

    category: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Mention:
    """One target match with everything the decision and the evidence need."""

    label: str
    concept: str
    group: str
    text: str
    start: int
    end: int
    sentence_start: int
    sentence_end: int
    section: str | None
    assertion: str
    assertion_source: str
    qualifiers: frozenset[str]
    modifiers: tuple[Modifier, ...]
    flags: frozenset[str]
    rule: str
    levels: tuple[LevelMention, ...] = ()
    rejection: str | None = None
    region: str = "unknown"
    explains: frozenset[str] = frozenset()

    def counts_as(self, assertions: tuple[str, ...] | list[str]) -> bool:
        """Whether the mention passes its rules and has one of the given assertions."""
        return self.rejection is None and self.assertion in assertions


@dataclass(frozen=True)
class _ConceptRules:
    group: str
    explains: frozenset[str]
    flags: frozenset[str]
    requires_any: frozenset[str]
    rejected_by: frozenset[str]
    rescued_by: frozenset[str]


@dataclass(frozen=True)
class Section:
    """A section of the note, by character offsets."""

    category: str
    start: int
    end: int


class MentionExtractor:
    """Reads mentions off Docs made by the pipeline built from the same lexicon."""

    def __init__(self, lexicon: Lexicon) -> None:
        self._assertion_of = dict(lexicon.context.assertions)
        self._precedence = list(lexicon.context.precedence)
        self._section_assertion = {
            s.category: s.assertion for s in lexicon.sections.sections if s.assertion
        }
        self._section_qualifier = {
            s.category: s.qualifier for s in lexicon.sections.sections if s.qualifier
        }
        self._templates = TemplateReader(lexicon.templates)
        self._discourse = DiscourseReader(lexicon.discourse)
        self._levels = LevelFinder(lexicon.levels)
        # The region packs ask about (levels.yml): no region name is written here.
        region = lexicon.levels.region
        lowest = index_of(region.lowest)
        if lowest is None:  # pragma: no cover - the schema only admits vertebra names
            raise ValueError(f"levels.yml: region.lowest {region.lowest!r} is not a vertebra")
        self._region_lowest = lowest
        self._region_flag = region.flag
        self._region_name = region.name
        self._outside_name = region.outside
        self._in_region = region.qualifier
        self._outside_region = region.outside_qualifier
        self._concepts: dict[tuple[str, str], _ConceptRules] = {
            (tf.label, c.concept): self._rules_of(tf, c) for tf, c in lexicon.concepts()
        }
        self._inner = self._inner_qualifiers(lexicon)

    @staticmethod
    def _inner_qualifiers(lexicon: Lexicon) -> list[tuple[str, re.Pattern[str]]]:
        """Qualifier words inside a mention's own text ("upper cervical tenderness").

        ConText never lets a modifier touch the target it overlaps, so a region or
        location named within the matched phrase is read here, for the qualifiers that
        concepts require.
        """
        required = {
            name for tf, c in lexicon.concepts() for name in (*tf.requires_any, *c.requires_any)
        }
        phrases: dict[str, list[str]] = {}
        for group in lexicon.context.rules:
            if group.category in required:
                phrases.setdefault(group.category, []).extend(group.phrases)
        return [
            (
                category,
                re.compile(
                    r"(?<!\w)(?:"
                    + "|".join(re.escape(p) for p in sorted(words, key=len, reverse=True))
                    + r")(?!\w)",
                    re.IGNORECASE,
                ),
            )
            for category, words in phrases.items()
        ]

    @staticmethod
    def _rules_of(target_file: TargetFile, concept: TargetConcept) -> _ConceptRules:
        return _ConceptRules(
            group=concept.group or concept.concept,
            explains=frozenset(concept.explains),
            flags=frozenset(concept.flags),
            requires_any=frozenset(concept.requires_any or target_file.requires_any),
            rejected_by=frozenset({*target_file.rejected_by, *concept.rejected_by}),
            rescued_by=frozenset({*target_file.rescued_by, *concept.rescued_by}),
        )

    def levels(self, text: str) -> list[LevelMention]:
        """Every spinal level expression in ``text``."""
        return self._levels.find(text)

    @staticmethod
    def sections(doc: Doc, origin: Origin | None = None) -> list[Section]:
        """The note's sections as original character ranges (text before a title has none)."""
        to_original = origin.to_original if origin else (lambda p: p)
        found = []
        for section in doc._.sections:
            if section.category is None:
                continue
            start = (
                doc[section.title_start].idx if section.title_start < len(doc) else len(doc.text)
            )
            end_token = section.body_end
            end = doc[end_token - 1].idx + len(doc[end_token - 1]) if end_token > 0 else 0
            found.append(Section(section.category, to_original(start), to_original(end)))
        return found

    def extract(
        self,
        doc: Doc,
        origin: Origin | None = None,
        levels: list[LevelMention] | None = None,
        sections: list[Section] | None = None,
    ) -> list[Mention]:
        """All mentions in ``doc``, in text order, with offsets into ``origin.text``.

        ``levels`` and ``sections`` may be passed when the caller has them already (the
        analyser reads levels once per note and keeps each chunk's sections for the report),
        so neither is computed twice.
        """
        origin = origin or Origin.identity(doc.text)
        if levels is None:
            levels = self.levels(origin.text)
        level_starts = [lv.start for lv in levels]
        if sections is None:
            sections = self.sections(doc, origin)
        section_starts = [s.start for s in sections]
        mentions = [
            self._mention(doc, ent, origin, levels, level_starts, sections, section_starts)
            for ent in doc.ents
        ]
        # Across sentences: later statements (resolved, retracted, answered no) win.
        return self._discourse.apply(mentions, origin.text)

    def _mention(
        self,
        doc: Doc,
        ent: Span,
        origin: Origin,
        levels: list[LevelMention],
        level_starts: list[int],
        sections: list[Section],
        section_starts: list[int],
    ) -> Mention:
        meta = ent._.target_rule.metadata or {}
        label = meta.get("label", ent.label_.lower())
        concept = meta.get("concept", ent.label_.lower())
        rules = self._concepts.get((label, concept), _ConceptRules(concept, *[frozenset()] * 5))

        to_original = origin.to_original
        sentence = ent.sent
        sent_start, sent_end = to_original(sentence.start_char), to_original(sentence.end_char)
        start, end = to_original(ent.start_char), to_original(ent.end_char)
        lo = bisect.bisect_left(level_starts, sent_start)
        hi = bisect.bisect_left(level_starts, sent_end)
        sentence_levels = tuple(lv for lv in levels[lo:hi] if lv.end <= sent_end)

        idx = bisect.bisect_right(section_starts, start) - 1
        section = sections[idx].category if idx >= 0 and start < sections[idx].end else None

        modifiers = []
        for m in ent._.modifiers:
            span = doc[m.modifier_span[0] : m.modifier_span[1]]
            m_start, m_end = to_original(span.start_char), to_original(span.end_char)
            modifiers.append(Modifier(m.category, origin.text[m_start:m_end], m_start, m_end))
        categories = {m.category for m in modifiers}
        qualifiers = {c for c in categories if c not in self._assertion_of}
        for level in sentence_levels:
            in_region = level.low <= self._region_lowest
            qualifiers.add(self._in_region if in_region else self._outside_region)
        if section in self._section_qualifier:
            qualifiers.add(self._section_qualifier[section])
        for category, pattern in self._inner:
            if category not in qualifiers and pattern.search(ent.text):
                qualifiers.add(category)

        assertion, source = self._assertion(origin.text, start, end, categories, section)
        region = self._region(rules.flags, qualifiers)
        rejection = self._rejection(rules, qualifiers, tuple(modifiers))
        return Mention(
            label=label,
            concept=concept,
            group=rules.group,
            text=origin.text[start:end],
            start=start,
            end=end,
            sentence_start=sent_start,
            sentence_end=sent_end,
            section=section,
            assertion=assertion,
            assertion_source=source,
            qualifiers=frozenset(qualifiers),
            modifiers=tuple(modifiers),
            flags=rules.flags,
            rule=meta.get("rule", ent.label_),
            levels=sentence_levels,
            rejection=rejection,
            region=region,
            explains=rules.explains,
        )

    def _assertion(
        self, text: str, start: int, end: int, categories: set[str], section: str | None
    ) -> tuple[str, str]:
        """Template value first (the most local statement), then ConText, then the section."""
        section_default = self._section_assertion.get(section or "")
        template = self._templates.value(text, start, end)
        if template == "unfilled":
            return "unfilled", "template"
        if template == "negated":
            return "negated", "template"
        if template == "affirmed":
            if section_default in ("family", "hypothetical"):
                return section_default, "section"
            return "affirmed", "template"
        found = {self._assertion_of[c] for c in categories if c in self._assertion_of}
        for assertion in self._precedence:
            if assertion in found:
                return assertion, "context"
        if section_default:
            return section_default, "section"
        return "affirmed", "default"

    def _region(self, flags: frozenset[str], qualifiers: set[str]) -> str:
        if self._region_flag in flags or self._in_region in qualifiers:
            return self._region_name
        if self._outside_region in qualifiers:
            return self._outside_name
        return "unknown"

    @staticmethod
    def _rejection(
        rules: _ConceptRules, qualifiers: set[str], modifiers: tuple[Modifier, ...]
    ) -> str | None:
        if rules.requires_any and not rules.requires_any & qualifiers:
            return "needs " + " or ".join(sorted(rules.requires_any)).lower()
        blocking = rules.rejected_by & qualifiers
        if blocking and not rules.rescued_by & qualifiers:
            category = sorted(blocking)[0]
            words = next((m.text for m in modifiers if m.category == category), "a spinal level")
            return f"{category.lower()}: {words!r}"
        return None
