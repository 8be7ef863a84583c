"""The M53.0 decision on hand-built mentions: spec section 3's rows and section 4's gaps.

No pipeline runs here: each case lists the mentions a note would yield and checks what the
pack decides from them alone, so a change in the decision shows up apart from any change
in what the NLP finds.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import pytest

from docgap.nlp.levels import LevelMention, index_of
from docgap.nlp.mentions import Mention
from docgap.packs.base import Decision
from docgap.packs.m53_0 import M530Pack
from docgap.packs.registry import get_pack_class
from docgap.rules.lexicon import LexiconError, load_lexicon


@pytest.fixture(scope="module")
def pack() -> M530Pack:
    return M530Pack(load_lexicon())


_position = 0


def mention(
    label: str,
    text: str = "x",
    *,
    concept: str | None = None,
    assertion: str = "affirmed",
    flags: Iterable[str] = (),
    region: str = "unknown",
    section: str | None = None,
    rejection: str | None = None,
    levels: tuple[LevelMention, ...] = (),
) -> Mention:
    """One mention in its own sentence, after the previous one."""
    global _position
    start = _position
    _position += len(text) + 2
    return Mention(
        label=label,
        concept=concept or label,
        group=concept or label,
        text=text,
        start=start,
        end=start + len(text),
        sentence_start=start,
        sentence_end=start + len(text) + 1,
        section=section,
        assertion=assertion,
        assertion_source="context" if assertion != "affirmed" else "default",
        qualifiers=frozenset(),
        modifiers=(),
        flags=frozenset(flags),
        rule=f"{label}: test",
        levels=levels,
        rejection=rejection,
        region=region,
    )


def decide(pack: M530Pack, *mentions: Mention) -> Decision:
    text = " " * (_position + 1)
    return pack.decide(list(mentions), [], [], text)


def gap_keys(decision: Decision) -> list[str]:
    return [g.key for g in decision.gaps]


NAMED = ("named_syndrome", "cervicocranial syndrome")
CRANIAL = ("cranial_symptoms", "occipital headache")
NECK = ("cervical_findings", "neck pain")
ARM = ("upper_extremity", "pain radiating down the arm")


def test_registered_as_m53_0_v1(pack: M530Pack) -> None:
    assert get_pack_class("m53_0.v1") is M530Pack
    assert (pack.name, pack.code) == ("m53_0.v1", "M53.0")
    assert pack.elements[0] == "named_syndrome" and len(pack.elements) == 8


# ------------------------------------------------------------------ row 1: not_applicable
def test_row1_nothing_cervical_is_not_applicable(pack: M530Pack) -> None:
    decision = decide(pack, mention(*CRANIAL), mention("autonomic", "facial flushing"))
    assert (decision.status, decision.would_code) == ("not_applicable", None)
    assert decision.elements["cranial_symptoms"] and not decision.elements["cervical_findings"]
    assert decision.gaps == []


def test_row1_negated_neck_pain_does_not_apply(pack: M530Pack) -> None:
    decision = decide(pack, mention(*NECK, assertion="negated"))
    assert decision.status == "not_applicable"
    (evidence,) = decision.evidence
    assert not evidence.counted and evidence.reason == "assertion: negated"


def test_row1_non_cervical_finding_does_not_apply(pack: M530Pack) -> None:
    decision = decide(pack, mention(*NECK, region="non_cervical"))
    assert decision.status == "not_applicable"
    assert decision.evidence[0].reason == "region: not cervical"


# ------------------------------------------------------------------ row 2: redirect
def test_row2_arm_symptoms_without_the_syndrome_redirect_to_m53_1(pack: M530Pack) -> None:
    decision = decide(pack, mention(*NECK), mention(*ARM))
    assert (decision.status, decision.would_code) == ("redirect", "M53.1")
    assert "redirect" in gap_keys(decision)


def test_row2_radiculopathy_redirects_to_m54_12(pack: M530Pack) -> None:
    decision = decide(pack, mention(*ARM, flags=["radiculopathy"]))
    assert (decision.status, decision.would_code) == ("redirect", "M54.12")


def test_row2_disc_disorder_with_radiculopathy_redirects_to_m50_1(pack: M530Pack) -> None:
    decision = decide(
        pack,
        mention(*NECK),
        mention(*ARM, flags=["radiculopathy"]),
        mention("etiology", "disc herniation", flags=["disc_disorder"], region="cervical"),
    )
    assert (decision.status, decision.would_code) == ("redirect", "M50.1-")


# ------------------------------------------------------------------ row 3: supported
def test_row3_named_cranial_and_cervical_is_supported(pack: M530Pack) -> None:
    decision = decide(pack, mention(*NAMED), mention(*CRANIAL), mention(*NECK))
    assert (decision.status, decision.would_code) == ("supported", "M53.0")
    assert gap_keys(decision) == ["missing_etiology", "missing_imaging"]
    assert not decision.query_opportunity


def test_row3_with_etiology_and_spondylosis_asks_for_the_secondary_code(
    pack: M530Pack,
) -> None:
    decision = decide(
        pack,
        mention(*NAMED),
        mention(*CRANIAL),
        mention(*NECK),
        mention("etiology", "cervical spondylosis", flags=["spondylosis"], region="cervical"),
    )
    assert decision.status == "supported"
    assert decision.elements["etiology"]
    spondylosis = next(g for g in decision.gaps if g.key == "secondary_code_spondylosis")
    assert spondylosis.codes == ("M47.812",)
    assert "M47.812" in spondylosis.message


# ------------------------------------------------------------------ row 4: at_risk
def test_row4_named_alone_is_at_risk_with_each_missing_element(pack: M530Pack) -> None:
    decision = decide(pack, mention(*NAMED))
    assert (decision.status, decision.would_code) == ("at_risk", "M53.0")
    assert gap_keys(decision)[:2] == ["missing_cranial_symptoms", "missing_cervical_findings"]


def test_row4_chiropractic_without_a_level_is_at_risk(pack: M530Pack) -> None:
    decision = decide(
        pack,
        mention(*NAMED),
        mention(*CRANIAL),
        mention(*NECK),
        mention("chiropractic_treatment", "CMT", flags=["explicit"]),
    )
    assert decision.chiropractic
    assert decision.status == "at_risk"
    keys = gap_keys(decision)
    assert "missing_subluxation_level" in keys and "chiropractic_pairing" in keys
    pairing = next(g for g in decision.gaps if g.key == "chiropractic_pairing")
    assert pairing.codes == ("M99.01",) and "Levels documented: none." in pairing.message


def test_row4_named_with_arm_symptoms_asks_to_confirm_m53_0(pack: M530Pack) -> None:
    decision = decide(pack, mention(*NAMED), mention(*CRANIAL), mention(*NECK), mention(*ARM))
    assert decision.status == "supported"
    gap = next(g for g in decision.gaps if g.key == "upper_extremity_with_syndrome")
    assert gap.codes == ("M53.1",)


# ------------------------------------------------------------------ row 5: downcode
def test_row5_cervical_problem_without_the_syndrome_downcodes(pack: M530Pack) -> None:
    decision = decide(pack, mention(*NECK))
    assert (decision.status, decision.would_code) == ("downcode", "M54.2")
    gap = next(g for g in decision.gaps if g.key == "missing_named_syndrome")
    assert gap.codes == ("M54.2",) and "M54.2" in gap.message


def test_row5_cranial_and_cervical_is_a_query_opportunity(pack: M530Pack) -> None:
    decision = decide(pack, mention(*CRANIAL), mention(*NECK))
    assert decision.status == "downcode" and decision.query_opportunity
    gap = next(g for g in decision.gaps if g.key == "query_opportunity")
    assert "occipital headache" in gap.message and "neck pain" in gap.message


def test_row5_uncertain_syndrome_is_not_named(pack: M530Pack) -> None:
    decision = decide(pack, mention(*NAMED, assertion="uncertain"), mention(*NECK))
    assert decision.status == "downcode"
    assert "uncertain_syndrome" in gap_keys(decision)


def test_row5_cervicogenic_headache_gap(pack: M530Pack) -> None:
    decision = decide(
        pack, mention(*NECK), mention("cervicogenic_headache", "cervicogenic headache")
    )
    gap = next(g for g in decision.gaps if g.key == "cervicogenic_headache_named")
    assert gap.codes == ("G44.86",)


# ------------------------------------------------------------------ etiology and evidence
def test_past_trauma_counts_only_beside_a_present_problem(pack: M530Pack) -> None:
    alone = decide(pack, mention("etiology", "whiplash", flags=["trauma"], region="cervical"))
    assert alone.status == "not_applicable"
    assert alone.evidence[0].reason == "no present cervical problem it would cause"
    beside = decide(
        pack, mention(*NECK), mention("etiology", "whiplash", flags=["trauma"], region="cervical")
    )
    assert beside.elements["etiology"]


def test_evidence_is_reported_under_the_pack_yml_element(pack: M530Pack) -> None:
    decision = decide(pack, mention(*NECK), mention("imaging_study", "MRI C-spine"))
    study = next(e for e in decision.evidence if e.label == "imaging_study")
    assert study.element == "imaging"
    assert not study.counted and study.reason == "no abnormal result stated"


# ------------------------------------------------------------------ competing diagnoses
@pytest.mark.parametrize(
    ("flag", "code"),
    [
        ("competing_cervicogenic_headache", "G44.86"),
        ("competing_neck_strain", "S16.1-"),
        ("competing_cervical_sprain", "S13.4-"),
        ("competing_whiplash", "S13.4-"),
        ("competing_headache_disorder", "M54.2"),
    ],
)
def test_row5_competing_diagnosis_in_the_assessment_sets_the_code_and_ends_the_query(
    pack: M530Pack, flag: str, code: str
) -> None:
    competing = mention("competing_diagnosis", "dx", flags=[flag], section="assessment")
    decision = decide(pack, mention(*CRANIAL), mention(*NECK), competing)
    assert (decision.status, decision.would_code) == ("downcode", code)
    assert not decision.query_opportunity
    assert "query_opportunity" not in gap_keys(decision)


@pytest.mark.parametrize(
    ("section", "assertion"),
    [
        ("history_of_present_illness", "affirmed"),
        ("assessment", "uncertain"),
        ("assessment", "negated"),
        ("assessment", "family"),
    ],
)
def test_row5_competing_diagnosis_outside_the_assessment_or_not_affirmed_is_none(
    pack: M530Pack, section: str, assertion: str
) -> None:
    competing = mention(
        "competing_diagnosis",
        "neck strain",
        flags=["competing_neck_strain"],
        section=section,
        assertion=assertion,
    )
    decision = decide(pack, mention(*CRANIAL), mention(*NECK), competing)
    assert decision.would_code == "M54.2" and decision.query_opportunity


def test_row5_the_first_competing_flag_listed_wins(pack: M530Pack) -> None:
    headache = mention(
        "cervicogenic_headache",
        "cervicogenic headache",
        flags=["competing_cervicogenic_headache"],
        section="assessment",
    )
    sprain = mention(
        "competing_diagnosis",
        "cervical sprain",
        flags=["competing_cervical_sprain"],
        section="assessment",
    )
    assert decide(pack, mention(*NECK), headache, sprain).would_code == "S13.4-"


def test_competing_diagnosis_does_not_change_a_named_syndrome(pack: M530Pack) -> None:
    competing = mention(
        "competing_diagnosis",
        "neck strain",
        flags=["competing_neck_strain"],
        section="assessment",
    )
    decision = decide(pack, mention(*NAMED), mention(*CRANIAL), mention(*NECK), competing)
    assert (decision.status, decision.would_code) == ("supported", "M53.0")


# ------------------------------------------------------------------ code only
def test_a_bare_code_names_nothing_and_gets_its_own_gap(pack: M530Pack) -> None:
    code = mention("named_syndrome", "M53.0", flags=["code_only"], section="assessment")
    decision = decide(pack, mention(*NECK), code)
    assert decision.status == "downcode" and not decision.elements["named_syndrome"]
    keys = gap_keys(decision)
    assert "documented_by_code_only" in keys and "missing_named_syndrome" not in keys
    gap = next(g for g in decision.gaps if g.key == "documented_by_code_only")
    assert "M53.0" in gap.message and "in words" in gap.message
    bare = next(e for e in decision.evidence if e.text == "M53.0")
    assert not bare.counted and bare.reason == "a code without diagnostic words names nothing"


def test_a_code_beside_the_words_is_no_gap(pack: M530Pack) -> None:
    code = mention("named_syndrome", "M53.0", flags=["code_only"])
    decision = decide(pack, mention(*NAMED), mention(*CRANIAL), mention(*NECK), code)
    assert decision.status == "supported"
    assert "documented_by_code_only" not in gap_keys(decision)


# ------------------------------------------------------------------ pack.yml validation
def _pack_yml_with(tmp_path: Path, old: str, new: str) -> Path:
    root = tmp_path / "lexicons"
    shutil.copytree(load_lexicon().root, root)
    pack_yml = root / "packs" / "m53.0" / "pack.yml"
    text = pack_yml.read_text(encoding="utf-8")
    assert old in text
    pack_yml.write_text(text.replace(old, new), encoding="utf-8")
    return root


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        (
            "    competing_neck_strain: neck_muscle_strain",
            "    competing_neck_strian: neck_muscle_strain",
            "'competing_neck_strian' is not declared",
        ),
        (
            "    competing_neck_strain: neck_muscle_strain",
            "    competing_neck_strain: neck_strain",
            "'neck_strain' is not a role",
        ),
    ],
)
def test_competing_diagnoses_must_name_declared_flags_and_code_roles(
    tmp_path: Path, old: str, new: str, says: str
) -> None:
    root = _pack_yml_with(tmp_path, old, new)
    with pytest.raises(LexiconError, match=says):
        M530Pack(load_lexicon(root))


# ------------------------------------------------------------------ chiropractic daily notes
def _treatment(*, qualifiers: frozenset[str] = frozenset(), levels: bool = True) -> Mention:
    atlas = index_of("C1")
    assert atlas is not None
    stated = (LevelMention(0, 2, "C1", atlas, atlas),) if levels else ()
    m = mention("chiropractic_treatment", "CMT", flags=["explicit"], section="plan")
    return replace(m, qualifiers=qualifiers, levels=stated)


def test_a_treatment_line_naming_levels_in_the_plan_records_todays_cmt(pack: M530Pack) -> None:
    assert decide(pack, mention(*NECK), _treatment()).chiropractic


def test_a_treatment_in_the_plan_without_levels_or_scheduled_later_is_planned(
    pack: M530Pack,
) -> None:
    assert not decide(pack, mention(*NECK), _treatment(levels=False)).chiropractic
    later = _treatment(qualifiers=frozenset({"PLANNED_LATER"}))
    decision = decide(pack, mention(*NECK), later)
    assert not decision.chiropractic
    cmt = next(e for e in decision.evidence if e.label == "chiropractic_treatment")
    assert cmt.reason == "planned (plan section), not performed this visit"


def test_row5_the_injury_named_in_words_wins_over_whiplash(pack: M530Pack) -> None:
    strain = mention(
        "competing_diagnosis",
        "cervical strain",
        flags=["competing_neck_strain"],
        section="assessment",
    )
    whiplash = mention("etiology", "whiplash", flags=["competing_whiplash"], section="assessment")
    assert decide(pack, mention(*NECK), whiplash, strain).would_code == "S16.1-"
