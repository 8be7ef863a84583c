"""Discourse and time across sentences: later statements that override earlier mentions.

ConText reads one sentence at a time, but a note is read as a whole (spec section 1): a
symptom affirmed in a copied-forward history is not current when the note later says it has
resolved; a diagnosis the provider retracts as entered in error names nothing; in a visit
transcript the patient's answer decides a question ("Any dizziness?" / "No, not anymore.");
a diagnosis quoted from another record is reported, not adopted; a diagnosis raised by a
referral, a claim or a relative and later rejected by the author no longer counts; a gloss
("X, also called Y") names nothing by itself.

This module runs after :class:`~docgap.nlp.mentions.MentionExtractor` has read every
mention. It is driven by ``lexicons/common/discourse.yml`` (:class:`DiscourseRule`), changes
only mentions that would otherwise count, and says why in each one's ``rejection``.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from docgap.rules.lexicon import DiscourseFile, DiscourseRule

if TYPE_CHECKING:  # pragma: no cover - typing only (mentions imports this module)
    from docgap.nlp.mentions import Mention

__all__ = ["DiscourseReader"]

# Assertions a discourse rule may override: a mention already not counted stays as it is.
_OVERRIDABLE = frozenset({"affirmed", "uncertain"})
# Quotation marks that open and close a quoted record excerpt.
_QUOTES = re.compile(r"[\"“]([^\"“”\n]{1,400})[\"”]")


class _Compiled:
    """A rule with its cues compiled once per process."""

    def __init__(self, rule: DiscourseRule) -> None:
        self.rule = rule
        self.cues = [re.compile(c, re.IGNORECASE) for c in rule.cues]
        self.labels = frozenset(rule.labels)
        self.barriers = [re.compile(b, re.IGNORECASE) for b in rule.barriers]
        self.leading = [re.compile(b, re.IGNORECASE) for b in rule.leading_barriers]
        self.anaphors = [re.compile(a, re.IGNORECASE) for a in rule.anaphors]

    def applies_to(self, mention: Mention) -> bool:
        return not self.labels or mention.label in self.labels

    def cue_near(self, text: str, mention: Mention) -> re.Match[str] | None:
        """A cue in the mention's sentence within ``window`` characters of it."""
        lo = max(mention.sentence_start, mention.start - self.rule.window)
        hi = min(mention.sentence_end, mention.end + self.rule.window)
        piece = text[lo:hi]
        for p in self.cues:
            for found in p.finditer(piece):
                if not self._across_barrier(text, mention, lo + found.start(), lo + found.end()):
                    return found
        return None

    def _across_barrier(self, text: str, mention: Mention, start: int, end: int) -> bool:
        """Whether a barrier word stands between the mention and the cue at start..end.

        A cue belongs to its own clause: "occipital headaches persist, but the dizziness has
        gone away" resolves the dizziness only (discourse.yml ``barriers``).
        """
        if start >= mention.end:
            between, barriers = text[mention.end : start], self.barriers
        else:
            between, barriers = text[end : mention.start], [*self.barriers, *self.leading]
        return any(b.search(between) for b in barriers)

    def anaphor_after(self, text: str, mentions: list[Mention], i: int) -> int | None:
        """Where a later sentence pointing back at mention ``i``'s sentence resolves it.

        "Tinnitus at intake. That has since cleared.": the anaphor must open the next
        sentence that holds no mention of the rule's labels, within ``window`` characters.
        """
        if not self.anaphors:
            return None
        m = mentions[i]
        hi = min(len(text), m.sentence_end + self.rule.window)
        # Only mentions whose sentence starts before ``hi`` can bound it (mentions are in text
        # order): stop there, with no copy and no scan of the rest of the note, so the cost
        # stays linear in mentions.
        later = itertools.takewhile(
            lambda n: n.sentence_start < hi, itertools.islice(mentions, i + 1, None)
        )
        nxt = next(
            (n for n in later if self.applies_to(n) and n.sentence_start >= m.sentence_end),
            None,
        )
        if nxt is not None:
            hi = min(hi, nxt.sentence_start)
        after = text[m.sentence_end : hi]
        lead = len(after) - len(after.lstrip(" \t\n.;:-"))
        for p in self.anaphors:
            found = p.match(after, lead)
            if found:
                return m.sentence_end + found.start()
        return None

    def override(self, mention: Mention, offset: int) -> Mention:
        reason = self.rule.reason.format(offset=offset)
        if self.rule.becomes is None:
            return replace(mention, rejection=reason)
        return replace(
            mention, assertion=self.rule.becomes, assertion_source="discourse", rejection=reason
        )


