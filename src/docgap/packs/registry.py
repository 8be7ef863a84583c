"""Code packs by versioned name: the one place the analyzer (and everything else) finds them.

A pack registers its class under a name that carries a version (``m53_0.v1``); a changed
decision is registered as ``.v2`` beside the old one, so a saved report or model can say
which decision made it. Packs shipped by other distributions are found through the
entry-point group ``docgap.packs`` (``name = "module:Class"``).

:func:`pack_info` reads only a pack.yml: the writers, the Spark schema and the evaluation
learn a pack's elements from it without building a pipeline or loading the decision.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import TypeVar

from docgap.packs.base import PackFactory
from docgap.packs.info import PackInfo, pack_info
from docgap.rules.lexicon import DEFAULT_PACK

__all__ = [
    "DEFAULT_PACK",
    "ENTRY_POINT_GROUP",
    "PackInfo",
    "UnknownPackError",
    "available_packs",
    "get_pack_class",
    "pack_info",
    "register_pack",
]

ENTRY_POINT_GROUP = "docgap.packs"

_PACKS: dict[str, PackFactory] = {}
_T = TypeVar("_T", bound=PackFactory)


class UnknownPackError(KeyError):
    """No pack is registered under the name asked for."""

    def __str__(self) -> str:  # KeyError quotes its argument; this is a sentence
        return str(self.args[0])


def register_pack(name: str) -> Callable[[_T], _T]:
    """Class decorator: make a pack class available as ``name`` (e.g. ``"demo.v1"``).

    Registering another class under a taken name is an error: a new behaviour takes a new
    version.
    """

    def decorate(cls: _T) -> _T:
        existing = _PACKS.get(name)
        if existing is not None and existing is not cls:
            raise ValueError(f"a pack is already registered as {name!r}")
        _PACKS[name] = cls
        return cls

    return decorate


# The packs docgap ships, declared as entry points are ("module:Class"), so the registry
# depends on no pack module and no pack module on the registry.
_BUILTIN: dict[str, str] = {"m53_0.v1": "docgap.packs.m53_0:M530Pack"}


def _load_builtin() -> None:
    """Register the packs docgap ships (imported on first use)."""
    for name, target in _BUILTIN.items():
        if name not in _PACKS:
            module, _, attribute = target.partition(":")
            register_pack(name)(getattr(importlib.import_module(module), attribute))


def _load_entry_points() -> None:
    """Register the packs other installed distributions declare under ``docgap.packs``."""
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name not in _PACKS:
            register_pack(point.name)(point.load())


def get_pack_class(name: str) -> PackFactory:
    """The pack class registered as ``name``, looking in entry points when not yet known."""
    _load_builtin()
    if name not in _PACKS:
        _load_entry_points()
    try:
        return _PACKS[name]
    except KeyError:
        raise UnknownPackError(
            f"no code pack is registered as {name!r} (available: {available_packs()})"
        ) from None


def available_packs() -> list[str]:
    """Every registered pack name, built-in and from entry points, sorted."""
    _load_builtin()
    _load_entry_points()
    return sorted(_PACKS)
