"""Training: the shared engine (`fit`), distributed helpers, and the stage tasks (teacher, student)."""

from cl2cm.train.dist import all_gather_with_grad
from cl2cm.train.engine import FitResult, TrainConfig, TrainTask, fit

__all__ = ["FitResult", "TrainConfig", "TrainTask", "all_gather_with_grad", "fit"]
