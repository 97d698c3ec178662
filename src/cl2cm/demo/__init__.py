"""The embedded demo world: procedurally rendered scenes, caption grammars (en/de/fr) and a noisy lexicon.

It is written to disk as an ordinary dataset (PNG images + JSONL caption corpora + image lists), so every
stage reads it exactly as it reads user data; nothing downstream knows it is synthetic.
"""
