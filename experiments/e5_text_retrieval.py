"""Target→English caption retrieval on Multi30K test_2016 with a trained teacher or the raw e5 encoder.

Queries: the human de/fr/cs translations of test_2016 (task 1; 1,000 lines each) and the task-2 German
captions (5 per image, written independently of the English ones: 5,000 queries); gallery: the 1,000
English task-1 captions. Metrics come from cl2cm's own engine (`evaluate_text_to_visual`), R@1/5/10 in %.

    # a teacher directory (cl2cm train-teacher --out T)
    python experiments/e5_text_retrieval.py --model T --json T/text_retrieval.json
    # zero-shot: the converted encoder with e5's own pooling (mean over all tokens, L2), no head
    python experiments/e5_text_retrieval.py --raw-encoder E5DIR
    # zero-shot through cl2cm's untrained teacher (mean pooling + a random projection to --dim)
    python experiments/e5_text_retrieval.py --untrained E5DIR --dim 1536
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import torch

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "multi30k"


def raw_e5(directory: Path, max_length: int) -> Callable[[list[str]], torch.Tensor]:
    """e5's pooling on the bare encoder: mean over every token (<s>, </s> included), then L2."""
    from transformers import AutoModel, AutoTokenizer

    from cl2cm.models.text import masked_mean

    model = AutoModel.from_pretrained(str(directory)).eval()
    tok = AutoTokenizer.from_pretrained(str(directory))

    @torch.no_grad()
    def encode(texts: list[str]) -> torch.Tensor:
        out = []
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for s in range(0, len(order), 128):
            idx = order[s:s + 128]
            enc = tok([texts[i] for i in idx], padding=True, truncation=True, max_length=max_length,
                      return_tensors="pt")
            h = model(**enc).last_hidden_state
            out.append((idx, torch.nn.functional.normalize(masked_mean(h, enc["attention_mask"].bool()), dim=-1)))
        emb = torch.empty(len(texts), out[0][1].shape[1])
        for idx, e in out:
            emb[torch.tensor(idx)] = e
        return emb

    return encode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", type=Path, help="a teacher directory")
    src.add_argument("--raw-encoder", type=Path, help="an HF encoder directory, e5 pooling, no head")
    src.add_argument("--untrained", type=Path, help="an HF encoder directory inside an untrained cl2cm teacher")
    ap.add_argument("--dim", type=int, default=1536, help="head dimension of --untrained")
    ap.add_argument("--seed", type=int, default=0, help="seed of --untrained's random head")
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--langs", nargs="+", default=["de", "fr", "cs", "task2-de"],
                    help="de fr cs (task 1), task2-de (all 5 task-2 German captions) or task2-de.K (the K-th)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N test images")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    from cl2cm.retrieval.metrics import evaluate_text_to_visual

    t0 = time.perf_counter()
    if args.model is not None:
        from cl2cm.models import load_model

        model = load_model(args.model)
        enc_tgt, enc_en = model.encode_text, model.encode_source
    elif args.raw_encoder is not None:
        enc_tgt = enc_en = raw_e5(args.raw_encoder, args.max_length)
    else:
        from cl2cm.models.teacher import CrossLingualTeacher, TeacherConfig
        from cl2cm.models.text import TextEncoderConfig

        torch.manual_seed(args.seed)
        model = CrossLingualTeacher(TeacherConfig(text=TextEncoderConfig(
            encoder=str(args.untrained), dim=args.dim, max_length=args.max_length))).eval()
        enc_tgt, enc_en = model.encode_text, model.encode_source
    n = args.limit
    english = (DATA / "test_2016_flickr.en").read_text(encoding="utf-8").splitlines()[:n]
    with torch.no_grad():
        gallery = enc_en(english)
    ids = [str(i) for i in range(len(english))]
    rows = {}
    for lang in args.langs:
        if lang.startswith("task2-de"):  # "task2-de": all five captions per image; "task2-de.K": the K-th
            queries, items = [], []
            for k in ([int(lang.split(".")[1])] if "." in lang else range(1, 6)):
                lines = (DATA / "task2" / f"test_2016.{k}.de").read_text(encoding="utf-8").splitlines()[:n]
                queries += lines
                items += [str(i) for i in range(len(lines))]
        else:
            queries = (DATA / f"test_2016_flickr.{lang}").read_text(encoding="utf-8").splitlines()[:n]
            items = ids
        with torch.no_grad():
            q = enc_tgt(queries)
        metrics, _ = evaluate_text_to_visual(q, items, gallery, ids)
        rows[lang] = {k: round(metrics["t2v"][f"R@{k}"], 2) for k in (1, 5, 10)} | {"queries": len(queries)}
        print(f"{lang}→en  R@1 {rows[lang][1]:.1f}  R@5 {rows[lang][5]:.1f}  R@10 {rows[lang][10]:.1f}  "
              f"({len(queries)} queries, gallery {len(english)})", flush=True)
    result = {"source": str(args.model or args.raw_encoder or args.untrained),
              "mode": "teacher" if args.model else "raw-e5" if args.raw_encoder else "untrained-teacher",
              "rows": rows, "seconds": round(time.perf_counter() - t0, 1)}
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"{result['seconds']}s")


if __name__ == "__main__":
    main()
