"""DVT in pregnancy (§6.4), LEFt (§4.8) and paediatric DVT (§6.5)."""
from __future__ import annotations

from datetime import timedelta

from service.cards.draft import CardDraft
from service.chart.facts import Pregnancy, Value
from service.cards.merge import pe_supersedes_dvt
from service.pathways import dvt_paediatric, dvt_pregnancy
from service.scores.left_rule import left_rule
from tests.support.msk_facts import NOW, make_facts, make_triage, not_suggested, q, src, suggested


def _pregnant(ga_days=70, state="pregnant", **kw):
    f = make_facts(30, **kw)
    f.pregnancy = Pregnancy(state, [src("Observation/preg")], ga_days if state == "pregnant" else None,
                            src("Observation/ga") if state == "pregnant" else None)
    return f


def _scan(f, value, days):
    time = NOW - timedelta(days=days)
    f.ultrasounds.append(Value(value, src(f"Observation/us-{days}", time), time))
    f.ultrasounds.sort(key=lambda u: u.time, reverse=True)


def _triage(f, **kw):
    return make_triage(f, dvt_suspected=True, population="pregnancy", **kw)


# -- LEFt ---------------------------------------------------------------------------------------
def test_left_first_trimester_boundary_14_weeks():
    assert left_rule(_pregnant(14 * 7 - 1, ka={"symptom-side": "right"})).items[2].state is True
    assert left_rule(_pregnant(14 * 7, ka={"symptom-side": "right"})).items[2].state is False


def test_left_calf_2_cm_scores_1_9_does_not():
    assert left_rule(_pregnant(120, ka={"calf-circumference-difference": q(2.0, "cm")})).items[1].state is True
    assert left_rule(_pregnant(120, ka={"calf-circumference-difference": q(1.9, "cm")})).items[1].state is False


def test_left_unknowns_give_max_and_postpartum_trimester_zero():
    left = left_rule(_pregnant(None))
    assert left.score == 0 and left.max == 3
    assert left.score_keys() == {"leftRule": 0, "leftRuleMax": 3}
    left = left_rule(_pregnant(state="postpartum", ka={"symptom-side": "left"}))
    assert left.items[2].state is False and left.score == 1


# -- pathway ------------------------------------------------------------------------------------
def test_not_applicable_outside_pregnancy_or_without_suspicion():
    t = make_triage(make_facts(30), dvt_suspected=True, population="adult")
    dvt_pregnancy.evaluate(t)
    assert not t.cards
    t = make_triage(_pregnant(), dvt_suspected=False, population="pregnancy")
    dvt_pregnancy.evaluate(t)
    assert not t.cards


def test_g2_v14_like_duplex_left_3():
    f = _pregnant(70, ka={"symptom-side": "left", "calf-circumference-difference": q(2.5, "cm"),
                          "leg-swelling": True})
    t = _triage(f)
    dvt_pregnancy.evaluate(t)
    card = t.cards["dvt-pathway"]
    assert card.tier == "emergency-same-day" and card.rules == ["PREG-DVT-US", "LEFT-INFO"]
    assert card.scores == {"leftRule": 3}
    assert suggested(card) == ["venous-duplex-us"]
    assert {"d-dimer", "ctpa", "knee-xray", "mri-knee"} <= set(not_suggested(card))
    assert any("DOACs are not used in pregnancy" in line for line in card.recommendation)
    assert t.dvt_status == "open" and t.us_state == "none"
    assert len(card.summary) <= 139


def test_recorded_ddimer_shown_not_used():
    from service.chart.facts import DDimer
    f = _pregnant(70)
    f.ddimers.append(DDimer(src("Observation/dd", NOW - timedelta(hours=2)), NOW - timedelta(hours=2), "feu",
                            q(300, "ug/L"), ["N"], q(500, "ug/L")))
    t = _triage(f)
    dvt_pregnancy.evaluate(t)
    card = t.cards["dvt-pathway"]
    assert "ddimer-in-pregnancy" in card.flags
    assert "PREG-DVT-US" in card.rules and "d-dimer" in not_suggested(card)


