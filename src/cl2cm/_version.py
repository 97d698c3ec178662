"""The package version, in a module of its own so that `cl2cm/__init__.py` can re-export the API lazily
and library modules (the manifest) can read the version without importing the package's public API."""

__version__ = "0.1.0"
