"""Faster versions of the medspaCy components docgap uses, with the same results.

Profiling docgap on real notes (see ``benchmarks/README.md``) showed that medspaCy 1.3.1
spends most of its time outside matching proper:

- its ``RegexMatcher`` rebuilds ``doc.text`` (a Python join over every token) once per
  regular-expression rule, and maps a match that does not fall on token boundaries to
  tokens with a linear scan (which rebuilds ``doc.text`` twice more);
- the ``TargetMatcher`` adds entities one at a time (``doc.ents += (span,)``), and each
  addition rebuilds and re-validates every entity found so far;
- the ``Sectionizer`` writes ``token._.section`` on every token (docgap reads only
  ``doc._.sections``);
- ``ConText`` needs sentences for the whole note and builds a modifier, with a sentence
  look-up, for every modifier match, then compares every pair of modifiers, although a
  modifier can only reach a target in its own sentence.

The subclasses below change only those steps. ConText here splits sentences only where a
target is (:meth:`docgap.nlp.components.SentenceSplitter.split_around`) and keeps the modifiers
that start in those sentences; it falls back to splitting the whole note when a modifier
match crosses into such a sentence from outside, the one case where a modifier outside the
target sentences could shorten the scope of one inside them. Everything docgap reads from
a Doc is the same as with the stock components: ``tests/test_fast_path.py`` compares the
reports of the two pipelines note by note.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, ClassVar, cast

import numpy
from spacy.attrs import IDX, LOWER, ORTH
from spacy.language import Language
from spacy.matcher import Matcher
from spacy.tokens import Doc, Span

from docgap.nlp.contextgraph import ScopedConTextGraph
from docgap.nlp.medspacy_parts import (
    ConText,
    ConTextModifier,
    MedspacyMatcher,
    RegexMatcher,
    Section,
    Sectionizer,
    TargetMatcher,
)
from docgap.nlp.regexscan import RegexBank
from docgap.nlp.sentences import SentenceSplitter

__all__ = [
    "FastConText",
    "FastRegexMatcher",
    "FastSectionizer",
    "FastTargetMatcher",
    "FastTokenMatcher",
    "ScopedConText",
    "TextKeepingTokenizer",
    "prepare",
]

# The attribute medspaCy 1.3.1 keeps each component's matcher in (name-mangled private
# attributes; medspaCy is pinned, and _private() fails loudly if a release renames them).
_MATCHER_OF = {
    TargetMatcher: "_TargetMatcher__matcher",
    Sectionizer: "_Sectionizer__matcher",
    ConText: "_ConText__matcher",
}
_REGEX_MATCHER = "_MedspacyMatcher__regex_matcher"
_TOKEN_MATCHER = "_MedspacyMatcher__matcher"
# Where FastConText keeps the sentence ranges it split, so later ConText layers reuse them.
_REGIONS = "docgap.target_sentences"
# Where the text of a Doc is kept once joined, for every regex matcher of the pipeline.
_TEXT = "docgap.text"


def _private(owner: object, attribute: str) -> Any:
    try:
        return getattr(owner, attribute)
    except AttributeError:  # pragma: no cover - only with an unsupported medspaCy
        raise RuntimeError(
            f"{type(owner).__name__} has no {attribute}: docgap's fast path supports "
            "medspaCy 1.3.1 only; build the pipeline with variant='reference'"
        ) from None


class FastRegexMatcher(RegexMatcher):
    """The medspaCy RegexMatcher that runs its expressions together over ``doc.text`` once.

    The expressions run through a :class:`~docgap.nlp.regexscan.RegexBank` (a few passes
    instead of one per expression), and offsets that fall inside a token are resolved by
    bisection; the matches and their order are those of ``RegexMatcher.__call__``.
    """

    _bank: RegexBank | None = None

    @classmethod
    def replacing(cls, matcher: MedspacyMatcher) -> FastRegexMatcher:
        """Swap the regex matcher inside a MedspacyMatcher for a fast one with its rules."""
        old = _private(matcher, _REGEX_MATCHER)
        new = cls(
            old.vocab, flags=old.flags, resolve_start=old.resolve_start, resolve_end=old.resolve_end
        )
        new._patterns = old._patterns
        new._callbacks = old._callbacks
        new.labels = old.labels
        new._rule_item_mapping = old._rule_item_mapping
        setattr(matcher, _REGEX_MATCHER, new)
        return new

    def add(self, *args: Any, **kwargs: Any) -> None:
        """Add rules as RegexMatcher does (the expressions are grouped again on next use)."""
        super().add(*args, **kwargs)
        self._bank = None

    def prepare(self) -> RegexBank:
        """Group and compile the expressions now (at build time, not on the first note)."""
        if self._bank is None:
            self._bank = RegexBank([p for ps in self._patterns.values() for p in ps])
        return self._bank

    def __call__(self, doc: Doc) -> list[tuple[int, int, int]]:
        """Same matches, in the same order, as ``RegexMatcher.__call__``."""
        matches: list[tuple[int, int, int]] = []
        if not self._patterns:
            return matches
        if any(callback is not None for callback in self._callbacks.values()):
            # Callbacks see the match list as it grows: keep medspaCy's order of work.
            return super().__call__(doc)
        found = iter(self.prepare().finditer_all(_text_of(doc)))
        starts: list[int] | None = None
        for match_id, patterns in self._patterns.items():
            for _ in patterns:
                for char_start, char_end in next(found):
                    span = doc.char_span(char_start, char_end)
                    if span is not None:
                        start, end = span.start, span.end
                    else:
                        if starts is None:
                            starts = doc.to_array([IDX]).tolist()
                        first = _token_at(starts, char_start, self.resolve_start)
                        last = _token_at(starts, char_end, self.resolve_end)
                        start = len(doc) if first is None else first
                        end = len(doc) if last is None else last
                    if end > start:
                        matches.append((match_id, start, end))
        return matches


class FastTokenMatcher:
    """spaCy's Matcher, except that one-token patterns on a token's text are set look-ups.

    ``[{"ORTH": {"IN": [...]}}]`` costs spaCy's Matcher a predicate call per token; here it
    is one ``numpy.isin`` over the Doc's token hashes. As long as every pattern has that
    form, matches come out as spaCy's Matcher gives them (by token, then in the order the
    patterns were added); any other pattern sends every call back to spaCy's Matcher.
    """

    _ATTRS: ClassVar[dict[str, int]] = {"ORTH": ORTH, "TEXT": ORTH, "LOWER": LOWER}

    @classmethod
    def replacing(cls, matcher: MedspacyMatcher) -> FastTokenMatcher:
        """Swap the token Matcher inside a MedspacyMatcher for a fast one."""
        old = _private(matcher, _TOKEN_MATCHER)
        if len(old):
            raise ValueError("replace the token matcher before rules are added")
        new = cls(old)
        setattr(matcher, _TOKEN_MATCHER, new)
        return new

    def __init__(self, matcher: Matcher) -> None:
        self._matcher = matcher
        self._vocab = cast(Any, matcher).vocab
        self._sets: list[tuple[int, int, Any]] = []  # (match id, attribute, hashes)
        self._all_simple = True

    def add(self, key: str, patterns: list[list[dict[str, Any]]], on_match: Any = None) -> None:
        """Add to spaCy's Matcher, and remember the patterns that are set look-ups."""
        self._matcher.add(key, patterns, on_match=on_match)
        simple = [self._as_set(pattern) for pattern in patterns]
        if on_match is not None or any(s is None for s in simple):
            self._all_simple = False
            return
        match_id = self._vocab.strings.add(key)
        for attribute, values in simple:  # type: ignore[misc]
            hashes = numpy.array([self._vocab.strings.add(v) for v in values], dtype="uint64")
            self._sets.append((match_id, attribute, hashes))

    def _as_set(self, pattern: list[dict[str, Any]]) -> tuple[int, list[str]] | None:
        if len(pattern) != 1 or len(pattern[0]) != 1:
            return None
        ((name, value),) = pattern[0].items()
        attribute = self._ATTRS.get(str(name).upper())
        if attribute is None:
            return None
        if isinstance(value, str):
            return attribute, [value]
        members = value.get("IN") if isinstance(value, dict) and list(value) == ["IN"] else None
        if isinstance(members, list) and all(isinstance(v, str) for v in members):
            return attribute, list(members)
        return None

    def __len__(self) -> int:
        return len(self._matcher)

    def __call__(self, doc: Doc) -> list[tuple[int, int, int]]:
        """The matches spaCy's Matcher would return for ``doc``."""
        if not self._all_simple:
            return self._matcher(doc)
        if not self._sets or not len(doc):
            return []
        attributes: list[int | str] = sorted({attribute for _, attribute, _ in self._sets})
        table = doc.to_array(attributes).reshape(len(doc), len(attributes))
        found = []
        for order, (match_id, attribute, hashes) in enumerate(self._sets):
            column = table[:, attributes.index(attribute)]
            for i in numpy.flatnonzero(numpy.isin(column, hashes)).tolist():
                found.append((i, order, match_id))
        if len(self._sets) > 1:
            found.sort()
        return [(match_id, i, i + 1) for i, _, match_id in found]


