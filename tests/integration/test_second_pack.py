"""The pack seam holds: a second code pack runs with no edit outside its own folder.

The test writes a lexicon folder with the shipped common rules and a minimal ``demo`` pack
(two elements, one target file), registers a decision for it as ``demo.v1`` from here, and
analyses a note with it through the Python API and through ``docgap scan --pack``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from docgap import Analyzer
from docgap.cli import app
from docgap.nlp.levels import LevelMention
from docgap.nlp.mentions import Mention, Section
from docgap.packs.base import Decision, count_or_reject
from docgap.packs.registry import available_packs, get_pack_class, pack_info, register_pack
from docgap.resources import lexicon_dir
from docgap.rules.lexicon import Lexicon

PACK_YML = """\
name: demo.v1
code: R50.9
version: "0.1"
elements:
  fever: {description: fever is documented}
  cough: {description: a cough is documented}
gaps: {}
"""

TARGETS_YML = """\
label: symptom
description: the demo pack's two symptoms
concepts:
  - concept: fever
    phrases: [fever, febrile]
  - concept: cough
    phrases: [cough, coughing]
"""

NOTE = "Patient reports fever since Monday. Denies cough."


@register_pack("demo.v1")
class DemoPack:
    """Fever without cough: a decision small enough to read at a glance."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.name, self.code, self.version = "demo.v1", lexicon.pack.code, lexicon.pack.version
        self.elements = tuple(lexicon.pack.elements)

    def decide(
        self,
        mentions: list[Mention],
        levels: list[LevelMention],
        sections: list[Section],
        text: str,
    ) -> Decision:
        found = {
            e: any(m.concept == e and count_or_reject(m, ["affirmed"]) is None for m in mentions)
            for e in self.elements
        }
        return Decision(
            "supported" if found["fever"] else "not_applicable",
            self.code if found["fever"] else None,
            found,
            False,
            [],
            [],
            False,
        )


@pytest.fixture(scope="module")
def demo_lexicons(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo") / "lexicons"
    shutil.copytree(lexicon_dir() / "common", root / "common")
    pack = root / "packs" / "demo"
    (pack / "targets").mkdir(parents=True)
    (pack / "pack.yml").write_text(PACK_YML, encoding="utf-8")
    (pack / "targets" / "symptom.yml").write_text(TARGETS_YML, encoding="utf-8")
    return root


def test_demo_pack_is_registered() -> None:
    assert get_pack_class("demo.v1") is DemoPack
    assert {"demo.v1", "m53_0.v1"} <= set(available_packs())


def test_pack_info_reads_only_pack_yml(demo_lexicons: Path) -> None:
    info = pack_info("demo.v1", demo_lexicons)
    assert (info.name, info.code, info.version, info.elements) == (
        "demo.v1",
        "R50.9",
        "0.1",
        ("fever", "cough"),
    )
    assert pack_info(demo_lexicons / "packs" / "demo") == info


def test_python_api(demo_lexicons: Path) -> None:
    analyzer = Analyzer(demo_lexicons, pack="demo.v1", model=None)
    report = analyzer.analyze(NOTE, "demo-1")
    assert (report.status, report.would_code, report.code) == ("supported", "R50.9", "R50.9")
    assert report.elements == {"fever": True, "cough": False}
    assert report.provenance["pack"] == "demo.v1"  # type: ignore[attr-defined]
    assert report.provenance["pack_version"] == "0.1"  # type: ignore[attr-defined]
    assert report.provenance["lexicon_sha256"] == analyzer.lexicon.sha256  # type: ignore[attr-defined]


def test_cli_scan_with_pack(
    demo_lexicons: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "demo-1.txt").write_text(NOTE, encoding="utf-8")
    monkeypatch.setenv("DOCGAP_LEXICONS", str(demo_lexicons))
    result = CliRunner().invoke(
        app, ["scan", str(notes), "--pack", "demo.v1", "-j", "1", "-q"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    (line,) = [x for x in result.stdout.splitlines() if x.strip()]
    record = json.loads(line)
    assert record["note_id"] == "demo-1"
    assert record["status"] == "supported"
    assert record["elements"] == {"fever": True, "cough": False}


def test_cli_unknown_pack_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "n.txt").write_text(NOTE, encoding="utf-8")
    result = CliRunner().invoke(app, ["scan", str(tmp_path), "--pack", "nope.v1", "-q"])
    assert result.exit_code == 2
    assert "no code pack is registered as 'nope.v1'" in result.stderr
