"""A tiny stand-in Domain for protocol tests (kept out of the production package).

Run as a server:  python -m tests.support.fake_domain --host 127.0.0.1 --port P
It advertises the real four services (service.catalog) and answers from the chart it is given:

- patientId "no-cards"   -> {"cards": []}
- patientId "boom"       -> the domain raises (tests the catch-all: an OperationOutcome, no trace)
- otherwise              -> one urgent card with one suggestion; the card also carries empty and
                            null fields that the protocol layer must strip.
"""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from cds_hooks.domain import Chart, DomainResult, HookRequest, ServiceDefinition
from service.catalog import knee_services

FAKE_KNOWLEDGE_VERSION = "fake-1"
EXT = "example.knee-cds"


class FakeDomain:
    def __init__(self, settings: Any = None):
        self.settings = settings

    def services(self) -> list[ServiceDefinition]:
        return knee_services()

    def evaluate(self, request: HookRequest, chart: Chart) -> DomainResult:
        patient_id = request.context["patientId"]
        if patient_id == "boom":
            raise RuntimeError("fake domain failure with chart text that must not leak")
        if patient_id == "no-cards":
            return DomainResult(cards=[], knowledge_version=FAKE_KNOWLEDGE_VERSION)
        unreadable = sorted({u.key for u in chart.unreadable})
        card = {
            "summary": f"Fake card for {request.hook}",
            "indicator": "warning",
            "detail": f"Read {sum(len(v) for v in chart.resources.values())} resources.",
            "source": {"label": "fake", "topic": {"system": "urn:fake", "code": "fake-topic"}, "url": None},
            "suggestions": [{"label": "Do the thing", "actions": [
                {"type": "create", "description": "order",
                 "resource": {"resourceType": "ServiceRequest", "status": "draft", "intent": "proposal",
                              "note": [], "subject": {"reference": f"Patient/{patient_id}"}}}]}],
            "overrideReasons": [],
            "links": None,
            "extension": {EXT: {"tier": "urgent", "rules": ["FAKE-RULE"], "flags": [],
                                "unreadable": unreadable, "knowledgeVersion": FAKE_KNOWLEDGE_VERSION}},
        }
        return DomainResult(cards=[card], overall_tier="urgent", knowledge_version=FAKE_KNOWLEDGE_VERSION,
                            site_map_versions=["fake-site 1"])

    def card_audit(self, card: dict[str, Any]) -> dict[str, Any]:
        ext = card.get("extension", {}).get(EXT, {})
        return {"topic": card["source"]["topic"]["code"], "tier": ext.get("tier"),
                "rules": ext.get("rules", []), "flags": ext.get("flags", [])}


def main(argv: list[str] | None = None) -> int:
    from service.cli import serve  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="fake-knee-cds")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return serve(args.host, args.port, domain=FakeDomain())


if __name__ == "__main__":
    sys.exit(main())


def wsgi_app():
    """WSGI entry for gunicorn tests: ``gunicorn 'tests.support.fake_domain:wsgi_app()'``."""
    from service.app import create_app  # noqa: PLC0415

    return create_app(domain=FakeDomain())
