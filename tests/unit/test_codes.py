"""Unit tests of ICD-10-CM facts (codes.py): everything comes from simple-icd-10-cm."""

from __future__ import annotations

import warnings

import pytest

from docgap import Analyzer
from docgap.rules.codes import code_facts, describe, disc_radiculopathy_code

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import simple_icd_10_cm as cm

CODES = ["M53.0", "M53.1", "M54.2", "M54.12", "M47.812", "M50.122", "G44.86", "M99.01"]


@pytest.mark.parametrize("code", CODES)
def test_description_comes_from_the_tabular_list(code: str) -> None:
    assert describe(code) == cm.get_description(code)
    facts = code_facts(code)
    assert facts.description == cm.get_description(code)
    assert facts.inclusion_terms == tuple(cm.get_inclusion_term(code))
    assert facts.excludes1 == tuple(cm.get_excludes1(code))
    assert facts.excludes2 == tuple(cm.get_excludes2(code))


def test_m53_0_is_cervicocranial_syndrome() -> None:
    facts = code_facts("M53.0")
    assert "cervicocranial" in facts.description.lower()
    assert facts.billable
    assert any("posterior cervical sympathetic" in t.lower() for t in facts.inclusion_terms)


@pytest.mark.parametrize(("code", "base"), [("M50.1-", "M50.1"), ("M50.3-", "M50.3")])
def test_category_with_dash(code: str, base: str) -> None:
    facts = code_facts(code)
    assert facts.description == cm.get_description(base)
    assert not facts.billable


def test_describe_none() -> None:
    assert describe(None) is None


@pytest.mark.parametrize("code", ["M53.9X", "XYZ", "M99.99-"])
def test_unknown_code(code: str) -> None:
    with pytest.raises(KeyError):
        code_facts(code)


SEGMENTS = [
    (("C2", "C3"), "M50.11"),
    (("C3", "C4"), "M50.11"),
    (("C4", "C5"), "M50.121"),
    (("C5", "C6"), "M50.122"),
    (("C6", "C7"), "M50.123"),
    (("C7", "T1"), "M50.13"),
]


@pytest.mark.parametrize(("segment", "code"), SEGMENTS, ids=["-".join(s) for s, _ in SEGMENTS])
def test_disc_level_codes(segment: tuple[str, str], code: str) -> None:
    assert disc_radiculopathy_code(segment) == code
    assert disc_radiculopathy_code((segment[0].lower(), segment[1].lower())) == code
    # the tabular list itself places this segment under that code
    assert any(
        f"{segment[0]}-{segment[1]} disc disorder" in term for term in cm.get_inclusion_term(code)
    )
    assert cm.is_leaf(code)


@pytest.mark.parametrize(
    ("root", "code"), [("C5", "M50.121"), ("C6", "M50.122"), ("C7", "M50.123"), ("C8", "M50.13")]
)
def test_root_codes(root: str, code: str) -> None:
    assert disc_radiculopathy_code(root=root) == code


@pytest.mark.parametrize("segment", [("C1", "C2"), ("L4", "L5"), ("C5", "C7")])
def test_no_code_for_other_segments(segment: tuple[str, str]) -> None:
    assert disc_radiculopathy_code(segment) is None


def test_no_level_no_code() -> None:
    assert disc_radiculopathy_code() is None


def test_report_description_matches(analyzer: Analyzer) -> None:
    report = analyzer.analyze("Neck pain and stiffness.")
    assert report.would_code == "M54.2"
    assert report.would_code_description == cm.get_description("M54.2")
