"""The chart layer: FHIR R4 JSON (a :class:`cds_hooks.domain.Chart`) -> :class:`service.chart.facts.Facts`.

Implements clinical-rules §1 (data handling) for everything the scores and pathways read. Lenient by
design: an element of the wrong type is skipped with a data-quality line, never an exception (contract
§2 "parsed leniently"). :func:`build_facts` is the reading order; each step lives in the module of its
concept.
"""
from __future__ import annotations

from datetime import datetime, timezone
from functools import partial

from cds_hooks.domain import Chart
from service.chart.anticoagulation import read_anticoagulation
from service.chart.chart_contents import group_resources, note_skipped, read_unreadable
from service.chart.facts import Facts
from service.chart.history import read_condition, read_encounter, read_procedure
from service.chart.medications import medication_use, read_medication_request, read_medication_statement
from service.chart.observations import read_observation
from service.chart.orders import draft_ids, read_order
from service.chart.patient import read_patient
from service.chart.pregnancy import read_pregnancy
from service.chart.read_state import ReadState
from service.chart.resolution import resolve_observations
from service.chart.setting import read_setting
from service.chart.symptoms import read_knee_complaints, read_symptoms
from service.terminology.code_sets import Terminology

# resource type -> how one resource of it is read, in reading order (the Patient comes first: an
# onsetAge is read from the birth date)
_RESOURCE_READERS = (
    ("Condition", read_condition),
    ("Procedure", read_procedure),
    ("Encounter", read_encounter),
    ("Observation", read_observation),
)


def build_facts(chart: Chart, now: datetime, terminology: Terminology, context: dict | None = None,
                hook: str = "patient-view") -> Facts:
    """Read ``chart`` at ``now`` (clinical-rules §1). Never raises on odd chart content."""
    now = now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now.astimezone(timezone.utc)
    r = ReadState(chart, now, terminology, context if isinstance(context, dict) else {}, hook)
    read_patient(r)                                   # §1.6
    read_unreadable(r)                                # §1.13
    by_type = group_resources(r)
    for resource_type, read in _RESOURCE_READERS:     # §1.1, §1.2, §1.3-§1.5, §1.7
        for res in by_type.get(resource_type, ()):
            r.guarded(read, res)
    resolve_observations(r)                           # §1.3 latest wins, §1.4 windows
    for res in by_type.get("MedicationRequest", ()):  # §1.12
        r.guarded(read_medication_request, res)
    for res in by_type.get("MedicationStatement", ()):
        r.guarded(read_medication_statement, res)
    drafts = draft_ids(r.context)                     # §7.7
    for res in by_type.get("ServiceRequest", ()):
        r.guarded(partial(read_order, drafts=drafts), res)
    read_setting(r)                                   # §1.11
    medication_use(r)                                 # §1.12 item 3
    read_anticoagulation(r)                           # §1.10
    read_pregnancy(r)                                 # §1.9
    read_symptoms(r)                                  # §1.8
    read_knee_complaints(r)                           # §2
    note_skipped(r)
    return r.facts