class TextKeepingTokenizer:
    """The pipeline's tokenizer, noting each Doc's text (spaCy joins it anew on each access)."""

    def __init__(self, tokenizer: Callable[[str], Doc]) -> None:
        self.tokenizer = tokenizer

    def __call__(self, text: str) -> Doc:
        """Tokenize ``text`` and keep it with the Doc."""
        doc = self.tokenizer(text)
        doc.user_data[_TEXT] = text
        return doc

    def pipe(self, texts: Iterable[str], batch_size: int = 1000) -> Iterator[Doc]:
        """Tokenize a stream of texts."""
        for text in texts:
            yield self(text)

    def __getattr__(self, name: str) -> Any:
        """Everything else is the wrapped tokenizer's."""
        return getattr(self.tokenizer, name)


def _text_of(doc: Doc) -> str:
    """``doc.text``, joined once per Doc (spaCy joins every token's text on each access)."""
    text = doc.user_data.get(_TEXT)
    if text is None:
        text = doc.user_data[_TEXT] = doc.text
    return text


def _token_at(starts: list[int], char: int, resolve: str) -> int | None:
    """MedspaCy's ``get_token_for_char`` as an index, by bisection instead of a scan."""
    i = bisect.bisect_left(starts, char)
    if i < len(starts) and starts[i] == char:
        return i
    if resolve == "left":
        return i - 1 if i > 0 else len(starts) - 1
    if resolve == "right":
        return i if i < len(starts) else None
    raise ValueError("resolve must be either 'left' or 'right'")


