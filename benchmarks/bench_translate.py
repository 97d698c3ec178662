"""Translation throughput: our `translate` stage vs plain HF `generate`, same model, one run.

* naive  — what peers do (Multilingual-CLIP's translation script): HF `generate` in input order, fixed
           batches of 16, fp32, every caption translated even when repeated.
* ours   — `cl2cm.translation.runner.translate_corpus` with the hf backend: dedupe, longest-first sort,
           token-budget batches, inference_mode, bf16/fp16 on CUDA, chunked resumable output written to
           disk (the timing includes those writes).
* ct2    — the same stage with `--backend ct2` (CTranslate2), when it is installed.

Both paths use the same per-sentence length budget (max_new_tokens = ceil(1.5 n) + 10 source tokens; the
naive batch gets the largest of its rows), so the comparison is of scheduling and engine, not of how long
outputs may be. Random weights never emit EOS, so every sentence decodes to its budget: a worst case for
padding waste, which is what sorting removes. Greedy outputs of ours (hf) are asserted identical to the
naive ones on CPU (fp32); on CUDA ours runs in bf16, and CTranslate2 is another engine, so for those the
agreement rate is printed.

    .venv/bin/python benchmarks/bench_translate.py                       # Multi30K test_2016, 1,000
    .venv/bin/python benchmarks/bench_translate.py --train 5000 --json bench_translate.json
    .venv/bin/python benchmarks/bench_translate.py --gpu                 # opus-mt-sized config on CUDA
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from cl2cm.artifacts.captions import read_captions  # noqa: E402
from cl2cm.translation.base import BackendOptions  # noqa: E402
from cl2cm.translation.hf import HFBackend, reference_translate  # noqa: E402
from cl2cm.translation.runner import TranslateConfig, translate_corpus  # noqa: E402
from cl2cm.translation.tiny import build_tiny_marian  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "multi30k"
SHAPES = {  # d_model, layers, heads, ffn, total vocabulary
    "small": (128, 2, 4, 512, 0),
    "opus-mt": (512, 6, 8, 2048, 58101),  # Helsinki-NLP/opus-mt-en-de's shape
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=int, default=0, help="use the first N captions of train.en instead of "
                                                         "the 1,000 of test_2016_flickr.en")
    ap.add_argument("--gpu", action="store_true", help="opus-mt-sized model on CUDA")
    ap.add_argument("--shape", choices=list(SHAPES), default=None, help="model shape (default: small; "
                                                                         "opus-mt with --gpu)")
    ap.add_argument("--max-tokens", type=int, default=None, help="our token budget (default 8192 CPU, "
                                                                 "32768 GPU)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 is steadiest on a shared box)")
    ap.add_argument("--no-ct2", action="store_true", help="skip the CTranslate2 row")
    ap.add_argument("--strict", action="store_true", help="fail if any greedy output differs (see _explain)")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.gpu else "cpu")
    if args.gpu and not torch.cuda.is_available():
        sys.exit("--gpu: no CUDA device")
    shape = args.shape or ("opus-mt" if args.gpu else "small")
    max_tokens = args.max_tokens or (32768 if args.gpu else 8192)
    src = DATA / ("train.en" if args.train else "test_2016_flickr.en")
    recs = read_captions(src)[: args.train or None]
    texts = [r.text for r in recs]

    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        d, layers, heads, ffn, vocab = SHAPES[shape]
        corpus_text = (DATA / "train.en").read_text(encoding="utf-8").splitlines()[:3000]
        corpus_text += (DATA / "train.de").read_text(encoding="utf-8").splitlines()[:3000]
        model = build_tiny_marian(tmpd / "model", corpus_text, vocab_size=4000, d_model=d, layers=layers,
                                  heads=heads, ffn=ffn, max_length=512, total_vocab=vocab, init_std=0.5)
        captions = tmpd / "captions.jsonl"
        captions.write_text("".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in recs),
                            encoding="utf-8")

        naive_backend = HFBackend(str(model), BackendOptions(device=device, dtype=torch.float32))
        reference_translate(naive_backend, texts[:16], "en", "de")  # warm-up
        _sync(device)
        t = time.perf_counter()
        naive = reference_translate(naive_backend, texts, "en", "de", batch_size=16)
        _sync(device)
        naive_s = time.perf_counter() - t
        del naive_backend

        rows = [("naive (HF generate, input order, batch 16, fp32)", naive_s, len(texts) / naive_s, 1.0, 1.0)]
        for backend in ("hf", "ct2"):
            if backend == "ct2" and (args.no_ct2 or not _has_ct2()):
                continue
            out = tmpd / f"out-{backend}"
            cfg = TranslateConfig(["de"], str(model), backend=backend, device=device.type, max_tokens=max_tokens,
                                  chunk_size=2048)
            res = translate_corpus(captions, out, cfg, progress=False)
            secs = res.languages[0].seconds
            ours = [r.text for r in read_captions(out / "de.jsonl")]
            agree = sum(a == b for a, b in zip(ours, naive, strict=True)) / len(naive)
            if backend == "hf" and device.type == "cpu" and agree < 1.0:
                _explain(texts, naive, ours, args.strict)
            label = "ours (dedupe + sort + token batches, hf)" if backend == "hf" else "ours, --backend ct2"
            rows.append((label, secs, len(texts) / secs, naive_s / secs, agree))

    distinct = len(set(texts))
    print(f"\ntranslate benchmark: {len(texts):,} captions ({distinct:,} distinct) of {src.name}, "
          f"shape {shape} (d={d}, layers={layers}, vocab={vocab or 'spm'}), {device.type}, "
          f"{args.threads} CPU thread(s)")
    print(f"{'method':52s} {'seconds':>8s} {'sent/s':>9s} {'speedup':>8s} {'same output as naive':>21s}")
    for label, secs, speed, ratio, agree in rows:
        same = round(agree * len(texts))
        print(f"{label:52s} {secs:8.2f} {speed:9.1f} {ratio:7.2f}x {same:>13,} / {len(texts):,}")
    if args.json:
        args.json.write_text(json.dumps({
            "captions": len(texts), "distinct": distinct, "source": src.name, "shape": shape, "device": device.type,
            "threads": args.threads, "max_tokens": max_tokens,
            "rows": [{"method": m, "seconds": s, "sent_per_s": v, "speedup": r, "agreement": a,
                      "identical": round(a * len(texts))}
                     for m, s, v, r, a in rows]}, indent=2) + "\n")


def _explain(texts: list[str], naive: list[str], ours: list[str], strict: bool) -> None:
    """fp32 GEMMs round differently for different batch shapes, so a near-tie in greedy argmax can flip.

    The naive path is exposed to that as much as ours: when a repeated caption gets two different naive
    translations, the naive path disagrees with itself. Report each difference; fail only with --strict.
    """
    naive_by_text: dict[str, set[str]] = {}
    for t, n in zip(texts, naive, strict=True):
        naive_by_text.setdefault(t, set()).add(n)
    diffs = [i for i, (a, b) in enumerate(zip(naive, ours, strict=True)) if a != b]
    for i in diffs:
        seen = naive_by_text[texts[i]]
        note = f"naive gave {len(seen)} different outputs for its copies" if len(seen) > 1 else "near-tie"
        print(f"differs at caption {i} ({note}): {texts[i]!r}", file=sys.stderr)
    if strict:
        sys.exit(f"greedy outputs differ from the naive path on {len(diffs)} of {len(texts)} captions")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _has_ct2() -> bool:
    try:
        import ctranslate2  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
