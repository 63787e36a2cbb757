"""Facts for every shared vignette (discovered at run time) and key facts of V01, V04, V05, V14, V24."""
import pytest

from service.chart.facts import Facts
from service.chart.units import compare
from tests.support.chart_fixtures import NOW, VIGNETTES, chart_of, load_vignette, vignette_context, vignette_facts

NAMES = sorted(p.stem for p in VIGNETTES.glob("*.json"))


@pytest.mark.parametrize("name", NAMES)
def test_every_vignette_builds_facts(name):
    f = vignette_facts(name)
    assert isinstance(f, Facts) and f.age is not None and not f.deceased
    assert not f.unreadable_types and not f.unresolved_medications
    # no spurious data-quality noise on the clean shared charts
    assert not [q for q in f.quality if q[0] in ("data-quality", "future-date", "unit")], f.quality


def test_v01_cancer_chemo_and_exam():
    f = vignette_facts("V01")
    assert f.age == 55 and f.gender == "female"
    cancer = f.conditions_in("active-cancer")
    assert [c.source.ref for c in cancer] == ["Condition/v01-cond-breast-cancer"] and cancer[0].active
    assert [s.ref for s in f.medication_use["antineoplastic-therapy"]] == ["MedicationRequest/v01-medrx-paclitaxel"]
    # a medication is a W1 qualifier beside the cancer, never "cancer treatment" on its own (§4.1 W1)
    assert {s.ref for s in f.cancer_treatment} == {"Procedure/v01-proc-chemo"}
    assert f.ka_true("leg-swelling") and f.ka_true("deep-vein-tenderness") and f.ka_true("pitting-edema")
    assert f.ka_false("entire-leg-swollen") and f.ka_false("collateral-superficial-veins")
    assert f.ka_value("calf-circumference-difference").value == pytest.approx(3.5)
    assert f.ka_value("symptom-side") == "left"
    assert f.ka_value("alternative-diagnosis-as-likely") is None
    assert f.vitals["heart_rate"].value.value == 88 and f.vitals["spo2"].value.value == 98
    assert f.anticoagulation.state == "none" and not f.setting.imaging_first


def test_v04_current_interim_anticoagulation():
    f = vignette_facts("V04")
    ac = f.anticoagulation
    assert ac.state == "current" and ac.pre_existing is False and not ac.unknown_intensity
    assert [s.ref for s in ac.sources] == ["MedicationRequest/v04-medrx-rivaroxaban"]
    assert f.medications[0].intensity == "therapeutic"
    # the scan result is a result only: its venous-duplex LOINC is not a "done" report (§7.7)
    assert [v.value for v in f.ultrasounds] == ["no-dvt-seen"] and not f.reports
    assert f.ddimers[0].quantity.value == pytest.approx(1800) and f.ddimers[0].interpretation == ["H"]


def test_v05_prophylactic_enoxaparin_qualifying_surgery_imaging_first():
    f = vignette_facts("V05")
    assert f.anticoagulation.state == "prophylactic"
    assert f.medications[0].intensity == "prophylactic"
    (surgery,) = f.setting.qualifying_surgeries
    assert {s.ref for s in surgery.sources} == {"Procedure/v05-proc-tkr", "Procedure/v05-proc-spinal"}
    assert f.surgeries_within(84) and f.surgeries_within(28) and not f.surgeries_within(4)
    assert f.setting.imaging_first and "surgery within 30 days" in f.setting.imaging_first_reason
    assert f.setting.inpatient is False
    assert f.vitals["sbp"].value.value == 128            # from the BP panel component


def test_v14_pregnant_with_gestational_age_from_z3a():
    f = vignette_facts("V14")
    assert f.pregnancy.state == "pregnant"
    # Z3A.10 = 10 weeks at recordedDate (1 week ago) -> 11 weeks now
    assert f.pregnancy.gestational_age_days == pytest.approx(77)
    assert f.pregnancy.gestational_age_source.ref == "Condition/v14-gestation"
    assert not f.pregnancy.flags


def test_v24_ddimer_feu_and_reference_high():
    f = vignette_facts("V24")
    (d,) = f.ddimers
    assert d.assay == "feu" and d.quantity.value == pytest.approx(650) and d.quantity.unit == "ug/L"
    assert d.reference_high.value == pytest.approx(500)
    assert compare(d.quantity, ">=", d.reference_high.value) is True
    assert f.conditions_in("vte-history") and f.age == 72
