"""The card wording standard (service/card_text.py, service/cards.py render_detail, assembly text steps)."""
from __future__ import annotations

import re
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from service.cards import text as ct
from service.cards.assembly import assemble, explain_chart_quality
from service.cards.merge import review_into_dvt
from service.cards.render import MORE_DETAIL, CardRenderer, render_detail
from service.cards.draft import CardDraft, NotSuggested, Suggest
from service.terminology.code_sets import default_terminology
from service.chart.units import display_unit, humanise_units
from tests.support import card_standard as std
from tests.support.msk_facts import NOW, make_facts, make_triage, q, reading


# -- summary ------------------------------------------------------------------------------------
def test_repeated_clause_dropped_and_capital_kept():
    text = "DVT excluded; DVT excluded; knee pain needs review: see a doctor within days"
    assert ct.clip_summary(text) == "DVT excluded; knee pain needs review: see a doctor within days"
    assert ct.clip_summary("DVT excluded; dVT excluded; knee pain") == "DVT excluded; knee pain"


def test_lower_first_never_breaks_an_acronym():
    assert ct.lower_first("DVT excluded") == "DVT excluded"
    assert ct.lower_first("CRP 180 mg/L") == "CRP 180 mg/L"
    assert ct.lower_first("Knee pain needs review") == "knee pain needs review"
    assert ct.lower_first("") == ""


def test_clip_at_a_word_boundary_within_the_contract_limit():
    text = ("Routine review of chronic knee pain, known cause (26 weeks): weight-bearing knee radiographs first, "
            "then MRI only if they show nothing, without a known non-urgent cause")
    out = ct.clip_summary(text)
    assert len(out) <= 139 and out.endswith("…")
    assert not out.endswith("non…") and " non…" not in out
    words = out[:-1].split()
    assert text.startswith(out[:-1])
    assert text[len(out) - 1] in " ,;:"          # the cut falls between words
    assert words[-1] in [w.strip(",;:") for w in text.split()]


def test_clip_does_not_leave_a_bracket_open():
    text = "Knee radiograph, same day preferred " + "(" + "Ottawa positive, " * 10 + ")"
    out = ct.clip_summary(text)
    assert out.count("(") == out.count(")") and out.endswith("…") and len(out) <= 139


def test_short_summary_unchanged_and_units_human():
    assert ct.clip_summary("WBC 15.2 10*9/L: aspirate") == "WBC 15.2 × 10⁹/L: aspirate"
    assert ct.clip_summary("  DVT likely (Wells 4):\n proximal  scan ") == "DVT likely (Wells 4): proximal scan"


_words = st.lists(st.text(alphabet=string.ascii_letters, min_size=1, max_size=18), min_size=1, max_size=60)


@settings(max_examples=200, deadline=None)
@given(_words)
def test_clip_property_whole_words_only(words):
    text = " ".join(words)
    out = ct.clip_summary(text)
    assert len(out) <= ct.SUMMARY_MAX
    if len(ct.upper_first(ct.drop_repeated_clauses(text))) <= ct.SUMMARY_MAX:
        assert not out.endswith("…")
    elif len(words[0]) < ct.SUMMARY_MAX - 1:
        assert out.endswith("…")
        kept = out[:-1].split()
        assert kept and all(k.lower() == w.lower() for k, w in zip(kept, words))


# -- units --------------------------------------------------------------------------------------
def test_units_human_readable():
    assert display_unit("10*9/L") == "× 10⁹/L" and display_unit("mm[Hg]") == "mmHg"
    assert display_unit("Cel") == "°C" and display_unit("mg/L") == "mg/L" and display_unit(None) == ""
    assert humanise_units("wbc 15.2 10*9/L, urate 420 umol/L, D-dimer 720 ug/L FEU, 118 mm[Hg]") == \
        "wbc 15.2 × 10⁹/L, urate 420 µmol/L, D-dimer 720 µg/L FEU, 118 mmHg"
    assert humanise_units("Celsius, cell count, plug/Lx") == "Celsius, cell count, plug/Lx"


