"""Terminology as data: the code sets of mappings/codesets.json and the site maps of mappings/sites."""
