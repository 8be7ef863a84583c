"""The M53.0 code pack: elements, status, would-code and gaps (spec sections 2-4).

The decision (spec section 3) is the code below; everything it reads that a reviewer may
tune -- codes by role, element attributes, flags, parameters, gap messages -- is in
``lexicons/packs/m53.0/`` and validated when the pack is built. The mentions it reads are
produced by the generic machinery; the analyzer finds this class through the registry as
``m53_0.v1``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from docgap.nlp.levels import LevelMention, index_of, name_of
from docgap.nlp.mentions import Mention, Section
from docgap.packs.base import Decision, Findings, GapBuilder, RegionGate, count_or_reject
from docgap.packs.info import pack_info
from docgap.report import Evidence, Gap
from docgap.rules.codes import describe, disc_radiculopathy_code
from docgap.rules.lexicon import Lexicon, LexiconError

__all__ = ["NAME", "Decision", "M530Pack", "M530Parameters"]

NAME = "m53_0.v1"

# The codes the decision names, by the role pack.yml's ``codes:`` gives them.
CODE_ROLES: tuple[str, ...] = (
    "default_downcode",
    "radiculopathy",
    "cervicobrachial",
    "disc_radiculopathy",
    "chiropractic_subluxation",
    "secondary_spondylosis",
    "secondary_disc_degeneration",
    "cervicogenic_headache",
)

# Each gap this pack produces and the fields its message may use besides {code}.
GAP_FIELDS: dict[str, tuple[str, ...]] = {
    "missing_cranial_symptoms": (),
    "missing_cervical_findings": (),
    "missing_subluxation_level": (),
    "missing_named_syndrome": ("would_code", "would_code_description"),
    "query_opportunity": ("cranial", "cervical"),
    "upper_extremity_with_syndrome": ("code_description", "m53_1_description"),
    "missing_etiology": (),
    "missing_imaging": (),
    "secondary_code_spondylosis": ("secondary", "secondary_description"),
    "secondary_code_disc_degeneration": ("secondary", "secondary_description"),
    "cervicogenic_headache_named": ("g44", "g44_description"),
    "chiropractic_pairing": ("m99", "m99_description", "levels"),
    "redirect": ("would_code", "would_code_description"),
    "uncertain_syndrome": ("assertion",),
    "documented_by_code_only": ("codes_written",),
}

# The flag of a mention that is the code written without words (named_syndrome.yml).
CODE_ONLY_FLAG = "code_only"


def __getattr__(name: str) -> tuple[str, ...]:
    """``ELEMENTS``: the pack's elements in pack.yml order (read lazily, from pack.yml only)."""
    if name == "ELEMENTS":
        return pack_info(NAME).elements
    raise AttributeError(name)


