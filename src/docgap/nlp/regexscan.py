r"""Run many regular expressions over one text in a few passes, with ``finditer``'s results.

docgap's rule files hold dozens of regular expressions, and Python's ``re`` costs about
20-40 ns per character per expression, whatever the expression: running each over a note
costs more than all of spaCy's tokenizing. Two facts about the rules make most of that
avoidable, without changing a single match:

- Most expressions begin with the same zero-width anchor (``\\b``, or the section-title
  anchor "at a line start or after punctuation"). One pass with all of them behind that
  anchor, as alternatives of one lookahead, finds the few positions where any of them
  matches; each expression is then tried only there.
- Every match of an expression contains one of a few literal words (``neck`` in
  ``\\bneck\\b...``; one word per alternative of a group), found by reading the parsed
  expression. When none of them is in the text, the expression cannot match and is not run.
  (Only for ASCII texts: there, case-insensitive matching of those words is plain
  lower-casing.)

:meth:`RegexBank.finditer_all` returns for each expression exactly the ``(start, end)``
pairs ``pattern.finditer(text)`` gives.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

__all__ = ["RegexBank", "lowercase_form", "required_words"]

# Characters a zero-width anchor at the start of an expression can end with (``\b``,
# ``^``, a group); only these places are tried as the end of the anchor.
_ANCHOR_ENDS = frozenset(")bBA^$")
_MAX_ANCHOR = 200


def required_words(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """Lower-case literal strings, one of which every match of ``pattern`` contains.

    ``None`` when no such set is found (the expression must always be run).
    """
    try:
        parsed = sre_parse.parse(pattern.pattern, pattern.flags)
    except re.error:  # pragma: no cover - it compiled
        return None
    found = _required(parsed.data)
    if not found:
        return None
    # A word that contains another is implied by it: check only the shorter.
    return frozenset(w for w in found if not any(v != w and v in w for v in found))


def _selective(words: frozenset[str] | None) -> bool:
    """Whether a literal-word test skips the expression on most texts.

    A shared scan runs every member's alternation at each anchor of every text, so each
    member added to a group costs all texts; an expression that needs a longer word ("standing",
    "tamsulosin") is cheaper alone behind the test ``word in text``, which most texts fail.
    Short words ("on", "with") are in nearly every note, so those members stay grouped.
    """
    return words is not None and bool(words) and min(len(w.strip()) for w in words) >= (
        _SELECTIVE_LENGTH
    )


_SELECTIVE_LENGTH = 5  # characters: the shortest word that makes the test worth running

_MAX_WORDS = 64  # past this many alternatives, a word set is not worth checking


def _required(items: Any) -> set[str] | None:
    """Words one of which every match of the sequence ``items`` contains."""
    candidates: list[set[str]] = []
    run: set[str] | None = {""}  # the exact strings the current run of items can match
    for op, arg in items:
        exact = _exact(op, arg)
        if exact is not None and run is not None:
            if len(run) * len(exact) <= _MAX_WORDS:
                run = {a + b for a in run for b in exact}
                continue
            run = None
        if run and "" not in run:
            candidates.append(run)
        run = exact if exact is not None else {""}
        if exact is None:
            found = _required_item(op, arg)
            if found:
                candidates.append(found)
    if run and "" not in run:
        candidates.append(run)
    if not candidates:
        return None
    # The most selective: the longest shortest word, then the fewest words.
    return max(candidates, key=lambda words: (min(map(len, words)), -len(words)))


def _exact(op: Any, arg: Any) -> set[str] | None:
    """The lower-case strings an item matches, when it is a small set of ASCII literals."""
    if op is sre.LITERAL:
        return {chr(arg).lower()} if arg < 128 else None
    if op is sre.SUBPATTERN:
        return _exact_sequence(arg[3].data)
    if op is sre.BRANCH:
        found: set[str] = set()
        for alternative in arg[1]:
            exact = _exact_sequence(alternative.data)
            if exact is None:
                return None
            found |= exact
        return found if len(found) <= _MAX_WORDS else None
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
        low, high, body = arg
        exact = _exact_sequence(body.data)
        if exact is None or high > 1:
            return None
        return exact | {""} if low == 0 else exact
    return None


def _exact_sequence(items: Any) -> set[str] | None:
    strings = {""}
    for op, arg in items:
        exact = _exact(op, arg)
        if exact is None or len(strings) * len(exact) > _MAX_WORDS:
            return None
        strings = {a + b for a in strings for b in exact}
    return strings


def _required_item(op: Any, arg: Any) -> set[str] | None:
    if op is sre.SUBPATTERN:
        return _required(arg[3].data)
    if op is sre.ATOMIC_GROUP:
        return _required(arg.data)
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
        low, _, body = arg
        return _required(body.data) if low >= 1 else None
    if op is sre.BRANCH:
        words: set[str] = set()
        for alternative in arg[1]:
            found = _required(alternative.data)
            if not found:
                return None
            words |= found
        return words
    return None


def _split_anchor(pattern: re.Pattern[str]) -> tuple[str, str] | None:
    """The longest zero-width head of the expression and the rest, if the rest is not empty."""
    source = pattern.pattern
    if not isinstance(source, str) or pattern.groups:
        return None
    best = None
    for i in range(1, min(len(source), _MAX_ANCHOR) + 1):
        if source[i - 1] not in _ANCHOR_ENDS:
            continue
        head, rest = source[:i], source[i:]
        try:
            if sre_parse.parse(head, pattern.flags).getwidth() != (0, 0):
                continue
            if sre_parse.parse(rest, pattern.flags).getwidth()[0] == 0:
                continue
        except re.error:
            continue
        best = (head, rest)
    return best


_KEPT_ESCAPES = frozenset("bBwWsSdDAZntrfv")
_PLAIN_GROUPS = (":", "=", "!", ">", "<=", "<!")
_LEADING_FLAGS = re.compile(r"\(\?[amsuL]+\)")


def lowercase_form(pattern: re.Pattern[str]) -> re.Pattern[str] | None:
    """A case-sensitive twin of a case-insensitive expression, for lower-cased ASCII text.

    Python's ``re`` tests a case-insensitive literal several times slower than a plain one;
    on an ASCII text, ``twin.finditer(text.lower())`` finds the spans
    ``pattern.finditer(text)`` finds. ``None`` when the rewrite is not certainly exact
    (inline flags, characters given by code, ranges that mix letters and other characters,
    non-ASCII characters that fold to ASCII ones).
    """
    if not pattern.flags & re.IGNORECASE or pattern.flags & re.VERBOSE:
        return None
    source = pattern.pattern
    out: list[str] = []
    i, n = 0, len(source)
    in_class = False
    while i < n:
        char = source[i]
        if char == "\\":
            follower = source[i + 1 : i + 2]
            if follower.isascii() and follower.isalnum() and follower not in _KEPT_ESCAPES:
                return None  # \x41, \u00e9, \N{...}, back-references: code points
            out.append(source[i : i + 2])
            i += 2
            continue
        if in_class:
            if char == "]" and out[-1] not in ("[", "[^"):
                in_class = False
            elif (
                char == "-"
                and i + 1 < n
                and source[i + 1] not in "]\\"
                and out[-1]
                not in (
                    "[",
                    "[^",
                )
            ):
                low, high = source[i - 1], source[i + 1]
                if len(out[-1]) != 1 or not _safe_range(low, high):
                    return None  # an escape as the low end, or letters mixed with others
                out.append("-" + high.lower())
                i += 2
                continue
            elif char == "^" and out[-1] == "[":
                out[-1] = "[^"
                i += 1
                continue
        elif char == "[":
            in_class = True
            out.append("[")
            i += 1
            continue
        elif char == "(" and source[i + 1 : i + 2] == "?":
            at_start = all(o.startswith("(?") for o in out)
            flags = _LEADING_FLAGS.match(source, i) if at_start else None
            if flags is not None:  # global flags at the start, such as (?m)
                out.append(flags.group(0))
                i = flags.end()
                continue
            if not source.startswith(_PLAIN_GROUPS, i + 2):
                return None  # inline flags, named groups, comments, conditionals
        if not char.isascii() and any(
            re.fullmatch(re.escape(char), chr(c), re.IGNORECASE) for c in range(128)
        ):
            return None  # e.g. the long s or the Kelvin sign, which fold to ASCII letters
        out.append(char.lower() if char.isascii() else char)
        i += 1
    try:
        twin = re.compile("".join(out), pattern.flags & ~re.IGNORECASE)
    except re.error:
        return None
    return twin if twin.groups == pattern.groups else None


def _safe_range(low: str, high: str) -> bool:
    """A class range that means the same on lower-cased text once its ends are lower-cased."""
    if not (low.isascii() and high.isascii()):
        return False
    if (low.islower() and high.islower()) or (low.isupper() and high.isupper()):
        return True
    letters = [chr(c) for c in range(ord(low), ord(high) + 1) if chr(c).isalpha()]
    return not letters


@dataclass
class _Group:
    """Expressions that share an anchor: one scan for where, one match for which."""

    scan: re.Pattern[str]
    which: re.Pattern[str]
    members: list[tuple[int, int]]  # (index of the expression, group number in `which`)
    lowered: bool  # runs over the lower-cased text


@dataclass
class _Single:
    """An expression run on its own, unless none of its words is in the text."""

    index: int
    pattern: re.Pattern[str]
    words: frozenset[str] | None
    lowered: bool


def _group(
    head: str, rests: list[str], flags: int, members: list[int], lowered: bool
) -> _Group | None:
    try:
        scan = re.compile(head + "(?=" + "|".join(f"(?:{r})" for r in rests) + ")", flags)
        which = re.compile("".join(f"(?:(?=({r})))?" for r in rests), flags)
    except re.error:  # e.g. a named group used twice
        return None
    return _Group(scan, which, [(i, slot) for slot, i in enumerate(members, 1)], lowered)


class RegexBank:
    """A fixed list of compiled expressions, run together over texts."""

    def __init__(self, patterns: Sequence[re.Pattern[str]]) -> None:
        self.patterns = list(patterns)
        twins = [lowercase_form(p) for p in self.patterns]
        words = [required_words(p) for p in self.patterns]
        # Plans for texts that are not ASCII: the expressions as they are.
        self._plans: list[_Group | _Single] = self._plan(list(self.patterns), [False] * len(twins))
        # Plans for ASCII texts: case-sensitive twins over the lower-cased text where there
        # are twins, and the literal-word test before any expression run on its own.
        chosen = [t if t is not None else p for p, t in zip(self.patterns, twins, strict=True)]
        self._ascii_plans = self._plan(chosen, [t is not None for t in twins], words)

    @property
    def groups(self) -> list[_Group]:
        """The shared scans for ASCII texts (the common case)."""
        return [plan for plan in self._ascii_plans if isinstance(plan, _Group)]

    @staticmethod
    def _plan(
        patterns: list[re.Pattern[str]],
        lowered: list[bool],
        words: list[frozenset[str] | None] | None = None,
    ) -> list[_Group | _Single]:
        by_anchor: dict[tuple[str, int, bool], list[tuple[int, str]]] = {}
        for index, pattern in enumerate(patterns):
            if words is not None and _selective(words[index]):
                continue  # run alone, and only on texts holding one of its words
            split = _split_anchor(pattern)
            if split is not None:
                key = (split[0], pattern.flags, lowered[index])
                by_anchor.setdefault(key, []).append((index, split[1]))
        plans: list[_Group | _Single] = []
        grouped: set[int] = set()
        for (head, flags, low), members in by_anchor.items():
            if len(members) < 2:
                continue
            indexes = [index for index, _ in members]
            group = _group(head, [rest for _, rest in members], flags, indexes, low)
            if group is not None:
                plans.append(group)
                grouped.update(indexes)
        for index, pattern in enumerate(patterns):
            if index not in grouped:
                plans.append(
                    _Single(index, pattern, words[index] if words else None, lowered[index])
                )
        return plans

    def finditer_all(self, text: str) -> list[list[tuple[int, int]]]:
        """For each expression, the spans ``pattern.finditer(text)`` would give, in order."""
        found: list[list[tuple[int, int]]] = [[] for _ in self.patterns]
        if text.isascii():
            lowered = text.lower()
            plans = self._ascii_plans
        else:
            lowered = text
            plans = self._plans
        for plan in plans:
            subject = lowered if plan.lowered else text
            if isinstance(plan, _Group):
                self._run_group(plan, subject, found)
            elif plan.words is None or any(w in lowered for w in plan.words):
                found[plan.index] = [m.span() for m in plan.pattern.finditer(subject)]
        return found

    @staticmethod
    def _run_group(group: _Group, text: str, found: list[list[tuple[int, int]]]) -> None:
        ends = dict.fromkeys((index for index, _ in group.members), 0)
        for anchor in group.scan.finditer(text):
            start = anchor.start()
            regs = group.which.match(text, start).regs  # type: ignore[union-attr]
            for index, slot in group.members:
                end = regs[slot][1]
                if end >= 0 and start >= ends[index]:
                    found[index].append((start, end))
                    ends[index] = end
