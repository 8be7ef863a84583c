"""medspaCy's ConText graph with the same edges, at a cost linear in the number of sentences.

medspaCy 1.3.1's ``ConTextGraph`` compares every pair of modifiers (``update_scopes``) and
every modifier with every target (``apply_modifiers``) of a Doc: on a long, mention-dense
note that is millions of calls, almost all of them between a modifier and a target in
different sentences, which can never be linked. (medspaCy's main branch later added a
``match_target_sents_only`` option for the same reason.) :class:`ScopedConTextGraph`
makes only the comparisons that can change something, and gives the stock graph's scopes
and edges, in the stock order:

- **Scopes.** ``ConTextModifier.limit_scope`` only ever moves a scope end down to another
  modifier's start that lies after this modifier's start, or a scope start up to another
  modifier's end that lies before this modifier's end. So a scope never leaves the
  modifier's *hull*: the closed range covering its own tokens and its first scope. And a
  modifier can only change another whose hull overlaps its own on more than one point
  (a start or end strictly inside it). Modifiers are therefore grouped into runs of
  overlapping hulls (about one run per sentence); the stock pairwise loop runs inside each
  run, in the stock order. Pairs from different runs are the calls that return ``False``
  without changing anything in the stock loop.
- **Edges.** ``ConTextModifier.modifies`` is true only for a target with its start in
  ``[scope_start, scope_end)`` or its end in ``(scope_start, scope_end]`` (medspaCy's
  ``tuple_overlaps``, which is not symmetric). The targets that pass that test are found
  by bisection over the targets sorted by start and by end, then tested with ``modifies``
  in the targets' order, so each modifier's target list is the stock one.

When a rule has an ``on_modifies`` callback, or modifiers that overlap a target are to be
pruned (docgap uses neither), the stock method runs: a callback might depend on the order
of calls across modifiers.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

from spacy.tokens import Span

from docgap.nlp.medspacy_parts import ConTextGraph, ConTextModifier

__all__ = ["ScopedConTextGraph", "modifier_runs"]


def _hull(modifier: ConTextModifier) -> tuple[int, int]:
    start, end = modifier.modifier_span
    scope_start, scope_end = modifier.scope_span
    return min(start, scope_start, scope_end), max(end, scope_start, scope_end)


def modifier_runs(modifiers: Sequence[ConTextModifier]) -> list[list[int]]:
    """Indices of ``modifiers`` grouped into runs of overlapping hulls, each run in order.

    Two hulls that only touch (one ends where the next begins, as adjacent sentences do)
    are in different runs: neither can move the other's scope (see the module docstring).
    """
    order = sorted(range(len(modifiers)), key=lambda i: _hull(modifiers[i]))
    runs: list[list[int]] = []
    reach = None
    for i in order:
        low, high = _hull(modifiers[i])
        if reach is None or low >= reach:
            runs.append([i])
            reach = high
        else:
            runs[-1].append(i)
            reach = max(reach, high)
    for run in runs:
        run.sort()
    return runs


class ScopedConTextGraph(ConTextGraph):
    """A ``ConTextGraph`` that compares only modifiers and targets that can reach each other."""

    def _has_callbacks(self) -> bool:
        return any(m.rule.on_modifies is not None for m in self.modifiers)

    def update_scopes(self) -> None:
        """The stock pairwise scope limits, inside each run of overlapping modifiers."""
        if self._has_callbacks():
            super().update_scopes()
            return
        modifiers = self.modifiers
        for run in modifier_runs(modifiers):
            for a in range(len(run) - 1):
                first = modifiers[run[a]]
                for b in range(a + 1, len(run)):
                    second = modifiers[run[b]]
                    first.limit_scope(second)
                    second.limit_scope(first)

    def apply_modifiers(self) -> None:
        """The stock edges: each modifier tested only against targets its scope touches."""
        if self._has_callbacks() or self.prune_on_modifier_overlap:
            super().apply_modifiers()
            return
        targets: list[Span] = list(self.targets)
        by_start = sorted(range(len(targets)), key=lambda i: targets[i].start)
        starts = [targets[i].start for i in by_start]
        by_end = sorted(range(len(targets)), key=lambda i: targets[i].end)
        ends = [targets[i].end for i in by_end]
        for modifier in self.modifiers:
            scope_start, scope_end = modifier.scope_span
            reached: set[int] = set()
            # A target starts in [scope_start, scope_end) ...
            low = bisect.bisect_left(starts, scope_start)
            high = bisect.bisect_left(starts, scope_end)
            reached.update(by_start[low:high])
            # ... or ends in (scope_start, scope_end].
            low = bisect.bisect_right(ends, scope_start)
            high = bisect.bisect_right(ends, scope_end)
            reached.update(by_end[low:high])
            for i in sorted(reached):
                if modifier.modifies(targets[i]):
                    modifier.modify(targets[i])
        edges: list[tuple[Span, Any]] = []
        for modifier in self.modifiers:
            modifier.reduce_targets()
            for target in modifier._targets:
                edges.append((target, modifier))
        self.edges = edges
