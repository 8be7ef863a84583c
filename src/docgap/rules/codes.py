"""ICD-10-CM facts, read from the tabular list that simple-icd-10-cm ships.

Nothing here is typed by hand: descriptions, inclusion terms and excludes notes come from
the package, and so does the mapping from a disc level to its M50.1- code (parsed from the
inclusion terms, e.g. "C5-C6 disc disorder with radiculopathy" under M50.122).

They are read from ``icd_facts.json``, which :mod:`docgap.rules.icd_facts_build` writes
from simple-icd-10-cm for the pack's codes and families: importing simple-icd-10-cm parses
its whole tabular list (3-4 s per process), the file takes milliseconds.
``tests/unit/test_icd_facts.py`` fails when the file is not a fresh build. A code the file
lacks (another pack's, say) is looked up in simple-icd-10-cm itself, once, at the cost of
its import; a code neither knows is refused (the lexicon loader checks a pack's codes).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from typing import Any

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


@lru_cache(maxsize=1)
def _facts() -> dict[str, Any]:
    """The codes of ``icd_facts.json``, read once per process."""
    text = files("docgap.rules").joinpath("icd_facts.json").read_text(encoding="utf-8")
    codes: dict[str, Any] = json.loads(text)["codes"]
    return codes


def _fact(code: str) -> dict[str, Any]:
    fact: dict[str, Any] | None = _facts().get(_base(code)) or _looked_up(_base(code))
    if fact is None:
        raise KeyError(f"{code} is not an ICD-10-CM code")
    return fact


@lru_cache(maxsize=256)
def _looked_up(code: str) -> dict[str, Any] | None:
    """A code outside the shipped facts file, read from simple-icd-10-cm (slow: on demand)."""
    from docgap.rules.icd_facts_build import build_facts

    try:
        facts: dict[str, Any] = build_facts([code], families=())["codes"]
    except ValueError:
        return None
    return facts.get(code)


@lru_cache(maxsize=256)
def code_facts(code: str) -> CodeFacts:
    """Facts for ``code``; a trailing ``-`` means "a code under this category"."""
    fact = _fact(code)
    return CodeFacts(
        code=code,
        description=fact["description"],
        billable=bool(fact["leaf"]) and not code.endswith("-"),
        inclusion_terms=tuple(fact["inclusion_terms"]),
        excludes1=tuple(fact["excludes1"]),
        excludes2=tuple(fact["excludes2"]),
    )


def describe(code: str | None) -> str | None:
    """The tabular description of ``code`` (None for None)."""
    return code_facts(code).description if code else None


_SEGMENT = re.compile(r"\b(C\d)-([CT]\d) disc disorder", re.IGNORECASE)
_ROOT = re.compile(r"\b(C\d) radiculopathy due to disc disorder", re.IGNORECASE)


@lru_cache(maxsize=4)
def _disc_level_codes(
    category: str = "M50.1-",
) -> tuple[dict[tuple[str, str], str], dict[str, str]]:
    segments: dict[tuple[str, str], str] = {}
    roots: dict[str, str] = {}
    for code in _fact(category)["descendants"]:
        fact = _fact(code)
        if not fact["leaf"]:
            continue
        for term in fact["inclusion_terms"]:
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
