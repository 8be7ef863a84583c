"""The pack registry: versioned names, clear errors, entry-point discovery, cheap pack_info."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from docgap.packs import registry
from docgap.packs.m53_0 import M530Pack
from docgap.packs.registry import (
    UnknownPackError,
    available_packs,
    get_pack_class,
    pack_info,
    register_pack,
)
from docgap.resources import lexicon_dir


def test_unknown_pack_names_the_available_ones() -> None:
    with pytest.raises(UnknownPackError, match=r"'nope\.v1'.*m53_0\.v1"):
        get_pack_class("nope.v1")


def test_a_taken_name_needs_a_new_version() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_pack("m53_0.v1")(type("Other", (), {}))  # type: ignore[arg-type]
    assert register_pack("m53_0.v1")(M530Pack) is M530Pack  # re-registering itself is fine


def test_entry_points_are_discovered(monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = type("PluginPack", (), {})
    point = SimpleNamespace(name="plugin.v1", load=lambda: plugin)

    def fake_entry_points(**kwargs: Any) -> list[SimpleNamespace]:
        assert kwargs == {"group": "docgap.packs"}
        return [point]

    monkeypatch.setattr(registry, "entry_points", fake_entry_points)
    monkeypatch.setattr(registry, "_PACKS", dict(registry._PACKS))
    assert get_pack_class("plugin.v1") is plugin
    assert "plugin.v1" in available_packs()


def test_pack_info_of_the_shipped_pack() -> None:
    info = pack_info()
    assert (info.name, info.code) == ("m53_0.v1", "M53.0")
    assert info.elements[:3] == ("named_syndrome", "cranial_symptoms", "cervical_findings")
    assert pack_info(lexicon_dir()) == info
    assert pack_info(lexicon_dir() / "packs" / "m53.0") == info
