"""The one training loop, shared by `train-teacher` and `distill`.

A stage hands `fit` a `TrainTask` (what to optimise, the loss of a batch, how to validate, how to write the
final model directory) and a `TrainConfig`; the engine does everything else the same way for every stage:

* AdamW (no weight decay on biases/norms), linear warm-up then cosine decay, or NRCCR's schedule
  (×0.99 per epoch, ×0.5 after 3 epochs without improvement), gradient clipping and accumulation;
* AMP on CUDA (bf16 where supported, fp16 with a GradScaler otherwise);
* a checkpoint at the end of every epoch in ``OUT/checkpoints/last.safetensors``: what training can change
  of the model (`checkpoint_weights`: trainable parameters and buffers, not the frozen backbone weights the
  task rebuilds; a fingerprint of those is kept instead), optimizer state flattened into named tensors, RNG
  states, and JSON metadata (step, epoch, schedule, best metric); no pickle. `resume=True` continues from
  it and, under a seed, reproduces the uninterrupted run's weights;
* early stopping on the task's validation metric; the best weights (the same subset) kept in
  ``checkpoints/best.safetensors`` and used for the final model directory, which holds every weight;
* ``OUT/metrics.jsonl`` (train loss every `log_every` steps, one record per epoch), TensorBoard when it is
  installed, and progress (steps, loss, samples/s) to the caller's `cl2cm.progress.Progress`;
* several target languages (`TrainTask.train_languages`): each epoch draws every language equally often
  (`cl2cm.train.data.LanguageBalancedSampler`) unless `language_sampling` is "proportional";
* DDP under torchrun: `DistributedSampler`, `config.batch_size` is the *global* batch, losses gather
  embeddings with `cl2cm.train.dist.all_gather_with_grad`, rank 0 validates and writes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import random
import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, default_collate

from cl2cm import distributed as D
from cl2cm import interrupts, testhook
from cl2cm.artifacts.io import atomic_write_text
from cl2cm.artifacts.store import load_safetensors, read_metadata, save_safetensors
from cl2cm.config import help_of, number, option  # noqa: F401  (re-exported: the configs' home moved)
from cl2cm.config.train import AMP_CHOICES, SCHEDULES, TrainConfig, TrainStageConfig  # noqa: F401
from cl2cm.errors import ConfigError, UserError
from cl2cm.progress import Progress, reporter
from cl2cm.runtime import autocast_dtype, resolve_device, seed_everything
from cl2cm.train.data import LanguageBalancedSampler
from cl2cm.train.dist import mean_over_ranks

CKPT_DIR = "checkpoints"
LAST = "last.safetensors"
BEST = "best.safetensors"
# In checkpoints/ of a finished run whose resume checkpoints were removed (no --keep-checkpoints): its state,
# settings and input fingerprint, so `--resume` still answers "already complete" (or refuses other settings).
FINISHED = "finished.json"
METRICS = "metrics.jsonl"
# Settings a resumed run must share with the checkpoint, or its result would not be the same run's.
# Fingerprint keys added after checkpoints existed: compared only when the checkpoint has them.
_LATER_FINGERPRINT_KEYS = ("tokenizer",)
_RESUME_KEYS = ("batch_size", "accum", "lr", "weight_decay", "warmup", "schedule", "seed", "language_sampling")


class TrainTask(ABC):
    """What a stage gives the engine. `metric` names the `validate()` key to maximise (None: no selection)."""

    metric: str | None = None

    @abstractmethod
    def module(self) -> nn.Module:
        """The module to optimise and checkpoint (its frozen parameters are left out of the optimizer)."""

    @abstractmethod
    def train_dataset(self) -> Dataset:
        """A map-style dataset of pre-tokenised items (tokenise once, before epoch 1)."""

    def collate(self, items: list[Any]) -> Any:
        return default_collate(items)

    def train_languages(self) -> torch.Tensor | None:
        """The language index of every `train_dataset` item when it mixes several target languages (the
        engine then balances them under `language_sampling`); None: one language."""
        return None

    @abstractmethod
    def loss(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        """Loss terms of a batch, with the total under "loss". Call `model(...)` once: it may be DDP-wrapped."""

    def validate(self, module: nn.Module) -> dict[str, float]:
        """Validation metrics (module in eval mode, no grad); called on rank 0 after every epoch."""
        return {}

    @abstractmethod
    def save(self, module: nn.Module, out_dir: Path, best: dict[str, float] | None = None) -> None:
        """Write the final model directory (rank 0 only, with the best weights loaded); `best` is the best
        epoch's validation metrics (None without validation)."""

    def fingerprint(self) -> dict[str, Any]:
        """What the run trains on (inputs, model options), JSON-able; a resume with another one is refused."""
        return {}

    def lr_overrides(self) -> dict[str, float]:
        """Peak learning rates of parameter subsets apart from `TrainConfig.lr`: {name prefix: lr} over the
        module's parameter names (e.g. the student's visual head); the schedule scales every group alike."""
        return {}

    def batch_size_of(self, batch: Any) -> int:
        first = next(iter(batch.values())) if isinstance(batch, dict) else batch[0]
        return int(first.shape[0])


