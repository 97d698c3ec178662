"""The `ct2` backend: CTranslate2 (optional extra) on the same HF model, converted locally once.

CTranslate2 is about 9x HF `generate` on OPUS-MT (its own benchmark, see docs/translate.md). It reuses the
HF tokenizer and `LanguagePlanner`, so language codes, Moses normalisation and truncation are exactly those
of the `hf` backend; only the decoder differs. A directory that already holds a converted model
(`model.bin`) is used as is; any other model is converted into the output's parts directory.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from cl2cm.errors import UserError
from cl2cm.translation.base import BackendOptions, max_new_tokens_for, model_identity
from cl2cm.translation.hf import LanguagePlanner, check_seq2seq, load_hf_tokenizer, source_limit


def _import_ct2() -> Any:
    try:
        import ctranslate2
    except ImportError as exc:
        raise UserError("--backend ct2 needs CTranslate2: pip install ctranslate2 "
                        "(or pip install 'cl2cm[ct2]')") from exc
    return ctranslate2


class CT2Backend:
    name = "ct2"

    def __init__(self, model: str, opts: BackendOptions) -> None:
        self.ct2 = _import_ct2()
        self.model_name = model
        self.opts = opts
        self.tokenizer = load_hf_tokenizer(model)
        self.converted = (Path(model) / "model.bin").exists()
        config = object() if self.converted else check_seq2seq(model)
        self.max_source_tokens = source_limit(self.tokenizer, config)
        self.planner = LanguagePlanner(self.tokenizer, model)
        self._translator: Any = None

    @property
    def translator(self) -> Any:
        """Converted and loaded on first use: by then every user-input check has passed and the run holds
        its lock, so a failed command never leaves a conversion behind."""
        if self._translator is None:
            ct2_dir = Path(self.model_name) if self.converted else self._convert(self.ct2, self.model_name)
            device = "cuda" if self.opts.device.type == "cuda" else "cpu"
            compute = "float16" if device == "cuda" else "default"
            try:
                self._translator = self.ct2.Translator(
                    str(ct2_dir), device=device, compute_type=compute,
                    intra_threads=torch.get_num_threads() if device == "cpu" else 0)
            except (RuntimeError, ValueError) as exc:
                raise UserError(f"--model {self.model_name!r}: CTranslate2 cannot load it ({exc})") from exc
        return self._translator

    def _convert(self, ct2: Any, model: str) -> Path:
        """Convert once per model into the output's parts dir (reused on resume; removed with the parts)."""
        tag = hashlib.sha256(repr(sorted(model_identity(model).items())).encode()).hexdigest()[:12]
        out = Path(self.opts.work_dir or ".") / "ct2-model" / tag
        if (out / "model.bin").exists():
            return out
        # Per process: shards and torchrun ranks may convert at the same moment; the first rename wins and
        # the others use its result.
        tmp = out.with_name(f"{tag}.tmp-{os.getpid()}")
        try:
            ct2.converters.TransformersConverter(model).convert(str(tmp), force=True)
        except (ValueError, NotImplementedError, OSError) as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise UserError(f"--model {model!r}: CTranslate2 cannot convert it ({exc})") from exc
        try:
            tmp.replace(out)
        except OSError:
            if not (out / "model.bin").exists():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
        return out

    def identity(self) -> dict[str, Any]:
        return {**model_identity(self.model_name), "backend": self.name}

    def check_pair(self, src: str, tgt: str) -> None:
        self._plan(src, tgt)

    def _plan(self, src: str, tgt: str) -> Any:
        plan = self.planner.plan(src, tgt)
        if plan.src_name and getattr(self.tokenizer, "src_lang", None) != plan.src_name:
            self.tokenizer.src_lang = plan.src_name
        return plan

    def count_tokens(self, texts: list[str], src: str, tgt: str) -> list[int]:
        plan = self._plan(src, tgt)
        return [len(x) for x in self.tokenizer([plan.prefix + t for t in texts], verbose=False)["input_ids"]]

    def translate(self, texts: list[str], src: str, tgt: str) -> list[str]:
        plan = self._plan(src, tgt)
        ids = self.tokenizer([plan.prefix + t for t in texts], truncation=True,
                             max_length=self.max_source_tokens)["input_ids"]
        tokens = [self.tokenizer.convert_ids_to_tokens(x) for x in ids]
        limits = [max_new_tokens_for(len(x), self.max_source_tokens) for x in ids]
        prefix = [[plan.forced_token] for _ in texts] if plan.forced_token else None
        results = self.translator.translate_batch(
            tokens, target_prefix=prefix, beam_size=self.opts.beams, max_decoding_length=max(limits),
            max_batch_size=0, return_scores=False)
        out = []
        for res, lim in zip(results, limits, strict=True):
            hyp = res.hypotheses[0][:lim]
            out.append(self.tokenizer.decode(self.tokenizer.convert_tokens_to_ids(hyp), skip_special_tokens=True,
                                             clean_up_tokenization_spaces=False))
        return out
