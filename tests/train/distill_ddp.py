"""Run a short distill under torchrun (used by test_distill.py): argv = world dir, teacher dir, out dir."""

import sys
from pathlib import Path

from cl2cm.train import TrainConfig
from cl2cm.train.distill import DistillConfig, DistillOptions, distill

root, teacher, out = (Path(a) for a in sys.argv[1:4])
distill(teacher, root / "feats-train", root / "train.en.jsonl", root / "train.de.jsonl", out,
        DistillConfig(options=DistillOptions(visual_input="tokens"),
                      train=TrainConfig(epochs=1, batch_size=32, lr=1e-3, max_steps=3, log_every=1, device="cpu",
                                        seed=1), max_pairs=128),
        val_features=root / "feats-val", val_captions=root / "val.de.jsonl")
