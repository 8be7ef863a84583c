"""The seam between the generic machinery and a code pack.

A code pack turns the mentions the pipeline found into a verdict for one code. The analyzer
only knows the :class:`CodePack` protocol (found through :mod:`docgap.packs.registry`); the
pieces every pack needs, and which should not be written twice, live here: the
:class:`Decision` a pack returns, the bookkeeping of which mention counted for what
(:class:`Findings`, :func:`count_or_reject`), and a :class:`GapBuilder` that checks every
gap message against the fields the pack supplies when the pack is built, not when a note
first needs that gap.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from docgap.nlp.levels import LevelMention
from docgap.nlp.mentions import Mention, Section
from docgap.report import Evidence, Gap
from docgap.rules.lexicon import GapDef, Lexicon, LexiconError

__all__ = [
    "CodePack",
    "Decision",
    "Findings",
    "GapBuilder",
    "PackFactory",
    "RegionGate",
    "count_or_reject",
    "template_fields",
]


@dataclass
class Decision:
    """A pack's verdict on one note (what the analyzer puts in the report)."""

    status: str
    would_code: str | None
    elements: dict[str, bool]
    chiropractic: bool
    gaps: list[Gap]
    evidence: list[Evidence]
    query_opportunity: bool


@runtime_checkable
class CodePack(Protocol):
    """What the analyzer needs from a pack: its identity, its elements and its decision."""

    name: str  # the registered, versioned name, e.g. "m53_0.v1"
    code: str
    version: str
    elements: tuple[str, ...]

    def decide(
        self,
        mentions: list[Mention],
        levels: list[LevelMention],
        sections: list[Section],
        text: str,
    ) -> Decision:
        """Status, would-code, elements, gaps and evidence for one note."""
        ...


# A pack class: built once per process from the validated lexicon.
PackFactory = Callable[[Lexicon], CodePack]


@dataclass
class Findings:
    """Which mentions counted for what, and why the others did not (for the evidence)."""

    counted: dict[str, list[Mention]] = field(default_factory=dict)
    reasons: dict[int, str] = field(default_factory=dict)  # id(mention) -> why not counted
    level_evidence: list[tuple[LevelMention, str, str | None]] = field(default_factory=list)
    # id(mention) per element, beside ``counted``: membership is a set lookup, so building
    # the evidence stays linear in mentions (the mentions outlive the decision, ids are stable).
    _ids: dict[str, set[int]] = field(default_factory=dict, repr=False)

    def add(self, element: str, mention: Mention) -> None:
        """Count ``mention`` for ``element``."""
        self.counted.setdefault(element, []).append(mention)
        self._ids.setdefault(element, set()).add(id(mention))

    def keep(self, element: str, mentions: list[Mention]) -> None:
        """Count exactly ``mentions`` for ``element`` (a later rule dropped the others)."""
        self.counted[element] = mentions
        self._ids[element] = {id(m) for m in mentions}

    def reject(self, mention: Mention, reason: str) -> None:
        """Record why ``mention`` does not count (the evidence shows it)."""
        self.reasons[id(mention)] = reason

    def has(self, element: str) -> bool:
        """Whether any mention counts for ``element``."""
        return bool(self.counted.get(element))

    def of(self, element: str) -> list[Mention]:
        """The mentions that count for ``element``."""
        return self.counted.get(element, [])

    def is_counted_as(self, element: str, mention: Mention) -> bool:
        """Whether this very mention counts for ``element``."""
        return id(mention) in self._ids.get(element, ())

    def is_counted(self, mention: Mention) -> bool:
        """Whether this very mention counts for anything."""
        key = id(mention)
        return any(key in ids for ids in self._ids.values())


@dataclass(frozen=True)
class RegionGate:
    """The region a region-gated element must not lie outside of (levels.yml ``region``)."""

    inside: str
    outside: str


def count_or_reject(
    mention: Mention, counts: Sequence[str], gate: RegionGate | None = None
) -> str | None:
    """None when ``mention`` counts; otherwise why it does not.

    It fails when a rule file rejected it or its assertion is not one of ``counts``; with a
    ``gate`` (a region-gated element), also when it lies outside the region.
    """
    if not mention.counts_as(tuple(counts)):
        return mention.rejection or f"assertion: {mention.assertion}"
    if gate is not None and mention.region == gate.outside:
        return f"region: not {gate.inside}"
    return None


_FORMATTER = string.Formatter()


def template_fields(message: str) -> set[str]:
    """The ``{field}`` names a gap message uses."""
    return {name for _, name, _, _ in _FORMATTER.parse(message) if name}


class GapBuilder:
    """Makes a pack's gaps from pack.yml's messages, checked once when the pack is built.

    ``fields`` maps every gap key the pack can produce to the fields it supplies;
    ``constants`` are supplied to every message (e.g. the pack's code). A message that uses
    a field nobody supplies, a gap the pack produces that pack.yml lacks, or a pack.yml gap
    the pack never produces is a :class:`LexiconError` naming the gap key.
    """

    def __init__(
        self,
        gaps: Mapping[str, GapDef],
        fields: Mapping[str, Iterable[str]],
        *,
        constants: Mapping[str, object],
        where: str,
    ) -> None:
        self._gaps = dict(gaps)
        self._fields = {key: frozenset(names) for key, names in fields.items()}
        self._constants = dict(constants)
        missing = sorted(set(self._fields) - set(self._gaps))
        if missing:
            raise LexiconError(f"{where}: gaps {missing} are produced but have no message")
        unused = sorted(set(self._gaps) - set(self._fields))
        if unused:
            raise LexiconError(f"{where}: gaps {unused} are never produced by this pack")
        for key, gap in self._gaps.items():
            try:
                used = template_fields(gap.message)
            except ValueError as exc:
                raise LexiconError(f"{where}: gap {key!r}: message is malformed: {exc}") from None
            unknown = sorted(used - self._fields[key] - set(self._constants))
            if unknown:
                raise LexiconError(
                    f"{where}: gap {key!r}: message uses {unknown}, which this gap does not "
                    f"supply (it supplies {sorted(self._fields[key] | set(self._constants))})"
                )

    def __call__(self, key: str, codes: tuple[str, ...] = (), **values: object) -> Gap:
        """The gap ``key`` with its message formatted from ``values`` and the constants."""
        if set(values) != self._fields[key]:
            raise ValueError(f"gap {key!r} built with {sorted(values)}, declared otherwise")
        spec = self._gaps[key]
        return Gap(key, spec.message.format(**self._constants, **values), spec.severity, codes)
