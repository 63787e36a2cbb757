"""Safety properties of the risk-raising paths added in knowledge 1.1.0 (hypothesis, in process).

- pregnancy not excluded: a negative D-dimer never excludes DVT, and a suggested D-dimer always comes
  after a pregnancy test (or a pregnancy test result of the last 24 h);
- an NG51 high-risk feature always makes septic arthritis emergency-immediate, with blood cultures
  within the hour, and adding one never lowers the tier;
- a rupture sign beside a known Baker's cyst never gives MASS-KNOWN-CYST and never lowers the tier;
- an anti-cancer drug never lowers Wells max, and alone it never raises it;
- PE in pregnancy: the card never states two leg-scan texts, and never suggests both the duplex and
  CTPA unless the patient is unstable (P3);
- any NSAID-caution finding removes the "anti-inflammatory only where safe" line.
"""
from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings, strategies as st

from service.vocabulary import Tier
from service.engine import PATHWAYS, run_triage
from service.chart.facts import Anticoagulation, DDimer, Pregnancy, Quantity, Value
from service.pathways.pe_pregnancy import SUPERSEDE_DUPLEX_FIRST, SUPERSEDE_DVT_CONFIRMED, SUPERSEDE_NOTE
from service.pathways.self_care import PAIN_RELIEF
from tests.support.msk_facts import NOW, condition, make_facts, make_triage, q, src