# -- recommendation -----------------------------------------------------------------------------
FALLBACK = ("If the scan result cannot be obtained within 4 h: offer interim therapeutic anticoagulation and "
            "get the scan result within 24 h.")


def test_only_a_fallback_gets_the_main_action_first():
    out = ct.order_recommendation([FALLBACK], [("venous-duplex-us", "proximal leg-vein ultrasound (result within 4 hours)")])
    assert out[0] == "Proximal leg-vein ultrasound (result within 4 hours) (suggested)."
    assert out[1] == FALLBACK


def test_conditional_line_never_first_and_duplicates_dropped():
    lines = ["D-dimer positive: ultrasound within 4 hours.", "Counsel on contraception.", "Counsel on contraception."]
    out = ct.order_recommendation(lines, [])
    assert out == ["Counsel on contraception.", "D-dimer positive: ultrasound within 4 hours."]


def test_main_action_already_stated_is_kept_in_place():
    lines = ["Refer urgently to rheumatology (NG100).", "Rheumatoid factor, anti-CCP, CRP, ESR and FBC (suggested)."]
    assert ct.order_recommendation(lines, [("crp", "CRP")]) == lines
    lines = ["Call an ambulance now.", "CTPA immediately; interim anticoagulation if it is delayed."]
    assert ct.order_recommendation(lines, [("ctpa", "CT pulmonary angiography")]) == lines


def test_states_main_action_predicate():
    assert not ct.states_main_action([FALLBACK], ["venous-duplex-us"])
    assert not ct.states_main_action([], ["venous-duplex-us"])
    assert ct.states_main_action(["Proximal leg-vein ultrasound (suggested).", FALLBACK], ["venous-duplex-us"])
    assert ct.states_main_action(["Rest and ice."], [])


# -- evidence -----------------------------------------------------------------------------------
WELLS = [
    "Wells +1, tenderness along the deep veins: Observation/t (2026-03-02 09:00 UTC, final)",
    "Wells 0, entire leg swollen: Observation/e (2026-03-02 09:00 UTC, final)",
    "Wells DVT 1 (min 1, max 1): **unlikely**.",
    "S2: deep-vein tenderness: Observation/t (2026-03-02 09:00 UTC, final)",
    "S1: leg swelling: Observation/s (2026-03-02 09:00 UTC, final)",
    "S6: a D-dimer within 72 h (DVT work-up under way)",
    "Risk factors that do not score in Wells: none recorded.",
]


def test_evidence_once_grouped():
    layout = ct.layout_evidence(WELLS + [WELLS[0]])
    assert layout.main == [WELLS[0], WELLS[2], "Leg swelling: Observation/s (2026-03-02 09:00 UTC, final)"]
    assert layout.score_detail == [WELLS[1], WELLS[6]]


def test_finding_beside_its_score_item_is_not_repeated():
    lines = ["Heart rate 112/min. Observation/hr (2026-03-02 09:00 UTC, final)",
             "Wells PE +1.5, heart rate above 100/min: heart rate 112/min. Observation/hr (2026-03-02 09:00 UTC, final)",
             "SpO2 91%. Observation/sat (2026-03-02 09:00 UTC, final)",
             "Wells +1, calf 3.6 cm larger: Observation/calf (2026-03-02 09:00 UTC, final)"]
    layout = ct.layout_evidence(lines)
    assert layout.main == [lines[1], lines[2]]           # on the PE card the DVT items go below
    assert layout.score_detail == [lines[3]]


def test_not_recommended_grouped_by_reason():
    out = ct.group_not_recommended([("Knee radiograph", "once DVT is excluded."), ("D-dimer", "only if the scan is negative."),
                                    ("Knee MRI", "once DVT is excluded.")])
    assert out == ["Knee radiograph, knee MRI: once DVT is excluded.", "D-dimer: only if the scan is negative."]


