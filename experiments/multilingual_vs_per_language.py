"""One multilingual teacher vs one teacher per language, on real Multi30K (issue 16).

For every seed: train one teacher per target language (`cl2cm train-teacher --tgt train.<l>`, S steps
each) and one teacher on all of them (`--tgt train.de --tgt train.fr --tgt train.cs`, language-balanced
sampling, L×S steps: the same number of steps in total), then evaluate target→English retrieval on
test_2016_flickr for each language with `cl2cm eval --captions ... --gallery-captions test_2016_flickr.en`.
The human de/fr/cs translations play the MT side. Every stage is the CLI, run as a subprocess; the exact
commands are printed. Prints a markdown table (mean ± std over seeds) and writes `--json`.

    OMP_NUM_THREADS=1 .venv/bin/python experiments/multilingual_vs_per_language.py \\
        --encoder runs/tiny-bert --work runs/exp-multi --json runs/exp-multi/result.json
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path


def run(argv: list[str], log: list[str]) -> None:
    cmd = [sys.executable, "-m", "cl2cm", *argv]
    log.append("cl2cm " + shlex.join(argv))
    print(log[-1], flush=True)
    subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data/multi30k"))
    ap.add_argument("--encoder", required=True, help="text encoder directory (tiny BERT, converted e5, ...)")
    ap.add_argument("--work", type=Path, default=Path("runs/exp-multi"))
    ap.add_argument("--langs", nargs="+", default=["de", "fr", "cs"])
    ap.add_argument("--steps", type=int, default=300, help="optimizer steps per language")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--train-layers", default="all")
    ap.add_argument("--max-length", type=int, default=32)
    ap.add_argument("--test", default="test_2016_flickr")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--per-language-only", action="store_true", help="train and evaluate only the per-language "
                    "teachers (e.g. while the multilingual runs wait for a free core)")
    args = ap.parse_args()
    d, w = args.data, args.work
    common = ["--encoder", args.encoder, "--dim", str(args.dim), "--train-layers", args.train_layers,
              "--max-length", str(args.max_length), "--ot-iters", "20", "--batch-size", str(args.batch_size),
              "--lr", str(args.lr), "--epochs", "100", "--device", "cpu", "--quiet"]
    log: list[str] = []
    t0 = time.perf_counter()
    rows: dict[str, dict[str, list[dict]]] = {"per-language": {}, "multilingual": {}}
    for seed in range(args.seeds):
        s = ["--seed", str(seed)]
        for lang in args.langs:  # one teacher per language, S steps each
            out = w / f"teacher-{lang}-s{seed}"
            if not (out / "manifest.json").exists():
                run(["train-teacher", "--src", str(d / "train.en"), "--tgt", str(d / f"train.{lang}"),
                     "--max-steps", str(args.steps), *common, *s, "--out", str(out)], log)
            m = w / f"eval-{lang}-s{seed}.json"
            if not m.exists():
                run(["eval", "--model", str(out), "--captions", str(d / f"{args.test}.{lang}"),
                     "--gallery-captions", str(d / f"{args.test}.en"), "--device", "cpu", "--quiet",
                     "--out", str(m)], log)
            rows["per-language"].setdefault(lang, []).append(json.loads(m.read_text()))
        if args.per_language_only:
            continue
        out = w / f"teacher-multi-s{seed}"  # one teacher, L×S steps
        if not (out / "manifest.json").exists():
            run(["train-teacher", "--src", str(d / "train.en"),
                 *[x for lang in args.langs for x in ("--tgt", str(d / f"train.{lang}"))],
                 "--max-steps", str(args.steps * len(args.langs)), *common, *s, "--out", str(out)], log)
        m = w / f"eval-multi-s{seed}.json"
        if not m.exists():
            run(["eval", "--model", str(out),
                 *[x for lang in args.langs for x in ("--captions", str(d / f"{args.test}.{lang}"))],
                 "--gallery-captions", str(d / f"{args.test}.en"), "--device", "cpu", "--quiet",
                 "--out", str(m)], log)
        multi = json.loads(m.read_text())
        for lang in args.langs:
            rows["multilingual"].setdefault(lang, []).append(multi[lang])

    if args.per_language_only:
        return

    def stat(ms: list[dict], key: str) -> tuple[float, float]:
        vals = [x["t2v"][key] for x in ms]
        return statistics.mean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0

    print(f"\n{args.test}, target→English, mean ± std over {args.seeds} seed(s), {args.steps} steps per language\n")
    print("| language | teacher | R@1 | R@5 | R@10 | Δ R@1 multi − per-language, per seed |")
    print("| --- | --- | --- | --- | --- | --- |")
    summary: dict[str, dict[str, dict[str, list[float]]]] = {}
    for lang in [*args.langs]:
        for kind in ("per-language", "multilingual"):
            cells = [stat(rows[kind][lang], k) for k in ("R@1", "R@5", "R@10")]
            summary.setdefault(lang, {})[kind] = {k: [x["t2v"][k] for x in rows[kind][lang]]
                                                  for k in ("R@1", "R@5", "R@10")}
            delta = ""
            if kind == "multilingual":
                d = [m - p for m, p in zip(summary[lang]["multilingual"]["R@1"], summary[lang]["per-language"]["R@1"],
                                           strict=True)]
                delta = f"{statistics.mean(d):+.1f} (" + ", ".join(f"{x:+.1f}" for x in d) + ")"
            print(f"| {lang} | {kind} | " + " | ".join(f"{m:.1f} ± {sd:.1f}" for m, sd in cells) + f" | {delta} |")
    print(f"\n{time.perf_counter() - t0:.0f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "t2v": summary,
                                         "commands": log}, indent=1))


if __name__ == "__main__":
    main()
