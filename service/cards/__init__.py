"""Cards: pathway drafts -> assembled response (clinical-rules §7) -> CDS Hooks 2.0 card JSON (contract §4)."""