class M530Parameters(BaseModel):
    """pack.yml ``parameters:`` of the M53.0 pack; every key is required, none is unknown."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    highest_subluxation_level: str
    subluxation_sections: list[str]
    subluxation_is_cervical_finding: bool
    imaging_sections: list[str]
    imaging_report_reach: Annotated[int, Field(ge=0)]
    future_sections: list[str]
    attribution_sections: list[str]
    tied_to_neck_qualifiers: list[str]
    # An element whose tie to the neck is read from other qualifiers than the default: the
    # neck named beside a cranial symptom is no tie, beside an arm symptom it usually is.
    tied_to_neck_by_element: dict[str, list[str]] = Field(default_factory=dict)
    narrative_sections: list[str]
    performed_qualifier: str
    treated_levels_record_treatment: bool
    planned_qualifier: str
    competing_diagnoses: dict[str, str | None]

    @field_validator("highest_subluxation_level")
    @classmethod
    def _is_a_vertebra(cls, value: str) -> str:
        if index_of(value) is None:
            raise ValueError(f"{value!r} is not a vertebra (C0..S5)")
        return value


class M530Pack:
    """Decides whether a note supports M53.0, built once from the lexicon."""

    def __init__(self, lexicon: Lexicon) -> None:
        pack = lexicon.pack
        where = str((lexicon.pack_dir or lexicon.root) / "pack.yml")
        if pack.name != NAME:
            raise LexiconError(f"{where}: declares pack {pack.name!r}, not {NAME!r}")
        self.name = NAME
        self.code = pack.code
        self.version = pack.version
        self.elements: tuple[str, ...] = tuple(pack.elements)
        try:
            params = M530Parameters.model_validate(pack.parameters)
        except ValidationError as exc:
            problems = "; ".join(
                f"parameters/{'/'.join(str(p) for p in err['loc'])}: {err['msg']}"
                for err in exc.errors()
            )
            raise LexiconError(f"{where}: {problems}") from None
        missing = [role for role in CODE_ROLES if role not in pack.codes]
        if missing:
            raise LexiconError(f"{where}: codes lacks the roles {missing}")
        self._codes = dict(pack.codes)
        for flag, role in params.competing_diagnoses.items():
            if flag not in pack.flags:
                raise LexiconError(
                    f"{where}: parameters/competing_diagnoses: flag {flag!r} is not declared "
                    "(flags:)"
                )
            if role is not None and role not in pack.codes:
                raise LexiconError(
                    f"{where}: parameters/competing_diagnoses/{flag}: {role!r} is not a role "
                    "of codes:"
                )
        self._competing = dict(params.competing_diagnoses)
        categories = {group.category for group in lexicon.context.rules}
        for key in ("performed_qualifier", "planned_qualifier"):
            if getattr(params, key) not in categories:
                raise LexiconError(
                    f"{where}: parameters/{key}: {getattr(params, key)!r} is not a category "
                    "of any context rule"
                )
        # The rejecting qualifiers of each competing concept (its requires_any is left out:
        # it says when the mention is also a symptom, not whether the diagnosis is named).
        self._competing_rules = {
            (target.label, concept.concept): (
                frozenset({*target.rejected_by, *concept.rejected_by}),
                frozenset({*target.rescued_by, *concept.rescued_by}),
            )
            for target, concept in lexicon.concepts()
            if set(concept.flags) & self._competing.keys()
        }
        self._counts = {name: tuple(el.counts) for name, el in pack.elements.items()}
        gate = RegionGate(lexicon.levels.region.name, lexicon.levels.region.outside)
        self._gate = gate
        self._gates = {
            name: (gate if el.region_gated else None) for name, el in pack.elements.items()
        }
        self._attributable = tuple(n for n, el in pack.elements.items() if el.attributable)
        self._applicability = tuple(n for n, el in pack.elements.items() if el.applicability)
        self._neck = tuple(pack.neck)
        self._evidence_element = dict(pack.evidence_elements)
        self._symptom_labels = tuple(pack.symptom_labels)
        self._region_lowest = index_of(lexicon.levels.region.lowest)
        self._gap = GapBuilder(pack.gaps, GAP_FIELDS, constants={"code": self.code}, where=where)
        highest = index_of(params.highest_subluxation_level)
        assert highest is not None  # checked by M530Parameters
        self._highest = highest
        self._subluxation_sections = frozenset(params.subluxation_sections)
        self._imaging_sections = frozenset(params.imaging_sections)
        self._report_reach = params.imaging_report_reach
        self._future_sections = frozenset(params.future_sections)
        self._performed = params.performed_qualifier
        self._treated_levels_record = params.treated_levels_record_treatment
        self._planned = params.planned_qualifier
        self._subluxation_is_finding = params.subluxation_is_cervical_finding
        self._attribution_sections = frozenset(params.attribution_sections)
        self._tied_to_neck = frozenset(params.tied_to_neck_qualifiers)
        self._tied_by_element = self._ties_by_element(params, categories, where)
        self._narrative_sections = frozenset(params.narrative_sections)
        self._not_current_sections = frozenset(
            s.category for s in lexicon.sections.sections if s.assertion
        )

    def _ties_by_element(
        self, params: M530Parameters, categories: set[str], where: str
    ) -> dict[str, frozenset[str]]:
        """parameters.tied_to_neck_by_element, checked: attributable elements, known qualifiers."""
        ties: dict[str, frozenset[str]] = {}
        for element, qualifiers in params.tied_to_neck_by_element.items():
            if element not in self._attributable:
                raise LexiconError(
                    f"{where}: parameters/tied_to_neck_by_element: {element!r} is not an "
                    "attributable element"
                )
            unknown = [q for q in qualifiers if q not in categories]
            if unknown:
                raise LexiconError(
                    f"{where}: parameters/tied_to_neck_by_element/{element}: {unknown} are not "
                    "categories of any context rule"
                )
            ties[element] = frozenset(qualifiers)
        return ties

    # ------------------------------------------------------------------ elements
    def _simple(self, found: Findings, mentions: list[Mention], label: str) -> None:
        """Mentions of ``label`` (or flagged ``also_<label>``) count or get their reason."""
        also = f"also_{label}"
        for m in mentions:
            if m.label != label and also not in m.flags:
                continue
            reason = count_or_reject(m, self._counts[label], self._gates[label])
            if reason is None and CODE_ONLY_FLAG in m.flags:
                reason = "a code without diagnostic words names nothing"
            if reason is None:
                found.add(label, m)
            else:
                found.reject(m, reason)

    def _etiology(self, found: Findings, mentions: list[Mention], neck: bool) -> None:
        """A cervical cause counts; a past or traumatic one only beside a present problem.

        Spec section 1: "a past cause of a present condition" counts.
        """
        for m in mentions:
            if m.label != "etiology":
                continue
            reason = count_or_reject(m, self._counts["etiology"], self._gates["etiology"])
            if reason is not None:
                found.reject(m, reason)
            elif not neck and (
                m.region == "unknown" or m.assertion != "affirmed" or "trauma" in m.flags
            ):
                found.reasons[id(m)] = "no present cervical problem it would cause"
            else:
                found.add("etiology", m)

    def _imaging(self, found: Findings, mentions: list[Mention], neck: bool, text: str) -> None:
        """A study counts with an abnormal finding stated in its sentence or its report line."""
        counts = self._counts["imaging"]
        studies: list[Mention] = []
        for m in mentions:
            if m.label != "imaging_study":
                continue
            reason = count_or_reject(m, counts, self._gates["imaging"])
            if reason is not None:
                found.reject(m, reason)
            else:
                studies.append(m)
        for m in mentions:
            is_finding = m.label == "imaging_finding" or (
                m.label == "etiology" and "imaging_finding" in m.flags
            )
            if not is_finding or not m.counts_as(counts) or m.region == self._gate.outside:
                if m.label == "imaging_finding":
                    found.reasons[id(m)] = m.rejection or f"assertion: {m.assertion}"
                continue
            paired = [s for s in studies if self._reports(s, m, text)]
            inside = self._gate.inside
            cervical = m.region == inside or any(s.region == inside for s in paired)
            if paired and (cervical or neck):
                found.add("imaging", m)
                for study in paired:
                    if not found.is_counted(study):
                        found.add("imaging", study)
            elif m.section in self._imaging_sections and (cervical or neck):
                found.add("imaging", m)
            elif m.label == "imaging_finding":
                found.reasons[id(m)] = "no imaging study with this result"
        for study in studies:
            if not found.is_counted(study):
                found.reasons[id(study)] = "no abnormal result stated"

    def _reports(self, study: Mention, finding: Mention, text: str) -> bool:
        """Whether ``finding`` is stated as ``study``'s result (same sentence or report line)."""
        if study.sentence_start == finding.sentence_start:
            return True
        gap = finding.start - study.end
        return 0 <= gap <= self._report_reach and "\n" not in text[study.end : finding.start]

    def _subluxation(
        self,
        found: Findings,
        mentions: list[Mention],
        levels: list[LevelMention],
        sections: list[Section],
    ) -> None:
        highest = self._highest
        negated_sentences = set()
        for m in mentions:
            if m.label != "subluxation":
                continue
            if not m.counts_as(self._counts["subluxation_level"]):
                found.reasons[id(m)] = m.rejection or f"assertion: {m.assertion}"
                negated_sentences.add(m.sentence_start)
                continue
            # a dermatome of a sensory exam ("sensation intact C5-T1") is no subluxation level
            stated = [lv for lv in m.levels if lv.reaches_at_or_above(highest) and not lv.exam]
            if stated:
                found.add("subluxation_level", m)
            elif m.levels:
                found.reasons[id(m)] = "level below " + name_of(highest)
            else:
                found.reasons[id(m)] = "no level stated"
        by_section = [(s.start, s.end, s.category) for s in sections]
        for level in levels:
            section = next((c for a, b, c in by_section if a <= level.start < b), None)
            if section in self._not_current_sections:
                continue
            if level.listing:
                why = "chiropractic listing"
            elif section in self._subluxation_sections:
                why = "listed under a subluxation heading"
            else:
                continue
            if level.reaches_at_or_above(highest) and not any(
                a <= level.start < b for a, b in self._sentence_spans(mentions, negated_sentences)
            ):
                found.level_evidence.append((level, why, section))

    @staticmethod
    def _sentence_spans(mentions: list[Mention], starts: set[int]) -> Iterable[tuple[int, int]]:
        for m in mentions:
            if m.sentence_start in starts:
                yield m.sentence_start, m.sentence_end

    def _chiropractic(self, found: Findings, mentions: list[Mention]) -> None:
        treatments = [m for m in mentions if m.label == "chiropractic_treatment"]
        provider = any("provider" in m.flags and m.assertion == "affirmed" for m in treatments)
        for m in treatments:
            if "provider" in m.flags:
                continue
            if not m.counts_as(("affirmed",)):
                found.reasons[id(m)] = m.rejection or f"assertion: {m.assertion}"
            elif (
                m.section in self._future_sections
                and "billed" not in m.flags
                and self._performed not in m.qualifiers
                and not self._records_treatment_given(m)
            ):
                found.reasons[id(m)] = f"planned ({m.section} section), not performed this visit"
            elif "explicit" in m.flags or provider:
                found.add("chiropractic", m)
            else:
                found.reasons[id(m)] = "manipulation not documented as chiropractic"

    def _records_treatment_given(self, m: Mention) -> bool:
        """A treatment line naming the levels treated, not scheduled for later (spec 1).

        "P: CMT diversified to C1 and C2" records what was done; "continue CMT 2x/week"
        plans it (parameters.treated_levels_record_treatment, planned_qualifier).
        """
        return self._treated_levels_record and bool(m.levels) and self._planned not in m.qualifiers

    def _attribute(self, found: Findings, mentions: list[Mention]) -> None:
        """Drop symptoms the note explains by another cause (spec section 2)."""
        causes = [m for m in mentions if m.explains and m.counts_as(("affirmed",))]
        if not causes:
            return
        for label in self._attributable:
            tied = self._tied_by_element.get(label, self._tied_to_neck)
            kept = []
            for m in found.of(label):
                cause = next(
                    (
                        c
                        for c in causes
                        if m.concept in c.explains
                        and (
                            c.sentence_start == m.sentence_start
                            or (
                                c.section in self._attribution_sections
                                and not m.qualifiers & tied
                            )
                        )
                    ),
                    None,
                )
                if cause is None:
                    kept.append(m)
                else:
                    found.reasons[id(m)] = f"attributed to another cause: {cause.text!r}"
            found.keep(label, kept)

    def _narrative_wins(self, found: Findings, mentions: list[Mention]) -> None:
        """A stale template or carried-forward line loses to the current history (spec 1)."""
        denied = {
            m.group
            for m in mentions
            if m.section in self._narrative_sections and m.assertion == "negated"
        }
        if not denied:
            return
        for label in self._symptom_labels:
            counted = found.of(label)
            affirmed_now = {m.group for m in counted if m.section in self._narrative_sections}
            kept = []
            for m in counted:
                if (
                    m.group in denied
                    and m.group not in affirmed_now
                    and m.section not in self._narrative_sections
                ):
                    found.reasons[id(m)] = "contradicted by the current history"
                else:
                    kept.append(m)
            found.keep(label, kept)

    # ------------------------------------------------------------------ decision
    def decide(
        self,
        mentions: list[Mention],
        levels: list[LevelMention],
        sections: list[Section],
        text: str,
    ) -> Decision:
        """Status, would-code, elements, gaps and evidence for one note."""
        found = Findings()
        for label in ("named_syndrome", "cranial_symptoms", "cervical_findings"):
            self._simple(found, mentions, label)
        for label in ("upper_extremity", "autonomic"):
            self._simple(found, mentions, label)
        self._attribute(found, mentions)
        self._narrative_wins(found, mentions)
        self._subluxation(found, mentions, levels, sections)
        if self._subluxation_is_finding:
            for m in found.of("subluxation_level"):
                if any(self._in_region(lv) for lv in m.levels) and not found.is_counted_as(
                    "cervical_findings", m
                ):
                    found.add("cervical_findings", m)
        self._chiropractic(found, mentions)
        neck = any(found.has(element) for element in self._neck)
        self._imaging(found, mentions, neck, text)
        self._etiology(found, mentions, neck)

        elements = {name: found.has(name) for name in self.elements}
        if found.level_evidence:
            elements["subluxation_level"] = True
        chiropractic = found.has("chiropractic")
        status, would_code = self._status(elements, chiropractic, found)
        competing = self._competing_diagnosis(mentions)
        if status == "downcode" and competing is not None:
            role = self._competing[next(f for f in self._competing if f in competing.flags)]
            if role is not None:
                would_code = self._codes[role]
        query = (
            status == "downcode"
            and elements["cranial_symptoms"]
            and elements["cervical_findings"]
            and competing is None
        )
        gaps = self._gaps_for(
            status, would_code, elements, chiropractic, found, mentions, levels, query
        )
        evidence = self._evidence(found, mentions)
        return Decision(status, would_code, elements, chiropractic, gaps, evidence, query)

    def _status(
        self, el: dict[str, bool], chiropractic: bool, found: Findings
    ) -> tuple[str, str | None]:
        applicable = any(el[k] for k in self._applicability)
        if not applicable:
            return "not_applicable", None
        if el["upper_extremity"] and not el["named_syndrome"]:
            return "redirect", self._redirect_code(found)
        if (
            el["named_syndrome"]
            and el["cranial_symptoms"]
            and el["cervical_findings"]
            and (not chiropractic or el["subluxation_level"])
        ):
            return "supported", self.code
        if el["named_syndrome"]:
            return "at_risk", self.code
        return "downcode", self._codes["default_downcode"]

    def _competing_diagnosis(self, mentions: list[Mention]) -> Mention | None:
        """The competing diagnosis the note's own assessment names (spec section 3, rule 5).

        Affirmed, in an attribution section, carrying a ``competing_diagnoses`` flag; with
        several, the one whose flag comes first in that parameter. An uncertain, negated or
        reported diagnosis, or one outside the assessment, competes with nothing.
        """
        named = [
            m
            for m in mentions
            if m.section in self._attribution_sections
            and m.flags & self._competing.keys()
            and self._names_diagnosis(m)
        ]
        for flag in self._competing:
            for m in named:
                if flag in m.flags:
                    return m
        return None

    def _names_diagnosis(self, m: Mention) -> bool:
        """Affirmed and not rejected by its concept's qualifiers (e.g. only reported)."""
        if m.assertion != "affirmed":
            return False
        rejected_by, rescued_by = self._competing_rules.get(
            (m.label, m.concept), (frozenset(), frozenset())
        )
        return not (m.qualifiers & rejected_by and not m.qualifiers & rescued_by)

    def _redirect_code(self, found: Findings) -> str:
        radiculopathy = [m for m in found.of("upper_extremity") if "radiculopathy" in m.flags]
        discs = [
            m
            for m in found.of("etiology")
            if "disc_disorder" in m.flags and m.assertion == "affirmed"
        ]
        if radiculopathy and discs:
            return self._disc_code(discs, radiculopathy)
        if radiculopathy:
            return self._codes["radiculopathy"]
        return self._codes["cervicobrachial"]

    def _disc_code(self, discs: list[Mention], radiculopathy: list[Mention]) -> str:
        """M50.1- completed to its level when the documented level names one code."""
        category = self._codes["disc_radiculopathy"]
        codes: set[str] = set()
        for m in discs:
            for lv in m.levels:
                if lv.high - lv.low == 1:
                    code = disc_radiculopathy_code(
                        (name_of(lv.low), name_of(lv.high)), category=category
                    )
                    if code:
                        codes.add(code)
        if not codes:
            for m in radiculopathy:
                for lv in m.levels:
                    if lv.low == lv.high:
                        code = disc_radiculopathy_code(root=name_of(lv.low), category=category)
                        if code:
                            codes.add(code)
        return codes.pop() if len(codes) == 1 else category

    def _in_region(self, level: LevelMention) -> bool:
        """Whether ``level`` is in the region (levels.yml ``region.lowest`` or above)."""
        return self._region_lowest is not None and level.low <= self._region_lowest

    # ------------------------------------------------------------------ gaps

    def _gaps_for(
        self,
        status: str,
        would_code: str | None,
        el: dict[str, bool],
        chiropractic: bool,
        found: Findings,
        mentions: list[Mention],
        levels: list[LevelMention],
        query: bool,
    ) -> list[Gap]:
        gaps: list[Gap] = []
        c = self._codes
        named = status in ("supported", "at_risk")
        if status == "at_risk":
            if not el["cranial_symptoms"]:
                gaps.append(self._gap("missing_cranial_symptoms"))
            if not el["cervical_findings"]:
                gaps.append(self._gap("missing_cervical_findings"))
            if chiropractic and not el["subluxation_level"]:
                gaps.append(
                    self._gap("missing_subluxation_level", (c["chiropractic_subluxation"],))
                )
        if not el["named_syndrome"]:
            uncertain = [
                m
                for m in mentions
                if m.label == "named_syndrome"
                and m.assertion == "uncertain"
                and CODE_ONLY_FLAG not in m.flags
            ]
            if uncertain:
                gaps.append(self._gap("uncertain_syndrome", assertion=uncertain[0].text))
        code_only = [
            m for m in mentions if CODE_ONLY_FLAG in m.flags and m.counts_as(("affirmed",))
        ]
        if code_only and not el["named_syndrome"]:
            gaps.append(
                self._gap(
                    "documented_by_code_only",
                    (self.code,),
                    codes_written=", ".join(dict.fromkeys(m.text.upper() for m in code_only)),
                )
            )
        if status == "downcode" and not (code_only and not el["named_syndrome"]):
            gaps.append(
                self._gap(
                    "missing_named_syndrome",
                    (would_code or c["default_downcode"],),
                    would_code=would_code,
                    would_code_description=describe(would_code),
                )
            )
        if query:
            gaps.append(
                self._gap(
                    "query_opportunity",
                    cranial=_listing(found.of("cranial_symptoms")),
                    cervical=_listing(found.of("cervical_findings")),
                )
            )
        if status == "redirect":
            gaps.append(
                self._gap(
                    "redirect",
                    (would_code or c["cervicobrachial"],),
                    would_code=would_code,
                    would_code_description=describe(would_code),
                )
            )
        if named and el["upper_extremity"]:
            gaps.append(
                self._gap(
                    "upper_extremity_with_syndrome",
                    (c["cervicobrachial"],),
                    code_description=describe(self.code),
                    m53_1_description=describe(c["cervicobrachial"]),
                )
            )
        if named and not el["etiology"]:
            gaps.append(self._gap("missing_etiology"))
        if named and not el["imaging"]:
            gaps.append(self._gap("missing_imaging"))
        if named:
            flags = {f for m in found.of("etiology") for f in m.flags}
            if "spondylosis" in flags:
                gaps.append(
                    self._gap(
                        "secondary_code_spondylosis",
                        (c["secondary_spondylosis"],),
                        secondary=c["secondary_spondylosis"],
                        secondary_description=describe(c["secondary_spondylosis"]),
                    )
                )
            if "disc_degeneration" in flags:
                gaps.append(
                    self._gap(
                        "secondary_code_disc_degeneration",
                        (c["secondary_disc_degeneration"],),
                        secondary=c["secondary_disc_degeneration"],
                        secondary_description=describe(c["secondary_disc_degeneration"]),
                    )
                )
        if not el["named_syndrome"] and any(
            m.label == "cervicogenic_headache" and m.counts_as(("affirmed",)) for m in mentions
        ):
            gaps.append(
                self._gap(
                    "cervicogenic_headache_named",
                    (c["cervicogenic_headache"],),
                    g44=c["cervicogenic_headache"],
                    g44_description=describe(c["cervicogenic_headache"]),
                )
            )
        if chiropractic and status != "not_applicable":
            stated = sorted(
                {lv.normalized for m in found.of("subluxation_level") for lv in m.levels}
                | {lv.normalized for lv, _, _ in found.level_evidence}
            )
            gaps.append(
                self._gap(
                    "chiropractic_pairing",
                    (c["chiropractic_subluxation"],),
                    m99=c["chiropractic_subluxation"],
                    m99_description=describe(c["chiropractic_subluxation"]),
                    levels=", ".join(stated) if stated else "none",
                )
            )
        return gaps

    # ------------------------------------------------------------------ evidence
    def _evidence(self, found: Findings, mentions: list[Mention]) -> list[Evidence]:
        items = [
            Evidence(
                element=self._evidence_element.get(m.label, m.label),
                label=m.label,
                concept=m.concept,
                text=m.text,
                start=m.start,
                end=m.end,
                section=m.section,
                assertion=m.assertion,
                counted=found.is_counted(m),
                reason=None if found.is_counted(m) else found.reasons.get(id(m)),
                rule=m.rule,
                modifiers=tuple(
                    {"category": x.category, "text": x.text, "start": x.start, "end": x.end}
                    for x in m.modifiers
                ),
                levels=tuple(lv.normalized for lv in m.levels),
            )
            for m in mentions
        ]
        for level, why, section in found.level_evidence:
            items.append(
                Evidence(
                    element="subluxation_level",
                    label="spinal_level",
                    concept="listed_level",
                    text=level.text,
                    start=level.start,
                    end=level.end,
                    section=section,
                    assertion="affirmed",
                    counted=True,
                    reason=why,
                    rule=f"levels: {why}",
                    levels=(level.normalized,),
                )
            )
        items.sort(key=lambda e: (e.start, e.end))
        return items


def _listing(mentions: list[Mention]) -> str:
    seen: dict[str, None] = {}
    for m in mentions:
        seen.setdefault(m.text.lower(), None)
    return ", ".join(seen)
