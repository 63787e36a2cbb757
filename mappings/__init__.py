"""Data, not code: the published code sets, the orderables catalog, site maps and example patients.

A package only so that the wheel carries these files and the service finds them through
``importlib.resources`` wherever it is installed.
"""
