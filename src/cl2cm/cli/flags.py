"""How the command line names a config field in an error: the library's `ConfigError` names fields
(``batch_size``), the user typed flags (``--batch-size``).

A field's flag is the one registered in its dataclass metadata (`cl2cm.train.engine.option`), else
``--`` + the field name with dashes: the rule every other flag of the CLI follows.
"""

from __future__ import annotations

from dataclasses import fields

from cl2cm.config.demo import DemoConfig
from cl2cm.config.distill import DistillConfig, DistillOptions
from cl2cm.config.query import EvalConfig, SearchConfig, ServeConfig
from cl2cm.config.stages import BigfileConfig, ExtractConfig, ImportEmbeddingsConfig, TranslateConfig
from cl2cm.config.teacher import TeacherOptions, TextEncoderConfig, TrainTeacherConfig
from cl2cm.config.train import TrainConfig, TrainStageConfig
from cl2cm.errors import ConfigError, UserError

# Every config a command's flags come from (`cl2cm.cli.options`), in pipeline order.
CONFIGS: tuple[type, ...] = (TranslateConfig, ExtractConfig, BigfileConfig, ImportEmbeddingsConfig, TrainConfig,
                             TrainStageConfig, TextEncoderConfig, TeacherOptions, TrainTeacherConfig, DistillOptions,
                             DistillConfig, DemoConfig, EvalConfig, SearchConfig, ServeConfig)
# Stage functions' arguments whose flag is not the default rule's.
ARGUMENT_FLAGS = {"out_dir": "--out"}


def registered_flags() -> dict[str, str]:
    """{field: flag} for every field whose metadata registers a flag other than the default rule."""
    out = dict(ARGUMENT_FLAGS)
    for config in CONFIGS:
        for f in fields(config):
            flag = f.metadata.get("flag")
            if flag and flag != default_flag(f.name):
                out[f.name] = flag
    return out


def default_flag(field: str) -> str:
    return "--" + field.replace("_", "-")


_FLAGS = registered_flags()


def flag_of(field: str) -> str:
    """The flag the user typed for `field`."""
    return _FLAGS.get(field, default_flag(field))


def user_message(exc: UserError) -> str:
    """The error as the command line says it: config fields named by their flags."""
    return exc.render(flag_of) if isinstance(exc, ConfigError) else str(exc)
