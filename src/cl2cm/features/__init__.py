"""Frozen visual features: listing, decoding, encoding, the resumable extraction loop, BigFile import.

Kept free of heavy imports so that `cl2cm --help` does not pay for torch.
"""

DEFAULT_MAX_PIXELS = 89_478_485  # PIL's own decompression-bomb threshold
