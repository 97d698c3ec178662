"""Training data shared by both stages: caption pairs, tokenising once, the token cache, index batches,
several target languages (pairs per language, language-balanced epochs, per-language validation).

Both stages read (English, translation) pairs by caption id, tokenise every caption once before epoch 1
into padded int32 matrices (cached in `OUT/checkpoints/` so a resume does not tokenise again), and train
on a dataset of row indices whose collate gathers and trims the pre-tokenised rows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset, Sampler

from cl2cm.artifacts.captions import Caption, corpus_language, pair_by_id, read_captions, unique_languages
from cl2cm.artifacts.io import sha256_text
from cl2cm.artifacts.store import load_safetensors, save_safetensors
from cl2cm.errors import UserError

Pairs = list[tuple[Caption, Caption]]


def read_pairs(src: str | Path, tgt: str | Path, fmt: str | None, *, src_flag: str = "--src",
               tgt_flag: str = "--tgt", minimum: int = 2) -> Pairs:
    """(English, target) caption pairs matched by id; fewer than `minimum` is a user error.

    Training sets need two pairs (in-batch negatives); a validation set one.
    """
    return read_language_pairs(src, tgt, fmt, src_flag=src_flag, tgt_flag=tgt_flag, minimum=minimum).pairs


def group_ids(images: Sequence[str]) -> torch.Tensor:
    """Image ids → dense integers (same image = same integer) for the positive mask."""
    index: dict[str, int] = {}
    return torch.tensor([index.setdefault(im, len(index)) for im in images], dtype=torch.long)


def tokenize_corpus(encoder: Any, texts: list[str], batch: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """All texts → [N, max_length] ids (pad id filled) and lengths; done once per run, not per batch."""
    pad = encoder.tokenizer.pad_token_id or 0
    ids = torch.full((len(texts), encoder.config.max_length), pad, dtype=torch.int32)
    lens = torch.zeros(len(texts), dtype=torch.int32)
    for start in range(0, len(texts), batch):
        enc = encoder.tokenizer(texts[start:start + batch], truncation=True, max_length=encoder.config.max_length,
                                padding=False, return_attention_mask=False, return_token_type_ids=False)
        for j, row in enumerate(enc["input_ids"]):
            ids[start + j, :len(row)] = torch.tensor(row, dtype=torch.int32)
            lens[start + j] = len(row)
    return ids, lens


def trim(ids: torch.Tensor, lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of a padded id matrix cut to their longest length, with the attention mask (both long)."""
    width = int(lens.max())
    ids = ids[:, :width].long()
    mask = (torch.arange(width)[None, :] < lens[:, None]).long()
    return ids, mask


class IndexDataset(Dataset):
    """Items are row indices; the collate gathers the pre-tokenised rows (no Python work per item)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        return i


def cache_key(pairs: Pairs, *spec: object) -> str:
    """What a cached tensor file depends on: every pair's texts and image, plus `spec` (encoder, lengths)."""
    rows = "\x1e".join(f"{s.text}\x1f{t.text}\x1f{t.image}" for s, t in pairs)
    return sha256_text(rows + "\x1e" + repr(spec))[:16]


def cached(path: Path, build: Callable[[], dict[str, torch.Tensor]], *, write: bool) -> dict[str, torch.Tensor]:
    """`build()`'s tensors, read from `path` when a previous run of the same inputs left them there.

    An unreadable cache is rebuilt; only the process that writes (rank 0) saves it.
    """
    if path.exists():
        with contextlib.suppress(UserError):
            return load_safetensors(path)
    tensors = build()
    if write:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_safetensors(path, tensors)
    return tensors


# ---------------------------------------------------------------------------------------------- languages
from cl2cm.config.train import LANGUAGE_SAMPLING  # noqa: E402,F401


