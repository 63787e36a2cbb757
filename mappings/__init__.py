"""Data only (code sets, site maps, example patients). Installed as the package ``service.mappings``
so that the service finds its data through the package (``importlib.resources``) in a wheel as in a
checkout; this file only marks the folder as that package."""
