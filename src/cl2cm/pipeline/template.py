"""The config files the pipeline starts from: the commented template (`--init`) and the demo world's."""

from __future__ import annotations

import json
from pathlib import Path

from cl2cm.artifacts.io import atomic_write_text
from cl2cm.errors import UserError

TEMPLATE = """\
# cl2cm pipeline config: `cl2cm pipeline THIS_FILE --out runs/mine` runs
#   translate -> extract-features (every split) -> train-teacher -> distill -> eval
# each into its own folder under --out. Relative paths are relative to this file's folder.
# Anything not set here takes the library's default. docs/pipeline.md explains every part.

languages = ["de"]          # target languages: one teacher and one student for all of them
seed = 0                    # every stage's --seed
device = "auto"             # auto | cpu | cuda
# threads = 0               # torch CPU threads (0: torch's default)
# no_transfer_baseline = false   # also train `distill --no-transfer` (the baseline) and evaluate it
# evaluate_teacher = true        # evaluate the teacher target->English where English test captions exist

# The images and captions of each split. `images`: an image list (names relative to `root`) or a folder.
# `captions`: English captions (any format cl2cm reads: JSONL, Multi30K, NRCCR, TSV).
# `target_captions`: human captions per target language: on val they select the best epoch, on test
# they are what `eval` runs on (no test target captions: no eval).
[data.train]
images = "data/train_images.txt"
root = "data/images"
captions = "data/train.en.jsonl"

[data.val]
images = "data/val_images.txt"
root = "data/images"
captions = "data/val.en.jsonl"
target_captions = { de = "data/val.de.jsonl" }

[data.test]
images = "data/test_images.txt"
root = "data/images"
captions = "data/test.en.jsonl"
target_captions = { de = "data/test.de.jsonl" }

# Stage options: the keys are the fields of each stage's config, i.e. its command's flags without the
# dashes (`--batch-size` -> batch_size); `cl2cm <stage> --help` lists them.
[translate]
backend = "hf"                                  # hf | ct2 | lexicon
model = "facebook/nllb-200-distilled-600M"      # one model for every language, or a table per language:
# model = { de = "Helsinki-NLP/opus-mt-en-de", fr = "Helsinki-NLP/opus-mt-en-fr" }
# beams = 1

[extract_features]
model = "ViT-B-32"          # open_clip model (or a model-config JSON)
pretrained = "openai"       # open_clip tag or a local weights file
# batch_size = 256
# workers = 4

[train_teacher]
encoder = "bert-base-multilingual-cased"   # text encoder (HF name or local folder)
# epochs = 10
# batch_size = 128
# lr = 1e-4

[distill]
# epochs = 10
# visual_input = "features"   # features | tokens (needs extract-features --tokens)

[eval]
# ties = "pessimistic"
# rank_kernel = "auto"        # auto | torch | numba (pip install numba): the same ranks, numba faster on CPU
"""


def write_template(path: Path) -> None:
    """`cl2cm pipeline --init FILE`: refuses to replace an existing file."""
    if path.exists():
        raise UserError("exists; choose another file name or delete it", path=path)
    atomic_write_text(path, TEMPLATE)


def demo_config(world: str, *, langs: list[str], noise: float, dim: int, lr: float, teacher_epochs: int,
                student_epochs: int, seed: int, device: str, threads: int, encoder: str,
                train_flags: bool) -> str:
    """The pipeline config of the demo world `world` (a path relative to the config's folder, or absolute):
    what `cl2cm demo` runs, and what a user can run with `cl2cm pipeline` over a generated world."""
    q = json.dumps  # a TOML basic string is a JSON string

    def split(name: str, gold: bool) -> str:
        text = (f"\n[data.{name}]\nimages = {q(f'{world}/{name}_images.txt')}\nroot = {q(f'{world}/images/{name}')}"
                f"\ncaptions = {q(f'{world}/{name}.en.jsonl')}\n")
        if gold:
            text += "target_captions = { " + ", ".join(f"{lang} = {q(f'{world}/{name}.{lang}.jsonl')}"
                                                       for lang in langs) + " }\n"
        return text

    tiny = f"lr = {lr!r}\ntrain_layers = \"all\"\n" if train_flags else ""
    return (f"# The demo world's pipeline (`cl2cm demo` writes and runs this file; docs/pipeline.md).\n"
            f"languages = {q(langs)}\nseed = {seed}\ndevice = {q(device)}\nthreads = {threads}\n"
            f"no_transfer_baseline = true\n"
            + split("train", False) + split("val", True) + split("test", True)
            + f"\n[translate]\nbackend = \"lexicon\"\nmodel = {q(f'{world}/lexicon.json')}\nnoise = {noise!r}\n"
            + f"\n[extract_features]\nmodel = {q(f'{world}/tiny-vit.json')}\npretrained = \"none\"\ntokens = true\n"
            + "workers = 0\n"
            + f"\n[train_teacher]\nencoder = {q(encoder)}\ndim = {dim}\nepochs = {teacher_epochs}\n{tiny}"
            + f"\n[distill]\nvisual_input = \"tokens\"\nepochs = {student_epochs}\n{tiny}")
