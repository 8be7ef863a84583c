"""Unit tests of the rule-file loader (lexicon.py): validation on load, errors, write-back.

Issue 2: the rules are validated on load; "an unknown key or a broken pattern is a clear
error naming the file and the rule". Each broken case below edits one file of a copy of the
shipped lexicons and expects a ``LexiconError`` whose message names that file.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from docgap import Analyzer
from docgap.packs.m53_0 import ELEMENTS, M530Pack
from docgap.resources import lexicon_dir
from docgap.rules.lexicon import Lexicon, LexiconError, dump_yaml, load_lexicon

TARGETS = "packs/m53.0/targets"


@pytest.fixture(scope="module")
def shipped() -> Lexicon:
    return load_lexicon()


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "lexicons"
    shutil.copytree(lexicon_dir(), target)
    return target


def edit(root: Path, relative: str, change: Callable[[Any], Any]) -> None:
    path = root / relative
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    result = change(data)
    path.write_text(
        yaml.safe_dump(data if result is None else result, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )


# --------------------------------------------------------------------------- shipped rules
def test_shipped_rules_load(shipped: Lexicon) -> None:
    assert shipped.pack.code == "M53.0"
    assert re.fullmatch(r"[0-9a-f]{64}", shipped.sha256)
    labels = {t.label for t in shipped.targets}
    expected = {
        "named_syndrome",
        "cranial_symptoms",
        "cervical_findings",
        "etiology",
        "imaging_study",
        "imaging_finding",
        "subluxation",
        "upper_extremity",
        "autonomic",
        "chiropractic_treatment",
        "cervicogenic_headache",
        "alternative_cause",
    }
    assert expected <= labels
    for relative in shipped.files:
        assert (shipped.root / relative).is_file()


def test_pack_defines_every_element(shipped: Lexicon) -> None:
    assert set(shipped.pack.elements) == set(ELEMENTS)


def test_every_gap_message_formats(shipped: Lexicon) -> None:
    """Gap messages are format strings; an unbalanced brace would fail at run time."""
    for key, gap in shipped.pack.gaps.items():
        fields = re.findall(r"{(\w+)}", gap.message)
        gap.message.format(**dict.fromkeys(fields, "x"))
        assert key and gap.message.strip()


def test_load_is_cached_per_folder(shipped: Lexicon) -> None:
    assert load_lexicon() is shipped


def test_hash_changes_with_the_rules(copy: Path, shipped: Lexicon, tmp_path: Path) -> None:
    assert load_lexicon(copy).sha256 == shipped.sha256
    changed = tmp_path / "changed"
    shutil.copytree(copy, changed)
    edit(changed, f"{TARGETS}/cranial_symptoms.yml", lambda d: d["concepts"][0].update(note="x"))
    assert load_lexicon(changed).sha256 != shipped.sha256


# --------------------------------------------------------------------------- broken copies
def _first_concept(key: str, value: Any) -> Callable[[Any], None]:
    def change(data: Any) -> None:
        data["concepts"][0][key] = value

    return change


def _duplicate_phrase(data: Any) -> None:
    data["concepts"][0].setdefault("phrases", []).append("vertigo")


def _context_unknown_key(data: Any) -> None:
    data["rules"][0]["colour"] = "red"


def _context_bad_direction(data: Any) -> None:
    data["rules"][0]["direction"] = "SIDEWAYS"


def _sections_bad_regex(data: Any) -> None:
    data["sections"][0]["patterns"] = ["(?P<unclosed"]


def _sections_bad_assertion(data: Any) -> None:
    data["sections"][0]["assertion"] = "maybe"


def _sections_bad_qualifier(data: Any) -> None:
    data["sections"][0]["qualifier"] = "NO_SUCH_QUALIFIER"


def _levels_bad_regex(data: Any) -> None:
    data["not_a_level_after"].append("[unclosed")


def _templates_missing_key(data: Any) -> None:
    del data["negate_values"]


def _pack_unknown_key(data: Any) -> None:
    data["elements"]["named_syndrome"]["weight"] = 2


def _pack_unknown_flag(data: Any) -> None:
    data["concepts"][0]["flags"] = ["generic"]


def _pack_bad_code(data: Any) -> None:
    data["codes"]["default_downcode"] = "M54.99"


def _pack_unknown_evidence_element(data: Any) -> None:
    data["evidence_elements"]["imaging_study"] = "imagery"


def _pack_unknown_neck_element(data: Any) -> None:
    data["neck"].append("neck_pain")


def _pack_context_unknown_key(data: Any) -> None:
    data["rules"][0]["colour"] = "red"


def _no_matcher(data: Any) -> None:
    concept = data["concepts"][0]
    for key in ("phrases", "regex", "patterns"):
        concept.pop(key, None)


BROKEN = [
    pytest.param(
        f"{TARGETS}/cranial_symptoms.yml",
        _first_concept("colour", "red"),
        "cranial_symptoms.yml",
        id="target-unknown-key",
    ),
    pytest.param(
        f"{TARGETS}/cranial_symptoms.yml",
        _first_concept("regex", ["(unclosed"]),
        "cranial_symptoms.yml",
        id="target-broken-regex",
    ),
    pytest.param(f"{TARGETS}/etiology.yml", _no_matcher, "etiology.yml", id="target-no-matcher"),
    pytest.param(
        f"{TARGETS}/cranial_symptoms.yml",
        _first_concept("rejected_by", ["NO_SUCH_QUALIFIER"]),
        "cranial_symptoms.yml",
        id="target-unknown-qualifier",
    ),
    pytest.param(
        f"{TARGETS}/upper_extremity.yml",
        _duplicate_phrase,
        "upper_extremity.yml",
        id="phrase-in-two-concepts",
    ),
    pytest.param(
        "common/context.yml", _context_unknown_key, "context.yml", id="context-unknown-key"
    ),
    pytest.param(
        "common/context.yml", _context_bad_direction, "context.yml", id="context-bad-direction"
    ),
    pytest.param(
        "common/sections.yml", _sections_bad_regex, "sections.yml", id="sections-broken-regex"
    ),
    pytest.param(
        "common/sections.yml",
        _sections_bad_assertion,
        "sections.yml",
        id="sections-unknown-assertion",
    ),
    pytest.param(
        "common/sections.yml",
        _sections_bad_qualifier,
        "sections.yml",
        id="sections-unknown-qualifier",
    ),
    pytest.param("common/levels.yml", _levels_bad_regex, "levels.yml", id="levels-broken-regex"),
    pytest.param(
        "common/templates.yml", _templates_missing_key, "templates.yml", id="templates-missing-key"
    ),
    pytest.param("packs/m53.0/pack.yml", _pack_unknown_key, "pack.yml", id="pack-unknown-key"),
    pytest.param("packs/m53.0/pack.yml", _pack_bad_code, "M54.99", id="pack-code-not-icd"),
    pytest.param(
        "packs/m53.0/pack.yml", _pack_unknown_evidence_element, "imagery", id="pack-evidence"
    ),
    pytest.param("packs/m53.0/pack.yml", _pack_unknown_neck_element, "neck_pain", id="pack-neck"),
    pytest.param(
        f"{TARGETS}/cranial_symptoms.yml",
        _pack_unknown_flag,
        "cranial_symptoms.yml",
        id="target-undeclared-flag",
    ),
    pytest.param(
        "packs/m53.0/context.yml",
        _pack_context_unknown_key,
        "packs/m53.0/context.yml",
        id="pack-context-unknown-key",
    ),
]


@pytest.mark.parametrize(("relative", "change", "named"), BROKEN)
def test_broken_rule_file_is_a_clear_error(
    copy: Path, relative: str, change: Callable[[Any], None], named: str
) -> None:
    edit(copy, relative, change)
    with pytest.raises(LexiconError) as info:
        load_lexicon(copy)
    assert named in str(info.value)


def test_unknown_qualifier_is_named(copy: Path) -> None:
    edit(
        copy,
        f"{TARGETS}/cranial_symptoms.yml",
        _first_concept("rejected_by", ["NO_SUCH_QUALIFIER"]),
    )
    with pytest.raises(LexiconError, match="NO_SUCH_QUALIFIER"):
        load_lexicon(copy)


def test_duplicated_phrase_is_named(copy: Path) -> None:
    edit(copy, f"{TARGETS}/upper_extremity.yml", _duplicate_phrase)
    with pytest.raises(LexiconError, match="'vertigo'"):
        load_lexicon(copy)


def test_missing_file(copy: Path) -> None:
    (copy / "common" / "sentences.yml").unlink()
    with pytest.raises(LexiconError, match=r"sentences\.yml.*missing"):
        load_lexicon(copy)


def test_invalid_yaml(copy: Path) -> None:
    (copy / "common" / "templates.yml").write_text("affirm_values: [yes\n", encoding="utf-8")
    with pytest.raises(LexiconError, match=r"templates\.yml"):
        load_lexicon(copy)


def test_no_target_files(copy: Path) -> None:
    for path in (copy / TARGETS).glob("*.yml"):
        path.unlink()
    with pytest.raises(LexiconError, match="no target files"):
        load_lexicon(copy)


def test_analyzer_refuses_a_broken_lexicon(copy: Path) -> None:
    edit(copy, f"{TARGETS}/cranial_symptoms.yml", _first_concept("regex", ["(unclosed"]))
    with pytest.raises(LexiconError):
        Analyzer(copy)


def test_error_message_quotes_no_rule_body_beyond_the_problem(copy: Path) -> None:
    """The message points at the file and the field, so a reviewer can find the rule."""
    edit(copy, f"{TARGETS}/cranial_symptoms.yml", _first_concept("colour", "red"))
    with pytest.raises(LexiconError) as info:
        load_lexicon(copy)
    message = str(info.value)
    assert "colour" in message
    assert "concepts" in message


# --------------------------------------------------------------------------- write-back
def _models(lexicon: Lexicon) -> list[tuple[str, Any]]:
    models: list[tuple[str, Any]] = [
        ("common/sections.yml", lexicon.sections),
        ("common/context.yml", lexicon.common_context),
        ("common/templates.yml", lexicon.templates),
        ("common/levels.yml", lexicon.levels),
        ("common/sentences.yml", lexicon.sentences),
        ("packs/m53.0/pack.yml", lexicon.pack),
        ("packs/m53.0/context.yml", lexicon.pack_context),
    ]
    for target in lexicon.targets:
        models.append((f"{TARGETS}/{target.label}.yml", target))
    return models


def test_dump_yaml_round_trips_every_file(shipped: Lexicon, tmp_path: Path) -> None:
    for relative, model in _models(shipped):
        out = tmp_path / relative.replace("/", "_")
        dump_yaml(model, out)
        again = type(model).model_validate(yaml.safe_load(out.read_text(encoding="utf-8")))
        assert again == model, relative


def test_rewritten_lexicon_loads_to_the_same_rules(shipped: Lexicon, copy: Path) -> None:
    for relative, model in _models(shipped):
        path = copy / relative
        if not path.exists():  # a target file named differently from its label
            matches = [
                p
                for p in (copy / TARGETS).glob("*.yml")
                if yaml.safe_load(p.read_text(encoding="utf-8"))["label"] == model.label
            ]
            (path,) = matches
        dump_yaml(model, path)
    again = load_lexicon(copy)
    for (relative, before), (_, after) in zip(_models(shipped), _models(again), strict=True):
        assert before == after, relative


# --------------------------------------------------------------------------- the pack's own schema
def test_undeclared_flag_names_file_and_concept(copy: Path) -> None:
    edit(copy, f"{TARGETS}/cranial_symptoms.yml", _pack_unknown_flag)
    with pytest.raises(
        LexiconError, match=r"cranial_symptoms\.yml: concept '\w+': flags \['generic'\]"
    ):
        load_lexicon(copy)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda d: d["parameters"].update(imaging_report_rech=400), id="misspelt"),
        pytest.param(lambda d: d["parameters"].pop("future_sections") and None, id="missing"),
        pytest.param(
            lambda d: d["parameters"].update(highest_subluxation_level="Q9"), id="not-a-level"
        ),
    ],
)
def test_pack_parameters_are_typed(copy: Path, change: Callable[[Any], Any]) -> None:
    """The M53.0 pack owns its parameters' schema: a wrong key names pack.yml."""
    edit(copy, "packs/m53.0/pack.yml", change)
    with pytest.raises(LexiconError, match=r"pack\.yml: parameters/"):
        M530Pack(load_lexicon(copy))


