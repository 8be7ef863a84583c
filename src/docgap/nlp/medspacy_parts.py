"""The parts of medspaCy docgap uses, imported without QuickUMLS (and so without scikit-learn).

``medspacy.util`` (which every medspaCy component imports, for ``tuple_overlaps`` and
friends) starts with ``from quickumls import spacy_component``; QuickUMLS imports NLTK,
which imports scikit-learn and SciPy: about 1.4-2 s of a docgap start-up (``python -X
importtime``), for a component docgap never adds. ``medspacy.util`` only imports that
module to register spaCy's ``medspacy_quickumls`` factory and never reads it; here the
name is bound to a stand-in that imports the real module when an attribute is first read.
The stand-in is in ``sys.modules`` only while ``medspacy.util`` is imported: afterwards
``import quickumls`` is the real package. So in a process that imported docgap first,
``medspacy_quickumls`` is registered once ``quickumls.spacy_component`` is imported (as
``import medspacy`` first would have done). Everything else of medspaCy is imported as
usual: its package ``__init__`` still runs and sets its extensions and factories.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__all__ = [
    "ConText",
    "ConTextGraph",
    "ConTextModifier",
    "ConTextRule",
    "MedspacyMatcher",
    "RegexMatcher",
    "Section",
    "SectionRule",
    "Sectionizer",
    "TargetMatcher",
    "TargetRule",
    "create_medspacy_tokenizer",
]

_DEFERRED = "quickumls.spacy_component"


class _Deferred(types.ModuleType):
    """Stands in for a module, importing the real one when an attribute is first read."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(importlib.import_module(self.__name__), name)


def _import_medspacy_util() -> None:
    """Import ``medspacy.util`` with ``quickumls.spacy_component`` deferred."""
    if "medspacy.util" in sys.modules or "quickumls" in sys.modules:
        return  # already imported (or QuickUMLS is loaded anyway): nothing to save
    parent, child = _Deferred("quickumls"), _Deferred(_DEFERRED)
    parent.spacy_component = child  # type: ignore[attr-defined]
    sys.modules["quickumls"], sys.modules[_DEFERRED] = parent, child
    try:
        importlib.import_module("medspacy.util")
    finally:
        for name, stand_in in (("quickumls", parent), (_DEFERRED, child)):
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]


_import_medspacy_util()

# ruff: noqa: E402  (these imports must follow the deferral above)
from medspacy.common.medspacy_matcher import MedspacyMatcher
from medspacy.common.regex_matcher import RegexMatcher
from medspacy.context import ConText, ConTextGraph, ConTextModifier, ConTextRule
from medspacy.custom_tokenizer import create_medspacy_tokenizer
from medspacy.section_detection import Sectionizer, SectionRule
from medspacy.section_detection.section import Section
from medspacy.target_matcher import TargetMatcher, TargetRule
