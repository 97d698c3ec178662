"""The `lexicon` backend: the demo world's dictionary translator with seeded MT-like noise.

It is NOT a general machine-translation system: it knows only the demo world's vocabulary and translates
word by word. It exists so that the demo and the tests run the real `translate` stage (chunks, resume,
shards, manifest) offline. `--model` is the lexicon file (e.g. WORLD/lexicon.json); `--noise` is the
fraction of units corrupted. Each sentence is seeded by (seed, language, text), so batching never matters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cl2cm.errors import UserError
from cl2cm.translate.base import BackendOptions, model_identity

DEFAULT_NOISE = 0.15


class LexiconBackend:
    name = "lexicon"
    max_source_tokens = 1 << 30  # nothing is truncated

    def __init__(self, model: str, opts: BackendOptions) -> None:
        from cl2cm.demo.lexicon import load_lexicon

        self.path = Path(model)
        self.data = load_lexicon(self.path)  # UserError naming the file if it is not a lexicon
        self.opts = opts
        self.noise = DEFAULT_NOISE if opts.noise is None else opts.noise
        self._translators: dict[str, Any] = {}

    def identity(self) -> dict[str, Any]:
        return {**model_identity(str(self.path)), "backend": self.name}

    def _translator(self, src: str, tgt: str) -> Any:
        from cl2cm.demo.lexicon import LexiconTranslator

        source = self.data.get("source_lang", "en")
        if src != source:
            raise UserError(f"the lexicon translates from {source!r} only, not {src!r} (the lexicon backend "
                            "cannot back-translate)", path=self.path)
        if tgt not in self._translators:
            self._translators[tgt] = LexiconTranslator(self.path, tgt, noise=self.noise, seed=self.opts.seed)
        return self._translators[tgt]

    def check_pair(self, src: str, tgt: str) -> None:
        self._translator(src, tgt)

    def count_tokens(self, texts: list[str], src: str, tgt: str) -> list[int]:
        return [len(t.split()) for t in texts]

    def translate(self, texts: list[str], src: str, tgt: str) -> list[str]:
        return self._translator(src, tgt).translate(texts)
