"""The shipped ICD facts file is a fresh build and says what simple-icd-10-cm says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from docgap.rules import codes
from docgap.rules.icd_facts_build import (
    FAMILIES,
    OUTPUT,
    build_facts,
    dumps,
    main,
    pack_codes,
)


@pytest.fixture(scope="module")
def shipped() -> dict:
    return json.loads(OUTPUT.read_text(encoding="utf-8"))


def test_shipped_file_equals_a_fresh_build() -> None:
    assert OUTPUT.read_text(encoding="utf-8") == dumps(build_facts(pack_codes())), (
        "src/docgap/rules/icd_facts.json is stale: python -m docgap.rules.icd_facts_build")


def test_records_its_source_version(shipped: dict) -> None:
    from importlib.metadata import version

    assert shipped["source"] == {"package": "simple-icd-10-cm",
                                 "version": version("simple-icd-10-cm")}


def test_holds_the_pack_codes_and_whole_families(shipped: dict) -> None:
    held = set(shipped["codes"])
    assert {"M53.0", "M53.1", "M54.2", "M50.1", "M54.12", "M47.812", "M50.3", "G44.86",
            "M99.01"} <= set(pack_codes()) <= held
    for family in FAMILIES:
        assert family in held
        assert set(shipped["codes"][family]["descendants"]) <= held
    assert {"M50.120", "M50.121", "M50.122", "M50.123", "M99.00", "M99.09"} <= held


def test_facts_are_what_codes_py_reads_today(shipped: dict) -> None:
    for code, fact in shipped["codes"].items():
        today = codes.code_facts(code)
        assert fact["description"] == today.description
        assert fact["leaf"] == today.billable  # no trailing dash: billable == leaf
        assert tuple(fact["inclusion_terms"]) == today.inclusion_terms
        assert tuple(fact["excludes1"]) == today.excludes1
        assert tuple(fact["excludes2"]) == today.excludes2


def test_disc_levels_can_be_derived_from_the_file(shipped: dict) -> None:
    segments: dict[tuple[str, str], str] = {}
    roots: dict[str, str] = {}
    for code in shipped["codes"]["M50.1"]["descendants"]:
        fact = shipped["codes"][code]
        if not fact["leaf"]:
            continue
        for term in fact["inclusion_terms"]:
            for upper, lower in codes._SEGMENT.findall(term):
                segments[(upper.upper(), lower.upper())] = code
            for root in codes._ROOT.findall(term):
                roots[root.upper()] = code
    assert (segments, roots) == codes._disc_level_codes("M50.1-")
    assert segments[("C5", "C6")] == "M50.122"


def test_an_unknown_code_is_refused() -> None:
    with pytest.raises(ValueError, match=r"M53\.9X"):
        build_facts(["M53.9X"], families=())


def test_check_mode_reports_a_stale_file(tmp_path: Path) -> None:
    out = tmp_path / "icd_facts.json"
    assert main(["--out", str(out), "--check"]) == 1
    assert main(["--out", str(out)]) == 0
    assert main(["--out", str(out), "--check"]) == 0
    out.write_text(out.read_text(encoding="utf-8").replace("M53.0", "M53.9"), encoding="utf-8")
    assert main(["--out", str(out), "--check"]) == 1