# -- data quality -------------------------------------------------------------------------------
def test_every_flag_explained_once():
    lines = ct.explain_flags(["superseded", "anticoagulation-uncertain", "not-documented"],
                             ["superseded: Observation/a differs from the later Observation/b, which is used.",
                              "not-documented: the history items listed above."], has_unknown_section=True)
    assert lines[0].startswith("superseded: Observation/a")
    assert lines[1].startswith("anticoagulation-uncertain: whether the patient takes an anticoagulant")
    assert len(lines) == 2                              # not-documented: the Unknown section explains it
    lines = ct.explain_flags(["not-documented"], [], has_unknown_section=False)
    assert lines == [f"not-documented: {ct.FLAG_TEXT['not-documented']}."]


def test_every_card_flag_has_words():
    from service.pathways.drafting import CARD_FLAGS
    assert CARD_FLAGS <= set(ct.FLAG_TEXT)


# -- the rendered detail ------------------------------------------------------------------------
def _dvt_draft() -> CardDraft:
    return CardDraft(
        "dvt-pathway", "emergency-same-day", rules=["DVT-UNLIKELY-DDIMER-POS-US"],
        summary="DVT unlikely (Wells 1) but D-dimer positive: proximal leg-vein ultrasound within 4 hours",
        headline="**D-dimer positive with Wells unlikely (NICE NG158 1.1.6).**",
        evidence=WELLS + ["D-dimer 0.65 mg/L FEU: **positive** (lab cut-off 500 ug/L). Observation/dd (2026-03-02 08:00 UTC, final)"],
        unknown=["active cancer: not documented."],
        recommendation=[FALLBACK],
        not_recommended=[NotSuggested("knee-xray", "once DVT is excluded."), NotSuggested("mri-knee", "once DVT is excluded.")],
        suggestions=[Suggest("venous-duplex-us", "DVT-UNLIKELY-DDIMER-POS-US", "D-dimer positive",
                             label="Order proximal leg-vein ultrasound (result within 4 hours)")],
        flags=["not-documented", "preliminary"], guidelines=["ng158"], scores={"wellsDvt": {"min": 1, "max": 1}})


def test_detail_layout_main_then_more_detail():
    detail = render_detail(_dvt_draft(), [("venous-duplex-us", "proximal leg-vein ultrasound (result within 4 hours)")])
    main, more = detail.split(MORE_DETAIL)
    assert main.index("**Evidence**") < main.index("**Unknown") < main.index("**Recommendation**") \
        < main.index("**Data quality**") < main.index("**Guideline**")
    assert "**Not recommended**" in more and "Wells 0, entire leg swollen" in more
    assert "- Knee radiograph, knee MRI: once DVT is excluded." in more
    assert "- Active cancer: not documented." in main
    assert "500 µg/L" in detail and "ug/L" not in detail
    rec = std.sections(detail)["Recommendation"]
    assert rec[0].startswith("Proximal leg-vein ultrasound") and rec[1] == FALLBACK
    assert "- preliminary: a result used here is preliminary" in main
    assert detail.count("Observation/t ") == 1


def test_rendered_card_keeps_contract_fields_and_meets_the_standard():
    renderer = CardRenderer(default_terminology())
    facts = make_facts(60)
    card = renderer.render(_dvt_draft(), facts)
    ext = card["extension"]["example.knee-cds"]
    assert set(ext) >= {"tier", "rules", "scores", "knowledgeVersion", "flags"}
    assert ext["rules"] == ["DVT-UNLIKELY-DDIMER-POS-US"] and ext["scores"] == {"wellsDvt": {"min": 1, "max": 1}}
    assert card["source"]["topic"]["code"] == "dvt-pathway"
    assert std.check_card(card) == []


