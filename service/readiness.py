"""What the knee domain needs before it can give advice: its code sets and the configured site maps.

The protocol layer's ``/readyz`` (cds_hooks/ops.py) runs these beside its store check. Reasons are
fixed phrases and counts: a probe answer never names a file or a version.
"""
from __future__ import annotations

from cds_hooks.ops import ReadinessCheck

from service.config import Settings
from service.terminology.code_sets import Terminology


def domain_checks(terminology: Terminology | None, settings: Settings) -> list[ReadinessCheck]:
    """``code-sets`` and ``site-maps`` for a domain built on ``terminology`` (None: a domain
    without code sets, e.g. a test stand-in, which has nothing to check)."""
    if terminology is None:
        return []

    def code_sets() -> str | None:
        if not terminology.set_names or not terminology.orderable_ids:
            return "not loaded"
        return None

    def site_maps() -> str | None:
        loaded, configured = len(terminology.site_maps), len(settings.site_maps)
        return None if loaded == configured else f"{loaded} of {configured} loaded"

    return [ReadinessCheck("code-sets", code_sets), ReadinessCheck("site-maps", site_maps)]
