"""The `cl2cm` command line: a thin layer over the library (see `cl2cm.cli.app`)."""

from __future__ import annotations

import errno
import os
import sys

import click

from cl2cm.artifacts.manifest import recording_command
from cl2cm.cli.app import app
from cl2cm.errors import UserError

# Each import registers one command on `app` (one line per command module, in pipeline order).
# isort: off
from cl2cm.cli import translate  # noqa: E402,F401
from cl2cm.cli import extract_features  # noqa: E402,F401
from cl2cm.cli import train_teacher  # noqa: E402,F401
from cl2cm.cli import distill  # noqa: E402,F401
from cl2cm.cli import demo  # noqa: E402,F401
from cl2cm.cli import eval  # noqa: E402,F401
from cl2cm.cli import search  # noqa: E402,F401
# isort: on

__all__ = ["app", "main"]


# Disk full, quota, file too large, read-only or forbidden output: the environment's fault, reported
# in one line (exit 1); atomic writes guarantee that no truncated artifact was left in place.
_ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM}


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app; user mistakes become one line on stderr and exit code 2."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        with recording_command(args):
            rv = app(args=args, standalone_mode=False, prog_name="cl2cm")
    except UserError as exc:
        print(f"cl2cm: error: {_one_line(str(exc))}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except click.exceptions.UsageError as exc:  # bad flag or value: one line naming it
        print(f"cl2cm: error: {_one_line(exc.format_message())}", file=sys.stderr)
        sys.exit(2)
    except click.exceptions.Abort:
        print("cl2cm: aborted", file=sys.stderr)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except OSError as exc:
        if exc.errno not in _ENVIRONMENT_ERRNOS:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"cl2cm: error: {where}{exc.strerror or exc}; nothing was committed, rerun to resume",
              file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("cl2cm: interrupted; rerun the same command to resume (training stages: add --resume)", file=sys.stderr)
        sys.exit(130)
    if isinstance(rv, int) and rv:
        sys.exit(rv)
