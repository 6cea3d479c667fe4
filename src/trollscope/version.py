"""The package's version (a leaf: the report stamps it without importing the package's API)."""

__version__ = "0.1.0"