def test_g1_confirmed():
    f = _pregnant(70)
    _scan(f, "dvt-seen", 1)
    t = _triage(f)
    dvt_pregnancy.evaluate(t)
    card = t.cards["dvt-pathway"]
    assert card.rules[0] == "PREG-DVT-CONFIRMED" and not card.suggestions and t.dvt_status == "open"


def test_g3_repeats_day_3_and_7():
    f = _pregnant(70)
    _scan(f, "no-dvt-seen", 1)
    t = _triage(f)
    dvt_pregnancy.evaluate(t)
    card = t.cards["dvt-pathway"]
    assert card.rules[0] == "PREG-US-NEG-REPEAT" and card.tier == "urgent"
    assert suggested(card) == ["venous-duplex-us", "venous-duplex-us"]
    first = NOW - timedelta(days=1)
    assert [s.period[0] for s in card.suggestions] == [first + timedelta(days=3), first + timedelta(days=7)]
    # the day-3 repeat done: only the day-7 one is still due
    f = _pregnant(70)
    _scan(f, "no-dvt-seen", 4)
    _scan(f, "no-dvt-seen", 1)
    t = _triage(f)
    dvt_pregnancy.evaluate(t)
    assert len(t.cards["dvt-pathway"].suggestions) == 1


def test_g4_low_suspicion_closes():
    f = _pregnant(70, ka={"alternative-diagnosis-as-likely": True})
    _scan(f, "no-dvt-seen", 1)
    t = _triage(f)
    dvt_pregnancy.evaluate(t)
    card = t.cards["dvt-pathway"]
    assert card.rules[0] == "PREG-US-NEG-LOW-SUSPICION" and card.tier == "self-care" and card.safety_net
    assert t.dvt_status == "closed" and t.dvt_excluded_rule == "PREG-US-NEG-LOW-SUSPICION"


def test_g5_repeat_7_days_after_first_closes_6_days_does_not():
    f = _pregnant(70)
    _scan(f, "no-dvt-seen", 8)
    _scan(f, "no-dvt-seen", 1)
    t = _triage(f)
    dvt_pregnancy.evaluate(t)
    assert t.cards["dvt-pathway"].rules[0] == "PREG-DVT-EXCLUDED" and t.dvt_status == "closed"
    f = _pregnant(70)
    _scan(f, "no-dvt-seen", 7)
    _scan(f, "no-dvt-seen", 1)
    t = _triage(f)
    dvt_pregnancy.evaluate(t)
    assert t.cards["dvt-pathway"].rules[0] == "PREG-US-NEG-REPEAT" and t.dvt_status == "open"


def test_superseded_by_immediate_pe_card():
    f = _pregnant(70, ka={"symptom-side": "left"})
    pe_card = CardDraft(topic="pe-emergency", tier="emergency-immediate")
    t = _triage(f, cards=[pe_card])
    t.pe_tier = "emergency-immediate"
    dvt_pregnancy.evaluate(t)
    assert "DVT-SUPERSEDED-BY-PE" not in pe_card.rules     # the merge is a step of assembly
    pe_supersedes_dvt(t)
    assert "dvt-pathway" not in t.cards
    assert "DVT-SUPERSEDED-BY-PE" in pe_card.rules and "leftRule" in pe_card.scores
    assert "rcog" in pe_card.guidelines and pe_card.recommendation == [dvt_pregnancy.LMWH]


def test_paediatric():
    t = make_triage(make_facts(12), dvt_suspected=True)
    dvt_paediatric.evaluate(t)
    card = t.cards["dvt-pathway"]
    assert card.rules == ["DVT-PAEDIATRIC"] and card.tier == "emergency-same-day"
    assert suggested(card) == ["venous-duplex-us"] and "d-dimer" in not_suggested(card)
    assert not card.scores and t.dvt_status == "open"
    t = make_triage(make_facts(40), dvt_suspected=True)
    dvt_paediatric.evaluate(t)
    assert not t.cards