@dataclass
class FitResult:
    out_dir: Path
    epochs: int  # epochs completed
    steps: int  # optimizer steps
    best_metric: float | None
    best_epoch: int | None
    last_loss: float | None
    last_val: dict[str, float] = field(default_factory=dict)
    stopped_early: bool = False
    resumed_from: int | None = None  # epoch the run resumed after
    samples_per_s: float = 0.0
    time_total_s: float = 0.0  # wall time of the training steps (data + compute)
    time_compute_s: float = 0.0  # forward + backward + optimizer step
    already_complete: bool = False  # --resume found the run finished (its checkpoints removed): nothing done


# ---------------------------------------------------------------------------------------------- helpers
def to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


def resolve_amp(amp: str, device: torch.device) -> torch.dtype | None:
    if amp == "off":
        return None
    if amp == "auto":
        return autocast_dtype(device)
    if device.type != "cuda":
        raise ConfigError("{amp} {value}: mixed precision needs {device} cuda (use {amp} off or auto on CPU)",
                          value=amp)
    return torch.bfloat16 if amp == "bf16" else torch.float16


def param_groups(module: nn.Module, weight_decay: float, lr: float, overrides: dict[str, float] | None = None
                 ) -> list[dict[str, Any]]:
    """Trainable parameters, with weight decay on matrices only (not biases, norms, scalars); each group
    carries its peak lr as `base_lr` (the schedule multiplies it). `overrides` ({name prefix: lr}) puts the
    parameters under a prefix into groups of their own (two per prefix: decay, no decay), after the default
    two, so a run without overrides keeps the two groups older checkpoints hold."""
    overrides = overrides or {}
    buckets: dict[tuple[float, bool], list[nn.Parameter]] = {(lr, True): [], (lr, False): []}
    for value in overrides.values():
        buckets.setdefault((value, True), [])
        buckets.setdefault((value, False), [])
    keys = {prefix: [(value, True), (value, False)] for prefix, value in overrides.items()}
    n_trainable = 0
    for name, p in module.named_parameters():
        if not p.requires_grad:
            continue
        n_trainable += 1
        prefix = next((k for k in overrides if name == k or name.startswith(k + ".")), None)
        decay_key, no_decay_key = keys[prefix] if prefix is not None else [(lr, True), (lr, False)]
        buckets[decay_key if p.ndim >= 2 else no_decay_key].append(p)
    if not n_trainable:
        raise ConfigError("nothing to train: every parameter is frozen (check {train_layers})")
    return [{"params": params, "weight_decay": weight_decay if decay else 0.0, "base_lr": value}
            for (value, decay), params in buckets.items()]


