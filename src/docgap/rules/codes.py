"""ICD-10-CM facts, read from the tabular list that simple-icd-10-cm ships.

Nothing here is typed by hand: descriptions, inclusion terms and excludes notes come from
the package, and so does the mapping from a disc level to its M50.1- code (parsed from the
inclusion terms, e.g. "C5-C6 disc disorder with radiculopathy" under M50.122).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from functools import lru_cache

with warnings.catch_warnings():
    # simple-icd-10-cm imports pkg_resources, which warns on recent setuptools.
    warnings.simplefilter("ignore")
    import simple_icd_10_cm as cm

__all__ = ["CodeFacts", "code_facts", "describe", "disc_radiculopathy_code"]


@dataclass(frozen=True)
class CodeFacts:
    """What the tabular list says about one code."""

    code: str
    description: str
    billable: bool
    inclusion_terms: tuple[str, ...]
    excludes1: tuple[str, ...]
    excludes2: tuple[str, ...]


def _base(code: str) -> str:
    """``"M50.1-"`` (a code to be completed) -> ``"M50.1"``."""
    return code.rstrip("-")


@lru_cache(maxsize=256)
def code_facts(code: str) -> CodeFacts:
    """Facts for ``code``; a trailing ``-`` means "a code under this category"."""
    base = _base(code)
    if not cm.is_valid_item(base):
        raise KeyError(f"{code} is not an ICD-10-CM code")
    return CodeFacts(
        code=code,
        description=cm.get_description(base),
        billable=cm.is_leaf(base) and not code.endswith("-"),
        inclusion_terms=tuple(cm.get_inclusion_term(base)),
        excludes1=tuple(cm.get_excludes1(base)),
        excludes2=tuple(cm.get_excludes2(base)),
    )


def describe(code: str | None) -> str | None:
    """The tabular description of ``code`` (None for None)."""
    return code_facts(code).description if code else None


_SEGMENT = re.compile(r"\b(C\d)-([CT]\d) disc disorder", re.IGNORECASE)
_ROOT = re.compile(r"\b(C\d) radiculopathy due to disc disorder", re.IGNORECASE)


@lru_cache(maxsize=4)
def _disc_level_codes(category: str) -> tuple[dict[tuple[str, str], str], dict[str, str]]:
    segments: dict[tuple[str, str], str] = {}
    roots: dict[str, str] = {}
    for code in cm.get_descendants(_base(category)):
        if not cm.is_leaf(code):
            continue
        for term in cm.get_inclusion_term(code):
            for upper, lower in _SEGMENT.findall(term):
                segments[(upper.upper(), lower.upper())] = code
            for root in _ROOT.findall(term):
                roots[root.upper()] = code
    return segments, roots


def disc_radiculopathy_code(
    segment: tuple[str, str] | None = None,
    root: str | None = None,
    *,
    category: str = "M50.1-",
) -> str | None:
    """The code under ``category`` for a disc level (``("C5", "C6")``) or a root (``"C6"``).

    The levels are parsed from the category's inclusion terms; a pack passes the category
    its pack.yml names (``codes: disc_radiculopathy``).
    """
    segments, roots = _disc_level_codes(category)
    if segment is not None:
        return segments.get((segment[0].upper(), segment[1].upper()))
    if root is not None:
        return roots.get(root.upper())
    return None
