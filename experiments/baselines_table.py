"""Is training a CL2CM student worth it? The student against the baselines a user would try first.

On one demo world, test split and MT (the layout `transfer_vs_baseline.py --encoder E5` writes under
`--work`: world/, feats-{train,val,test}/, mt-<noise>/de.jsonl, teacher-<noise>/), per seed, with the
multilingual e5 text tower of the teacher's encoder:

* **zero-shot** — a student whose text side is plain e5 (`--init-text encoder`) and whose visual head is
  trained on the *English* captions only (`--tgt` = the English file, `--no-transfer`, validated on
  English): German queries go straight in (cross-lingual zero-shot transfer through the multilingual
  text encoder; no MT anywhere);
* **translate-test** — the same English student, queried with the German test captions machine-translated
  to English at query time (`cl2cm translate --from de --to en` with the lexicon backend read in reverse,
  at the same MT noise as the training MT);
* **no-transfer student** — `distill --no-transfer` on (image, MT German), text tower from the teacher;
* **CL2CM student** — the same with the transfer term.

All students: the text backbone frozen (`--train-layers none`; its projection and the visual head train),
`--sampling image`, the same epochs, lr and seed; each is scored by `cl2cm eval`'s function on the test
split's gold German captions. Paired per seed: Δ = SumR(CL2CM) − SumR(row), with a 95 % t-interval over
seeds and a paired bootstrap over test images. The JSON is rewritten after every seed.

    .venv/bin/python experiments/baselines_table.py --work runs/e5w600 --seed-list 0 1 2 --json runs/baselines.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from transfer_vs_baseline import Hits, t_interval  # noqa: E402  (the study's own statistics)

ROWS = ("translate_test", "zero_shot", "no_transfer", "cl2cm")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True, help="a transfer_vs_baseline.py --work directory")
    ap.add_argument("--noise", type=float, default=0.15, help="the MT noise of mt-<noise>/ and teacher-<noise>/")
    ap.add_argument("--teacher", type=Path, default=None,
                    help="teacher directory (default WORK/teacher-<noise>); the English student reads only its "
                         "text config (encoder, pooling, max length, dim) from it")
    ap.add_argument("--seed-list", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--head-lr", type=float, default=None)
    ap.add_argument("--train-layers", default="none",
                    help="the students' trainable text layers ('teacher': the teacher's, distill's default)")
    ap.add_argument("--init-text", default="teacher", help="the German students' text init (teacher | encoder)")
    ap.add_argument("--sampling", default="image", help="caption | image")
    ap.add_argument("--reuse-study", action="store_true",
                    help="take the no-transfer and CL2CM students of transfer_vs_baseline.py run on the same --work "
                         "(student-<noise>-<init-text>-{baseline,cl2cm}-<seed>) when they exist: the same recipe "
                         "when its flags match these")
    ap.add_argument("--rows", nargs="+", default=list(ROWS), choices=ROWS,
                    help="which rows to run (the Δ columns need cl2cm)")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    import cl2cm
    from cl2cm.retrieval.evaluate import EvalConfig, run_eval
    from cl2cm.train import TrainConfig
    from cl2cm.train.distill import DistillConfig, DistillOptions
    from cl2cm.translation.runner import TranslateConfig

    t0 = time.perf_counter()
    w = args.work
    world, feats = w / "world", {s: w / f"feats-{s}" for s in ("train", "val", "test")}
    mt, teacher = w / f"mt-{args.noise}" / "de.jsonl", args.teacher or w / f"teacher-{args.noise}"
    test_de = world / "test.de.jsonl"
    # translate-test's query-time MT: the German test queries back to English, once (deterministic)
    tt = w / f"tt-{args.noise}"
    t_mt = time.perf_counter()
    if not (tt / "manifest.json").exists():
        cl2cm.translate(test_de, tt, TranslateConfig(targets=["en"], model=str(world / "lexicon.json"),
                                                     backend="lexicon", source_lang="de", noise=args.noise,
                                                     device="cpu"))
    mt_seconds = time.perf_counter() - t_mt
    n_queries = sum(1 for _ in test_de.open(encoding="utf-8"))

    rows = [r for r in ROWS if r in args.rows]
    paired = "cl2cm" in rows
    out: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()},
                           "rows": {r: {"test_sumr": [], "t2v_r1": [], "train_s": [], "encode_s": []} for r in rows},
                           "delta_vs_cl2cm": {r: [] for r in rows if r != "cl2cm" and paired},
                           "query_mt_s_per_1000": 1000 * mt_seconds / n_queries, "seeds": []}
    boot: dict[str, list[float]] = {r: [] for r in out["delta_vs_cl2cm"]}

    layers = None if args.train_layers == "teacher" else args.train_layers

    def train(name: str, seed: int, tgt: Path, val: Path, init_text: str, transfer: bool) -> Path:
        study = w / f"student-{args.noise}-{init_text}-{name}-{seed}"
        if args.reuse_study and name != "english" and (study / "manifest.json").exists():
            d = study
        else:
            d = w / (f"bl-{name}-{args.noise}-{init_text}-{args.train_layers}-{args.sampling}-e{args.epochs}-"
                     f"lr{args.lr}-h{args.head_lr}-{seed}")
        if not (d / "manifest.json").exists():
            options = DistillOptions(visual_input="tokens", transfer=transfer, init_text=init_text,
                                     train_layers=layers, sampling=args.sampling, head_lr=args.head_lr)
            res = cl2cm.distill(teacher, feats["train"], world / "train.en.jsonl", tgt, d, DistillConfig(
                options=options, train=TrainConfig(epochs=args.epochs, seed=seed, batch_size=args.batch_size,
                                                   lr=args.lr, device="cpu", log_every=1000)),
                val_features=feats["val"], val_captions=val)
            (d / "train_seconds.txt").write_text(f"{res.fit.time_total_s:.1f}\n")
        if not (d / "train_seconds.txt").exists():  # a study's student: its engine time from metrics.jsonl
            epochs = [json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()]
            (d / "train_seconds.txt").write_text(
                f"{sum(r.get('epoch_time_s', 0.0) for r in epochs if r.get('split') == 'val'):.1f}\n")
        return d

    def score(row: str, model: Path, captions: Path) -> Any:
        t = time.perf_counter()
        ev = run_eval(EvalConfig(model=model, captions=captions, features=feats["test"], device="cpu"))
        r = out["rows"][row]
        r["encode_s"].append(time.perf_counter() - t)
        r["test_sumr"].append(ev.metrics["SumR"])
        r["t2v_r1"].append(ev.metrics["t2v"]["R@1"])
        r["train_s"].append(float((model / "train_seconds.txt").read_text()))
        print(f"  {row:<15} SumR {ev.metrics['SumR']:6.1f}  ({time.perf_counter() - t0:.0f} s)", flush=True)
        return Hits(ev)

    for seed in args.seed_list:
        print(f"seed {seed}", flush=True)
        hits = {}
        if "zero_shot" in rows or "translate_test" in rows:
            english = train("english", seed, world / "train.en.jsonl", world / "val.en.jsonl", "encoder", False)
            for row, queries in (("zero_shot", test_de), ("translate_test", tt / "en.jsonl")):
                if row in rows:
                    hits[row] = score(row, english, queries)
        for row, name, transfer in (("no_transfer", "baseline", False), ("cl2cm", "cl2cm", True)):
            if row in rows:
                hits[row] = score(row, train(name, seed, mt, world / "val.de.jsonl", args.init_text, transfer),
                                  test_de)
        if paired:
            n = hits["cl2cm"].n_queries.numel()
            g = torch.Generator().manual_seed(seed)
            idx = torch.randint(0, n, (args.bootstrap, n), generator=g)
            counts = torch.zeros(args.bootstrap, n, dtype=torch.float64).scatter_add_(
                1, idx, torch.ones(args.bootstrap, n, dtype=torch.float64))
            base = hits["cl2cm"].sumr(counts)
            for row in boot:
                out["delta_vs_cl2cm"][row].append(out["rows"]["cl2cm"]["test_sumr"][-1]
                                                  - out["rows"][row]["test_sumr"][-1])
                boot[row].append(float((base - hits[row].sumr(counts)).std()))
        out["seeds"].append(seed)
        out["summary"] = {"rows": {r: t_interval(v["test_sumr"]) for r, v in out["rows"].items()},
                          "delta_vs_cl2cm": {r: t_interval(v) for r, v in out["delta_vs_cl2cm"].items()},
                          "bootstrap_delta_se": {r: statistics.mean(v) for r, v in boot.items() if v}}
        out["seconds"] = round(time.perf_counter() - t0)
        tmp = args.json.with_suffix(".tmp")
        tmp.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
        tmp.replace(args.json)

    print(f"\n{'row':<16} {'SumR':>14} {'CL2CM − row [95% CI]':>26}")
    s = out["summary"]
    for r in rows:
        d = s["delta_vs_cl2cm"].get(r)
        ci = f"{d['mean']:+7.1f} [{d['lo']:+6.1f}, {d['hi']:+6.1f}]" if d else ""
        print(f"{r:<16} {s['rows'][r]['mean']:7.1f} ± {s['rows'][r]['std']:4.1f} {ci:>26}")


if __name__ == "__main__":
    main()
