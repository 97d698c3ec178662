"""How the command line names a config field in an error: the library's `ConfigError` names fields
(``batch_size``), the user typed flags (``--batch-size``).

A field's flag is the one in its metadata (`cl2cm.config.option`), found in the configs the commands take
(`cl2cm.cli.options.CONFIGS`), else ``--`` + the field name with dashes: the rule every other flag follows.
"""

from __future__ import annotations

from cl2cm.cli.options import CONFIGS
from cl2cm.config import leaves
from cl2cm.errors import ConfigError, UserError

# Stage functions' arguments whose flag is not the default rule's.
ARGUMENT_FLAGS = {"out_dir": "--out"}


def registered_flags() -> dict[str, str]:
    """{field: flag} of every field of every config a command takes, and of the stages' arguments."""
    flags = {f.name: f.metadata["flag"] for config in CONFIGS for _, f in leaves(config) if f.metadata["flag"]}
    return {**flags, **ARGUMENT_FLAGS}


def default_flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def flag_of(field: str) -> str:
    """The flag the user typed for `field`."""
    return registered_flags().get(field, default_flag(field))


def user_message(exc: UserError) -> str:
    """The error as the command line says it: config fields named by their flags."""
    return exc.render(flag_of) if isinstance(exc, ConfigError) else str(exc)