def test_gap_message_with_an_unsupplied_field_fails_at_construction(copy: Path) -> None:
    edit(
        copy,
        "packs/m53.0/pack.yml",
        lambda d: d["gaps"]["missing_imaging"].update(message="No imaging ({study})."),
    )
    with pytest.raises(LexiconError, match=r"gap 'missing_imaging'.*\['study'\]"):
        M530Pack(load_lexicon(copy))


def test_missing_code_role_is_named(copy: Path) -> None:
    edit(copy, "packs/m53.0/pack.yml", lambda d: d["codes"].pop("cervicobrachial") and None)
    with pytest.raises(LexiconError, match="cervicobrachial"):
        M530Pack(load_lexicon(copy))


def test_codes_are_read_from_pack_yml(copy: Path) -> None:
    """A code category with a trailing '-' is checked as its category."""
    lexicon = load_lexicon(copy)
    assert lexicon.pack.codes["disc_radiculopathy"] == "M50.1-"
    assert "alternatives" not in type(lexicon.pack).model_fields


def test_pack_context_runs_after_the_common_context(shipped: Lexicon) -> None:
    """Moving the M53.0-only modifiers keeps every group, in the same order."""
    assert shipped.common_context is not None and shipped.pack_context is not None
    assert list(shipped.context.rules) == [
        *shipped.common_context.rules,
        *shipped.pack_context.rules,
    ]
    pack_categories = {g.category for g in shipped.pack_context.rules}
    assert {"OTHER_MANIPULATOR", "PERFORMED_TODAY", "PENDING_RESULT", "WITH_HEADACHE"} <= (
        pack_categories
    )
    assert "packs/m53.0/context.yml" in shipped.files


def test_region_names_come_from_levels_yml(shipped: Lexicon) -> None:
    region = shipped.levels.region
    assert (region.name, region.outside) == ("cervical", "non_cervical")
    assert region.qualifier in {g.category for g in shipped.context.rules}


def test_unknown_pack_name_in_folder(copy: Path) -> None:
    with pytest.raises(LexiconError, match=r"no pack\.yml declares name 'x99\.v1'"):
        load_lexicon(copy, "x99.v1")
