"""Test-side vignette helpers: where the public cases and the spec live, the spec's knowledge
version, and a service definition with the contract §2 templates for protocol tests.

The loader, the request builder and the expect checker are the package's
(:mod:`service.tools.vignettes`, also behind ``knee-cds vignettes``); they are re-exported here so that tests read one module.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from cds_hooks.domain import ServiceDefinition
from service.terminology.code_sets import ORDERABLE_SYSTEM
from service.tools.vignettes import (
    INDICATOR,
    TIER_ORDER,
    LoadedVignette,
    build_request,
    build_server_request,
    check_expect,
    fired_rules,
    hook_request,
    load_into_server,
    load_vignette,
    make_now,
    overall_tier,
    prepare,
    public_vignette_dir,
    score_matches,
    service_for,
    suggested_orderables,
    validate_cards,
)
from service.tools.examples import render_time, render_times  # noqa: F401
from service.tools.local_request import evaluate_template  # noqa: F401
from service.tools.vignettes import vignette_paths as _vignette_paths

REPO = Path(__file__).resolve().parents[2]
VIGNETTE_DIR = public_vignette_dir(REPO)
SPEC_DIR = Path(os.environ.get("KNEE_CDS_SPEC", REPO.parent / "shared" / "spec"))
_KNOWLEDGE_LINE = re.compile(r"^Knowledge version: \*\*`([^`]+)`\*\*", re.MULTILINE)

# contract §2, copied for protocol tests that need a service definition of their own
FALLBACK_TEMPLATES: dict[str, str] = {
    "patient": "Patient/{{context.patientId}}",
    "encounter": "Encounter/{{context.encounterId}}",
    "encounters": "Encounter?patient={{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}&_sort=-date",
    "medicationRequests": "MedicationRequest?patient={{context.patientId}}",
    "medicationStatements": "MedicationStatement?patient={{context.patientId}}",
    "procedures": "Procedure?patient={{context.patientId}}",
    "serviceRequests": "ServiceRequest?patient={{context.patientId}}",
}
ENCOUNTER_ONLY_KEYS = frozenset({"encounter"})


def spec_knowledge_version(spec_dir: Path | None = None) -> str:
    """The knowledge version the public rules declare (clinical-rules.md, first lines): every card
    must carry it (clinical-rules §7.5). Raises when the spec cannot be read: the suite must not
    guess the version it judges against."""
    text = ((spec_dir or SPEC_DIR) / "clinical-rules.md").read_text()
    match = _KNOWLEDGE_LINE.search(text)
    if match is None:
        raise ValueError("clinical-rules.md declares no 'Knowledge version: **`x`**' line")
    return match.group(1)


def make_service(hook: str = "patient-view") -> ServiceDefinition:
    """A ServiceDefinition with the contract §2 templates (encounter read only for encounter-start)."""
    templates = {k: v for k, v in FALLBACK_TEMPLATES.items()
                 if hook == "encounter-start" or k not in ENCOUNTER_ONLY_KEYS}
    return ServiceDefinition(id=f"test-{hook}", hook=hook, title="test", description="test", prefetch=templates)


def vignette_paths(folder: Path | str | None = None) -> list[Path]:
    """The public cases (``KNEE_CDS_VIGNETTES`` or ../shared/vignettes), found at run time."""
    return _vignette_paths(folder or VIGNETTE_DIR)