def _speed_up(component: object, kind: type) -> MedspacyMatcher:
    matcher = _private(component, _MATCHER_OF[kind])
    FastRegexMatcher.replacing(matcher)
    FastTokenMatcher.replacing(matcher)
    return matcher


def prepare(nlp: Language) -> None:
    """Compile what the fast components would otherwise compile on the first note."""
    for _, component in nlp.pipeline:
        matcher = getattr(component, "_matcher", None)
        regex = getattr(matcher, _REGEX_MATCHER, None)
        if isinstance(regex, FastRegexMatcher):
            regex.prepare()


class FastTargetMatcher(TargetMatcher):
    """TargetMatcher that sets ``doc.ents`` once instead of once per match."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._matcher = _speed_up(self, TargetMatcher)

    def __call__(self, doc: Doc) -> Doc:
        """Match, then add the matches that do not overlap an entity, in match order."""
        if (self.result_type or "").lower() != "ents":
            return super().__call__(doc)
        rule_map = self._matcher.rule_map
        strings = self.nlp.vocab.strings
        existing = list(doc.ents)
        taken = bytearray(len(doc))
        for ent in existing:
            taken[ent.start : ent.end] = b"\1" * (ent.end - ent.start)
        added: list[Span] = []
        for rule_id, start, end in self._matcher(doc):
            rule = rule_map[strings[rule_id]]
            span = Span(doc, start=start, end=end, label=rule.category)
            span._.target_rule = rule
            if rule.attributes is not None:
                for attribute, value in rule.attributes.items():
                    setattr(span._, attribute, value)
            # medspaCy's `doc.ents += (span,)` skips a span that overlaps an entity.
            if any(taken[start:end]):
                continue
            taken[start:end] = b"\1" * (end - start)
            added.append(span)
        if added:
            doc.ents = [*existing, *added]
        return doc


class FastSectionizer(Sectionizer):
    """Sectionizer that fills ``doc._.sections`` without writing ``token._.section``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._matcher = _speed_up(self, Sectionizer)

    def __call__(self, doc: Doc) -> Doc:
        """``Sectionizer.__call__`` without the per-token writes."""
        matches: list[Any] = self._matcher(doc)
        if self.require_start_line:
            matches = self.filter_start_lines(doc, matches)
        if self.require_end_line:
            matches = self.filter_end_lines(doc, matches)
        if self._parent_sections:
            matches = self.set_parent_sections(matches)
        sections: list[Section] = []
        doc._.sections = sections
        if not matches:
            sections.append(Section(None, 0, 0, 0, len(doc)))
            return doc
        if matches[0][1] != 0:
            sections.append(Section(None, 0, 0, 0, matches[0][1]))
        for i, match in enumerate(matches):
            match_id, start, end = match[:3]
            # As medspaCy does: the parent's index counts a leading untitled section.
            parent = sections[match[3]] if len(match) == 4 and match[3] is not None else None
            if self._apply_sentence_boundary:
                doc[start].sent_start = True
                if end < len(doc):
                    doc[end].sent_start = True
            rule = self._matcher.rule_map[self.nlp.vocab.strings[match_id]]
            limit = rule.max_scope if rule.max_scope is not None else self.max_section_length
            if i == len(matches) - 1:
                body_end = len(doc)
                if limit is not None:
                    body_end = min(end + limit, doc[-1].i + 1)
            else:
                body_end = matches[i + 1][1]
                if limit is not None:
                    body_end = min(end + limit, body_end)
            sections.append(Section(rule.category, start, end, end, body_end, parent, rule))
        if self.assertion_attributes_mapping:
            if self._input_span_type.lower() == "ents":
                self.set_assertion_attributes(doc.ents)
            elif self._input_span_type.lower() == "group":
                self.set_assertion_attributes(doc.spans[self._span_group_name])
        return doc


