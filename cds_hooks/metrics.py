"""Prometheus metrics (prometheus-client), exposed at ``GET /metrics`` (see cds_hooks/ops.py).

Under gunicorn every worker is its own process: with ``PROMETHEUS_MULTIPROC_DIR`` set (the deploy
config sets it before any worker starts) each worker writes its values to files there and a scrape
adds them up, whichever worker answers. Without it (``knee-cds serve``, tests) the values live in
this process.

Label values come from fixed sets (known service ids, HTTP statuses, tiers, FHIR resource types,
feedback outcomes), never from free request text, so that a client cannot grow the series count.
"""
from __future__ import annotations

import os
from collections.abc import Container

from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge,
                               Histogram, generate_latest, multiprocess)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
OTHER = "other"

# An EHR waits a few seconds for a hook; the buckets resolve the fast path (prefetch, ~ms) and
# the fetch path (FHIR round trips, up to KNEE_CDS_FHIR_TIMEOUT per request).
_LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HOOK_CALLS = Counter("knee_cds_hook_calls", "Hook calls answered, by service and HTTP status",
                     ["service", "status"])
HOOK_DURATION = Histogram("knee_cds_hook_call_duration_seconds",
                          "Time to answer a hook call (body read to response), by service",
                          ["service"], buckets=_LATENCY_BUCKETS)
FHIR_FETCH_DURATION = Histogram("knee_cds_fhir_fetch_duration_seconds",
                                "Time to read one prefetch key (all its pages) or one Medication "
                                "from the fhirServer, by resource type",
                                ["resource_type"], buckets=_LATENCY_BUCKETS)
FHIR_FETCH_FAILURES = Counter("knee_cds_fhir_fetch_failures",
                              "FHIR reads that could not be used, by resource type and reason",
                              ["resource_type", "reason"])
CARDS = Counter("knee_cds_cards", "Cards returned, by service and tier", ["service", "tier"])
FEEDBACK_ITEMS = Counter("knee_cds_feedback_items", "Feedback items stored, by service and outcome",
                         ["service", "outcome"])
STORE_ERRORS = Counter("knee_cds_store_errors", "Store operations that failed, by operation",
                       ["operation"])
AUDIT_ROWS = Counter("knee_cds_audit_rows", "Audit rows written, or dropped after retries (logged)",
                     ["result"])
# livesum: the depth of every live worker's queue, added up; a dead worker's value is dropped
AUDIT_QUEUE_DEPTH = Gauge("knee_cds_audit_queue_depth", "Audit rows waiting to be written",
                          multiprocess_mode="livesum")

FHIR_RESOURCE_TYPES = frozenset({
    "Patient", "Encounter", "Condition", "Observation", "MedicationRequest", "MedicationStatement",
    "Medication", "Procedure", "ServiceRequest", "DiagnosticReport", "AllergyIntolerance",
})
FEEDBACK_OUTCOMES = frozenset({"accepted", "overridden"})
STORE_OPERATIONS = frozenset({"audit", "feedback", "jti", "ready", "retention"})
# CDS Hooks card indicators and the knee tiers are both short fixed vocabularies
_TIER_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz-")


def bounded(value: object, allowed: Container[str]) -> str:
    return value if isinstance(value, str) and value in allowed else OTHER


def tier_label(tier: object) -> str:
    if isinstance(tier, str) and 0 < len(tier) <= 40 and set(tier) <= _TIER_CHARS:
        return tier
    return "none" if tier is None else OTHER


def status_label(status: int) -> str:
    return str(status) if 100 <= status <= 599 else OTHER


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def exposition() -> tuple[bytes, str]:
    """The current values in the Prometheus text format, and its content type."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST
