"""Frozen visual features: listing, decoding, encoding, the resumable extraction loop, BigFile import.

Kept free of heavy imports so that `cl2cm --help` does not pay for torch.
"""

from cl2cm.config.stages import DEFAULT_MAX_PIXELS  # noqa: E402,F401  (PIL's decompression-bomb threshold)
