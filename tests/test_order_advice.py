"""Order advice (clinical-rules §6.16; contract §6): one test per rule, plus drafts parsing,
duplicates, order-select judging and OA-MISSING-TEST conditions. Built by hand: no chart, no HTTP."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from service.cards.draft import CardDraft, Suggest
from service.chart.dates import utc_day
from service.chart.draft_orders import match_drafts
from service.order_advice.assemble import build_order_advice
from service.order_advice.state import Situation
from tests.support.order_factory import (
    ICD10, NOW, ORDERABLE_SYSTEM, FakeTerminology, bundle, card, draft, drafts, dvt_likely_card, facts,
    sr, triage,
)

# contract §4: indicator follows tier
INDICATOR = {"emergency-immediate": "critical", "emergency-same-day": "critical", "urgent": "warning",
             "routine": "info", "self-care": "info"}


def advise(t, cards, hook="order-sign") -> CardDraft | None:
    return build_order_advice(t, cards, hook)


def one(c: CardDraft, rule: str):
    found = [a for a in c.advice if a.rule == rule]
    assert len(found) == 1, [a.rule for a in c.advice]
    return found[0]


def created(c: CardDraft) -> list[str]:
    return [s.orderable for a in c.advice for s in a.creates]


# The Triage state the DVT and PE pathways leave; order advice reads it (not the cards' rule ids).
def dvt_open(**state):
    return {"dvt_suspected": True, "dvt_status": "open", **state}


DVT_LIKELY = dvt_open(wells_class="likely", us_state="none")       # §6.3 L1, as dvt_likely_card()


def dvt_excluded(rule: str):
    return {"dvt_suspected": True, "dvt_status": "closed", "dvt_excluded_rule": rule}


def self_care(*rules: str, not_suggested=None) -> CardDraft:
    return card("self-care", "self-care", ["SELF-CARE", *rules],
                not_suggested=not_suggested or {"d-dimer": "not indicated", "venous-duplex-us": "not indicated",
                                                "knee-xray": "not indicated", "mri-knee": "not indicated",
                                                "ctpa": "not indicated"})


# =================================================================================================
# match_drafts (§6.16 item 2, §1.2)
# =================================================================================================
class TestMatchDrafts:
    def test_catalog_matching_status_priority_day_selection_index(self):
        b = bundle(
            sr("dd", "d-dimer", priority="stat", occurrence="2026-03-02T23:30:00-05:00"),
            sr("unknown", None),                                       # matches nothing: dropped
            sr("xr", codings=[{"system": ORDERABLE_SYSTEM, "code": "knee-xray"}],
               period_start="2026-03-05"),
            sr("old", "crp", status="revoked"),                        # §1.2: not a draft
            sr("signed", "cbc", status="active"),                      # active: order-sign only
            {"resourceType": "MedicationRequest", "id": "m", "status": "draft"},
            sr("reason-only", None, reason=[{"system": ICD10, "code": "M25.561"}]),
        )
        out = match_drafts(b, ["ServiceRequest/dd", "xr"], FakeTerminology(), hook="order-sign")
        by_id = {d.id: d for d in out}
        assert list(by_id) == ["dd", "xr", "signed", "reason-only"]
        assert by_id["dd"].orderables == {"d-dimer"} and by_id["dd"].priority == "stat"
        # 23:30 at -05:00 is 04:30 UTC the next day
        assert by_id["dd"].occurrence_day == "2026-03-03"
        assert by_id["xr"].orderables == {"knee-xray"} and by_id["xr"].occurrence_day == "2026-03-05"
        assert by_id["xr"].priority == "routine"                       # none = routine
        assert by_id["dd"].selected and by_id["xr"].selected and not by_id["signed"].selected
        assert [d.index for d in out] == [0, 2, 4, 6]                  # entry order in the Bundle
        # kept for §2 T5 (knee complaint reason), ignored by order advice (no orderable)
        assert by_id["reason-only"].orderables == frozenset()
        assert by_id["reason-only"].reason_sets == {"knee-pain"}

    def test_order_select_takes_drafts_only(self):
        b = bundle(sr("a", "cbc", status="active"), sr("b", "crp"))
        out = match_drafts(b, [], FakeTerminology(), hook="order-select")
        assert [d.id for d in out] == ["b"]

    def test_selection_forms_and_bad_input(self):
        b = bundle(sr("a", "cbc"), sr("b", "crp"), sr("c", "esr"))
        out = match_drafts(b, ["https://ehr.example/fhir/ServiceRequest/a", "urn:uuid:c"], FakeTerminology())
        assert [d.selected for d in out] == [True, False, True]
        assert match_drafts(None, None, FakeTerminology()) == []
        assert match_drafts({"resourceType": "Bundle"}, [], FakeTerminology()) == []

    def test_utc_day(self):
        assert utc_day("2026-03-02") == "2026-03-02"
        assert utc_day("2026-03") == "2026-03-15"          # §1.1 partial date
        assert utc_day("2026-03-02T01:00:00+02:00") == "2026-03-01"
        assert utc_day("not a date") is None and utc_day(None) is None


# =================================================================================================
# Nothing to say
# =================================================================================================
def test_no_cards_and_no_drafts_is_none():
    assert advise(triage(), []) is None
    assert advise(triage(ds=drafts(draft("a", "cbc"))), []) is None


def test_fine_drafts_at_order_sign_non_emergency_is_none():
    # the routine card's test is drafted: nothing against, nothing missing
    ckp = card("chronic-knee-pain-imaging", "routine", ["CKP-ROUTINE-KNOWN-CAUSE", "CKP-XR-FIRST"],
               suggest=["knee-xray"], not_suggested={"mri-knee": "radiographs first"})
    assert advise(triage(ds=drafts(draft("xr", "knee-xray"))), [ckp]) is None


def test_drafts_with_unknown_codes_are_ignored():
    # a draft matching no orderable is neither judged, covering, nor a "selected catalog draft" (b)
    t = triage(ds=drafts(draft("local", selected=True)), hook="order-select", **DVT_LIKELY)
    assert advise(t, [dvt_likely_card()], hook="order-select") is None


def test_only_order_hooks():
    t = triage(ds=drafts(draft("dd", "d-dimer")))
    assert build_order_advice(t, [dvt_likely_card()], "patient-view") is None


# =================================================================================================
# The acceptance shapes (V26, V27)
# =================================================================================================
def test_ddimer_alone_likely_v26_shape():
    t = triage(ds=drafts(draft("v26-sr-ddimer", "d-dimer", selected=True)), hook="order-select", **DVT_LIKELY)
    c = advise(t, [dvt_likely_card()], hook="order-select")
    assert c.topic == "order-advice" and c.tier == "emergency-same-day" and INDICATOR[c.tier] == "critical"
    a = one(c, "OA-DDIMER-ALONE-LIKELY")
    assert a.deletes == ["v26-sr-ddimer"]
    assert [s.orderable for s in a.creates] == ["venous-duplex-us"]
    assert a.creates[0].priority == "stat" and a.creates[0].rule == "DVT-LIKELY-US4H"
    assert c.rules == ["OA-DDIMER-ALONE-LIKELY", "DVT-LIKELY-US4H"]
    assert any("ServiceRequest/v26-sr-ddimer" in e and "Wells DVT 4" in e for e in c.evidence)
    assert c.guidelines == ["ng158"]
    assert len(c.summary) <= 139


def test_mri_before_xr_v27_shape():
    ckp = card("chronic-knee-pain-imaging", "routine", ["CKP-ROUTINE-KNOWN-CAUSE", "CKP-XR-FIRST"],
               suggestions=[Suggest("knee-xray", "CKP-XR-FIRST", "weight-bearing views")],
               not_suggested={"mri-knee": "MRI before radiographs is usually not appropriate",
                              "d-dimer": "DVT not suspected"}, guidelines=["acr"])
    t = triage(ds=drafts(draft("v27-sr-mri-knee", "mri-knee")), dvt_suspected=False)
    c = advise(t, [ckp])
    assert c.tier == "urgent" and INDICATOR[c.tier] == "warning"
    a = one(c, "OA-MRI-BEFORE-XR")
    assert a.deletes == ["v27-sr-mri-knee"]
    assert [(s.orderable, s.priority) for s in a.creates] == [("knee-xray", "routine")]
    assert c.rules == ["OA-MRI-BEFORE-XR", "CKP-XR-FIRST"]
    assert "mri-knee" not in created(c)
    assert any("no knee radiograph result" in e for e in c.evidence)


# =================================================================================================
# D-dimer rows
# =================================================================================================
def preg_dvt_card(rule="PREG-DVT-US", tier="emergency-same-day", suggest=("venous-duplex-us",)):
    return card("dvt-pathway", tier, [rule], suggest=suggest, guidelines=["rcog"],
                not_suggested={"d-dimer": "RCOG GTG 37b: not used in pregnancy", "ctpa": "duplex first"})


def test_ddimer_pregnancy_dvt_suspected_uncovered_is_critical():
    t = triage(facts(pregnancy="pregnant"), drafts(draft("dd", "d-dimer")), **dvt_open(us_state="none"))
    c = advise(t, [preg_dvt_card()])
    a = one(c, "OA-DDIMER-PREGNANCY")
    assert c.tier == "emergency-same-day" and created(c) == ["venous-duplex-us"]
    assert a.deletes == ["dd"] and "PREG-DVT-US" in c.rules
    assert any("Observation/obs-preg" in e for e in c.evidence)


def test_ddimer_pregnancy_with_duplex_draft_is_urgent_and_creates_nothing():
    t = triage(facts(pregnancy="postpartum"), drafts(draft("dd", "d-dimer"), draft("us", "venous-duplex-us")),
               **dvt_open(us_state="none"))
    c = advise(t, [preg_dvt_card()])
    assert c.tier == "urgent" and created(c) == []
    assert one(c, "OA-DDIMER-PREGNANCY").deletes == ["dd"]


def test_ddimer_pregnancy_dvt_not_suspected_is_urgent():
    t = triage(facts(pregnancy="pregnant"), drafts(draft("dd", "d-dimer")))
    c = advise(t, [self_care("DVT-NOT-SUSPECTED")])
    assert [a.rule for a in c.advice] == ["OA-DDIMER-PREGNANCY"] and c.tier == "urgent"


def test_ddimer_pregnancy_g3_repeats_keep_their_periods():
    day3 = (NOW, NOW)
    g3 = card("dvt-pathway", "urgent", ["PREG-US-NEG-REPEAT"], suggestions=[
        Suggest("venous-duplex-us", "PREG-US-NEG-REPEAT", "day 3 repeat", period=day3, repeat=True),
        Suggest("venous-duplex-us", "PREG-US-NEG-REPEAT", "day 7 repeat", period=day3, repeat=True)],
        not_suggested={"d-dimer": "not in pregnancy"})
    c = advise(triage(facts(pregnancy="pregnant"), drafts(draft("dd", "d-dimer")), **dvt_open(us_state="negative")),
               [g3])
    a = one(c, "OA-DDIMER-PREGNANCY")
    assert [s.reason for s in a.creates] == ["day 3 repeat", "day 7 repeat"]
    assert all(s.priority == "urgent" for s in a.creates)      # item 8: the G3 card's priority
    assert c.tier == "emergency-same-day"                      # table: DVT open, duplex uncovered


def test_ddimer_anticoag():
    dvt = card("dvt-pathway", "emergency-same-day", ["DVT-LIKELY-US4H", "DVT-ANTICOAGULATED"],
               suggest=["venous-duplex-us"], not_suggested={"d-dimer": "falsely low on anticoagulation"})
    t = triage(facts(anticoag="current", pre_existing=True,
                     ka={"ultrasound-within-4h": False}), drafts(draft("dd", "d-dimer")),
               **dvt_open(wells_class="likely", us_state="none", already_anticoagulated=True))
    c = advise(t, [dvt])
    assert [a.rule for a in c.advice] == ["OA-DDIMER-ANTICOAG"]
    assert c.tier == "emergency-same-day" and created(c) == ["venous-duplex-us"]
    assert "DVT-ANTICOAGULATED" in c.rules and any("MedicationRequest/apixaban" in e for e in c.evidence)


def test_ddimer_anticoag_without_dvt_suspicion_is_urgent():
    t = triage(facts(anticoag="current", pre_existing=True), drafts(draft("dd", "d-dimer")), already_anticoagulated=True)
    c = advise(t, [self_care("DVT-NOT-SUSPECTED")])
    assert [a.rule for a in c.advice] == ["OA-DDIMER-ANTICOAG"] and c.tier == "urgent" and created(c) == []


def test_ddimer_imaging_first_from_facts():
    dvt = card("dvt-pathway", "emergency-same-day", ["DVT-UNLIKELY-DDIMER"], suggest=["venous-duplex-us"],
               not_suggested={"d-dimer": "image first"})
    # Wells unlikely (no ALONE-LIKELY); M-IMG comes from the facts (§1.11), DVT from the card
    c = advise(triage(facts(imaging_first=True), drafts(draft("dd", "d-dimer")),
                      **dvt_open(wells_class="unlikely", us_state="none")), [dvt])
    assert [a.rule for a in c.advice] == ["OA-DDIMER-IMAGING-FIRST"]
    assert c.tier == "emergency-same-day" and created(c) == ["venous-duplex-us"]
    assert any("inpatient" in e for e in c.evidence)


def test_ddimer_child():
    dvt = card("dvt-pathway", "emergency-same-day", ["DVT-PAEDIATRIC"], suggest=["venous-duplex-us"],
               not_suggested={"d-dimer": "not validated under 18"})
    c = advise(triage(facts(age=12), drafts(draft("dd", "d-dimer")), **dvt_open(us_state="none")), [dvt])
    assert [a.rule for a in c.advice] == ["OA-DDIMER-CHILD"]
    assert c.tier == "emergency-same-day" and created(c) == ["venous-duplex-us"]
    assert "DVT-PAEDIATRIC" in c.rules


def test_ddimer_child_dvt_not_suspected_is_urgent():
    c = advise(triage(facts(age=9), drafts(draft("dd", "d-dimer"))), [self_care("DVT-NOT-SUSPECTED")])
    assert [a.rule for a in c.advice] == ["OA-DDIMER-CHILD"] and c.tier == "urgent"


def test_ddimer_not_indicated():
    c = advise(triage(ds=drafts(draft("dd", "d-dimer"))), [self_care("DVT-NOT-SUSPECTED")])
    assert [a.rule for a in c.advice] == ["OA-DDIMER-NOT-INDICATED"]
    assert c.tier == "urgent" and c.rules == ["OA-DDIMER-NOT-INDICATED", "DVT-NOT-SUSPECTED"]
    assert one(c, "OA-DDIMER-NOT-INDICATED").creates == []


def test_ddimer_wanted_by_pe_pathway_is_fine():
    # §6.1 P6: PE unlikely, D-dimer suggested by the PE card: "no PE pathway needs it" fails
    pe = card("pe-emergency", "emergency-immediate", ["PE-RED-FLAG", "PE-UNLIKELY-DDIMER"], suggest=["d-dimer"])
    c = advise(triage(ds=drafts(draft("dd", "d-dimer"))), [pe])
    assert c is None


def test_ddimer_dvt_excluded():
    sc = self_care("DVT-UNLIKELY-DDIMER-NEG")
    c = advise(triage(ds=drafts(draft("dd", "d-dimer")), **dvt_excluded("DVT-UNLIKELY-DDIMER-NEG")), [sc])
    assert [a.rule for a in c.advice] == ["OA-DDIMER-DVT-EXCLUDED"]
    assert c.tier == "urgent" and "DVT-UNLIKELY-DDIMER-NEG" in c.rules


def test_pe_ddimer_likely():
    pe = card("pe-emergency", "emergency-immediate", ["PE-RED-FLAG", "PE-LIKELY-CTPA"], suggest=["ctpa"],
              not_suggested={"d-dimer": "PE likely: CTPA", "knee-xray": "x", "mri-knee": "x"},
              guidelines=["esc", "ng158"], scores={"wellsPe": 8.5})
    c = advise(triage(ds=drafts(draft("dd", "d-dimer")), pe_likely=True), [pe])
    a = one(c, "OA-PE-DDIMER-LIKELY")
    assert c.tier == "emergency-immediate" and INDICATOR[c.tier] == "critical"
    assert [(s.orderable, s.priority) for s in a.creates] == [("ctpa", "stat")]
    assert c.rules[:3] == ["OA-PE-DDIMER-LIKELY", "PE-RED-FLAG", "PE-LIKELY-CTPA"]
    assert any("Wells PE 8.5" in e for e in c.evidence)


@pytest.mark.parametrize("orderable", ["d-dimer", "ctpa"])
def test_pe_test_perc_neg(orderable):
    sc = self_care("PE-PERC-NEG", "DVT-NOT-SUSPECTED")
    c = advise(triage(ds=drafts(draft("x", orderable)), pe_excluded_rule="PE-PERC-NEG"), [sc])
    # PERC-NEG (urgent) and, for d-dimer, NOT-INDICATED (urgent) tie: the table order decides
    expected = "OA-DDIMER-NOT-INDICATED" if orderable == "d-dimer" else "OA-PE-TEST-PERC-NEG"
    assert [a.rule for a in c.advice] == [expected] and c.tier == "urgent"
    assert one(c, expected).deletes == ["x"]


def test_pe_test_perc_neg_from_triage_field():
    t = triage(ds=drafts(draft("ct", "ctpa")), pe_excluded_rule="PE-PERC-NEG")
    c = advise(t, [card("knee-injury-imaging", "urgent", ["OTTAWA-POS"], suggest=["knee-xray"])])
    assert one(c, "OA-PE-TEST-PERC-NEG").deletes == ["ct"]
    assert "PE-PERC-NEG" in c.rules


# =================================================================================================
# CTPA in pregnancy, knee imaging, injury rules
# =================================================================================================
def test_ctpa_preg_duplex_first():
    pe = card("pe-emergency", "emergency-immediate", ["PE-RED-FLAG", "PE-PREGNANCY", "DVT-SUPERSEDED-BY-PE"],
              suggest=["venous-duplex-us"], not_suggested={"d-dimer": "not in pregnancy"}, guidelines=["rcog"])
    t = triage(facts(pregnancy="pregnant", ka={"leg-swelling": True}), drafts(draft("ct", "ctpa")),
               dvt_suspected=True, us_state="none")
    c = advise(t, [pe])
    a = one(c, "OA-CTPA-PREG-DUPLEX-FIRST")
    assert c.tier == "emergency-immediate" and a.deletes == ["ct"]
    assert [(s.orderable, s.priority) for s in a.creates] == [("venous-duplex-us", "stat")]


def test_ctpa_preg_with_duplex_draft_is_urgent():
    pe = card("pe-emergency", "emergency-immediate", ["PE-RED-FLAG", "PE-PREGNANCY"], suggest=["venous-duplex-us"])
    t = triage(facts(pregnancy="pregnant", ka={"deep-vein-tenderness": True}),
               drafts(draft("ct", "ctpa"), draft("us", "venous-duplex-us")), dvt_suspected=True, us_state="none")
    c = advise(t, [pe])
    assert [a.rule for a in c.advice] == ["OA-CTPA-PREG-DUPLEX-FIRST"] and c.tier == "urgent"


def test_ctpa_preg_without_dvt_signs_is_not_held_back():
    # RCOG GTG 37b: pregnancy (an S5 risk factor) alone never holds back chest imaging
    pe = card("pe-emergency", "emergency-immediate", ["PE-RED-FLAG", "PE-PREGNANCY", "DVT-SUPERSEDED-BY-PE"],
              suggest=["ctpa"], guidelines=["rcog"])
    t = triage(facts(pregnancy="pregnant", ka={"leg-swelling": False}), drafts(draft("ct", "ctpa")),
               dvt_suspected=True, us_state="none")
    c = advise(t, [pe])
    assert c is None or "OA-CTPA-PREG-DUPLEX-FIRST" not in [a.rule for a in c.advice]


def test_ctpa_preg_with_signs_but_unstable_keeps_the_ctpa():
    pe = card("pe-emergency", "emergency-immediate", ["PE-UNSTABLE", "PE-RED-FLAG", "PE-PREGNANCY"],
              suggest=["ctpa"], guidelines=["rcog"])
    t = triage(facts(pregnancy="pregnant", ka={"leg-swelling": True}), drafts(draft("ct", "ctpa")),
               dvt_suspected=True, us_state="none")
    c = advise(t, [pe])
    assert c is None or all(not a.deletes for a in c.advice)


def test_knee_imaging_while_dvt_open_critical():
    c = advise(triage(ds=drafts(draft("xr", "knee-xray"), draft("mri", "mri-knee")), **DVT_LIKELY),
               [dvt_likely_card()])
    rules = [a.rule for a in c.advice]
    assert rules == ["OA-KNEE-IMAGING-DVT-OPEN", "OA-KNEE-IMAGING-DVT-OPEN"]
    assert c.tier == "emergency-same-day"
    assert created(c) == ["venous-duplex-us"]          # created once (item 7)
    assert sorted(d for a in c.advice for d in a.deletes) == ["mri", "xr"]


def test_knee_imaging_dvt_open_urgent_dvt_card_creates_ddimer():
    l4 = card("dvt-pathway", "urgent", ["DVT-LIKELY-US-NEG-DDIMER-NEEDED"], suggest=["d-dimer"],
              not_suggested={"knee-xray": "x", "mri-knee": "x"})
    t = triage(facts(radiographs=[("osteoarthritis", 30)]), drafts(draft("mri", "mri-knee")),
               **dvt_open(wells_class="likely", us_state="negative"))
    c = advise(t, [l4])
    assert [a.rule for a in c.advice] == ["OA-KNEE-IMAGING-DVT-OPEN"]
    assert c.tier == "urgent" and created(c) == ["d-dimer"]


def test_injury_radiograph_stays_allowed_while_dvt_open():
    # §7.3 item 2: parallel work-up; knee-xray in the recommended set is fine
    inj = card("knee-injury-imaging", "urgent", ["OTTAWA-POS"], suggest=["knee-xray"])
    c = advise(triage(ds=drafts(draft("xr", "knee-xray"), draft("us", "venous-duplex-us")), **DVT_LIKELY),
               [dvt_likely_card(), inj])
    assert c is None


def test_xr_rules_negative():
    sc = self_care("OTTAWA-NEG", "KNEE-INJURY-NO-XR", "DVT-NOT-SUSPECTED")
    c = advise(triage(ds=drafts(draft("xr", "knee-xray"))), [sc])
    assert [a.rule for a in c.advice] == ["OA-XR-RULES-NEG"] and c.tier == "urgent"
    assert one(c, "OA-XR-RULES-NEG").creates == []
    assert c.rules == ["OA-XR-RULES-NEG", "OTTAWA-NEG", "KNEE-INJURY-NO-XR"]


def test_mri_after_injury_needs_radiograph_after_the_injury():
    r5 = card("knee-injury-imaging", "urgent", ["KNEE-DERANGEMENT-XR-FIRST"], suggest=["knee-xray"],
              not_suggested={"mri-knee": "before radiographs"})
    ka = {"injury-mechanism": "twist", "knee-locking": True}
    # radiograph 60 days ago, injury recorded 1 h ago: not after the injury
    c = advise(triage(facts(ka=ka, radiographs=[("normal-or-effusion-only", 60)]),
                      drafts(draft("mri", "mri-knee"))), [r5])
    assert one(c, "OA-MRI-BEFORE-XR").creates[0].orderable == "knee-xray"
    assert c.rules == ["OA-MRI-BEFORE-XR", "KNEE-DERANGEMENT-XR-FIRST"]


def test_mri_with_radiograph_within_12_months_is_not_mri_before_xr():
    c2 = card("chronic-knee-pain-imaging", "routine", ["CKP-ROUTINE-KNOWN-CAUSE", "CKP-OA-ON-XR"],
              not_suggested={"mri-knee": "OA explains", "knee-xray": "done"})
    c = advise(triage(facts(radiographs=[("osteoarthritis", 100)]), drafts(draft("mri", "mri-knee"))), [c2])
    # not MRI-before-XR; still against the pathway's "not suggested" list
    assert [a.rule for a in c.advice] == ["OA-FORBIDDEN-TEST"]
    assert "OA explains" in one(c, "OA-FORBIDDEN-TEST").reason


def test_mri_before_xr_takes_emergency_tier_of_the_xray_card():
    r1 = card("knee-injury-imaging", "emergency-immediate", ["KNEE-DISLOCATION"], suggest=["knee-xray", "abi"],
              not_suggested={"mri-knee": "later"})
    c = advise(triage(ds=drafts(draft("mri", "mri-knee"))), [r1])
    assert c.tier == "emergency-immediate"
    a = one(c, "OA-MRI-BEFORE-XR")
    assert [s.orderable for s in a.creates] == ["knee-xray"]
    # abi: recommended by an emergency card, not covered, (a) holds -> OA-MISSING-TEST
    assert [s.orderable for s in one(c, "OA-MISSING-TEST").creates] == ["abi"]


def test_mri_before_xr_xray_on_record_is_not_created():
    ckp = card("chronic-knee-pain-imaging", "routine", ["CKP-ROUTINE-KNOWN-CAUSE", "CKP-XR-FIRST"],
               not_suggested={"mri-knee": "radiographs first"}, on_record=["knee-xray"])
    c = advise(triage(ds=drafts(draft("mri", "mri-knee"))), [ckp])
    a = one(c, "OA-MRI-BEFORE-XR")
    assert a.deletes == ["mri"] and a.creates == [] and c.tier == "urgent"


# =================================================================================================
# Rows without a delete
# =================================================================================================
def septic(tier="emergency-same-day"):
    return card("septic-arthritis", tier, ["SEPTIC-ADULT", "GOUT-VS-SEPTIC"],
                suggest=["arthrocentesis", "blood-culture", "uric-acid"], guidelines=["bsr"],
                not_suggested={"mri-knee": "no", "d-dimer": "no"})


def test_urate_without_aspiration():
    t = triage(facts(ka={"hot-swollen-joint": True}), drafts(draft("ua", "uric-acid"), draft("bc", "blood-culture")))
    c = advise(t, [septic()])
    a = one(c, "OA-URATE-WITHOUT-ASPIRATION")
    assert a.deletes == [] and [s.orderable for s in a.creates] == ["arthrocentesis"]
    assert c.tier == "emergency-same-day" and a.creates[0].priority == "stat"
    assert "GOUT-VS-SEPTIC" in c.rules and "SEPTIC-ADULT" in c.rules
    assert any("Observation/obs-hot-swollen-joint" in e for e in c.evidence)
    assert not any("ServiceRequest/ua" in line for _t, lines in c.extra for line in lines)


def test_urate_with_aspiration_draft_is_fine():
    t = triage(facts(ka={"hot-swollen-joint": True}),
               drafts(draft("ua", "uric-acid"), draft("asp", "arthrocentesis"), draft("bc", "blood-culture")))
    assert advise(t, [septic()]) is None


def paes_card():
    return card("paes", "urgent", ["PAES-SUSPECTED"], suggest=["abi", "arterial-duplex"], guidelines=["acr"],
                not_suggested={"venous-duplex-us": "DVT not suspected", "d-dimer": "no"})


def test_venous_us_for_paes():
    t = triage(facts(ka={"exertional-calf-pain": True}), drafts(draft("us", "venous-duplex-us")))
    c = advise(t, [paes_card()])
    a = one(c, "OA-VENOUS-US-FOR-PAES")
    assert a.deletes == [] and [s.orderable for s in a.creates] == ["abi", "arterial-duplex"]
    assert c.tier == "urgent" and [x.rule for x in c.advice] == ["OA-VENOUS-US-FOR-PAES"]


def test_venous_us_for_paes_with_abi_draft_falls_to_forbidden_test():
    t = triage(facts(ka={"exertional-calf-pain": True}), drafts(draft("us", "venous-duplex-us"), draft("abi", "abi")))
    c = advise(t, [paes_card()])
    a = one(c, "OA-FORBIDDEN-TEST")
    assert a.deletes == ["us"] and [s.orderable for s in a.creates] == ["arterial-duplex"]
    assert "DVT not suspected" in a.reason and c.tier == "urgent"


# =================================================================================================
# OA-FORBIDDEN-TEST
# =================================================================================================
def test_forbidden_test_quotes_reason_and_creates_card_tests():
    ia = card("inflammatory-arthritis", "urgent", ["IA-KNOWN-FLARE"],
              not_suggested={"rheumatoid-factor": "no diagnostic serology"})
    ckp = card("chronic-knee-pain-imaging", "routine", ["KNEE-PAIN-REVIEW", "CKP-XR-FIRST"], suggest=["knee-xray"],
               not_suggested={"anti-ccp": "no inflammatory features"})
    c = advise(triage(ds=drafts(draft("rf", "rheumatoid-factor"), draft("ccp", "anti-ccp"))), [ia, ckp])
    rf, ccp = [a for a in c.advice if a.rule == "OA-FORBIDDEN-TEST"]
    assert rf.deletes == ["rf"] and rf.creates == [] and "no diagnostic serology" in rf.reason
    assert ccp.deletes == ["ccp"] and [s.orderable for s in ccp.creates] == ["knee-xray"]
    assert c.tier == "urgent"


def test_forbidden_test_emergency_card_uncovered_is_critical():
    sep = septic("emergency-immediate")
    c = advise(triage(facts(ka={"hot-swollen-joint": False}), drafts(draft("mri", "mri-knee"))), [sep])
    # a radiograph-less MRI: OA-MRI-BEFORE-XR judges it (so OA-FORBIDDEN-TEST does not); no card
    # recommends a radiograph, so nothing is created for it; the septic tests come via (a)
    assert [a.rule for a in c.advice] == ["OA-MISSING-TEST"] * 3 + ["OA-MRI-BEFORE-XR"]
    assert one(c, "OA-MRI-BEFORE-XR").creates == [] and c.tier == "emergency-immediate"
    assert c.guidelines == ["bsr", "acr"]
    # a non-imaging forbidden draft: the septic card's reason and its tests
    c = advise(triage(ds=drafts(draft("dd", "d-dimer"))), [sep])
    a = one(c, "OA-DDIMER-NOT-INDICATED")       # DVT not suspected: the d-dimer row judges it
    assert a.deletes == ["dd"]
    sep2 = card("septic-arthritis", "emergency-immediate", ["SEPTIC-ADULT-SEPSIS"], suggest=["arthrocentesis"],
                not_suggested={"cbc": "resulted 1 h ago"})
    c = advise(triage(ds=drafts(draft("cbc", "cbc"))), [sep2])
    f = one(c, "OA-FORBIDDEN-TEST")
    assert c.tier == "emergency-immediate" and [s.orderable for s in f.creates] == ["arthrocentesis"]


def test_recommended_test_is_never_forbidden():
    # d-dimer suggested by the DVT card (L2) and listed as "not suggested" elsewhere: recommended wins
    l2 = card("dvt-pathway", "emergency-same-day", ["DVT-LIKELY-SCAN-DELAYED"], suggest=["d-dimer", "venous-duplex-us"])
    sep = card("septic-arthritis", "emergency-same-day", ["SEPTIC-ADULT"], not_suggested={"d-dimer": "unless DVT"})
    t = triage(facts(ka={"ultrasound-within-4h": False}),
               drafts(draft("dd", "d-dimer"), draft("us", "venous-duplex-us")), **DVT_LIKELY)
    assert advise(t, [l2, sep]) is None


# =================================================================================================
# OA-DUPLICATE-DRAFT
# =================================================================================================
def ckp_card():
    return card("chronic-knee-pain-imaging", "routine", ["KNEE-PAIN-REVIEW", "CKP-XR-FIRST"], suggest=["knee-xray"])


def test_duplicates_same_day():
    ds = drafts(draft("a", "knee-xray", day="2026-03-02"), draft("b", "knee-xray", day="2026-03-02"))
    c = advise(triage(ds=ds), [ckp_card()])
    a = one(c, "OA-DUPLICATE-DRAFT")
    assert a.deletes == ["b"] and a.creates == []
    assert c.tier == "routine" and INDICATOR[c.tier] == "info"
    assert any("ServiceRequest/a" in line and "kept" in line for _t, lines in c.extra for line in lines)


def test_scheduled_repeats_on_different_days_are_not_duplicates():
    ds = drafts(draft("d3", "venous-duplex-us", day="2026-03-05"), draft("d7", "venous-duplex-us", day="2026-03-09"))
    g3 = card("dvt-pathway", "urgent", ["PREG-US-NEG-REPEAT"], suggest=["venous-duplex-us"])
    assert advise(triage(facts(pregnancy="pregnant"), ds, **dvt_open(us_state="negative")), [g3]) is None


def test_undated_draft_is_due_today():
    today = NOW.date().isoformat()
    ds = drafts(draft("now", "knee-xray"), draft("today", "knee-xray", day=today),
                draft("later", "knee-xray", day="2026-03-20"))
    c = advise(triage(ds=ds), [ckp_card()])
    assert one(c, "OA-DUPLICATE-DRAFT").deletes == ["today"]


def test_keep_one_most_urgent_priority_first():
    ds = drafts(draft("a", "knee-xray"), draft("b", "knee-xray", priority="asap"),
                draft("c", "knee-xray", priority="stat"), draft("d", "knee-xray", priority="urgent"))
    c = advise(triage(ds=ds), [ckp_card()])
    assert one(c, "OA-DUPLICATE-DRAFT").deletes == ["a", "b", "d"]


def test_keep_one_selected_then_first_at_order_select():
    ds = drafts(draft("a", "knee-xray"), draft("b", "knee-xray", selected=True), draft("c", "knee-xray"))
    c = advise(triage(ds=ds, hook="order-select"), [ckp_card()], hook="order-select")
    assert one(c, "OA-DUPLICATE-DRAFT").deletes == ["a", "c"]
    # at order-sign "selected" means nothing: the first is kept
    c = advise(triage(ds=ds), [ckp_card()])
    assert one(c, "OA-DUPLICATE-DRAFT").deletes == ["b", "c"]


def test_order_select_duplicate_group_needs_a_selected_draft():
    ds = drafts(draft("a", "knee-xray"), draft("b", "knee-xray"), draft("s", "cbc", selected=True))
    cbc = card("inflammatory-arthritis", "routine", ["IA-NG100-REFER"], suggest=["cbc"])
    c = advise(triage(ds=ds, hook="order-select"), [ckp_card(), cbc], hook="order-select")
    assert c is None


def test_drafts_deleted_by_another_finding_are_not_duplicates():
    ds = drafts(draft("d1", "d-dimer"), draft("d2", "d-dimer"))
    c = advise(triage(ds=ds, **DVT_LIKELY), [dvt_likely_card()])
    # both judged against at order-sign: one suggestion deletes both, the duplex is created once
    assert [a.rule for a in c.advice] == ["OA-DDIMER-ALONE-LIKELY"]
    assert one(c, "OA-DDIMER-ALONE-LIKELY").deletes == ["d1", "d2"]
    assert created(c) == ["venous-duplex-us"]


# =================================================================================================
# order-select judges only selections; OA-MISSING-TEST (a)/(b)/(c)
# =================================================================================================
def test_order_select_judges_only_selections():
    ds = drafts(draft("dd", "d-dimer"), draft("cbc", "cbc", selected=True))
    c = advise(triage(ds=ds, hook="order-select", **DVT_LIKELY), [dvt_likely_card()], hook="order-select")
    assert "OA-DDIMER-ALONE-LIKELY" not in c.rules          # the D-dimer was not selected
    # (b): a selected draft matches the catalog -> the uncovered duplex is suggested
    m = one(c, "OA-MISSING-TEST")
    assert [s.orderable for s in m.creates] == ["venous-duplex-us"] and m.deletes == []
    assert c.tier == "emergency-same-day"
    assert any("ServiceRequest/dd" in line and "not selected" in line for _t, lines in c.extra for line in lines)


def test_missing_test_a_card_has_another_finding():
    ckp = card("chronic-knee-pain-imaging", "routine", ["KNEE-PAIN-REVIEW", "CKP-XR-FIRST"], suggest=["knee-xray"],
               not_suggested={"rheumatoid-factor": "no inflammatory features"})
    ia = card("inflammatory-arthritis", "routine", ["IA-NG100-REFER"], suggest=["crp"])
    c = advise(triage(ds=drafts(draft("rf", "rheumatoid-factor"), draft("xr", "knee-xray"))), [ckp, ia])
    assert [a.rule for a in c.advice] == ["OA-FORBIDDEN-TEST", "OA-MISSING-TEST"]
    assert [s.orderable for s in one(c, "OA-MISSING-TEST").creates] == ["crp"]
    assert c.tier == "urgent"                # forbidden (urgent) beats the routine missing test


def test_missing_test_b_order_select_with_selected_catalog_draft():
    ckp = ckp_card()
    c = advise(triage(ds=drafts(draft("esr", "esr", selected=True)), hook="order-select"), [ckp],
               hook="order-select")
    m = one(c, "OA-MISSING-TEST")
    assert [(s.orderable, s.priority) for s in m.creates] == [("knee-xray", "routine")]
    assert c.tier == "routine"


def test_missing_test_b_not_at_order_sign_for_routine():
    assert advise(triage(ds=drafts(draft("esr", "esr"))), [ckp_card()]) is None


def test_missing_test_c_order_sign_emergency_card():
    sep = septic()
    c = advise(triage(ds=drafts(draft("bc", "blood-culture"))), [sep, ckp_card()])
    m = [a for a in c.advice if a.rule == "OA-MISSING-TEST"]
    # the emergency card's tests come first; once the card exists, (a) adds the routine x-ray too
    assert [s.orderable for a in m for s in a.creates] == ["arthrocentesis", "uric-acid", "knee-xray"]
    assert c.tier == "emergency-same-day"
    assert [a.creates[0].priority for a in m] == ["stat", "stat", "routine"]


def test_missing_test_never_creates_tests_already_on_record():
    dvt = card("dvt-pathway", "emergency-same-day", ["DVT-LIKELY-US4H"], on_record=["venous-duplex-us"],
               not_suggested={"d-dimer": "scan first"})
    assert advise(triage(ds=drafts(draft("cbc", "cbc", selected=True)), hook="order-select", **DVT_LIKELY), [dvt],
                  hook="order-select") is None


def test_missing_test_covered_by_unselected_draft_at_order_select():
    ds = drafts(draft("us", "venous-duplex-us"), draft("cbc", "cbc", selected=True))
    assert advise(triage(ds=ds, hook="order-select", **DVT_LIKELY), [dvt_likely_card()], hook="order-select") is None


# =================================================================================================
# Tier and indicator of each finding (§6.16 item 4 and the table's last column)
# =================================================================================================
@pytest.mark.parametrize("build, rule, tier", [
    (lambda: (triage(ds=drafts(draft("dd", "d-dimer")), **DVT_LIKELY), [dvt_likely_card()]),
     "OA-DDIMER-ALONE-LIKELY", "emergency-same-day"),
    (lambda: (triage(facts(pregnancy="pregnant"), drafts(draft("dd", "d-dimer")), **dvt_open(us_state="none")),
              [preg_dvt_card()]),
     "OA-DDIMER-PREGNANCY", "emergency-same-day"),
    (lambda: (triage(ds=drafts(draft("dd", "d-dimer"))), [self_care("DVT-NOT-SUSPECTED")]),
     "OA-DDIMER-NOT-INDICATED", "urgent"),
    (lambda: (triage(ds=drafts(draft("dd", "d-dimer")), **dvt_excluded("DVT-UNLIKELY-US-NEG")),
              [self_care("DVT-UNLIKELY-US-NEG")]),
     "OA-DDIMER-DVT-EXCLUDED", "urgent"),
    (lambda: (triage(ds=drafts(draft("xr", "knee-xray")), **DVT_LIKELY), [dvt_likely_card()]),
     "OA-KNEE-IMAGING-DVT-OPEN", "emergency-same-day"),
    (lambda: (triage(ds=drafts(draft("xr", "knee-xray"), draft("us", "venous-duplex-us")), **DVT_LIKELY),
              [dvt_likely_card()]),
     "OA-KNEE-IMAGING-DVT-OPEN", "urgent"),
    (lambda: (triage(ds=drafts(draft("a", "knee-xray"), draft("b", "knee-xray"))), [ckp_card()]),
     "OA-DUPLICATE-DRAFT", "routine"),
    (lambda: (triage(facts(ka={"hot-swollen-joint": True}), drafts(draft("ua", "uric-acid"))),
              [septic("emergency-immediate")]),
     "OA-URATE-WITHOUT-ASPIRATION", "emergency-immediate"),
])
def test_finding_tier_and_indicator(build, rule, tier):
    t, cards = build()
    c = advise(t, cards)
    assert rule in [a.rule for a in c.advice]
    finding = next(f for f in c.meta["findings"] if f["rule"] == rule)
    assert finding["tier"] == tier
    assert INDICATOR[finding["tier"]] == {"emergency-same-day": "critical", "emergency-immediate": "critical",
                                          "urgent": "warning", "routine": "info"}[tier]


# =================================================================================================
# State derivation: Triage fields win, cards fill in
# =================================================================================================
def test_state_from_triage_fields_without_dvt_rules():
    # a DVT card whose rules the advisor does not know; Triage says likely / US none
    dvt = card("dvt-pathway", "emergency-same-day", ["X-CUSTOM"], suggest=["venous-duplex-us"])
    t = triage(ds=drafts(draft("dd", "d-dimer")), dvt_suspected=True, dvt_status="open",
               wells_class="likely", us_state="none")
    assert one(advise(t, [dvt]), "OA-DDIMER-ALONE-LIKELY").deletes == ["dd"]


def test_scan_delayed_is_not_alone_likely():
    # ultrasound-within-4h = false: L2 suggests both tests; a lone D-dimer draft is fine and the
    # emergency duplex is suggested as missing (c)
    l2 = card("dvt-pathway", "emergency-same-day", ["DVT-LIKELY-SCAN-DELAYED"], suggest=["d-dimer", "venous-duplex-us"])
    c = advise(triage(facts(ka={"ultrasound-within-4h": False}), drafts(draft("dd", "d-dimer")), **DVT_LIKELY), [l2])
    assert [a.rule for a in c.advice] == ["OA-MISSING-TEST"]
    assert created(c) == ["venous-duplex-us"]


def test_alone_likely_with_duplex_draft_is_fine():
    c = advise(triage(ds=drafts(draft("dd", "d-dimer"), draft("us", "venous-duplex-us")), **DVT_LIKELY),
               [dvt_likely_card()])
    # the D-dimer is still "not suggested" by the DVT card: forbidden, urgent, nothing to create
    assert [a.rule for a in c.advice] == ["OA-FORBIDDEN-TEST"]
    assert c.tier == "urgent" and created(c) == []


# =================================================================================================
# The real terminology (mappings/codesets.json) on the shared vignettes' draft orders
# =================================================================================================
def _vignette_drafts(vid: str):
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "shared" / "vignettes" / f"{vid}.json"
    if not path.exists():
        pytest.skip(f"{path} not present")
    v = json.loads(path.read_text())
    selections = (v.get("context") or {}).get("selections")
    if selections is None and v["hook"] == "order-select":
        selections = [f"ServiceRequest/{v['draftOrders'][0]['id']}"]   # contract §9 default
    return v, bundle(*v["draftOrders"]), selections or []


@pytest.mark.parametrize("vid, orderable, selected", [("V26", "d-dimer", True), ("V27", "mri-knee", False)])
def test_match_drafts_with_real_terminology(vid, orderable, selected):
    terminology = pytest.importorskip("service.terminology.code_sets")
    v, b, selections = _vignette_drafts(vid)
    out = match_drafts(b, selections, terminology.default_terminology(), hook=v["hook"])
    assert [(d.orderables, d.selected) for d in out] == [(frozenset({orderable}), selected)]
    assert out[0].id == v["draftOrders"][0]["id"] and out[0].priority == "routine"


def test_rendered_card_v26_shape():
    """The advice card through the renderer: delete + create actions, priority from the DVT card."""
    cards = pytest.importorskip("service.cards.render")
    terminology = pytest.importorskip("service.terminology.code_sets")
    t = triage(ds=drafts(draft("v26-sr-ddimer", "d-dimer", selected=True)), hook="order-select", **DVT_LIKELY)
    c = build_order_advice(t, [dvt_likely_card()], "order-select")
    out = cards.CardRenderer(terminology.default_terminology()).render(c, t.facts)
    assert out["indicator"] == "critical" and out["source"]["topic"]["code"] == "order-advice"
    assert out["extension"]["example.knee-cds"]["tier"] == "emergency-same-day"
    (suggestion,) = out["suggestions"]
    delete, create = suggestion["actions"]
    assert delete["type"] == "delete" and delete["resourceId"] == "ServiceRequest/v26-sr-ddimer"
    sr_ = create["resource"]
    assert create["type"] == "create" and sr_["priority"] == "stat" and sr_["status"] == "draft"
    assert {"system": ORDERABLE_SYSTEM, "code": "venous-duplex-us"}.items() <= next(
        cd for cd in sr_["code"]["coding"] if cd["system"] == ORDERABLE_SYSTEM).items()
    assert sr_["reasonCode"][0]["text"].startswith("DVT-LIKELY-US4H: ")
    assert sr_["note"][0]["text"].startswith("DVT-LIKELY-US4H: ")
    assert len(out["summary"]) <= 139 and "ServiceRequest/v26-sr-ddimer" in out["detail"]


def test_pregnant_minor_is_the_pregnancy_row():
    # §3: the pregnancy variant comes before the paediatric one
    c = advise(triage(facts(age=16, pregnancy="pregnant"), drafts(draft("dd", "d-dimer")), **dvt_open(us_state="none")),
               [preg_dvt_card()])
    assert [a.rule for a in c.advice] == ["OA-DDIMER-PREGNANCY"]


def test_us_state_falls_back_to_the_facts():
    from datetime import timedelta

    from service.chart.facts import Source, Value

    f = facts()
    t0 = NOW - timedelta(days=2)
    f.ultrasounds = [Value("no-dvt-seen", Source("Observation/us1", t0, "final"), t0)]
    dvt = card("dvt-pathway", "urgent", ["X-CUSTOM"], suggest=["d-dimer"])
    t = triage(f, drafts(draft("dd", "d-dimer", selected=True)), hook="order-select",
               dvt_suspected=True, wells_class="likely")
    # US negative (facts): not "D-dimer alone"; the D-dimer is what the card wants -> nothing to say
    assert advise(t, [dvt], hook="order-select") is None


def test_pregnancy_test_the_pathway_wants_before_a_drafted_ddimer_is_created_at_order_sign():
    # DDIMER-PREGNANCY-TEST-FIRST on an emergency-same-day card: the drafted D-dimer stays, the
    # pregnancy test no draft covers is created (§6.16 item 6 (c))
    dvt = card("dvt-pathway", "emergency-same-day", ["DVT-UNLIKELY-DDIMER", "DDIMER-PREGNANCY-TEST-FIRST"],
               suggest=["pregnancy-test", "d-dimer"], guidelines=["ng158"])
    t = triage(facts(pregnancy="unknown", age=30), drafts(draft("dd", "d-dimer")), dvt_suspected=True,
               us_state="none")
    c = advise(t, [dvt])
    finding = one(c, "OA-MISSING-TEST")
    assert [s.orderable for s in finding.creates] == ["pregnancy-test"] and not finding.deletes
    assert c.tier == "emergency-same-day"


# =================================================================================================
# The one ultrasound state (§6.3), draft priorities, and safety properties of the whole table
# =================================================================================================
def _scans(*items):
    from datetime import timedelta

    from service.chart.facts import Source, Value

    f = facts()
    out = []
    for i, (value, days) in enumerate(items):
        when = None if days is None else NOW - timedelta(days=days)
        out.append(Value(value, Source(f"Observation/us{i}", when, "final"), when))
    f.ultrasounds = out
    return f


@pytest.mark.parametrize("scans, expected", [
    ((), "none"),
    ((("dvt-seen", 1),), "positive"),
    ((("no-dvt-seen", 2),), "negative"),
    ((("no-dvt-seen", 1), ("no-dvt-seen", 7)), "negative-repeat"),   # repeat 6 days after the first
    ((("no-dvt-seen", 1), ("no-dvt-seen", 3)), "negative"),          # too soon to be the repeat
    ((("dvt-seen", 9),), "none"),                                     # older than 8 days
    ((("dvt-seen", None),), "none"),                                  # undated never counts
    ((("inconclusive", 1), ("no-dvt-seen", 3)), "none"),              # the latest decides
    ((("no-dvt-seen", 3), ("dvt-seen", 1)), "positive"),              # latest by time, not list order
])
def test_ultrasound_state(scans, expected):
    from service.scores.ultrasound import ultrasound_state
    from service.vocabulary import UltrasoundState

    state = ultrasound_state(_scans(*scans))
    assert isinstance(state, UltrasoundState) and state == expected


def test_draft_priority_is_a_fhir_code_or_routine():
    from service.vocabulary import RequestPriority

    b = bundle(sr("a", "cbc", priority="asap"), sr("b", "crp"), dict(sr("c", "esr"), priority={"x": 1}),
               dict(sr("d", "abi"), priority=["stat"]), sr("e", "ctpa", priority="STAT"))
    out = match_drafts(b, [], FakeTerminology(), hook="order-sign")
    assert [d.priority for d in out] == ["asap", "routine", "routine", "routine", "routine"]
    assert all(isinstance(d.priority, RequestPriority) for d in out)
    assert [p.rank for p in RequestPriority] == [0, 1, 2, 3]
    assert [RequestPriority.for_tier(t) for t in INDICATOR] == ["stat", "stat", "urgent", "routine", "routine"]


def test_a_pregnant_patient_is_the_pregnancy_variant_without_pathway_state():
    # the §3 population derivation the DVT pathways use, also when no pathway recorded a state
    c = advise(triage(facts(pregnancy="postpartum"), drafts(draft("dd", "d-dimer"))), [])
    assert [a.rule for a in c.advice] == ["OA-DDIMER-PREGNANCY"] and c.tier == "urgent"


ORDERABLES = ["venous-duplex-us", "d-dimer", "knee-xray", "mri-knee", "popliteal-us", "ctpa", "uric-acid",
              "arthrocentesis", "abi", "arterial-duplex", "crp", "cbc"]
TOPICS_TIERS = [("pe-emergency", "emergency-immediate"), ("dvt-pathway", "emergency-same-day"),
                ("septic-arthritis", "emergency-same-day"), ("knee-injury-imaging", "urgent"),
                ("paes", "urgent"), ("chronic-knee-pain-imaging", "routine"), ("self-care", "self-care")]


@st.composite
def advice_case(draw):
    cards = []
    for topic, tier in draw(st.lists(st.sampled_from(TOPICS_TIERS), min_size=1, max_size=3, unique=True)):
        suggest = draw(st.lists(st.sampled_from(ORDERABLES), max_size=3, unique=True))
        forbid = draw(st.lists(st.sampled_from([o for o in ORDERABLES if o not in suggest]), max_size=3, unique=True))
        cards.append(card(topic, tier, [f"{topic.upper()}-RULE"], suggest=suggest,
                          not_suggested={o: "not for this patient" for o in forbid}))
    picks = draw(st.lists(st.tuples(st.sampled_from(ORDERABLES), st.booleans(),
                                    st.sampled_from(["routine", "urgent", "stat"])), min_size=1, max_size=5))
    ds = drafts(*[draft(f"d{i}", o, selected=sel, priority=p) for i, (o, sel, p) in enumerate(picks)])
    hook = draw(st.sampled_from(["order-select", "order-sign"]))
    state = draw(st.sampled_from([{}, DVT_LIKELY, dvt_excluded("DVT-UNLIKELY-US-NEG"), dvt_open(us_state="none")]))
    f = facts(pregnancy=draw(st.sampled_from(["not-pregnant", "pregnant"])), age=draw(st.sampled_from([12, 55])),
              ka={"hot-swollen-joint": draw(st.booleans())})
    return triage(f, ds, hook=hook, **state), cards, hook


@settings(max_examples=300, deadline=None)
@given(advice_case())
def test_advice_never_deletes_what_the_pathway_wants_nor_creates_twice(case):
    t, cards, hook = case
    c = advise(t, cards, hook=hook)
    if c is None:
        return
    recommended = {s.orderable for k in cards for s in k.suggestions}
    by_id = {d.id: d for d in t.drafts}
    for a in c.advice:
        for rid in a.deletes:
            d = by_id[rid]
            if a.rule != "OA-DUPLICATE-DRAFT":
                # only a judged draft of a test no card recommends is "against" (§6.16 items 2, 3)
                assert not d.orderables & recommended
                assert hook == "order-sign" or d.selected
    made = created(c)
    assert len(made) == len(set(made))                                        # item 7: once
    drafted = {o for d in t.drafts for o in d.orderables}
    assert not set(made) & drafted                                            # never a covered test
    assert set(made) <= recommended                                           # only what a card wants
    tiers = [f["tier"] for f in c.meta["findings"]]
    assert c.tier == min(tiers, key=lambda x: list(INDICATOR).index(x))       # the most urgent finding


def test_test_names_in_sentences_come_from_the_card_titles():
    from service.cards.text import ORDERABLE_TITLES
    from service.order_advice.text import test_name

    assert [test_name(o) for o in ("venous-duplex-us", "d-dimer", "anti-ccp", "mri-knee", "crp", "ctpa")] == [
        "leg-vein ultrasound", "D-dimer", "anti-CCP", "knee MRI", "CRP", "CTPA"]
    assert all(test_name(o)[1:] == title[1:] for o, title in ORDERABLE_TITLES.items())


def test_a_row_predicate_is_evaluated_once_per_request():
    t = triage(ds=drafts(draft("a", "d-dimer"), draft("b", "d-dimer")))
    s = Situation(t, [], "order-sign")
    calls = []

    def holds(situation):
        calls.append(situation)
        return True

    assert s.holds("OA-DDIMER-NOT-INDICATED", holds) and s.holds("OA-DDIMER-NOT-INDICATED", holds)
    assert calls == [s]


def test_two_drafts_of_one_test_get_one_finding_from_the_most_urgent_row():
    # pregnant with DVT open: OA-DDIMER-PREGNANCY (critical) beats OA-DDIMER-NOT-INDICATED and the like
    t = triage(facts(pregnancy="pregnant"), drafts(draft("a", "d-dimer"), draft("b", "d-dimer")),
               population="pregnancy", **dvt_open())
    c = advise(t, [dvt_likely_card()])
    assert c is not None
    found = [a for a in c.advice if a.rule.startswith("OA-DDIMER")]
    assert [a.rule for a in found] == ["OA-DDIMER-PREGNANCY"] and sorted(found[0].deletes) == ["a", "b"]
