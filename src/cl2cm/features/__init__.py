"""Frozen visual features: listing, decoding, encoding, the resumable extraction loop, BigFile import."""