# -- assembly text steps --------------------------------------------------------------------------
def test_dvt_excluded_review_summary_says_it_once():
    t = make_triage(make_facts(72), dvt_suspected=True, dvt_status="closed")
    t.add_card(CardDraft("dvt-pathway", "self-care", rules=["DVT-UNLIKELY-DDIMER-NEG"], summary="DVT excluded",
                         recommendation=["DVT excluded; the knee pain still needs review."]))
    t.add_card(CardDraft("chronic-knee-pain-imaging", "urgent", rules=["KNEE-PAIN-REVIEW"],
                         summary="DVT excluded; knee pain needs review: see a doctor within days",
                         recommendation=["DVT excluded; the knee pain still needs review.", "See a doctor within days."]))
    review_into_dvt(t)
    dvt = t.cards["dvt-pathway"]
    assert dvt.summary == "DVT excluded; knee pain needs review: see a doctor within days"
    assert dvt.recommendation.count("DVT excluded; the knee pain still needs review.") == 1
    t.cards["chronic-knee-pain-imaging"] = CardDraft("chronic-knee-pain-imaging", "urgent", summary="Knee pain review within days")
    review_into_dvt(t)
    assert t.cards["dvt-pathway"].summary == "DVT excluded; knee pain review within days"


def test_result_on_record_marks_the_cited_line_instead_of_repeating_it():
    facts = make_facts(50, labs={"wbc": reading("Observation/wbc", q(15.2, "10*9/L", as_recorded="15.2 10*9/L"),
                                                time=NOW.replace(hour=9))})
    t = make_triage(facts)
    card = t.add_card(CardDraft("septic-arthritis", "emergency-same-day",
                                evidence=["WBC 15.2 × 10⁹/L: Observation/wbc (2026-03-02 09:00 UTC, final)"],
                                suggestions=[Suggest("cbc", "SEPTIC-ADULT", "baseline")]))
    assemble(t)
    assert card.suggestions == [] and len(card.evidence) == 1
    assert "already on record" in card.evidence[0]
    t2 = make_triage(facts)
    card2 = t2.add_card(CardDraft("septic-arthritis", "emergency-same-day", suggestions=[Suggest("cbc", "SEPTIC-ADULT", "x")]))
    assemble(t2)
    assert card2.evidence == ["Already on record: WBC 15.2 10*9/L, 1 h ago (Observation/wbc (final))"]
    assert "× 10⁹/L" in render_detail(card2)


def test_chart_quality_goes_on_the_card_that_cites_it():
    facts = make_facts(60)
    facts.quality = [("superseded", "deep-vein tenderness: Observation/old (2026-03-02 08:30 UTC, no) superseded by "
                                    "Observation/new (yes)"),
                     ("undated", "Procedure/p: undated surgery; counted (raises risk)"),
                     ("data-quality", "Observation/new: something unreadable")]
    t = make_triage(facts)
    cites = t.add_card(CardDraft("dvt-pathway", "urgent", evidence=["Wells +1, tenderness: Observation/new (…)"]))
    other = t.add_card(CardDraft("septic-arthritis", "urgent", evidence=["Temperature: Observation/temp"]))
    explain_chart_quality(t)
    assert cites.flags == ["superseded"]
    assert cites.quality == ["superseded: deep-vein tenderness: Observation/old (2026-03-02 08:30 UTC, no) "
                             "superseded by Observation/new (yes)."]
    assert other.flags == [] and other.quality == []
    explain_chart_quality(t)                     # idempotent: no second line
    assert len(cites.quality) == 1


# -- the standard's own checks can fail -----------------------------------------------------------
def _card(summary="DVT likely (Wells 4): proximal leg-vein ultrasound", detail="**Recommendation**\n- Ultrasound (suggested).",
          topic="dvt-pathway", rules=("DVT-LIKELY-US4H",), flags=(), scores=None, orderables=("venous-duplex-us",)):
    ext = {"tier": "urgent", "rules": list(rules), "knowledgeVersion": "1.1.0"}
    if flags:
        ext["flags"] = list(flags)
    if scores:
        ext["scores"] = scores
    card = {"summary": summary, "detail": detail, "source": {"topic": {"code": topic}},
            "extension": {"example.knee-cds": ext}}
    if orderables:
        card["suggestions"] = [{"actions": [{"type": "create", "resource": {"code": {"coding": [
            {"system": std.ORDERABLE, "code": o}]}}} for o in orderables]}]
    return card


