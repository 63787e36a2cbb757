"""CDS Hooks 2.0 protocol layer.

Knows nothing about knees: discovery, request validation, prefetch resolution with a FHIR fetch
fallback, JWT verification, CORS, card/suggestion plumbing, feedback and audit storage. The clinical
domain plugs in through :class:`cds_hooks.domain.Domain`.
"""