def lr_factor(config: TrainConfig, step: int, total: int, lr_scale: float) -> float:
    """Multiplier of the base lr at optimizer step `step` (0-based) of `total`."""
    warm = int(config.warmup * total) if config.warmup < 1 else int(config.warmup)
    if warm > 0 and step < warm:
        return (step + 1) / warm
    if config.schedule == "cosine":
        progress = min(1.0, (step - warm) / max(1, total - warm))
        return config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    if config.schedule == "nrccr":
        return lr_scale
    return 1.0


# ---------------------------------------------------------------------------------------------- checkpoints
def _optimizer_to_flat(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, st in sd["state"].items():
        for key, val in st.items():
            if isinstance(val, torch.Tensor):
                tensors[f"optim.{idx}.{key}"] = val
            else:
                scalars.setdefault(str(idx), {})[key] = val
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, {"param_groups": groups, "scalars": scalars}


def _optimizer_from_flat(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]
                         ) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, val in tensors.items():
        if name.startswith("optim."):
            _, idx, key = name.split(".", 2)
            state.setdefault(int(idx), {})[key] = val
    for idx, vals in meta["scalars"].items():
        state.setdefault(int(idx), {}).update(vals)
    groups = [{k: (tuple(v) if k == "betas" else v) for k, v in g.items()} for g in meta["param_groups"]]
    opt.load_state_dict({"state": state, "param_groups": groups})


def _rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    np_state = np.random.get_state()
    tensors["rng.numpy"] = torch.from_numpy(np.asarray(np_state[1], dtype=np.int64))
    py = random.getstate()
    meta = {"python": [py[0], list(py[1]), py[2]], "numpy": [np_state[0], int(np_state[2]), int(np_state[3]),
                                                             float(np_state[4])]}
    return tensors, meta


def _set_rng_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["rng.torch"].to(torch.uint8))
    cuda = [tensors[k] for k in sorted(k for k in tensors if k.startswith("rng.cuda."))]
    if cuda and torch.cuda.is_available():
        with contextlib.suppress(RuntimeError):
            torch.cuda.set_rng_state_all([t.to(torch.uint8) for t in cuda])
    py = meta["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = meta["numpy"]
    np.random.set_state((n[0], tensors["rng.numpy"].numpy().astype(np.uint32), n[1], n[2], n[3]))


def frozen_names(module: nn.Module) -> set[str]:
    """State-dict names of the parameters that never train (requires_grad False, so outside the optimizer)."""
    return {n for n, p in module.named_parameters(remove_duplicate=False) if not p.requires_grad}


def checkpoint_weights(module: nn.Module) -> dict[str, torch.Tensor]:
    """What of the module a checkpoint (last and best) holds: everything training can change, i.e. every
    state-dict entry but the frozen parameters. Those are the backbone's pretrained weights, which the
    task rebuilds identically (checked by `frozen_fingerprint`); leaving them out shrinks an e5-small
    checkpoint by its 96M frozen word embeddings (docs/performance.md)."""
    from cl2cm.models.io import state_dict_for_save

    frozen = frozen_names(module)
    return {k: v for k, v in state_dict_for_save(module).items() if k not in frozen}


def frozen_fingerprint(module: nn.Module) -> dict[str, Any]:
    """sha256 over the frozen parameters' names, dtypes, shapes and bytes: a resume whose rebuilt frozen
    weights differ from the run's (another encoder behind the same path) is refused. Computed once per run."""
    digest = hashlib.sha256()
    frozen = frozen_names(module)
    n = numel = 0
    for name, t in module.state_dict().items():
        if name not in frozen:
            continue
        t = t.detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}\n".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy())
        n, numel = n + 1, numel + t.numel()
    return {"tensors": n, "parameters": numel, "sha256": digest.hexdigest()}


def load_checkpoint_weights(module: nn.Module, weights: dict[str, torch.Tensor], path: Path) -> None:
    """Load checkpoint weights strictly; the frozen parameters a checkpoint leaves out keep the module's own
    values (a full state dict, as checkpoints before the frozen ones were left out held, loads as is)."""
    from cl2cm.models.io import load_weights

    own = module.state_dict()
    load_weights(module, {**{k: own[k] for k in frozen_names(module) - weights.keys()}, **weights}, path)


