"""What happened in one call, told twice: to the Prometheus metrics and as one structured log event.

The protocol layer calls these at the points where it already knows the outcome; nothing here
reads a request body or a chart. Log events carry identifiers and decisions only (service id,
``hookInstance``, status, duration, tier, rule ids), never the patient id, a token or chart text.
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Container, Iterable, Mapping
from typing import Any

from prometheus_client.metrics import MetricWrapperBase

from . import metrics
from .jsonlog import event
from .store import AuditRecord

log = logging.getLogger("knee_cds.calls")


@functools.lru_cache(maxsize=1024)
def _series(metric: MetricWrapperBase, *labels: str) -> MetricWrapperBase:
    """The labelled series of ``metric``, looked up once: ``labels()`` checks and locks on every call,
    and the label values come from fixed sets (see cds_hooks.metrics)."""
    return metric.labels(*labels)


def hook_call(audit: AuditRecord, known_services: Container[str]) -> None:
    service = metrics.bounded(audit.service_id, known_services)
    seconds = audit.duration_ms / 1000.0
    _series(metrics.HOOK_CALLS, service, metrics.status_label(audit.http_status)).inc()
    _series(metrics.HOOK_DURATION, service).observe(seconds)
    for card in audit.cards:
        _series(metrics.CARDS, service, metrics.tier_label(card.tier)).inc()
    rule_ids = list(dict.fromkeys(rule for card in audit.cards for rule in card.rules))
    level = logging.WARNING if audit.http_status >= 500 else logging.INFO
    event(log, level, "hook.call",
          serviceId=audit.service_id if service != metrics.OTHER else metrics.OTHER,
          hook=audit.hook, hookInstance=audit.hook_instance, status=audit.http_status,
          durationMs=round(audit.duration_ms, 3), tier=audit.overall_tier, cards=len(audit.cards),
          ruleIds=rule_ids, unreadable=list(audit.unreadable_keys) or None,
          knowledgeVersion=audit.knowledge_version)


def feedback_stored(service_id: str, items: Iterable[Mapping[str, Any]], linked: list[bool]) -> None:
    outcomes: dict[str, int] = {}
    for item in items:
        outcome = metrics.bounded(item.get("outcome"), metrics.FEEDBACK_OUTCOMES)
        metrics.FEEDBACK_ITEMS.labels(service_id, outcome).inc()
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    # counts only: userComment and override reasons are stored, never logged (contract §11)
    event(log, logging.INFO, "feedback.stored", serviceId=service_id, items=len(linked),
          linked=sum(linked), outcomes=outcomes)


def feedback_refused(service_id: str, error: BaseException) -> None:
    """Feedback answered 503: nothing stored (the store counts the error itself)."""
    # the error's type only: a driver message may quote the statement's parameters
    event(log, logging.ERROR, "feedback.refused", serviceId=service_id, error=type(error).__name__)


def store_stat(name: str, value: float, labels: Mapping[str, str]) -> None:
    """Listener of the store's counters (``Store.stats``): they become Prometheus series."""
    if name == "store_error":
        metrics.STORE_ERRORS.labels(metrics.bounded(labels.get("operation"), metrics.STORE_OPERATIONS)).inc(value)
    elif name == "audit_written":
        metrics.AUDIT_ROWS.labels("written").inc(value)
    elif name == "audit_dropped":
        metrics.AUDIT_ROWS.labels("dropped").inc(value)
    elif name == "audit_queue_depth":
        metrics.AUDIT_QUEUE_DEPTH.set(value)


def fhir_read(resource_type: str, seconds: float, failure: str | None = None) -> None:
    """One prefetch key read from the fhirServer (all its pages), or one Medication read."""
    label = metrics.bounded(resource_type, metrics.FHIR_RESOURCE_TYPES)
    metrics.FHIR_FETCH_DURATION.labels(label).observe(seconds)
    if failure is not None:
        metrics.FHIR_FETCH_FAILURES.labels(label, failure[:40]).inc()

