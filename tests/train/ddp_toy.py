"""Run the toy task with the engine; under torchrun this is DDP (used by test_engine.py)."""

import sys

from toy import ToyTask

from cl2cm.train import TrainConfig, fit

out, steps = sys.argv[1], int(sys.argv[2])
task = ToyTask(dropout=0.0)
fit(task, TrainConfig(epochs=1, batch_size=32, lr=0.05, max_steps=steps, log_every=1, device="cpu", warmup=0,
                      seed=3), out)
