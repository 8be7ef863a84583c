"""The M53.0 code pack: elements, status, would-code and gaps (spec sections 2-4).

Everything specific to cervicocranial syndrome lives here and in
``lexicons/packs/m53.0/``; the mentions it reads are produced by the generic machinery.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from docgap.nlp.levels import LevelMention, index_of, name_of
from docgap.nlp.mentions import Mention, Section
from docgap.report import Evidence, Gap
from docgap.rules.codes import describe, disc_radiculopathy_code
from docgap.rules.lexicon import Lexicon

__all__ = ["ELEMENTS", "Decision", "M530Pack"]

CODE = "M53.0"
ELEMENTS: tuple[str, ...] = (
    "named_syndrome",
    "cranial_symptoms",
    "cervical_findings",
    "etiology",
    "imaging",
    "subluxation_level",
    "upper_extremity",
    "autonomic",
)
# Which element a target label reports its evidence under.
_EVIDENCE_ELEMENT = {
    "imaging_study": "imaging",
    "imaging_finding": "imaging",
    "subluxation": "subluxation_level",
    "chiropractic_treatment": "chiropractic",
}


@dataclass
class Decision:
    """The pack's verdict on one note."""

    status: str
    would_code: str | None
    elements: dict[str, bool]
    chiropractic: bool
    gaps: list[Gap]
    evidence: list[Evidence]
    query_opportunity: bool


@dataclass
class _Findings:
    """Which mentions counted for what, and why the others did not."""

    counted: dict[str, list[Mention]] = field(default_factory=dict)
    reasons: dict[int, str] = field(default_factory=dict)  # id(mention) -> why not counted
    level_evidence: list[tuple[LevelMention, str, str | None]] = field(default_factory=list)

    def add(self, element: str, mention: Mention) -> None:
        self.counted.setdefault(element, []).append(mention)

    def has(self, element: str) -> bool:
        return bool(self.counted.get(element))

    def of(self, element: str) -> list[Mention]:
        return self.counted.get(element, [])

    def is_counted_as(self, element: str, mention: Mention) -> bool:
        return any(mention is m for m in self.counted.get(element, []))

    def is_counted(self, mention: Mention) -> bool:
        return any(mention is m for ms in self.counted.values() for m in ms)


