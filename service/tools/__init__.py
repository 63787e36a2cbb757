"""Integrator tools: bundled examples, requests built in process, the triage, vignettes and check-config commands."""