SETTINGS = dict(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

booleans = st.sampled_from([True, False, None])
EXAM = ("leg-swelling", "deep-vein-tenderness", "entire-leg-swollen", "pitting-edema", "collateral-superficial-veins")


@st.composite
def exam(draw):
    ka = {"posterior-knee-pain": True, "symptom-onset": NOW - timedelta(days=draw(st.integers(1, 30)))}
    for code in EXAM:
        value = draw(booleans)
        if value is not None:
            ka[code] = value
    calf = draw(st.one_of(st.none(), st.floats(0, 5, allow_nan=False)))
    if calf is not None:
        ka["calf-circumference-difference"] = q(round(calf, 1), "cm")
    for code in ("ultrasound-within-4h", "alternative-diagnosis-as-likely", "leg-redness-warmth"):
        value = draw(booleans)
        if value is not None:
            ka[code] = value
    return ka


def triage(facts):
    t = make_triage(facts)
    return t, run_triage(t, PATHWAYS)


def rank(cards):
    return min((Tier(c.tier).rank for c in cards), default=len(Tier))


def rules(cards):
    return {r for c in cards for r in c.rules}


def negative_ddimer():
    at = NOW - timedelta(hours=5)
    return DDimer(src("Observation/dd", at), at, "feu", Quantity(300.0, "ug/L"), ["N"], Quantity(500.0, "ug/L"))


@settings(**SETTINGS)
@given(ka=exam(), age=st.integers(18, 50), gender=st.sampled_from(["female", "other", "unknown", None]),
       with_ddimer=st.booleans(), scan=st.sampled_from([None, "no-dvt-seen"]))
def test_pregnancy_not_excluded_never_lets_a_ddimer_exclude_dvt(ka, age, gender, with_ddimer, scan):
    facts = make_facts(age, ka=ka, gender=gender)
    if with_ddimer:
        facts.ddimers.append(negative_ddimer())
    if scan:
        at = NOW - timedelta(hours=3)
        facts.ultrasounds.append(Value(scan, src("Observation/us", at), at))
    _t, cards = triage(facts)
    assert not rules(cards) & {"DVT-UNLIKELY-DDIMER-NEG", "DVT-LIKELY-US-NEG-DDIMER-NEG", "PE-EXCLUDED-DDIMER-NEG"}
    for card in cards:
        orders = [s.orderable for s in card.suggestions]
        if "d-dimer" in orders:
            assert "pregnancy-test" in orders and orders.index("pregnancy-test") < orders.index("d-dimer")
            assert "DDIMER-PREGNANCY-TEST-FIRST" in card.rules


VITALS = {"sbp": (q(120, "mm[Hg]"), q(90, "mm[Hg]")), "heart_rate": (q(100, "/min"), q(131, "/min")),
          "respiratory_rate": (q(18, "/min"), q(25, "/min")), "spo2": (q(97, "%"), q(91, "%"))}


@settings(**SETTINGS)
@given(feature=st.sampled_from(sorted(VITALS)), present=st.sets(st.sampled_from(sorted(VITALS))),
       age=st.integers(18, 95), swelling=st.booleans())
def test_an_ng51_feature_always_gives_cultures_within_the_hour_and_never_lowers_the_tier(feature, present, age,
                                                                                         swelling):
    ka = {"posterior-knee-pain": True, "hot-swollen-joint": True, "leg-swelling": swelling}
    calm = {k: v[1] if k in present else v[0] for k, v in VITALS.items()}
    before = triage(make_facts(age, ka=ka, gender="male", vitals=calm))[1]
    after = triage(make_facts(age, ka=ka, gender="male", vitals={**calm, feature: VITALS[feature][1]}))[1]
    assert rank(after) <= rank(before)
    septic = next(c for c in after if c.topic == "septic-arthritis")
    assert septic.tier == "emergency-immediate" and "SEPTIC-ADULT-SEPSIS" in septic.rules
    culture = next(s for s in septic.suggestions if s.orderable == "blood-culture")
    assert culture.period is not None and culture.period[1] - culture.period[0] <= timedelta(hours=1)


RUPTURE = {"sudden-onset": {"sudden-onset": True}, "leg-swelling": {"leg-swelling": True},
           "pitting-edema": {"pitting-edema": True}, "entire-leg-swollen": {"entire-leg-swollen": True},
           "calf": {"calf-circumference-difference": q(2.5, "cm")}}


@settings(**SETTINGS)
@given(sign=st.sampled_from(sorted(RUPTURE)), age=st.integers(25, 90), onset_days=st.integers(1, 200))
def test_a_rupture_sign_never_reassures_as_known_cyst(sign, age, onset_days):
    cyst = condition("Condition/bakers", {"bakers-cyst"}, onset=NOW - timedelta(days=400))
    ka = {"posterior-knee-pain": True, "popliteal-mass": True, "mass-enlarging": False, "night-pain": False,
          "leg-swelling": False, "symptom-onset": NOW - timedelta(days=onset_days)}
    before = triage(make_facts(age, ka=ka, gender="male", conditions=[cyst]))[1]
    after = triage(make_facts(age, ka={**ka, **RUPTURE[sign]}, gender="male", conditions=[cyst]))[1]
    assert "MASS-KNOWN-CYST" not in rules(after)
    assert rank(after) <= rank(before)


@settings(**SETTINGS)
@given(ka=exam(), cancer=st.booleans(), age=st.integers(18, 90))
def test_an_anticancer_drug_never_lowers_wells_and_alone_never_raises_it(ka, cancer, age):
    def wells_max(with_drug):
        conditions = [condition("Condition/ca", {"active-cancer"}, onset=NOW - timedelta(days=400))] if cancer else []
        use = {"antineoplastic-therapy": [src("MedicationRequest/mtx")]} if with_drug else {}
        facts = make_facts(age, ka=ka, gender="male", conditions=conditions, medication_use=use)
        facts.pregnancy.state = "not-pregnant"
        from service.scores.wells_dvt import wells_dvt
        w = wells_dvt(facts)
        return w.min, w.max
    without, with_drug = wells_max(False), wells_max(True)
    assert with_drug[1] >= without[1] and with_drug[0] >= without[0]
    if not cancer:
        assert with_drug == without


@settings(**SETTINGS)
@given(ka=exam(), scan=st.sampled_from([None, "no-dvt-seen", "dvt-seen"]), unstable=st.booleans(),
       state=st.sampled_from(["pregnant", "postpartum"]))
def test_pe_in_pregnancy_states_one_leg_scan_text(ka, scan, unstable, state):
    facts = make_facts(30, ka=ka, gender="female", symptoms={"chest-pain": [src("Condition/cp")]},
                       vitals={"sbp": q(85 if unstable else 120, "mm[Hg]")})
    facts.pregnancy = Pregnancy(state, [src("Observation/preg")], 100 if state == "pregnant" else None)
    if scan:
        at = NOW - timedelta(hours=3)
        facts.ultrasounds.append(Value(scan, src("Observation/us", at), at))
    _t, cards = triage(facts)
    pe = next(c for c in cards if c.topic == "pe-emergency")
    texts = [x for x in (SUPERSEDE_NOTE, SUPERSEDE_DUPLEX_FIRST, SUPERSEDE_DVT_CONFIRMED) if x in pe.recommendation]
    assert len(texts) <= 1
    orders = {s.orderable for s in pe.suggestions}
    if not unstable:
        assert not {"ctpa", "venous-duplex-us"} <= orders
    if SUPERSEDE_DUPLEX_FIRST in texts:
        assert "ctpa" not in orders
    assert "d-dimer" not in orders


@settings(**SETTINGS)
@given(finding=st.sampled_from(["current", "prophylactic", "uncertain", "chronic-kidney-disease", "heart-failure",
                                "peptic-ulcer-gi-bleeding"]))
def test_any_nsaid_finding_removes_the_anti_inflammatory_line(finding):
    ka = {"posterior-knee-pain": True, "leg-swelling": False, "symptom-onset": NOW - timedelta(days=3)}
    conditions = [] if finding in ("current", "prophylactic", "uncertain") else [
        condition("Condition/x", {finding}, onset=NOW - timedelta(days=900), clinical_status="inactive")]
    facts = make_facts(40, ka=ka, gender="male", conditions=conditions)
    facts.pregnancy.state = "not-pregnant"
    if not conditions:
        facts.anticoagulation = Anticoagulation(finding, [src("MedicationRequest/ac", display="an anticoagulant")])
    _t, cards = triage(facts)
    for card in cards:
        assert PAIN_RELIEF not in card.recommendation
    assert any("SELF-CARE-NSAID-CAUTION" in c.rules for c in cards) or all(c.topic != "self-care" for c in cards)
