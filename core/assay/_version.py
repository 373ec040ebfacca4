"""The version of assay and of its plugin API (a plugin depends on ``assay>=1,<2``)."""
__version__ = "1.0.0"
API_VERSION = 1