def save_checkpoint(path: Path, module: nn.Module, opt: torch.optim.Optimizer, scaler: Any,
                    state: dict[str, Any], config: TrainConfig, fingerprint: dict[str, Any] | None = None,
                    frozen: dict[str, Any] | None = None) -> None:
    """Everything needed to continue a run, in one safetensors file (tensors + JSON metadata); `frozen` is
    the `frozen_fingerprint` of the weights the checkpoint leaves out."""
    tensors = {f"model.{k}": v for k, v in checkpoint_weights(module).items()}
    opt_t, opt_meta = _optimizer_to_flat(opt)
    rng_t, rng_meta = _rng_state()
    tensors.update(opt_t)
    tensors.update(rng_t)
    meta = {"state": state, "optimizer": opt_meta, "rng": rng_meta, "config": asdict(config),
            "scaler": scaler.state_dict() if scaler is not None else None, "task": fingerprint or {},
            "frozen": frozen if frozen is not None else frozen_fingerprint(module)}
    save_safetensors(path, tensors, metadata={"cl2cm": json.dumps(meta)})


def read_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and state of a checkpoint, verified against the digest it was written with."""
    tensors = load_safetensors(path)
    raw = read_metadata(path).get("cl2cm")
    if raw is None:
        raise UserError("not a cl2cm training checkpoint (no metadata)", path=path)
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UserError(f"corrupt checkpoint metadata ({exc.msg})", path=path) from None
    if not isinstance(meta, dict):
        raise UserError("corrupt checkpoint metadata (not a JSON object)", path=path)
    return tensors, meta


def model_weights(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}


# ---------------------------------------------------------------------------------------------- metrics
class _Metrics:
    """metrics.jsonl (+ TensorBoard if installed); rank 0 only."""

    def __init__(self, out_dir: Path, enabled: bool, keep_before_epoch: int | None) -> None:
        self.path = out_dir / METRICS
        self.enabled = enabled
        self.tb = None
        if not enabled:
            return
        kept: list[str] = []
        if keep_before_epoch is not None and self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                with contextlib.suppress(json.JSONDecodeError):
                    if json.loads(line).get("epoch", 0) < keep_before_epoch:
                        kept.append(line)
        atomic_write_text(self.path, "".join(f"{x}\n" for x in kept))
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(out_dir / "tensorboard"))
        except ImportError:  # TensorBoard is optional
            self.tb = None

    def log(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
        if self.tb is not None:
            for k, v in record.items():
                if isinstance(v, (int, float)) and k not in ("epoch", "step"):
                    self.tb.add_scalar(f"{record.get('split', 'train')}/{k}", v, record.get("step", 0))

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def remove_checkpoints(ckpt_dir: Path, finished: dict[str, Any]) -> None:
    """Replace a finished run's checkpoints/ by `FINISHED` (its state and settings, a few hundred bytes).

    The model directory already holds every weight `load_model` needs; last/best weights, optimizer state
    and token caches only serve a resume. `FINISHED` is written first, so a kill in between leaves a
    directory that still resumes (from `LAST`) or answers "already complete".
    """
    atomic_write_text(ckpt_dir / FINISHED, json.dumps(finished, indent=1, default=str) + "\n")
    for entry in ckpt_dir.iterdir():
        if entry.name != FINISHED and entry.is_file():
            entry.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------- fit
def fit(task: TrainTask, config: TrainConfig, out_dir: str | Path, *, resume: bool = False,
        progress: Progress | None = None, keep_checkpoints: bool = True) -> FitResult:
    """Train `task.module()` under `config`; write checkpoints, metrics and (via the task) the model dir.

    `keep_checkpoints=False` (the training commands' default) removes OUT/checkpoints/ once the model
    directory is written, leaving `FINISHED` so a later `resume` says "already complete".
    """
    config.validate_values()
    run = _Fit(task, config, Path(out_dir))  # setup: devices, processes, optimizer, data
    run.resume_or_start(resume)
    if run.already_complete:  # the stage may have re-made its token caches: they go again
        return run.complete_result(keep_checkpoints=keep_checkpoints)
    run.open_reporting(progress)
    while not run.finished():
        t_epoch = run.train_epoch()
        run.end_epoch(t_epoch)
    return run.finalize(keep_checkpoints=keep_checkpoints)


class _Fit:
    """One `fit` call, step by step: setup, resume (or a fresh start), epochs, end of epoch, finalize."""

    # ------------------------------------------------------------------------------------------- setup
    def __init__(self, task: TrainTask, config: TrainConfig, out_dir: Path) -> None:
        self.task, self.config, self.out_dir = task, config, out_dir
        device = resolve_device(config.device)
        self.info = info = D.init_from_env(device.type)
        if info.enabled and device.type == "cuda":
            device = torch.device("cuda", info.local_rank)
            torch.cuda.set_device(device)
        self.device = device
        if config.batch_size % (info.world_size * config.accum):
            raise ConfigError(f"{{batch_size}} {config.batch_size}: must be divisible by the number of processes "
                              f"({info.world_size}) × {{accum}} ({config.accum})")
        self.amp_dtype = resolve_amp(config.amp, device)
        self.ckpt_dir = out_dir / CKPT_DIR
        if info.is_main:
            self.ckpt_dir.mkdir(parents=True, exist_ok=True)

        self.module = task.module().to(device)
        self.opt = torch.optim.AdamW(param_groups(self.module, config.weight_decay, config.lr, task.lr_overrides()),
                                     lr=config.lr)
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        self.model: nn.Module = self.module
        if info.enabled:
            from torch.nn.parallel import DistributedDataParallel

            self.model = DistributedDataParallel(self.module,
                                                 device_ids=[device.index] if device.type == "cuda" else None)

        dataset = task.train_dataset()
        micro = config.batch_size // (info.world_size * config.accum)
        languages = task.train_languages()
        self.sampler: DistributedSampler | LanguageBalancedSampler
        if config.language_sampling == "balanced" and languages is not None and len(torch.unique(languages)) > 1:
            self.sampler = LanguageBalancedSampler(languages, num_replicas=info.world_size, rank=info.rank,
                                                   seed=config.seed)
        else:
            self.sampler = DistributedSampler(dataset, num_replicas=info.world_size, rank=info.rank, shuffle=True,
                                              seed=config.seed, drop_last=True)
        self.loader = DataLoader(dataset, batch_size=micro, sampler=self.sampler, collate_fn=task.collate,
                                 drop_last=True, num_workers=config.num_workers, pin_memory=device.type == "cuda")
        self.steps_per_epoch = len(self.loader) // config.accum
        if self.steps_per_epoch == 0:
            raise ConfigError(f"{{batch_size}} {config.batch_size}: larger than the training set "
                              f"({len(dataset)} items)")
        self.total_steps = config.epochs * self.steps_per_epoch
        if config.max_steps is not None:
            self.total_steps = min(self.total_steps, config.max_steps)
        # best_val: the validation metrics of the best epoch, handed to the task when it writes the model
        self.state: dict[str, Any] = {"epoch": 0, "step": 0, "best": None, "best_epoch": None, "bad_epochs": 0,
                                      "lr_scale": 1.0, "since_decay": 0, "best_val": None}
        self.resumed_from: int | None = None
        self.stopped_early = False
        self.already_complete = False
        self.finished_record: dict[str, Any] = {}
        self.last_loss: float | None = None
        self.last_val: dict[str, float] = {}
        self.t_total = self.t_compute = 0.0
        self.n_samples = 0
        self.trainable = [p for g in self.opt.param_groups for p in g["params"]]

    # ------------------------------------------------------------------------------------------- resume
    def resume_or_start(self, resume: bool) -> None:
        """Continue from `last.safetensors` (same settings and inputs only), or start fresh from the seed."""
        config = self.config
        last_path, finished_path = self.ckpt_dir / LAST, self.ckpt_dir / FINISHED
        if resume and not last_path.exists() and finished_path.exists():
            self._resume_finished(finished_path)
            return
        if resume and last_path.exists():
            tensors, meta = read_checkpoint(last_path)
            self._check_same_run(meta, last_path)
            load_checkpoint_weights(self.module, model_weights(tensors), last_path)
            self.frozen = frozen_fingerprint(self.module)  # after the load: an old full checkpoint sets them
            old_frozen = meta.get("frozen")  # absent in checkpoints that held every weight
            if old_frozen is not None and old_frozen != self.frozen:
                raise ConfigError("the frozen weights the model was rebuilt with (from its encoder or teacher "
                                  "directory) differ from the checkpoint's; resume with the same ones or start a "
                                  "new {out_dir}", path=last_path)
            _optimizer_from_flat(self.opt, tensors, meta["optimizer"])
            if self.scaler is not None and meta.get("scaler"):
                self.scaler.load_state_dict(meta["scaler"])
            _set_rng_state(tensors, meta["rng"])
            self.state.update(meta["state"])
            self.resumed_from = self.state["epoch"]
        else:
            self.frozen = frozen_fingerprint(self.module)
            seed_everything(config.seed)  # the data order and dropout of a fresh run depend only on the seed
            if self.info.is_main:
                for stale in (last_path, self.ckpt_dir / BEST, finished_path):
                    stale.unlink(missing_ok=True)

    def _check_same_run(self, meta: dict[str, Any], path: Path) -> None:
        """A resume continues one run: the checkpoint's settings and inputs must be today's."""
        old = meta["config"]
        for key in _RESUME_KEYS:  # a key newer than the checkpoint had its default then
            if old.get(key, TrainConfig.__dataclass_fields__[key].default) != getattr(self.config, key):
                raise ConfigError(f"{{{key}}} {{value!r}} differs from the checkpoint's {{old!r}}; resume "
                                  "with the same settings or start a new {out_dir}", path=path,
                                  value=getattr(self.config, key), old=old.get(key))
        now = json.loads(json.dumps(self.task.fingerprint()))
        for key in _LATER_FINGERPRINT_KEYS:  # a checkpoint written before the key existed did not record it
            if key not in meta.get("task", {}):
                now.pop(key, None)
        if meta.get("task", {}) != now:
            raise ConfigError("the checkpoint was trained on other inputs or model options; resume with the "
                              "same ones or start a new {out_dir}", path=path)

    def _resume_finished(self, path: Path) -> None:
        """`--resume` on a run that finished and dropped its checkpoints: "already complete", or a refusal
        to extend it (its optimizer state is gone)."""
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
            state = dict(meta["state"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError("corrupt record of a finished run; start a new {out_dir}", path=path) from exc
        self._check_same_run(meta, path)
        self.state.update(state)
        self.stopped_early = bool(meta.get("stopped_early"))
        if not self.finished():
            raise ConfigError("this run finished after {done} epochs and its resume checkpoints were removed, "
                              "so it cannot be trained further; start a new {out_dir} (or pass "
                              "{keep_checkpoints} to keep them for extending a run)", path=path,
                              done=state.get("epoch"))
        self.already_complete = True
        self.finished_record = meta

    def complete_result(self, *, keep_checkpoints: bool) -> FitResult:
        if self.info.is_main and not keep_checkpoints:
            remove_checkpoints(self.ckpt_dir, self.finished_record)
        st = self.state
        return FitResult(out_dir=self.out_dir, epochs=st["epoch"], steps=st["step"], best_metric=st["best"],
                         best_epoch=st["best_epoch"], last_loss=None, stopped_early=self.stopped_early,
                         already_complete=True)

    def open_reporting(self, progress: Progress | None) -> None:
        """metrics.jsonl (rank 0; a resumed run keeps the records of the epochs it continues after)."""
        keep = self.state["epoch"] if self.resumed_from is not None else 0
        self.metrics = _Metrics(self.out_dir, self.info.is_main, keep_before_epoch=keep)
        self.bar = reporter(progress if self.info.is_main else None).task(
            "train", total=self.total_steps, completed=self.state["step"], unit="steps")
        self.autocast = (torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)
                         if self.amp_dtype is not None else contextlib.nullcontext())

    def finished(self) -> bool:
        c, st = self.config, self.state
        return (self.stopped_early or st["epoch"] >= c.epochs
                or (c.max_steps is not None and st["step"] >= c.max_steps))

    # ------------------------------------------------------------------------------------------- one epoch
    def _sync(self) -> None:
        if self.config.profile and self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def train_epoch(self) -> float:
        """One pass over the loader (or up to --max-steps); returns the epoch's wall time start."""
        config, state, info, task, model = self.config, self.state, self.info, self.task, self.model
        epoch = state["epoch"]
        self.sampler.set_epoch(epoch)
        model.train()
        running: dict[str, float] = {}
        n_running = 0
        t_epoch = time.perf_counter()
        samples_epoch = 0
        self.opt.zero_grad(set_to_none=True)
        for micro_i, batch in enumerate(self.loader, 1):
            if micro_i > self.steps_per_epoch * config.accum:  # a trailing partial accumulation is dropped
                break
            interrupts.check()  # a Ctrl-C swallowed by a __del__ (see cl2cm.interrupts) stops at a step boundary
            batch = to_device(batch, self.device)
            self._sync()
            t0 = time.perf_counter()
            sync_ctx = (model.no_sync() if info.enabled and micro_i % config.accum else contextlib.nullcontext())
            with sync_ctx:
                with self.autocast:
                    terms = task.loss(model, batch)
                loss = terms["loss"] / config.accum
                if self.scaler is not None:
                    self.scaler.scale(loss).backward()
                else:
                    loss.backward()
            for k, v in terms.items():
                running[k] = running.get(k, 0.0) + float(v.detach())
            n_running += 1
            samples_epoch += task.batch_size_of(batch) * info.world_size
            if micro_i % config.accum == 0:
                self._optimizer_step()
            self._sync()
            self.t_compute += time.perf_counter() - t0
            if micro_i % config.accum == 0:
                step = state["step"]
                if step % config.log_every == 0 or step == self.total_steps:
                    avg = {k: float(mean_over_ranks(torch.tensor(v / n_running))) for k, v in running.items()}
                    if not math.isfinite(avg["loss"]):  # the same on every rank (a mean): all stop together
                        raise ConfigError("training diverged: the loss is {loss} at step {step} (epoch {epoch}); "
                                          "lower {lr} (now {now}) or check the inputs. Nothing was marked finished",
                                          path=self.out_dir, loss=avg["loss"], step=step, epoch=epoch + 1,
                                          now=number(config.lr))
                    rate = samples_epoch / max(time.perf_counter() - t_epoch, 1e-9)
                    self.metrics.log({"split": "train", "epoch": epoch, "step": step, **avg,
                                      "lr": self.opt.param_groups[0]["lr"], "samples_per_s": rate})
                    self.last_loss = avg["loss"]
                    running, n_running = {}, 0
                    self.bar.update(info=f"epoch {epoch + 1}/{config.epochs}  loss {avg['loss']:.4f}  "
                                         f"{rate:,.0f} samples/s")
                self.bar.update(completed=step)
                if config.max_steps is not None and state["step"] >= config.max_steps:
                    break
        self.t_total += time.perf_counter() - t_epoch
        self.n_samples += samples_epoch
        if n_running:  # loss of the tail since the last log
            self.last_loss = sum(v for k, v in running.items() if k == "loss") / n_running
        return t_epoch

    def _optimizer_step(self) -> None:
        """Unscale, clip, set the scheduled lr, step, zero the gradients."""
        config, state, opt, scaler = self.config, self.state, self.opt, self.scaler
        if scaler is not None:
            scaler.unscale_(opt)
        if config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.trainable, config.grad_clip)
        factor = lr_factor(config, state["step"], self.total_steps, state["lr_scale"])
        for g in opt.param_groups:  # base_lr: the group's peak lr (absent in checkpoints before head_lr)
            g["lr"] = g.get("base_lr", config.lr) * factor
        if scaler is not None:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()
        opt.zero_grad(set_to_none=True)
        state["step"] += 1

    # ------------------------------------------------------------------------------------------- end of epoch
    def end_epoch(self, t_epoch: float) -> None:
        """Validate (rank 0), track the best epoch, the NRCCR schedule, log, checkpoint, early stopping."""
        config, state, info, task, module = self.config, self.state, self.info, self.task, self.module
        epoch = state["epoch"]
        val: dict[str, float] = {}
        if info.is_main:
            module.eval()
            with torch.no_grad():
                val = task.validate(module)
            module.train()
        val = D.broadcast_object(val)  # type: ignore[assignment]
        self.last_val = val
        state["epoch"] = epoch + 1
        improved = True
        if task.metric and task.metric in val:
            score = float(val[task.metric])
            improved = state["best"] is None or score > state["best"]
            if improved:
                state["best"], state["best_epoch"], state["bad_epochs"] = score, epoch + 1, 0
                state["best_val"] = dict(val)
            else:
                state["bad_epochs"] += 1
        elif task.metric:
            raise KeyError(f"validate() returned no {task.metric!r}: {sorted(val)}")
        if config.schedule == "nrccr":  # NRCCR: ×0.99 per epoch, ×0.5 after 3 epochs without improvement
            state["lr_scale"] *= 0.99
            state["since_decay"] += 1
            if not improved and state["since_decay"] >= 3:
                state["lr_scale"] *= 0.5
                state["since_decay"] = 0
        self.metrics.log({"split": "val", "epoch": epoch, "step": state["step"], **val,
                          "train_loss": self.last_loss, "improved": improved,
                          "epoch_time_s": time.perf_counter() - t_epoch})
        if info.is_main:
            if improved and task.metric:
                save_safetensors(self.ckpt_dir / BEST, checkpoint_weights(module),
                                 metadata={"epoch": str(epoch + 1), "metric": str(state["best"])})
            save_checkpoint(self.ckpt_dir / LAST, module, self.opt, self.scaler, dict(state), config,
                            task.fingerprint(), self.frozen)
            testhook.committed("epoch")
        D.barrier()
        if task.metric and state["bad_epochs"] >= config.patience:
            self.stopped_early = True

    # ------------------------------------------------------------------------------------------- finalize
    def finalize(self, *, keep_checkpoints: bool = True) -> FitResult:
        """The best weights into the module, the task writes the model directory (rank 0) with the best
        epoch's validation metrics; then, unless `keep_checkpoints`, the checkpoints go (`remove_checkpoints`)."""
        self.bar.close()
        state, task, module = self.state, self.task, self.module
        if self.info.is_main:
            best_path = self.ckpt_dir / BEST
            if task.metric and best_path.exists():
                load_checkpoint_weights(module, load_safetensors(best_path, device=str(self.device)), best_path)
            module.eval()
            task.save(module, self.out_dir, best=state.get("best_val"))
            if not keep_checkpoints:
                remove_checkpoints(self.ckpt_dir, {"config": asdict(self.config),
                                                   "task": json.loads(json.dumps(task.fingerprint())),
                                                   "state": state, "stopped_early": self.stopped_early})
        self.metrics.close()
        D.barrier()
        return FitResult(out_dir=self.out_dir, epochs=state["epoch"], steps=state["step"], best_metric=state["best"],
                         best_epoch=state["best_epoch"], last_loss=self.last_loss, last_val=self.last_val,
                         stopped_early=self.stopped_early, resumed_from=self.resumed_from,
                         samples_per_s=self.n_samples / self.t_total if self.t_total else 0.0,
                         time_total_s=self.t_total, time_compute_s=self.t_compute)
