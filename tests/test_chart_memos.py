"""The memos and fast paths of the chart layer answer exactly what the plain computation answers:
terminology lookups per (element, codings), FHIR time strings, calendar-month window starts, day labels,
and the one-step constructors of Source and Value."""
import copy
import dataclasses
import inspect
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from service.chart.dates import day_text, months_before, parse_fhir_time
from service.chart.facts import Quantity, Source, Value
from service.terminology.code_sets import CODESETS_PATH, Terminology, default_terminology
from service.terminology.mapping_files import read_json_file
from service.terminology.site_maps import load_terminology

FS = "http://st-example.org/fhir/flowsheet"
LOINC = "http://loinc.org"
ELEMENTS = ("Observation.code", "Condition.code", "Observation.valueCodeableConcept")


def fresh(site_maps: list[str]) -> Terminology:
    """The terminology loaded anew: memos that have never answered."""
    return load_terminology(site_maps) if site_maps else Terminology(read_json_file(CODESETS_PATH))


# systems and codes the published sets and the example site map know (often, so that lookups share
# systems and elements), plus odd values of every JSON type
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
_systems = st.sampled_from([LOINC, LOINC, ICD, ICD, FS, "urn:oid:2.16.840.1.113883.6.90", " " + LOINC + " ",
                            "", None, 12])
_codes = st.sampled_from(["8310-5", "8867-4", "LA33-6", "R55", "I80.2", "I802", "FS-2232", "FS-0815",
                          " 8310-5", "", None, 7])
_coding = st.one_of(st.fixed_dictionaries({"system": _systems, "code": _codes}),
                    st.fixed_dictionaries({"code": _codes}), st.just("not a coding"))
_concept = st.one_of(st.builds(lambda c: {"coding": [c]}, _coding),           # the common shape
                     st.fixed_dictionaries({"coding": st.lists(_coding, max_size=3)}),
                     st.fixed_dictionaries({"coding": st.sampled_from([None, "x", {}])}))
_codings = st.one_of(_concept, _concept, st.lists(st.one_of(_concept, _coding), max_size=3), _coding,
                     st.integers())


@pytest.mark.parametrize("site_maps", [[], ["st-example-hospital"]])
@settings(max_examples=150, deadline=None)
@given(warm=st.lists(_codings, max_size=6), element=st.sampled_from(ELEMENTS), codings=_codings)
def test_memoised_lookups_answer_as_a_fresh_terminology(site_maps, warm, element, codings):
    t = load_terminology(site_maps)
    for c in warm:                    # earlier lookups of any shape leave the answer unchanged
        t.match(element, c)
        t.read_code(element, c)
    plain = fresh(site_maps)
    assert t.match(element, codings) == plain.match(element, codings)
    reading = t.read_code(element, codings)
    assert reading.ka == plain.ka_code(codings)
    assert reading.match == plain.match(element, codings)
    assert reading.local == plain.local_entry(codings)
    assert reading.orderables == plain.orderables_for(codings)


def test_site_map_copy_does_not_answer_from_the_published_memo():
    published = default_terminology()
    code = {"coding": [{"system": FS, "code": "FS-2232"}]}
    assert published.read_code("Observation.code", code).ka is None      # the memo now holds "no item"
    site = load_terminology(["st-example-hospital"])
    assert site.read_code("Observation.code", code).ka[0] == "deep-vein-tenderness"
    assert published.read_code("Observation.code", code).ka is None


@pytest.mark.parametrize("text", ["2026-03-15T10:30:00Z", "2026-03-15", "2026-03", "1974", "garbage",
                                  "2026-03-15T10:30:60+02:00", " 2026-03-15 "])
def test_time_strings_read_alike_every_time(text):
    first = parse_fhir_time(text)
    assert parse_fhir_time(text) == first
    assert parse_fhir_time(" " * 70 + text) == (None if len(text.strip()) > 64 else first)


def test_calendar_months_in_other_zones_are_not_taken_from_an_equal_utc_time():
    utc = datetime(2026, 3, 31, 23, 0, tzinfo=timezone.utc)
    plus_two = utc.astimezone(timezone(timedelta(hours=2)))         # the same instant, 1 April locally
    assert utc == plus_two
    assert months_before(utc, 1) == datetime(2026, 2, 28, 23, 0, tzinfo=timezone.utc)
    assert months_before(plus_two, 1).isoformat() == "2026-03-01T01:00:00+02:00"


@pytest.mark.parametrize("t", [datetime(2026, 3, 4, 5, 6, tzinfo=timezone.utc), datetime(5, 1, 2),
                               datetime(999, 12, 31), date(2024, 2, 29), date(12, 3, 4)])
def test_day_text_is_what_strftime_writes(t):
    assert day_text(t) == t.strftime("%Y-%m-%d")


@pytest.mark.parametrize("cls", [Source, Value, Quantity])
def test_one_step_constructors_keep_the_dataclass(cls):
    fields = dataclasses.fields(cls)
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    assert [p.name for p in params] == [f.name for f in fields]
    assert [p.default for p in params] == [
        inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default for f in fields]
    source = Source("Observation/a", None, "final", "heart rate 88/min")
    obj = {Source: source, Value: Value(88, source, None), Quantity: Quantity(88.0, "/min", None, "88 /min")}[cls]
    assert obj == copy.copy(obj) and hash(obj) == hash(copy.deepcopy(obj))
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(obj, fields[0].name, None)
    assert repr(obj).startswith(cls.__name__ + "(")