class DiscourseReader:
    """Applies discourse.yml's rules, in file order, to one note's mentions."""

    def __init__(self, discourse: DiscourseFile) -> None:
        self._rules = [_Compiled(r) for r in discourse.rules]
        self._kinds: dict[str, Callable[[_Compiled, list[Mention], str], list[Mention]]] = {
            "resolution": self._resolution,
            "retraction": self._retraction,
            "answer": self._answer,
            "quotation": self._quotation,
            "dispute": self._dispute,
            "gloss": self._gloss,
        }

    def apply(self, mentions: Sequence[Mention], text: str) -> list[Mention]:
        """The mentions with discourse overrides; ``text`` is the note they index into."""
        result = list(mentions)
        for rule in self._rules:
            result = self._kinds[rule.rule.kind](rule, result, text)
        return result

    @staticmethod
    def _resolution(rule: _Compiled, mentions: list[Mention], text: str) -> list[Mention]:
        """A later "X resolved / no longer / gone" makes the group's earlier mentions past.

        The cue must stand near a mention of the same concept group; a mention of the group
        affirmed after the cue (a recurrence) keeps the group current.
        """
        resolved_at: dict[str, int] = {}
        for i, m in enumerate(mentions):
            if rule.applies_to(m) and (
                rule.cue_near(text, m) or rule.anaphor_after(text, mentions, i) is not None
            ):
                resolved_at[m.group] = m.start
        if not resolved_at:
            return mentions
        recurred = {
            m.group
            for m in mentions
            if m.group in resolved_at
            and m.start > resolved_at[m.group]
            and m.assertion == "affirmed"
            # a mention that does not count ("the headaches she gets now are generalised",
            # with no occipital location) is no recurrence of the resolved symptom
            and m.rejection is None
            and m.sentence_start > _sentence_of(mentions, resolved_at[m.group])
            and rule.cue_near(text, m) is None
        }
        out = []
        for m in mentions:
            at = resolved_at.get(m.group)
            if (
                at is not None
                and m.group not in recurred
                and m.start <= at
                and m.rejection is None
                and m.assertion in _OVERRIDABLE
                and rule.applies_to(m)
            ):
                m = rule.override(m, at)
            out.append(m)
        return out

    @staticmethod
    def _retraction(rule: _Compiled, mentions: list[Mention], text: str) -> list[Mention]:
        """A diagnosis withdrawn "in error" names nothing, here and wherever it came before."""
        retracted_at: dict[str, int] = {}
        for m in mentions:
            if rule.applies_to(m) and rule.cue_near(text, m):
                retracted_at[m.group] = m.sentence_end
        out = []
        for m in mentions:
            at = retracted_at.get(m.group)
            if at is not None and m.start <= at and m.rejection is None and rule.applies_to(m):
                m = rule.override(m, at)
            out.append(m)
        return out

    @staticmethod
    def _answer(rule: _Compiled, mentions: list[Mention], text: str) -> list[Mention]:
        """A symptom asked about ("Any dizziness?") takes the answer's value when it is no."""
        out = []
        for m in mentions:
            if m.rejection is None and m.assertion in _OVERRIDABLE and rule.applies_to(m):
                answer_at = _negative_answer(rule, text, m)
                if answer_at is not None:
                    m = rule.override(m, answer_at)
            out.append(m)
        return out

    @staticmethod
    def _quotation(rule: _Compiled, mentions: list[Mention], text: str) -> list[Mention]:
        """A diagnosis inside a quoted excerpt of another record is reported, not adopted.

        The cue (e.g. a provider or a record named before the quote) must stand within
        ``window`` characters before the opening quotation mark.
        """
        out = []
        for m in mentions:
            if m.rejection is None and m.assertion in _OVERRIDABLE and rule.applies_to(m):
                opened = _quote_around(text, m)
                if opened is not None:
                    lead = text[max(0, opened - rule.rule.window) : opened]
                    if not rule.cues or any(p.search(lead) for p in rule.cues):
                        m = rule.override(m, opened)
            out.append(m)
        return out

    @staticmethod
    def _dispute(rule: _Compiled, mentions: list[Mention], text: str) -> list[Mention]:
        """A diagnosis the author later rejects no longer counts where it was raised before.

        A referral "with a diagnosis of X", a claim asking to add X, a relative's or the
        patient's belief: when a later mention of the label is itself not counted (negated or
        rejected as reported/disputed) and a dispute cue stands near it ("I don't think X is
        the right label", "I do not agree with adding X"), the earlier mentions that would
        count are overridden. A mention after the dispute is untouched (the later statement
        wins both ways: an author who adopts X after others doubted it still names it), and
        so is the author's own adopted assessment (``keeps_qualifiers``, or ``keeps_sections``
        unless the dispute stands in such a section too).
        """
        disputes = [
            m
            for m in mentions
            if rule.applies_to(m) and _denied(m) and rule.cue_near(text, m) is not None
        ]
        if not disputes:
            return mentions
        # The first dispute after each mention, by bisection (linear in mentions overall).
        starts = [d.start for d in disputes]
        out = []
        for m in mentions:
            k = bisect.bisect_right(starts, m.start)
            later = disputes[k] if k < len(disputes) else None
            if (
                later is not None
                and m.rejection is None
                and m.assertion in _OVERRIDABLE
                and rule.applies_to(m)
                and not _kept(rule.rule, m, later)
            ):
                m = rule.override(m, later.start)
            out.append(m)
        return out

    @staticmethod
    def _gloss(rule: _Compiled, mentions: list[Mention], text: str) -> list[Mention]:
        """A gloss ("X, which is also called Y", "X (aka Y)") takes X's assertion.

        The gloss only renames X, so it names nothing by itself: when X does not count
        (hypothetical, uncertain, reported), neither does Y. A gloss of a counted X keeps its
        own reading. ``cues`` must match the whole text between X and Y, at most ``window``
        characters; mentions are read in order, so a chain of glosses passes X's reading on.
        """
        out = list(mentions)
        for i in range(1, len(out)):
            head, gloss = out[i - 1], out[i]
            between = text[head.end : gloss.start]
            if (
                not (rule.applies_to(head) and rule.applies_to(gloss))
                or head.end > gloss.start
                or len(between) > rule.rule.window
                or _counted(head)
                or gloss.rejection is not None
                or gloss.assertion not in _OVERRIDABLE
                or not any(p.fullmatch(between) for p in rule.cues)
            ):
                continue
            out[i] = replace(
                gloss,
                assertion=head.assertion,
                assertion_source="discourse",
                rejection=rule.rule.reason.format(offset=head.start),
            )
        return out


