"""The backend interface every translator implements, the backend registry, and language codes.

The runner (`cl2cm.translation.runner`) owns everything that makes translation fast and safe — dedupe,
length sort, token-budget batches, chunks, resume, shards — so a backend only has to count tokens and
translate one already-sorted batch. New engines plug in by naming their class in `TRANSLATION_BACKENDS`
(an import string: this module never imports the backends, which import it).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

from cl2cm.errors import UserError
from cl2cm.registry import resolve

# Length policy: a translation may have at most ceil(RATIO * source tokens) + EXTRA tokens (and never more
# than the model's maximum). Tying the budget to each source stops a runaway decode of one sentence from
# costing as much as a max-length one, and applying it per sentence (not per batch) keeps the output
# independent of how sentences were batched.
LENGTH_RATIO = 1.5
LENGTH_EXTRA = 10


def max_new_tokens_for(n_source_tokens: int, cap: int) -> int:
    return max(1, min(cap, math.ceil(LENGTH_RATIO * n_source_tokens) + LENGTH_EXTRA))


@dataclass
class BackendOptions:
    """What a backend needs to know besides its model."""

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    beams: int = 1
    seed: int = 0
    noise: float | None = None  # lexicon only (None: the lexicon's default)
    work_dir: str | None = None  # where a backend may cache a conversion (ct2)
    dtype: torch.dtype | None = None  # None: bf16/fp16 on CUDA, fp32 on CPU (runtime.autocast_dtype)


class Backend(Protocol):
    """One loaded translation engine (one model)."""

    name: str
    max_source_tokens: int  # longer sources are truncated to this many tokens (policy in docs/translate.md)

    def identity(self) -> dict[str, Any]:
        """Model id and fingerprint: pinned in the manifest and the resume key."""

    def check_pair(self, src: str, tgt: str) -> None:
        """Raise UserError if this model cannot translate src → tgt."""

    def count_tokens(self, texts: list[str], src: str, tgt: str) -> list[int]:
        """Source length of each text in model tokens, before truncation (for sorting and batching)."""

    def translate(self, texts: list[str], src: str, tgt: str) -> list[str]:
        """Translate one batch (already length-sorted and deduplicated by the runner)."""


def model_identity(model: str) -> dict[str, Any]:
    """Name plus a cheap fingerprint of a local model dir (config bytes, weight-file names and sizes)."""
    path = Path(model)
    ident: dict[str, Any] = {"name": model}
    if path.is_dir():
        h = hashlib.sha256()
        for p in sorted(path.iterdir()):
            if p.name == "config.json":
                h.update(p.read_bytes())
            elif p.suffix in (".safetensors", ".bin") and p.is_file():
                h.update(f"{p.name}:{p.stat().st_size}".encode())
        ident["fingerprint"] = h.hexdigest()[:16]
    return ident


# `--backend` name -> "module:Class"; the class is called as Class(model, BackendOptions).
TRANSLATION_BACKENDS: dict[str, str] = {
    "hf": "cl2cm.translation.hf:HFBackend",
    "ct2": "cl2cm.translation.ct2:CT2Backend",
    "lexicon": "cl2cm.translation.lexicon:LexiconBackend",
}


def register_backend(name: str, target: str) -> None:
    """Add a translation backend ("module:Class") under `--backend name`."""
    TRANSLATION_BACKENDS[name] = target


def load_backend(name: str, model: str, opts: BackendOptions) -> Backend:
    if name not in TRANSLATION_BACKENDS:
        raise UserError(f"--backend {name!r}: expected one of {', '.join(TRANSLATION_BACKENDS)}")
    return resolve(TRANSLATION_BACKENDS[name])(model, opts)


# ------------------------------------------------------------------------------------------ language codes
# `--to de` is an ISO 639-1 code (or a Multi30K-style name such as zh_hans); each model family spells it
# its own way. NLLB-200 uses FLORES codes; their first part is the ISO 639-3 code multi-target Marian
# models (opus-mt-en-mul) use in `>>xxx<<`.
NLLB_CODES: dict[str, str] = {
    "af": "afr_Latn", "ar": "arb_Arab", "ar_arab": "arb_Arab", "bg": "bul_Cyrl", "bn": "ben_Beng",
    "ca": "cat_Latn", "cs": "ces_Latn", "cy": "cym_Latn", "da": "dan_Latn", "de": "deu_Latn",
    "el": "ell_Grek", "en": "eng_Latn", "es": "spa_Latn", "et": "est_Latn", "eu": "eus_Latn",
    "fa": "pes_Arab", "fi": "fin_Latn", "fr": "fra_Latn", "ga": "gle_Latn", "gl": "glg_Latn",
    "he": "heb_Hebr", "hi": "hin_Deva", "hr": "hrv_Latn", "hu": "hun_Latn", "hy": "hye_Armn",
    "id": "ind_Latn", "is": "isl_Latn", "it": "ita_Latn", "ja": "jpn_Jpan", "ka": "kat_Geor",
    "kk": "kaz_Cyrl", "ko": "kor_Hang", "lt": "lit_Latn", "lv": "lvs_Latn", "mk": "mkd_Cyrl",
    "mr": "mar_Deva", "ms": "zsm_Latn", "mt": "mlt_Latn", "nl": "nld_Latn", "no": "nob_Latn",
    "pl": "pol_Latn", "pt": "por_Latn", "ro": "ron_Latn", "ru": "rus_Cyrl", "sk": "slk_Latn",
    "sl": "slv_Latn", "sr": "srp_Cyrl", "sv": "swe_Latn", "sw": "swh_Latn", "ta": "tam_Taml",
    "te": "tel_Telu", "th": "tha_Thai", "tl": "tgl_Latn", "tr": "tur_Latn", "uk": "ukr_Cyrl",
    "ur": "urd_Arab", "vi": "vie_Latn", "zh": "zho_Hans", "zh_hans": "zho_Hans", "zh_hant": "zho_Hant",
}
MBART_CODES: dict[str, str] = {
    "ar": "ar_AR", "cs": "cs_CZ", "de": "de_DE", "en": "en_XX", "es": "es_XX", "fr": "fr_XX", "it": "it_IT",
    "ja": "ja_XX", "ko": "ko_KR", "nl": "nl_XX", "pt": "pt_XX", "ru": "ru_RU", "tr": "tr_TR", "uk": "uk_UA",
    "vi": "vi_VN", "zh": "zh_CN", "zh_hans": "zh_CN",
}


def language_candidates(lang: str) -> list[str]:
    """Spellings to try for a language in `>>xx<<` tokens: as given, base code, ISO 639-3."""
    out = [lang]
    base = lang.split("_")[0]
    if base not in out:
        out.append(base)
    if lang in NLLB_CODES:
        iso3 = NLLB_CODES[lang].split("_")[0]
        out += [c for c in (iso3, NLLB_CODES[lang]) if c not in out]
    return out