class LanguageBalancedSampler(Sampler[int]):
    """An epoch of `len(languages)` items with an equal share from every language, shuffled together.

    `languages[i]` is item i's language index. Each epoch (seeded by seed + epoch, like
    `DistributedSampler`) language l contributes N // L items (the first N % L languages one more):
    successive fresh permutations of its items, so a small language is repeated rather than drowned and
    a large one is seen through a different subset every epoch. Every batch thus holds each language
    with equal probability. Under DDP each rank takes every world-th index of the same order (the tail
    that does not divide is dropped, as with `drop_last`).
    """

    def __init__(self, languages: torch.Tensor, *, num_replicas: int = 1, rank: int = 0, seed: int = 0) -> None:
        self.languages = languages.long()
        self.num_replicas, self.rank, self.seed = num_replicas, rank, seed
        self.epoch = 0
        self.groups = [torch.nonzero(self.languages == code).flatten() for code in
                       torch.unique(self.languages).tolist()]
        self.num_samples = len(self.languages) // num_replicas

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def order(self) -> torch.Tensor:
        """This epoch's indices for all ranks (length N)."""
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        n, n_lang = len(self.languages), len(self.groups)
        parts = []
        for i, items in enumerate(self.groups):
            quota = n // n_lang + (1 if i < n % n_lang else 0)
            reps = -(-quota // len(items))
            draws = torch.cat([items[torch.randperm(len(items), generator=g)] for _ in range(reps)])
            parts.append(draws[:quota])
        mixed = torch.cat(parts)
        return mixed[torch.randperm(len(mixed), generator=g)]

    def __iter__(self) -> Iterator[int]:
        idx = self.order()[: self.num_samples * self.num_replicas]
        return iter(idx[self.rank::self.num_replicas].tolist())

    def __len__(self) -> int:
        return self.num_samples


# ---------------------------------------------------------------------------------------------- languages
@dataclass
class LanguagePairs:
    """(English, target) pairs of one or several target languages, concatenated in --tgt order."""

    pairs: Pairs
    languages: list[str]  # codes, in --tgt order
    language: torch.Tensor  # [N] long: index into `languages` of each pair

    def of(self, index: int) -> Pairs:
        """The pairs of the `index`-th language."""
        return [p for p, lang in zip(self.pairs, self.language.tolist(), strict=True) if lang == index]

    def counts(self) -> dict[str, int]:
        return {code: int((self.language == i).sum()) for i, code in enumerate(self.languages)}

    def imbalance(self) -> float:
        return language_imbalance(self.counts())


def language_imbalance(counts: dict[str, int]) -> float:
    """Pairs of the largest language per pair of the smallest (1.0 for one language): recorded in the
    manifest and shown in the summary, since a 10-pair language beside a 1,500-pair one barely trains
    (or, with balanced sampling, is repeated 150 times an epoch)."""
    if not counts:
        return 1.0
    return round(max(counts.values()) / max(1, min(counts.values())), 1)


def language_inputs(flag: str, paths: str | Path | Sequence[str | Path], codes: list[str]) -> dict[str, Path]:
    """Manifest input names of a repeatable flag: `--tgt` for one file, `--tgt de`, `--tgt fr`, ... for several."""
    files = as_paths(paths)
    if len(files) == 1:
        return {flag: files[0]}
    return {f"{flag} {code}": path for code, path in zip(codes, files, strict=True)}


def as_paths(value: str | Path | Sequence[str | Path] | None) -> list[Path]:
    """One path or several (a repeatable flag) as a list."""
    if value is None:
        return []
    return [Path(value)] if isinstance(value, (str, Path)) else [Path(v) for v in value]


def file_language(records: list[Caption], path: str | Path, flag: str, *, several: bool) -> str:
    """A file's language code; with one file an undeterminable code is recorded as its records' first."""
    try:
        return corpus_language(records, path, flag=flag)
    except UserError:
        if several:
            raise
        return records[0].lang


def check_target_records(records: list[Caption], path: str | Path, by_id: dict[str, Caption], src_langs: set[str],
                         src: str | Path, *, tgt_flag: str = "--tgt", src_flag: str = "--src") -> None:
    """Refuse target records that cannot be training pairs with the English ones, naming file and record:
    one language per file, not the source's language (unless `src_langs` is empty: a caller that allows
    it), and each id's image the same on both sides (the stages take the image from the target rows, so a
    mismatch trains on wrong caption/image pairs)."""
    first = next((r for r in records if r.lang != "und"), None)
    for n, rec in enumerate(records, 1):
        if first is not None and rec.lang not in (first.lang, "und"):
            raise UserError(f"{tgt_flag}: two languages in one file ({first.lang!r} on record "
                            f"{records.index(first) + 1}, {rec.lang!r} here); give each language its own file "
                            f"(repeat {tgt_flag})", path=path, line=n)
        if rec.lang in src_langs:
            raise UserError(f"{tgt_flag}: record in {rec.lang!r}, the language of {src_flag}; the target must be "
                            "another language (swapped --src and --tgt?)", path=path, line=n)
        eng = by_id.get(rec.id)
        if eng is not None and eng.image != rec.image:
            raise UserError(f"{tgt_flag}: id {rec.id!r} has image {rec.image!r}, but {src_flag} {src} gives "
                            f"{eng.image!r} for it; the files disagree on what the caption describes",
                            path=path, line=n)


def read_language_pairs(src: str | Path, tgts: str | Path | Sequence[str | Path], fmt: str | None, *,
                        src_flag: str = "--src", tgt_flag: str = "--tgt", minimum: int = 2,
                        max_pairs: int | None = None, same_language: bool = False) -> LanguagePairs:
    """Pairs of every `tgts` file with `src` by caption id (the English read once); `max_pairs` per file.

    Each file is one language (`corpus_language`); two files of one language are a user error. A target in
    the source's language is refused (swapped files) unless `same_language`: a student without transfer
    trained on the English captions themselves (translate-test's English student).
    """
    paths = as_paths(tgts)
    english = read_captions(src, fmt)
    pairs: Pairs = []
    codes: list[str] = []
    index: list[int] = []
    by_id = {c.id: c for c in english}
    src_langs = set() if same_language else {c.lang for c in english} - {"und"}
    for path in paths:
        records = read_captions(path, fmt)
        name = f"{tgt_flag} {path}" if len(paths) > 1 else tgt_flag
        check_target_records(records, path, by_id, src_langs, src, tgt_flag=tgt_flag, src_flag=src_flag)
        codes.append(file_language(records, path, tgt_flag, several=len(paths) > 1))
        these = pair_by_id(english, records, src_name=src_flag, tgt_name=name)[:max_pairs]
        if len(these) < minimum:
            raise UserError(f"{tgt_flag}: {len(these)} caption pair(s) with {src_flag} ids, need at least {minimum}",
                            path=path)
        pairs += these
        index += [len(codes) - 1] * len(these)
    unique_languages(codes, paths, tgt_flag)
    return LanguagePairs(pairs, codes, torch.tensor(index, dtype=torch.long))


def per_language_metrics(per: dict[str, dict[str, float]]) -> dict[str, float]:
    """Validation metrics of several languages: each as `<key>_<code>`, and the plain key = their mean
    (so the metric that selects the best epoch is the mean over languages)."""
    if len(per) == 1:
        return next(iter(per.values()))
    out = {f"{k}_{code}": v for code, m in per.items() for k, v in m.items()}
    keys = next(iter(per.values())).keys()
    out.update({k: sum(m[k] for m in per.values()) / len(per) for k in keys})
    return out