def test_standard_accepts_a_good_card():
    assert std.check_card(_card()) == []


def test_standard_catches_each_defect():
    def problems(**kw):
        return " | ".join(std.check_card(_card(**kw)))
    assert "repeats a phrase" in problems(summary="DVT excluded; dVT excluded; knee pain needs review: see a doctor")
    assert "breaks a capital" in problems(summary="DVT excluded; dVT excluded; knee pain needs review: see a doctor")
    assert "clipped badly" in problems(summary="Routine review of knee pain (known cause, without a known…")
    assert "lead with an action" in problems(summary="Pain behind the knee in a 40-year-old woman with a history")
    assert "raw UCUM" in problems(detail="**Evidence**\n- wbc 15.2 10*9/L (Observation/w)\n\n**Recommendation**\n- Ultrasound.")
    assert "fallback" in problems(detail="**Recommendation**\n- " + FALLBACK)
    assert "main action" in problems(detail="**Recommendation**\n- Counsel on contraception.")
    assert "excluded beside" in problems(detail="**Recommendation**\n- Stop the interim anticoagulation: DVT is excluded.\n"
                                                "- Repeat scan in 6–8 days (suggested).")
    assert "no attestation" in problems(detail="**Evidence**\n- Wells 0, alternative diagnosis at least as likely: "
                                               "Observation/alt (final)\n\n**Unknown / not documented**\n- No attestation "
                                               "that an alternative diagnosis is at least as likely.\n\n"
                                               "**Recommendation**\n- Ultrasound (suggested).")
    assert "Scan negative: D-dimer" in problems(rules=("DVT-LIKELY-US4H", "DVT-IMAGING-FIRST"),
                                                detail="**Recommendation**\n- Ultrasound (suggested).\n- Scan negative: D-dimer.")
    assert "not explained" in problems(flags=("superseded",))
    assert "listed above" in problems(flags=("not-documented",), detail="**Recommendation**\n- Ultrasound (suggested).\n\n"
                                      "**Data quality**\n- not-documented: the history items listed above.")
    assert "evidence listed twice" in problems(detail="**Evidence**\n- Wells +1, tenderness: Observation/t\n"
                                                      "- Deep-vein tenderness: yes. Observation/t\n\n**Recommendation**\n- Ultrasound.")
    assert "differs from scores" in problems(scores={"wellsDvt": {"min": 2, "max": 2, "class": "likely"}})
    assert "PERC" in problems(detail="**Evidence**\n- PERC negative: all eight criteria met.\n\n**Recommendation**\n- Ultrasound.")
    assert "both suggested and not recommended" in problems(
        detail="**Recommendation**\n- Ultrasound (suggested).\n\n**More detail**\n\n**Not recommended**\n"
               "- Leg-vein ultrasound: only if the D-dimer is positive.")
    long = "**Recommendation**\n- Ultrasound (suggested).\n" + "\n".join(f"- line {i}" for i in range(25))
    assert "lines before More detail" in problems(detail=long)
    assert std.check_card(_card(detail=long, topic="septic-arthritis", rules=("SEPTIC-ADULT",),
                                summary="Aspirate the knee today")) == []


def test_standard_catches_cyst_reassurance_beside_rupture():
    cyst = _card(summary="Known Baker's cyst, unchanged: routine review; ultrasound if it changes", topic="popliteal-mass",
                 rules=("MASS-KNOWN-CYST",), orderables=(), detail="**Recommendation**\n- Routine review.")
    dvt = _card(rules=("DVT-LIKELY-US4H", "DVT-BAKER-MIMIC"))
    assert any("unchanged" in p for p in std.check_response({"cards": [dvt, cyst]}))
    assert std.check_response({"cards": [cyst]}) == []


def test_screen_lines_counts_only_above_more_detail():
    detail = "a\n\nb\n- c\n\n**More detail**\n\n- d"
    assert std.screen_lines(detail) == 3
    assert re.search(r"\*\*More detail\*\*", MORE_DETAIL)


