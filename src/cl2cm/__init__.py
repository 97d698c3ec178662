"""cl2cm: cross-lingual cross-modal retrieval without target-language annotations (after CL2CM, AAAI 2024)."""

__version__ = "0.1.0"
