"""Adult DVT pathway rows (clinical-rules §6.3) and self-care/assessment outcomes around it."""
from datetime import timedelta

import pytest

from service.chart.facts import DDimer, Surgery, Value
from service.pathways import dvt, dvt_suspicion
from tests.support.msk_facts import NOW, condition, make_facts, make_triage, not_suggested, q, src, suggested

EXAM_LIKELY = {"leg-swelling": True, "deep-vein-tenderness": True, "entire-leg-swollen": False,
               "pitting-edema": True, "collateral-superficial-veins": False,
               "calf-circumference-difference": q(1.0, "cm"), "posterior-knee-pain": True}
EXAM_UNLIKELY = {**EXAM_LIKELY, "deep-vein-tenderness": False, "pitting-edema": False}


def ddimer(value, hours=2, high=500.0):
    t = NOW - timedelta(hours=hours)
    return DDimer(src("Observation/dd", t), t, "feu", q(value, "ug/L"), [], q(high, "ug/L"))


def scan(result, hours):
    t = NOW - timedelta(hours=hours)
    return Value(result, src(f"Observation/us-{hours}", t), t)


def run(ka, ddimers=(), ultrasounds=(), **kw):
    facts = make_facts(60, ka=ka, **kw)
    facts.ddimers = list(ddimers)
    facts.ultrasounds = sorted(ultrasounds, key=lambda u: u.time, reverse=True)
    facts.pregnancy.state = "not-pregnant"
    t = make_triage(facts)
    t.triggers = ["T1"]
    dvt_suspicion.evaluate(t)
    dvt.evaluate(t)
    return t, t.cards.get("dvt-pathway")


def test_l1_likely_scan_within_4h():
    t, card = run(EXAM_LIKELY)
    assert card.rules[0] == "DVT-LIKELY-US4H" and card.tier == "emergency-same-day"
    assert suggested(card) == ["venous-duplex-us"]
    assert {"d-dimer", "knee-xray", "mri-knee", "popliteal-us"} <= set(not_suggested(card))
    assert t.dvt_status == "open"


def test_l2_scan_delayed_draws_ddimer_first():
    t, card = run({**EXAM_LIKELY, "ultrasound-within-4h": False})
    assert card.rules[0] == "DVT-LIKELY-SCAN-DELAYED"
    assert suggested(card) == ["d-dimer", "venous-duplex-us"]


def test_l4_negative_scan_needs_ddimer():
    _t, card = run(EXAM_LIKELY, ultrasounds=[scan("no-dvt-seen", 3)])
    assert card.rules[0] == "DVT-LIKELY-US-NEG-DDIMER-NEEDED" and card.tier == "urgent"
    assert suggested(card) == ["d-dimer"]


def test_l5_positive_ddimer_books_repeat_scan_6_to_8_days():
    _t, card = run(EXAM_LIKELY, ddimers=[ddimer(900, hours=20)], ultrasounds=[scan("no-dvt-seen", 3)])
    assert card.rules[0] == "DVT-LIKELY-US-NEG-DDIMER-POS-REPEAT"
    repeat = card.suggestions[0]
    assert repeat.repeat and repeat.period[0] == NOW - timedelta(hours=3) + timedelta(days=6)


def test_l6_scan_and_ddimer_negative_close_the_pathway():
    t, card = run(EXAM_LIKELY, ddimers=[ddimer(300, hours=20)], ultrasounds=[scan("no-dvt-seen", 3)])
    assert card.rules[0] == "DVT-LIKELY-US-NEG-DDIMER-NEG" and card.tier == "self-care"
    assert t.dvt_status == "closed" and card.safety_net


def test_u2_unlikely_ddimer_first():
    _t, card = run(EXAM_UNLIKELY)
    assert card.rules[0] == "DVT-UNLIKELY-DDIMER"
    assert suggested(card) == ["d-dimer"] and "venous-duplex-us" in not_suggested(card)


@pytest.mark.parametrize("value,rule", [(500, "DVT-UNLIKELY-DDIMER-POS-US"), (499, "DVT-UNLIKELY-DDIMER-NEG")])
def test_u3_u4_at_the_cut_off(value, rule):
    _t, card = run(EXAM_UNLIKELY, ddimers=[ddimer(value)])
    assert card.rules[0] == rule


def test_u5_imaging_first_after_surgery():
    facts = make_facts(60, ka=EXAM_UNLIKELY)
    facts.pregnancy.state = "not-pregnant"
    facts.setting.imaging_first = True
    facts.setting.qualifying_surgeries = [Surgery(NOW - timedelta(days=100), [src("Procedure/old")])]
    t = make_triage(facts)
    t.triggers = ["T1"]
    dvt_suspicion.evaluate(t)
    dvt.evaluate(t)
    card = t.cards["dvt-pathway"]
    assert "DVT-IMAGING-FIRST" in card.rules and "DVT-UNLIKELY-DDIMER" not in card.rules
    assert suggested(card) == ["venous-duplex-us"] and "d-dimer" in not_suggested(card)


def test_r1_confirmed_scan():
    _t, card = run(EXAM_LIKELY, ultrasounds=[scan("dvt-seen", 5)])
    assert card.rules[0] == "DVT-CONFIRMED" and suggested(card) == []


def test_indeterminate_is_handled_as_likely_and_asks_for_the_exam():
    t, card = run({"leg-swelling": True, "posterior-knee-pain": True})
    assert card.scores["wellsDvt"]["class"] == "indeterminate"
    assert "DVT-LIKELY-US4H" in card.rules and "DVT-INDETERMINATE" in card.rules
    assert "ASSESS-WELLS-INCOMPLETE" in t.assessment


def test_not_suspected_without_swelling_or_risk_factor():
    t, card = run({"posterior-knee-pain": True, "leg-swelling": False})
    assert card is None and not t.dvt_suspected


def test_s4_calf_two_centimetres_triggers_suspicion():
    t, _ = run({"posterior-knee-pain": True, "leg-swelling": False, "calf-circumference-difference": q(2.0, "cm")})
    assert t.dvt_suspected
    t, _ = run({"posterior-knee-pain": True, "leg-swelling": False, "calf-circumference-difference": q(1.9, "cm")})
    assert not t.dvt_suspected


def test_s5_risk_factor_with_knee_pain_triggers_suspicion():
    t, _ = run({"posterior-knee-pain": True, "leg-swelling": False},
               conditions=[condition("Condition/dvt", {"vte-history"}, onset=NOW - timedelta(days=900))])
    assert t.dvt_suspected
