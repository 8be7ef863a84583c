"""Checkbox and key-value template lines, read by the value they give a mention.

Templated EHR text states findings as values ("Vertigo: No", "Dizziness [x]", "[ ] numbness",
"Neck: ***"). ConText reads sentences, not forms, so these values are read here, from the
characters right before and after a mention on its own line.
"""

from __future__ import annotations

import re
from typing import Literal

from docgap.rules.lexicon import TemplatesFile

__all__ = ["TemplateReader", "TemplateValue"]

TemplateValue = Literal["affirmed", "negated", "unfilled"]

# How much of the line around a mention is looked at.
_WINDOW = 40
# How far around a mention a pick-list's braces are looked for.
_PICK_WINDOW = 200


def _alternation(values: list[str]) -> str:
    return "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))


class TemplateReader:
    """Reads the template value given to a mention, if its line is a template line."""

    def __init__(self, templates: TemplatesFile) -> None:
        # A value must close its field: end of line, punctuation, a wide gap, or a dash clause.
        close = r"(?=\s*(?:$|[,;.|/)\]]|\s-\s|\s{2,}|\t))"
        # Up to three short words may stand between the mention and its value or box
        # ("N/T UE: No", "Numbness/tingling UE [ ]", "[ ] Arm numbness").
        gap = r"(?:[\w/&()'-]{1,15}\s+){0,3}?"
        tail_gap = r"(?:\s*[/,&]\s*[\w'-]{1,15}|\s+[\w/&()'-]{1,15}){0,3}?"
        self._after_value = re.compile(
            rf"^{tail_gap}\s*(?:[:=]|\s-\s?)\s*(?:(?P<unfilled>{_alternation(templates.unfilled_values)})"
            rf"|(?P<neg>{_alternation(templates.negate_values)})"
            rf"|(?P<aff>{_alternation(templates.affirm_values)})){close}",
            re.IGNORECASE | re.MULTILINE,
        )
        self._after_box = re.compile(
            rf"^{tail_gap}\s*:?\s*(?:(?P<checked>{_alternation(templates.checked_boxes)})"
            rf"|(?P<empty>{_alternation(templates.empty_boxes)}))",
            re.MULTILINE,
        )
        boxes = _alternation([*templates.checked_boxes, *templates.empty_boxes])
        self._box_first_line = re.compile(rf"^\s*(?:[-*•]\s*)?(?:{boxes})")
        # A box inside the mention itself ("ROM: [x] Decreased [ ] Full" matched as
        # "ROM: [x] Decreased") is the mention's own value: the boxes after it are other options.
        self._inner_box = re.compile(
            rf"(?P<checked>{_alternation(templates.checked_boxes)})"
            rf"|(?P<empty>{_alternation(templates.empty_boxes)})"
        )
        self._pick_lists = [re.compile(p, re.IGNORECASE) for p in templates.pick_lists]
        self._before = re.compile(
            rf"(?:(?P<checked>{_alternation(templates.checked_boxes)})"
            rf"|(?P<empty>{_alternation(templates.empty_boxes)})"
            rf"|(?P<aff>(?:^|(?<=\s))(?:{_alternation(templates.affirm_prefixes)}))"
            rf"|(?P<neg>(?:^|(?<=\s))(?:{_alternation(templates.negate_prefixes)})))\s*{gap}$",
            re.IGNORECASE | re.MULTILINE,
        )

    def value(self, text: str, start: int, end: int) -> TemplateValue | None:
        """The value the template line gives the mention at ``text[start:end]``, or None."""
        line_end = text.find("\n", end, end + _WINDOW)
        after = text[end : line_end if line_end != -1 else end + _WINDOW]
        line_start = text.rfind("\n", max(0, start - _WINDOW), start)
        before = text[(line_start + 1 if line_start != -1 else max(0, start - _WINDOW)) : start]
        if self._in_pick_list(text, start, end):
            return "unfilled"
        inner = self._inner_box.search(text, start, end)
        if inner:
            return "affirmed" if inner.group("checked") else "negated"

        if self._box_first_line.match(before):
            # "[x] Dizziness  [ ] Tinnitus": on this line a box precedes its label.
            prefix = self._before.search(before)
            if prefix and (prefix.group("checked") or prefix.group("empty")):
                return "affirmed" if prefix.group("checked") else "negated"
        else:
            box = self._after_box.match(after)
            if box:
                return "affirmed" if box.group("checked") else "negated"
        found = self._after_value.match(after)
        if found:
            if found.group("neg"):
                return "negated"
            if found.group("unfilled"):
                return "unfilled"
            return "affirmed"
        prefix = self._before.search(before)
        if prefix:
            if prefix.group("checked") or prefix.group("aff"):
                return "affirmed"
            return "negated"
        return None

    def _in_pick_list(self, text: str, start: int, end: int) -> bool:
        """Whether the mention lies inside an unselected pick-list or placeholder on its line."""
        if not self._pick_lists:
            return False
        # A pick-list sits on one line; a bounded window keeps the cost per mention constant.
        line_start = text.rfind("\n", max(0, start - _PICK_WINDOW), start) + 1
        line_start = max(line_start, start - _PICK_WINDOW)
        line_end = text.find("\n", end, end + _PICK_WINDOW)
        line = text[line_start : line_end if line_end != -1 else end + _PICK_WINDOW]
        at, to = start - line_start, end - line_start
        return any(
            m.start() <= at and to <= m.end() for p in self._pick_lists for m in p.finditer(line)
        )
