"""The chart layer: FHIR R4 JSON -> typed facts, each citing the resource it came from (clinical-rules §1)."""