class M530Pack:
    """Decides whether a note supports M53.0, built once from the lexicon."""

    code = CODE
    elements = ELEMENTS

    def __init__(self, lexicon: Lexicon) -> None:
        pack = lexicon.pack
        if pack.code != CODE:
            raise ValueError(f"pack.yml is for {pack.code}, not {CODE}")
        self._counts = {name: tuple(el.counts) for name, el in pack.elements.items()}
        missing = set(ELEMENTS) - set(self._counts)
        if missing:
            raise ValueError(f"pack.yml lacks elements: {sorted(missing)}")
        self._gaps = pack.gaps
        params = pack.parameters
        self._highest = index_of(str(params.get("highest_subluxation_level", "T1")))
        self._subluxation_sections = frozenset(params.get("subluxation_sections", ()))
        self._imaging_sections = frozenset(params.get("imaging_sections", ()))
        self._report_reach = int(params.get("imaging_report_reach", 400))
        self._future_sections = frozenset(params.get("future_sections", ()))
        self._performed = str(params.get("performed_qualifier", "PERFORMED_TODAY"))
        self._subluxation_is_finding = bool(params.get("subluxation_is_cervical_finding", False))
        self._attribution_sections = frozenset(params.get("attribution_sections", ()))
        self._tied_to_neck = frozenset(params.get("tied_to_neck_qualifiers", ()))
        self._narrative_sections = frozenset(params.get("narrative_sections", ()))
        self._symptom_labels = tuple(params.get("symptom_labels", ()))
        self._not_current_sections = frozenset(
            s.category for s in lexicon.sections.sections if s.assertion
        )

    # ------------------------------------------------------------------ elements
    def _simple(self, found: _Findings, mentions: list[Mention], label: str) -> None:
        also = f"also_{label}"
        for m in mentions:
            if m.label != label and also not in m.flags:
                continue
            if not m.counts_as(self._counts[label]):
                found.reasons[id(m)] = m.rejection or f"assertion: {m.assertion}"
            elif m.region == "non_cervical" and label in ("cervical_findings", "upper_extremity"):
                found.reasons[id(m)] = "region: not cervical"
            else:
                found.add(label, m)

    def _etiology(self, found: _Findings, mentions: list[Mention], neck: bool) -> None:
        """A cervical cause counts; a past or traumatic one only beside a present problem.

        Spec section 1: "a past cause of a present condition" counts.
        """
        for m in mentions:
            if m.label != "etiology":
                continue
            if not m.counts_as(self._counts["etiology"]):
                found.reasons[id(m)] = m.rejection or f"assertion: {m.assertion}"
            elif m.region == "non_cervical":
                found.reasons[id(m)] = "region: not cervical"
            elif not neck and (
                m.region == "unknown" or m.assertion != "affirmed" or "trauma" in m.flags
            ):
                found.reasons[id(m)] = "no present cervical problem it would cause"
            else:
                found.add("etiology", m)

    def _imaging(self, found: _Findings, mentions: list[Mention], neck: bool, text: str) -> None:
        """A study counts with an abnormal finding stated in its sentence or its report line."""
        counts = self._counts["imaging"]
        studies: list[Mention] = []
        for m in mentions:
            if m.label != "imaging_study":
                continue
            if not m.counts_as(counts):
                found.reasons[id(m)] = m.rejection or f"assertion: {m.assertion}"
            elif m.region == "non_cervical":
                found.reasons[id(m)] = "region: not cervical"
            else:
                studies.append(m)
        for m in mentions:
            is_finding = m.label == "imaging_finding" or (
                m.label == "etiology" and "imaging_finding" in m.flags
            )
            if not is_finding or not m.counts_as(counts) or m.region == "non_cervical":
                if m.label == "imaging_finding":
                    found.reasons[id(m)] = m.rejection or f"assertion: {m.assertion}"
                continue
            paired = [s for s in studies if self._reports(s, m, text)]
            cervical = m.region == "cervical" or any(s.region == "cervical" for s in paired)
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
        found: _Findings,
        mentions: list[Mention],
        levels: list[LevelMention],
        sections: list[Section],
    ) -> None:
        highest = self._highest if self._highest is not None else index_of("T1")
        assert highest is not None
        negated_sentences = set()
        for m in mentions:
            if m.label != "subluxation":
                continue
            if not m.counts_as(self._counts["subluxation_level"]):
                found.reasons[id(m)] = m.rejection or f"assertion: {m.assertion}"
                negated_sentences.add(m.sentence_start)
                continue
            stated = [lv for lv in m.levels if lv.reaches_at_or_above(highest)]
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

    def _chiropractic(self, found: _Findings, mentions: list[Mention]) -> None:
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
            ):
                found.reasons[id(m)] = f"planned ({m.section} section), not performed this visit"
            elif "explicit" in m.flags or provider:
                found.add("chiropractic", m)
            else:
                found.reasons[id(m)] = "manipulation not documented as chiropractic"

    def _attribute(self, found: _Findings, mentions: list[Mention]) -> None:
        """Drop symptoms the note explains by another cause (spec section 2)."""
        causes = [m for m in mentions if m.explains and m.counts_as(("affirmed",))]
        if not causes:
            return
        for label in ("cranial_symptoms", "upper_extremity", "autonomic"):
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
                                and not m.qualifiers & self._tied_to_neck
                            )
                        )
                    ),
                    None,
                )
                if cause is None:
                    kept.append(m)
                else:
                    found.reasons[id(m)] = f"attributed to another cause: {cause.text!r}"
            found.counted[label] = kept

    def _narrative_wins(self, found: _Findings, mentions: list[Mention]) -> None:
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
            found.counted[label] = kept

    # ------------------------------------------------------------------ decision
    def decide(
        self,
        mentions: list[Mention],
        levels: list[LevelMention],
        sections: list[Section],
        text: str,
    ) -> Decision:
        """Status, would-code, elements, gaps and evidence for one note."""
        found = _Findings()
        for label in ("named_syndrome", "cranial_symptoms", "cervical_findings"):
            self._simple(found, mentions, label)
        for label in ("upper_extremity", "autonomic"):
            self._simple(found, mentions, label)
        self._attribute(found, mentions)
        self._narrative_wins(found, mentions)
        self._subluxation(found, mentions, levels, sections)
        if self._subluxation_is_finding:
            for m in found.of("subluxation_level"):
                if any(lv.is_cervical() for lv in m.levels) and not found.is_counted_as(
                    "cervical_findings", m
                ):
                    found.add("cervical_findings", m)
        self._chiropractic(found, mentions)
        neck = (
            found.has("cervical_findings")
            or found.has("named_syndrome")
            or found.has("upper_extremity")
        )
        self._imaging(found, mentions, neck, text)
        self._etiology(found, mentions, neck)

        elements = {name: found.has(name) for name in ELEMENTS}
        if found.level_evidence:
            elements["subluxation_level"] = True
        chiropractic = found.has("chiropractic")
        status, would_code = self._status(elements, chiropractic, found)
        query = (
            status == "downcode" and elements["cranial_symptoms"] and elements["cervical_findings"]
        )
        gaps = self._gaps_for(
            status, would_code, elements, chiropractic, found, mentions, levels, query
        )
        evidence = self._evidence(found, mentions)
        return Decision(status, would_code, elements, chiropractic, gaps, evidence, query)

    def _status(
        self, el: dict[str, bool], chiropractic: bool, found: _Findings
    ) -> tuple[str, str | None]:
        applicable = any(
            el[k]
            for k in (
                "cervical_findings",
                "named_syndrome",
                "etiology",
                "imaging",
                "subluxation_level",
                "upper_extremity",
            )
        )
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
            return "supported", CODE
        if el["named_syndrome"]:
            return "at_risk", CODE
        return "downcode", "M54.2"

    def _redirect_code(self, found: _Findings) -> str:
        radiculopathy = [m for m in found.of("upper_extremity") if "radiculopathy" in m.flags]
        discs = [
            m
            for m in found.of("etiology")
            if "disc_disorder" in m.flags and m.assertion == "affirmed"
        ]
        if radiculopathy and discs:
            return self._disc_code(discs, radiculopathy)
        if radiculopathy:
            return "M54.12"
        return "M53.1"

    @staticmethod
    def _disc_code(discs: list[Mention], radiculopathy: list[Mention]) -> str:
        """M50.1- completed to its level when the documented level names one code."""
        codes: set[str] = set()
        for m in discs:
            for lv in m.levels:
                if lv.high - lv.low == 1:
                    code = disc_radiculopathy_code((name_of(lv.low), name_of(lv.high)))
                    if code:
                        codes.add(code)
        if not codes:
            for m in radiculopathy:
                for lv in m.levels:
                    if lv.low == lv.high:
                        code = disc_radiculopathy_code(root=name_of(lv.low))
                        if code:
                            codes.add(code)
        return codes.pop() if len(codes) == 1 else "M50.1-"

    # ------------------------------------------------------------------ gaps
    def _gap(self, key: str, codes: tuple[str, ...] = (), **values: object) -> Gap:
        spec = self._gaps[key]
        return Gap(key, spec.message.format(code=CODE, **values), spec.severity, codes)

    def _gaps_for(
        self,
        status: str,
        would_code: str | None,
        el: dict[str, bool],
        chiropractic: bool,
        found: _Findings,
        mentions: list[Mention],
        levels: list[LevelMention],
        query: bool,
    ) -> list[Gap]:
        gaps: list[Gap] = []
        named = status in ("supported", "at_risk")
        if status == "at_risk":
            if not el["cranial_symptoms"]:
                gaps.append(self._gap("missing_cranial_symptoms"))
            if not el["cervical_findings"]:
                gaps.append(self._gap("missing_cervical_findings"))
            if chiropractic and not el["subluxation_level"]:
                gaps.append(self._gap("missing_subluxation_level", ("M99.01",)))
        if not el["named_syndrome"]:
            uncertain = [
                m for m in mentions if m.label == "named_syndrome" and m.assertion == "uncertain"
            ]
            if uncertain:
                gaps.append(self._gap("uncertain_syndrome", assertion=uncertain[0].text))
        if status == "downcode":
            gaps.append(
                self._gap(
                    "missing_named_syndrome",
                    (would_code or "M54.2",),
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
                    (would_code or "M53.1",),
                    would_code=would_code,
                    would_code_description=describe(would_code),
                )
            )
        if named and el["upper_extremity"]:
            gaps.append(
                self._gap(
                    "upper_extremity_with_syndrome",
                    ("M53.1",),
                    code_description=describe(CODE),
                    m53_1_description=describe("M53.1"),
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
                        ("M47.812",),
                        secondary="M47.812",
                        secondary_description=describe("M47.812"),
                    )
                )
            if "disc_degeneration" in flags:
                gaps.append(
                    self._gap(
                        "secondary_code_disc_degeneration",
                        ("M50.3-",),
                        secondary="M50.3-",
                        secondary_description=describe("M50.3-"),
                    )
                )
        if not el["named_syndrome"] and any(
            m.label == "cervicogenic_headache" and m.counts_as(("affirmed",)) for m in mentions
        ):
            gaps.append(
                self._gap(
                    "cervicogenic_headache_named",
                    ("G44.86",),
                    g44="G44.86",
                    g44_description=describe("G44.86"),
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
                    ("M99.01",),
                    m99="M99.01",
                    m99_description=describe("M99.01"),
                    levels=", ".join(stated) if stated else "none",
                )
            )
        return gaps

    # ------------------------------------------------------------------ evidence
    def _evidence(self, found: _Findings, mentions: list[Mention]) -> list[Evidence]:
        items = [
            Evidence(
                element=_EVIDENCE_ELEMENT.get(m.label, m.label),
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