def test_grouped_reason_reads_in_the_plural():
    out = ct.group_not_recommended([("D-dimer", "nothing recorded points to a cause that needs it."),
                                    ("CRP", "nothing recorded points to a cause that needs it.")])
    assert out == ["D-dimer, CRP: nothing recorded points to a cause that needs them."]
    assert ct.group_not_recommended([("CRP", "nothing recorded points to a cause that needs it.")]) == \
        ["CRP: nothing recorded points to a cause that needs it."]


def test_service_request_note_names_the_leg_then_the_rule_note():
    from datetime import timedelta

    from service.chart.facts import Reading, Value
    from tests.support.msk_facts import src

    facts = make_facts(60)
    side = Value("right", src("Observation/side", NOW - timedelta(hours=1)), NOW - timedelta(hours=1))
    facts.ka["symptom-side"] = Reading(value="right", winner=side)
    sr = CardRenderer(default_terminology()).service_request(
        Suggest("knee-xray", "CKP-XR-FIRST", "the initial test", note="weight-bearing views"), "routine", facts)
    assert sr["note"][0]["text"] == "CKP-XR-FIRST: symptomatic leg: right (Observation/side). Weight-bearing views."
    assert ct.sentence("done.") == "Done." and ct.sentence("") == ""


# -- safety property: tidying the evidence never loses a cited record --------------------------------
_ref = st.sampled_from(["Observation/a", "Observation/b", "Condition/c", "Procedure/d", "Patient/p"])
_line = st.one_of(
    st.builds(lambda pts, label, r: f"Wells {pts}, {label}: {r} (2026-03-02 09:00 UTC, final)",
              st.sampled_from(["+1", "0", "-2"]), st.sampled_from(["tenderness", "swelling"]), _ref),
    st.builds(lambda pts, r: f"Wells PE {pts}, heart rate above 100/min: {r}", st.sampled_from(["+1.5", "0"]), _ref),
    st.builds(lambda n, r: f"S{n}: leg swelling: {r} (2026-03-02 09:00 UTC, final)", st.integers(1, 6), _ref),
    st.builds(lambda r: f"Heart rate 112/min. {r}", _ref),
    st.builds(lambda r: f"Left leg ({r})", _ref),
    st.just("S6: a D-dimer within 72 h (DVT work-up under way)"),
    st.just("Risk factors that do not score in Wells: none recorded."),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_line, max_size=12))
def test_evidence_layout_never_loses_a_cited_record(lines):
    layout = ct.layout_evidence(lines)
    before = set().union(*(ct.references(line) for line in lines)) if lines else set()
    after = set().union(*(ct.references(line) for line in layout.main + layout.score_detail)) \
        if layout.main or layout.score_detail else set()
    assert before == after
    # and a line that scored points stays on the first screen
    for line in lines:
        if re.match(r"^Wells [+-]\d", line) and not any(x.startswith("Wells PE") for x in lines):
            assert line in layout.main


def test_order_advice_recommendation_leads_with_the_action():
    from types import SimpleNamespace

    from service.order_advice.rows import Finding
    from service.order_advice.text import recommendation

    f = Finding("OA-DDIMER-ALONE-LIKELY", "emergency-same-day", "d-dimer",
                 deletes=[SimpleNamespace(id="sr1")], creates=[Suggest("venous-duplex-us", "DVT-LIKELY-US4H", "x")],
                 advice="DVT likely (NICE NG158 1.1.3): proximal leg-vein ultrasound first.")
    line = recommendation(f)
    assert line.startswith("Remove ServiceRequest/sr1 and order ") and "(suggested): DVT likely" in line
    assert line.endswith("(OA-DDIMER-ALONE-LIKELY).") and ct.states_main_action([line], ["venous-duplex-us"])
    only_why = Finding("OA-FORBIDDEN-TEST", "urgent", "mri-knee", advice="radiographs first")
    assert recommendation(only_why) == "Radiographs first (OA-FORBIDDEN-TEST)."
