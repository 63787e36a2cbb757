"""Pathways (clinical-rules §5–§6.16): one pure module per pathway; each exposes ``evaluate(t: Triage)``."""
