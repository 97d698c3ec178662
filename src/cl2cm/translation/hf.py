"""The `hf` backend: any transformers seq2seq MT model (MarianMT/opus-mt, NLLB-200, M2M100, mBART-50).

Each model family names its target language differently; `LanguagePlan` hides that: a `>>de<<` prefix for
multi-target Marian, a forced first token (`deu_Latn`, `__de__`, `de_DE`) for NLLB/M2M100/mBART-50, nothing
for a single-pair opus-mt model (whose pair is checked against `--to` where the model states it). Moses
punctuation normalisation, which opus-mt models were trained with, is applied by `MarianTokenizer` itself
(sacremoses), so it happens in every Marian path, ct2 included, and never twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from cl2cm.errors import UserError
from cl2cm.runtime import autocast_dtype
from cl2cm.translation.base import (
    MBART_CODES,
    NLLB_CODES,
    BackendOptions,
    language_candidates,
    max_new_tokens_for,
    model_identity,
)

_MARIAN_TAG = re.compile(r"^>>[^<>\s]+<<$")
_OPUS_PAIR = re.compile(r"opus-mt-([a-z]{2,3})-([a-z]{2,3})(?:$|[-_/])", re.I)


def named_pair(model_name: str) -> tuple[str, str] | None:
    """(source, target) of a single-pair opus-mt model, from its name alone (no download)."""
    m = _OPUS_PAIR.search(model_name)
    return (m[1].lower(), m[2].lower()) if m else None


def _first_in(cands: list[str], vocab: dict[str, int]) -> str | None:
    return next((c for c in cands if c in vocab), None)


@dataclass(frozen=True)
class _Scheme:
    """How one model family marks languages: `token(lang)` is the vocabulary entry, `src_name` what
    `tokenizer.src_lang` expects; `style` is "bos" (forced first target token) or "prefix" (source text)."""

    detect: Callable[[dict[str, int]], bool]
    token: Callable[[str, dict[str, int]], str | None]
    src_name: Callable[[str], str]
    style: str


SCHEMES: dict[str, _Scheme] = {
    "nllb": _Scheme(lambda v: "eng_Latn" in v, lambda lang, v: _first_in([NLLB_CODES.get(lang, lang), lang], v),
                    lambda lang: NLLB_CODES.get(lang, lang), "bos"),
    "m2m100": _Scheme(lambda v: "__en__" in v,
                      lambda lang, v: _first_in([f"__{c}__" for c in language_candidates(lang)], v),
                      lambda lang: lang.split("_")[0], "bos"),
    "mbart50": _Scheme(lambda v: "en_XX" in v, lambda lang, v: _first_in([MBART_CODES.get(lang, lang), lang], v),
                       lambda lang: MBART_CODES.get(lang, lang), "bos"),
    "marian-multi": _Scheme(lambda v: any(_MARIAN_TAG.match(t) for t in v),
                            lambda lang, v: _first_in([f">>{c}<<" for c in language_candidates(lang)], v),
                            lambda lang: lang, "prefix"),
}


@dataclass
class LanguagePlan:
    """What to do for one language pair: a source prefix and/or a forced first target token."""

    prefix: str = ""
    forced_bos: int | None = None
    forced_token: str | None = None
    src_name: str | None = None


class LanguagePlanner:
    """Maps `--from en --to de` onto one tokenizer's conventions, or explains why it cannot."""

    def __init__(self, tokenizer: Any, model_name: str) -> None:
        self.tok = tokenizer
        self.model_name = model_name
        self.vocab: dict[str, int] = tokenizer.get_vocab()
        self.scheme = next((name for name, s in SCHEMES.items() if s.detect(self.vocab)), None)
        self._single_target: str | None = None

    def _declared_pair(self) -> tuple[str | None, str | None]:
        src = getattr(self.tok, "source_lang", None)
        tgt = getattr(self.tok, "target_lang", None)
        named = named_pair(self.model_name)
        if named:
            src, tgt = src or named[0], tgt or named[1]
        return src, tgt

    def plan(self, src: str, tgt: str) -> LanguagePlan:
        if self.scheme is None:
            return self._plan_single(src, tgt)
        scheme = SCHEMES[self.scheme]
        token = scheme.token(tgt, self.vocab)
        if token is None:
            raise UserError(f"--to {tgt!r}: model {self.model_name} ({self.scheme}) has no code for this language")
        if scheme.style == "prefix":
            return LanguagePlan(prefix=f"{token} ")
        if scheme.token(src, self.vocab) is None:
            raise UserError(f"--from {src!r}: model {self.model_name} ({self.scheme}) has no code for this language")
        return LanguagePlan(forced_bos=self.vocab[token], forced_token=token, src_name=scheme.src_name(src))

    def _plan_single(self, src: str, tgt: str) -> LanguagePlan:
        d_src, d_tgt = self._declared_pair()
        base = tgt.split("_")[0]
        if d_tgt and d_tgt not in (tgt, base):
            raise UserError(f"--to {tgt!r}: model {self.model_name} translates into {d_tgt!r} only")
        if d_src and d_src not in (src, src.split("_")[0]):
            raise UserError(f"--from {src!r}: model {self.model_name} translates from {d_src!r} only")
        if self._single_target not in (None, tgt):
            raise UserError(f"--to {tgt!r}: model {self.model_name} has no target-language tokens, so it "
                            f"translates into one language (already used for {self._single_target!r}); "
                            "pass a single --to")
        self._single_target = tgt
        return LanguagePlan()


