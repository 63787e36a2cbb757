"""The knee domain: FHIR chart -> facts -> scores -> pathways -> order advice -> CDS Hooks cards.

Code sets, site maps and the example patients ship inside this package as ``service.mappings`` (built
from the repository's top-level ``mappings/`` folder) and are read through :mod:`importlib.resources`.
"""