class ScopedConText(ConText):
    """medspaCy's ConText (sentences split beforehand) with the sentence-scoped graph.

    The same modifiers, scopes and edges as ``ConText.__call__``; only the comparisons
    that cannot link anything are skipped (:mod:`docgap.nlp.contextgraph`), so a long,
    mention-dense note costs time linear in its sentences instead of quadratic.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._matcher: MedspacyMatcher = _private(self, _MATCHER_OF[ConText])

    def _spans(self, doc: Doc, targets: str | None) -> list[Span]:
        """The targets ``ConText.__call__`` would read."""
        if targets:
            return list(getattr(doc._, targets))
        if self.input_span_type == "group":
            return list(doc.spans[self.span_group_name])
        return list(doc.ents)

    def _modifiers(self, doc: Doc, matches: Iterable[tuple[int, int, int]]) -> list[Any]:
        rule_map = self._matcher.rule_map
        vocab = self.nlp.vocab
        return [
            ConTextModifier(
                rule_map[vocab[match_id].text], start, end, doc, max_scope=self.max_scope
            )
            for match_id, start, end in matches
        ]

    def _link(self, doc: Doc, spans: list[Span], modifiers: list[Any]) -> Doc:
        """Scopes, edges, ``span._.modifiers`` and ``doc._.context_graph``, as ConText sets them."""
        graph = ScopedConTextGraph(prune_on_modifier_overlap=self.prune_on_target_overlap)
        graph.targets = spans
        graph.modifiers = modifiers
        graph.update_scopes()
        graph.apply_modifiers()
        for target, modifier in graph.edges:
            target._.modifiers += (modifier,)
        if self.context_attributes_mapping:
            self.set_context_attributes(graph.edges)
        doc._.context_graph = graph
        return doc

    def __call__(self, doc: Doc, targets: str | None = None) -> Doc:
        """Attach modifiers to targets as ``ConText.__call__`` does."""
        spans = self._spans(doc, targets)
        return self._link(doc, spans, self._modifiers(doc, self._matcher(doc)))


class FastConText(ScopedConText):
    """ConText that splits sentences and builds modifiers only where the targets are."""

    def __init__(
        self,
        *args: Any,
        no_break_after: Sequence[str] = (),
        spoken_breaks: dict[str, list[str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._matcher = _speed_up(self, ConText)
        self.splitter = SentenceSplitter(no_break_after, spoken_breaks)
        if self.max_scope is not None:  # a global window instead of sentences
            raise ValueError("FastConText scopes modifiers by sentence; max_scope must be None")

    def __call__(self, doc: Doc, targets: str | None = None) -> Doc:
        """Attach modifiers to targets exactly as ConText does after a full sentence split."""
        spans = self._spans(doc, targets)
        if not spans:
            return doc  # no target: no sentence, no modifier can matter
        matches = self._matcher(doc)
        ranges = self._target_sentences(doc, spans)
        starts = [start for start, _ in ranges]
        kept = []
        for match in matches:
            _, start, end = match
            i = bisect.bisect_right(starts, start) - 1
            if i >= 0 and start < ranges[i][1]:
                kept.append(match)
            elif i + 1 < len(ranges) and end > ranges[i + 1][0]:
                # Starts outside every target sentence but reaches into one: its scope
                # may cut a modifier's there. Do what ConText does: split everything.
                self.splitter(doc)
                doc.user_data[_REGIONS] = (doc.user_data[_REGIONS][0], [(0, len(doc))])
                kept = list(matches)
                break
        return self._link(doc, spans, self._modifiers(doc, kept))

    def _target_sentences(self, doc: Doc, spans: list[Span]) -> list[tuple[int, int]]:
        """The token ranges of the targets' sentences, split once per Doc for all layers."""
        key = [(span.start, span.end) for span in spans]
        cached = doc.user_data.get(_REGIONS)
        if cached is not None and cached[0] == key:
            return list(cached[1])
        ranges = self.splitter.split_around(doc, spans)
        doc.user_data[_REGIONS] = (key, ranges)
        return list(ranges)
