"""Age as a range (a birthDate known only to the year or month), and each age rule at a boundary that
falls inside the range: the rule takes its safer side and says so (clinical-rules §1.1, §1.6)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from service.cards import assembly
from service.chart.facts import AgeRange
from service.pathways import dvt_paediatric, dvt_suspicion, knee_injury, paes, popliteal_mass
from service.pathways.dvt import pregnancy_status_needed
from service.scores import d_dimer, kocher, ottawa_knee, perc, pittsburgh_knee
from tests.support.chart_fixtures import facts_of
from tests.support.msk_facts import make_facts, make_triage

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=timezone.utc)


def ranged(low: int, high: int, **kw):
    """Facts whose birthDate allowed ages low..high (the §1.1 point age is the lower one here)."""
    facts = make_facts(low, **kw)
    facts.age_range = AgeRange(low, high, "1976")
    return facts


# ---- reading birthDate ----------------------------------------------------------------------------

@pytest.mark.parametrize("birth,age,youngest,oldest", [
    ("1974", 52, 51, 52),             # born 1974-01-01 .. 1974-12-31; now 2026-12-03; point 1 July
    ("1974-12", 51, 51, 52),          # born 1974-12-01 .. 31; point the 15th
    ("1974-11", 52, 52, 52),          # the whole month lies before 3 December: one age
    ("1974-12-25", 51, 51, 51),
    ("1974-12-03", 52, 52, 52),       # the birthday itself counts
    ("1974-12-03T23:00:00-05:00", 51, 51, 51),   # 4 December in UTC: not yet 52
    ("2026", 0, 0, 0),                # born this year; the 1 July point is in the past
])
def test_birth_date_precision_gives_age_and_range(birth, age, youngest, oldest):
    facts = facts_of([], now=NOW, patient={"resourceType": "Patient", "id": "p", "birthDate": birth})
    assert facts.age == age
    assert (facts.age_range.youngest, facts.age_range.oldest) == (youngest, oldest)
    assert facts.age_range.recorded == birth
    partial_line = [line for flag, line in facts.date_notes if flag == "partial-date"]
    assert bool(partial_line) is (youngest != oldest)
    if partial_line:
        assert "Patient/p" in partial_line[0] and f"{youngest}–{oldest}" in partial_line[0]


def test_birth_year_of_now_with_a_future_point_is_still_read():
    march = datetime(2026, 3, 2, tzinfo=timezone.utc)
    facts = facts_of([], now=march, patient={"resourceType": "Patient", "id": "p", "birthDate": "2026"})
    assert facts.age == 0 and facts.birth_date <= march


@pytest.mark.parametrize("birth,flag", [
    ("2999-01-01", "future-date"), ("2027", "future-date"), ("2026-12-04", "future-date"),
    ("garbage", "undated"), ("", "undated"), (1974, "undated"), (True, "undated"), (["1974"], "undated"),
    ({"value": "1974"}, "undated"), ("1974-02-30", "undated"), (None, None),
])
def test_unreadable_or_future_birth_date_is_unknown_never_young(birth, flag):
    facts = facts_of([], now=NOW, patient={"resourceType": "Patient", "id": "p9", "birthDate": birth})
    assert facts.age is None and facts.age_range is None and facts.adult
    if flag:
        [(got, line)] = facts.date_notes
        assert got == flag and "Patient/p9" in line and "age unknown" in line
    else:
        assert facts.date_notes == []


# ---- the tri-state comparisons ----------------------------------------------------------------------

def test_tri_state():
    r = AgeRange(49, 50, "1976")
    assert (r.at_least(50), r.at_least(49), r.at_least(51)) == (None, True, False)
    assert (r.under(50), r.under(51), r.under(49)) == (None, True, False)
    assert (r.over(49), r.over(48), r.over(50)) == (None, True, False)
    assert (r.within(12, 50), r.within(50, 55), r.within(51, 60), r.within(10, 48)) == (True, None, False, False)
    assert r.label == "49–50" and AgeRange(7, 7).label == "7"


# ---- each rule with a range straddling its boundary ------------------------------------------------------

def test_perc_age_50_straddled_counts_as_present():
    item = perc.age_criterion(ranged(49, 50))
    assert item.state is True and "49–50" in item.detail and "safer side" in item.detail
    assert perc.age_criterion(ranged(48, 49)).state is False
    assert perc.age_criterion(ranged(50, 51)).state is True


def test_perc_gate_needs_every_age_18_or_over():
    ka = {"pe-suspicion-low": True}
    assert perc.perc_applies(ranged(18, 19, ka=ka)) is True
    assert perc.perc_applies(ranged(17, 18, ka=ka)) is False


@pytest.mark.parametrize("low,high,expected", [
    (50, 51, "positive"),       # 510 ug/L: the 500 cut-off holds, the range may include 50
    (51, 52, "negative"),       # every age over 50: cut-off 510 from the youngest (never 520)
    (52, 53, "positive"),       # ... 520 would make 515 negative; the youngest's 520 does
])
def test_age_adjusted_d_dimer_only_when_every_age_is_over_50_from_the_youngest(low, high, expected):
    from tests.support.msk_facts import dd
    value = {50: 510, 51: 505, 52: 525}[low]
    state = d_dimer.interpret(ranged(low, high), dd(value), age_adjusted_on=True, wells_unlikely=True,
                              population="adult", imaging_first=False, anticoag_state="none", anticoag_start=None)
    assert state.state == expected
    if low > 50:
        assert state.cutoff == low * 10.0
    else:
        assert not state.age_adjusted


def test_ottawa_age_55_straddled_counts_as_met():
    item = ottawa_knee.age_item(ranged(54, 55))
    assert item.state is True and "54–55" in item.detail and "safer side" in item.detail
    assert ottawa_knee.age_item(ranged(53, 54)).state is False


def test_ottawa_not_used_for_a_range_reaching_below_its_minimum_age():
    from tests.support.msk_facts import OTTAWA_NEG
    from tests.support.msk_facts import days_ago
    facts = ranged(4, 5, ka={"injury-mechanism": "fall", "injury-date": days_ago(1), **OTTAWA_NEG})
    t = make_triage(facts)
    knee_injury.evaluate(t)
    card = t.card("knee-injury-imaging")
    # never "Ottawa negative, no radiograph": Pittsburgh (age under 12) asks for the radiograph
    assert card is not None and "OTTAWA-NEG" not in card.rules and "PITTSBURGH-POS" in card.rules


@pytest.mark.parametrize("low,high", [(11, 12), (50, 51)])
def test_pittsburgh_age_boundaries_straddled_count_as_met(low, high):
    items = pittsburgh_knee.items(ranged(low, high))
    assert items[0].state is True and "safer side" in items[0].detail
    assert pittsburgh_knee.items(ranged(12, 13))[0].state is False
    assert pittsburgh_knee.items(ranged(49, 50))[0].state is False


def test_kocher_only_for_an_age_known_to_be_under_18():
    assert kocher.score(ranged(16, 17)).applies is True
    assert kocher.score(ranged(17, 18)).applies is False


def test_dvt_population_paediatric_when_the_range_reaches_below_18():
    assert dvt_suspicion.population(make_triage(ranged(17, 18))) == "paediatric"
    assert dvt_suspicion.population(make_triage(ranged(18, 19))) == "adult"
    assert dvt_suspicion.population(make_triage(make_facts(None))) == "adult"     # §1.6: unknown -> adult


def test_paediatric_card_says_which_side_was_taken():
    t = make_triage(ranged(17, 18), dvt_suspected=True, population="paediatric")
    dvt_paediatric.evaluate(t)
    card = t.card("dvt-pathway")
    assert any("17–18" in line and "paediatric variant" in line for line in card.evidence)


def test_d_dimer_blocked_when_the_range_reaches_below_18():
    assert "d-dimer" in assembly.hard_blocks(make_triage(ranged(17, 18)))
    assert "d-dimer" not in assembly.hard_blocks(make_triage(ranged(18, 19)))


@pytest.mark.parametrize("low,high,needed", [(11, 12, True), (50, 51, True), (10, 11, False), (51, 52, False),
                                             (30, 31, True)])
def test_pregnancy_status_asked_when_the_range_reaches_into_12_to_50(low, high, needed):
    assert pregnancy_status_needed(ranged(low, high)) is needed


@pytest.mark.parametrize("birth,state", [("1970", "unknown"), ("1969", "not-pregnant"), ("2016", "unknown"),
                                         ("2017", "not-pregnant")])
def test_not_pregnant_by_age_only_when_every_age_is_outside_10_to_55(birth, state):
    # now 2026-12-03: "1970" allows 55-56, "1969" 56-57, "2016" 9-10, "2017" 8-9
    facts = facts_of([], now=NOW, patient={"resourceType": "Patient", "id": "p", "gender": "female",
                                           "birthDate": birth})
    assert facts.pregnancy.state == state


def test_ng12_young_when_the_range_reaches_below_25():
    assert popliteal_mass.young(ranged(24, 25)) is True
    assert popliteal_mass.young(ranged(25, 26)) is False
    t = make_triage(ranged(24, 25, ka={"popliteal-mass": True}))
    popliteal_mass.evaluate(t)
    card = t.card("popliteal-mass")
    assert card.rules == ["MASS-YOUNG-NG12"]
    assert any("24–25" in line and "handled as young" in line for line in card.evidence)


def test_paes_considers_atherosclerosis_when_the_range_reaches_40():
    def recommendation(facts):
        t = make_triage(facts)
        paes.evaluate(t)
        return " ".join(t.card("paes").recommendation)
    ka = {"exertional-calf-pain": True, "pulse-loss-on-provocation": True}
    assert "Age 40 or over" in recommendation(ranged(39, 40, ka=ka))
    assert "Age 40 or over" not in recommendation(ranged(38, 39, ka=ka))


def test_adult_septic_pathway_and_sepsis_features_for_a_range_reaching_18():
    # the adult pathway keeps the NICE NG51 sepsis upgrade; a child-only rule would drop it
    assert ranged(17, 18).adult is True
    assert ranged(16, 17).adult is False


# ---- property: every age rule takes the safer end of any range --------------------------------------

from hypothesis import given, settings, strategies as st  # noqa: E402


def _decisions(facts):
    """Each age rule's decision, oriented so that True is the safer (more cautious) side."""
    ka = {"pe-suspicion-low": True}
    gated = make_facts(facts.age, ka=ka)
    gated.age_range = facts.age_range
    return {
        "PERC age criterion present": perc.age_criterion(facts).state is True,
        "PERC not applied": not perc.perc_applies(gated),
        "Ottawa age criterion met": ottawa_knee.age_item(facts).state is True,
        "Pittsburgh age criterion met": pittsburgh_knee.items(facts)[0].state is True,
        "NG12 young (wider work-up)": popliteal_mass.young(facts),
        "pregnancy status asked": pregnancy_status_needed(facts),
        "paediatric DVT variant": dvt_suspicion.population(make_triage(facts)) == "paediatric",
        "D-dimer blocked": "d-dimer" in assembly.hard_blocks(make_triage(facts)),
        "adult septic pathway (NG51 upgrade kept)": facts.adult,
        "Kocher not computed": not kocher.score(facts).applies,
    }


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.integers(min_value=0, max_value=110), st.integers(min_value=0, max_value=1))
def test_every_age_rule_takes_the_safer_end_of_the_range(youngest, width):
    oldest = youngest + width
    got = _decisions(ranged(youngest, oldest))
    ends = [_decisions(make_facts(age)) for age in (youngest, oldest)]
    for rule, decision in got.items():
        assert decision is any(end[rule] for end in ends), (rule, youngest, oldest)