def load_hf_tokenizer(model: str) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(model)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"--model {model!r}: cannot load its tokenizer ({_first_line(exc)})") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def check_seq2seq(model: str) -> Any:
    """Load the config and refuse anything that is not an encoder-decoder (a BERT dir, a CLIP model...)."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(model)
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"--model {model!r}: not a local model directory or a reachable hub model "
                        f"({_first_line(exc)})") from exc
    if not getattr(config, "is_encoder_decoder", False):
        raise UserError(f"--model {model!r}: is a {config.model_type!r} model, not a sequence-to-sequence "
                        "translation model (e.g. Helsinki-NLP/opus-mt-en-de, facebook/nllb-200-distilled-600M)")
    return config


def source_limit(tokenizer: Any, config: Any) -> int:
    """The most source tokens the model takes; longer captions are truncated to it (counted, flagged)."""
    limits = [getattr(config, "max_position_embeddings", None), getattr(tokenizer, "model_max_length", None)]
    usable = [int(x) for x in limits if isinstance(x, int) and 0 < x < 100_000]
    return min(usable) if usable else 512


class HFBackend:
    """transformers `generate` on length-sorted, token-budget batches, under inference_mode, bf16/fp16 on CUDA."""

    name = "hf"

    def __init__(self, model: str, opts: BackendOptions) -> None:
        from transformers import AutoModelForSeq2SeqLM
        from transformers.utils import logging as hf_logging

        self.model_name = model
        self.opts = opts
        config = check_seq2seq(model)
        self.tokenizer = load_hf_tokenizer(model)
        dtype = opts.dtype or autocast_dtype(opts.device) or torch.float32
        hf_logging.disable_progress_bar()  # our progress bar is the one the user watches
        try:
            self.model = AutoModelForSeq2SeqLM.from_pretrained(model, dtype=dtype)
        except (OSError, ValueError, KeyError) as exc:
            raise UserError(f"--model {model!r}: cannot load as a seq2seq model ({_first_line(exc)})") from exc
        finally:
            hf_logging.enable_progress_bar()
        self.model.to(opts.device).eval()
        gen = self.model.generation_config
        gen.max_length = None  # we always pass max_new_tokens (tied to the source length)
        # A forced EOS at the batch's last step would make a sentence's output depend on its batch mates'
        # budget; each output is cut at its own budget instead (see `decode`).
        gen.forced_eos_token_id = None
        self.planner = LanguagePlanner(self.tokenizer, model)
        self.max_source_tokens = source_limit(self.tokenizer, config)
        self._plans: dict[tuple[str, str], LanguagePlan] = {}

    def identity(self) -> dict[str, Any]:
        return {**model_identity(self.model_name), "backend": self.name, "scheme": self.planner.scheme or "single"}

    def _plan(self, src: str, tgt: str) -> LanguagePlan:
        if (src, tgt) not in self._plans:
            self._plans[(src, tgt)] = self.planner.plan(src, tgt)
        plan = self._plans[(src, tgt)]
        if plan.src_name and getattr(self.tokenizer, "src_lang", None) != plan.src_name:
            self.tokenizer.src_lang = plan.src_name
        return plan

    def check_pair(self, src: str, tgt: str) -> None:
        self._plan(src, tgt)

    def count_tokens(self, texts: list[str], src: str, tgt: str) -> list[int]:
        plan = self._plan(src, tgt)
        # verbose=False: over-long sources are expected here (they are counted and truncated later)
        ids = self.tokenizer([plan.prefix + t for t in texts], add_special_tokens=True, verbose=False)["input_ids"]
        return [len(x) for x in ids]

    def encode(self, texts: list[str], src: str, tgt: str) -> tuple[dict[str, torch.Tensor], list[int]]:
        """Padded, truncated model inputs and each sentence's new-token budget."""
        plan = self._plan(src, tgt)
        enc = self.tokenizer([plan.prefix + t for t in texts], padding=True, truncation=True,
                             max_length=self.max_source_tokens, return_tensors="pt")
        lengths = enc["attention_mask"].sum(1).tolist()
        limits = [max_new_tokens_for(n, self.max_source_tokens) for n in lengths]
        return {k: v.to(self.opts.device) for k, v in enc.items()}, limits

    def translate(self, texts: list[str], src: str, tgt: str) -> list[str]:
        plan = self._plan(src, tgt)
        inputs, limits = self.encode(texts, src, tgt)
        with torch.inference_mode():
            out = self.model.generate(**inputs, **self.generate_kwargs(plan, max(limits)))
        return self.decode(out, limits)

    def generate_kwargs(self, plan: LanguagePlan, max_new: int) -> dict[str, Any]:
        kw: dict[str, Any] = {"max_new_tokens": max_new, "num_beams": self.opts.beams, "do_sample": False}
        if plan.forced_bos is not None:
            kw["forced_bos_token_id"] = plan.forced_bos
        if self.opts.beams > 1:
            kw["early_stopping"] = True
        return kw

    def decode(self, sequences: torch.Tensor, limits: list[int]) -> list[str]:
        """Cut each output at its own budget (position 0 is the decoder start token), then detokenise."""
        seqs = sequences.cpu().tolist()
        return self.tokenizer.batch_decode([s[: 1 + lim] for s, lim in zip(seqs, limits, strict=True)],
                                           skip_special_tokens=True, clean_up_tokenization_spaces=False)


def reference_translate(backend: HFBackend, texts: list[str], src: str, tgt: str, batch_size: int = 16) -> list[str]:
    """The plain way (input order, fixed batches, no dedupe or sort): the baseline of tests and benchmark.

    It shares the model, the language plan and the per-sentence length budget with `HFBackend`, so its
    greedy output equals ours up to float rounding of different batch shapes; only the scheduling differs.
    """
    out: list[str] = []
    plan = backend._plan(src, tgt)
    for s in range(0, len(texts), batch_size):
        inputs, limits = backend.encode(texts[s: s + batch_size], src, tgt)
        with torch.no_grad():
            seqs = backend.model.generate(**inputs, **backend.generate_kwargs(plan, max(limits)))
        out += backend.decode(seqs, limits)
    return out
