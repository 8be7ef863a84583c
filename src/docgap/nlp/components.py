"""docgap's spaCy components, registered once, here, under versioned names.

The reference pipeline uses docgap's sentence splitter with medspaCy's Sectionizer,
TargetMatcher and ConText (with a sentence-scoped graph: the same edges, linear cost);
the fast pipeline swaps those three for the subclasses in :mod:`docgap.nlp.fastpath`,
which give the same results in a fraction of the time.
"""

from spacy.language import Language

from docgap.nlp.fastpath import FastConText, FastSectionizer, FastTargetMatcher, ScopedConText
from docgap.nlp.sentences import SentenceSplitter

__all__ = ["SentenceSplitter"]


@Language.factory(
    "docgap_sentences_v1", default_config={"no_break_after": [], "spoken_breaks": {}}
)
def make_sentence_splitter(
    nlp: Language, name: str, no_break_after: list[str], spoken_breaks: dict[str, list[str]]
) -> SentenceSplitter:
    """The clinical sentence splitter over the whole note."""
    return SentenceSplitter(no_break_after, spoken_breaks)


@Language.factory("docgap_sectionizer_v1", default_config={"phrase_matcher_attr": "LOWER"})
def make_sectionizer(nlp: Language, name: str, phrase_matcher_attr: str) -> FastSectionizer:
    """The medspaCy Sectionizer (no default rules) without per-token section writes."""
    return FastSectionizer(
        nlp, name=name, rules=None, span_attrs=None, phrase_matcher_attr=phrase_matcher_attr
    )


@Language.factory(
    "docgap_target_matcher_v1",
    default_config={"phrase_matcher_attr": "LOWER", "result_type": "ents", "prune": True},
)
def make_target_matcher(
    nlp: Language, name: str, phrase_matcher_attr: str, result_type: str, prune: bool
) -> FastTargetMatcher:
    """The medspaCy TargetMatcher with faster matchers and one ``doc.ents`` write."""
    return FastTargetMatcher(
        nlp,
        name=name,
        phrase_matcher_attr=phrase_matcher_attr,
        result_type=result_type,
        prune=prune,
    )


@Language.factory(
    "docgap_context_v1",
    default_config={"phrase_matcher_attr": "LOWER", "no_break_after": [], "spoken_breaks": {}},
)
def make_context(
    nlp: Language,
    name: str,
    phrase_matcher_attr: str,
    no_break_after: list[str],
    spoken_breaks: dict[str, list[str]],
) -> FastConText:
    """The medspaCy ConText (no default rules), splitting sentences around targets only."""
    return FastConText(
        nlp,
        name=name,
        rules=None,
        span_attrs=None,
        phrase_matcher_attr=phrase_matcher_attr,
        no_break_after=no_break_after,
        spoken_breaks=spoken_breaks,
    )


@Language.factory("docgap_reference_context_v1", default_config={"phrase_matcher_attr": "LOWER"})
def make_reference_context(nlp: Language, name: str, phrase_matcher_attr: str) -> ScopedConText:
    """MedspaCy's ConText (no default rules, sentences set upstream), sentence-scoped graph."""
    return ScopedConText(
        nlp, name=name, rules=None, span_attrs=None, phrase_matcher_attr=phrase_matcher_attr
    )