def _counted(mention: Mention) -> bool:
    """Whether a mention passes its rules and is affirmed (a diagnosis the note names)."""
    return mention.rejection is None and mention.assertion == "affirmed"


def _denied(mention: Mention) -> bool:
    """Negated, or rejected by its rules (reported, disputed): a mention that can dispute.

    A relative's (family) or hypothetical mention is not the author denying the diagnosis.
    """
    return mention.assertion == "negated" or mention.rejection is not None


def _kept(rule: DiscourseRule, mention: Mention, dispute: Mention) -> bool:
    """Whether ``mention`` is the author's own adopted assessment, out of a dispute's reach."""
    if rule.keeps_qualifiers and mention.qualifiers & set(rule.keeps_qualifiers):
        return True
    return mention.section in rule.keeps_sections and dispute.section not in rule.keeps_sections


def _sentence_of(mentions: list[Mention], start: int) -> int:
    """The sentence start of the mention at ``start``."""
    return next((m.sentence_start for m in mentions if m.start == start), start)


def _quote_around(text: str, mention: Mention) -> int | None:
    """The offset of the quotation mark opening a quote that holds the mention, if any."""
    line_start = text.rfind("\n", max(0, mention.start - 400), mention.start) + 1
    line_start = max(line_start, mention.start - 400)
    line_end = text.find("\n", mention.end, mention.end + 400)
    line = text[line_start : line_end if line_end != -1 else mention.end + 400]
    for quoted in _QUOTES.finditer(line):
        if line_start + quoted.start(1) <= mention.start and mention.end <= line_start + quoted.end(
            1
        ):
            return line_start + quoted.start()
    return None


def _negative_answer(rule: _Compiled, text: str, mention: Mention) -> int | None:
    """Where a negative answer to the question holding the mention starts, if it has one.

    The question ends with "?" on the mention's line; its answer is the rest of that line or,
    when the line ends there, the next non-blank line (the next speaker turn).
    """
    line_end = text.find("\n", mention.end)
    line_end = len(text) if line_end == -1 else line_end
    mark = text.find("?", mention.end, min(line_end, mention.end + rule.rule.window))
    if mark == -1:
        return None
    rest = text[mark + 1 : line_end]
    at = mark + 1
    if not rest.strip():
        following = text[line_end + 1 : line_end + 1 + 400]
        stripped = following.lstrip()
        at = line_end + 1 + (len(following) - len(stripped))
        rest = stripped.split("\n", 1)[0]
    if any(p.match(rest.lstrip()) for p in rule.cues):
        return at
    return None
