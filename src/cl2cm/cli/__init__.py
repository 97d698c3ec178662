"""The `cl2cm` command line: a thin layer over the library (see `cl2cm.cli.app`)."""

from __future__ import annotations

import errno
import os
import sys
import warnings

import typer

from cl2cm import interrupts
from cl2cm.artifacts.manifest import recording_command
from cl2cm.cli.app import app
from cl2cm.cli.flags import user_message
from cl2cm.errors import LanguageWarning, UserError

# Each import registers one command on `app` (one line per command module, in pipeline order).
# isort: off
from cl2cm.cli import translate  # noqa: E402,F401
from cl2cm.cli import extract_features  # noqa: E402,F401
from cl2cm.cli import import_embeddings  # noqa: E402,F401
from cl2cm.cli import train_teacher  # noqa: E402,F401
from cl2cm.cli import distill  # noqa: E402,F401
from cl2cm.cli import demo  # noqa: E402,F401
from cl2cm.cli import pipeline  # noqa: E402,F401
from cl2cm.cli import eval  # noqa: E402,F401
from cl2cm.cli import search  # noqa: E402,F401
from cl2cm.cli import serve  # noqa: E402,F401
from cl2cm.cli import verify  # noqa: E402,F401
# isort: on

__all__ = ["app", "main"]


# Disk full, quota, file too large, read-only or forbidden output: the environment's fault, reported
# in one line (exit 1); atomic writes guarantee that no truncated artifact was left in place.
_ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM}


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


def _parser_classes(name: str) -> tuple[type[BaseException], ...]:
    """Every class called `name` the installed parser may raise.

    typer up to 0.2x raises the exceptions of the separate `click` package; typer 0.29 raises those of
    its bundled copy (`typer._click`), and `typer.Exit`/`typer.Abort` became its own classes. We take them
    from typer's public `BadParameter`/`Exit`/`Abort` (whatever module they live in), plus `click`'s when
    that package is installed, so no version of the parser can slip a traceback past `main`.
    """
    found: list[type[BaseException]] = []
    for root in (typer.BadParameter, typer.Exit, typer.Abort):
        found += [cls for cls in root.__mro__ if cls.__name__ == name]
    try:
        import click.exceptions as click_exceptions
    except ImportError:  # typer >= 0.29 no longer needs the separate click
        pass
    else:
        if isinstance(getattr(click_exceptions, name, None), type):
            found.append(getattr(click_exceptions, name))
    return tuple(dict.fromkeys(found))


_USAGE_ERRORS = _parser_classes("UsageError")
_PARSER_ERRORS = _parser_classes("ClickException")  # e.g. FileError: one line, the parser's exit code
_EXITS = _parser_classes("Exit")
_ABORTS = _parser_classes("Abort")


def _usage_line(exc: BaseException) -> str:
    """`translate: Missing option '--to'. See 'cl2cm translate --help'.` (click's "did you mean" kept)."""
    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path if ctx is not None else "cl2cm"
    command = path.split(" ", 1)[1] + ": " if " " in path else ""
    message = _one_line(exc.format_message()).rstrip()
    if not message.endswith((".", "?", ")")):
        message += "."
    return f"{command}{message} See '{path} --help'."


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: object = None, line: str | None = None) -> None:
    """The library's warnings for the user (`LanguageWarning`) as one `cl2cm: warning:` line on stderr."""
    if issubclass(category, LanguageWarning):
        print(f"cl2cm: warning: {_one_line(str(message))}", file=sys.stderr)
    else:
        _DEFAULT_SHOWWARNING(message, category, filename, lineno, file, line)  # type: ignore[arg-type]


_DEFAULT_SHOWWARNING = warnings.showwarning


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app; user mistakes become one line on stderr and exit code 2."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # stderr is for our one-line errors: the hub client's retry warnings ("'[Errno -2] ...' thrown while
    # requesting HEAD ...") would make an offline `--model org/name` a multi-line mess (users may override)
    os.environ.setdefault("HF_HUB_VERBOSITY", "error")
    args = list(sys.argv[1:] if argv is None else argv)
    interrupts.install()
    try:
        with recording_command(args), warnings.catch_warnings():
            warnings.simplefilter("always", LanguageWarning)
            warnings.showwarning = _show_warning
            rv = app(args=args, standalone_mode=False, prog_name="cl2cm")
        interrupts.check()  # a Ctrl-C/SIGTERM that a __del__ swallowed (or the parser made 130) ends it as such
    except UserError as exc:
        if os.environ.get("RANK", "0") == "0":  # under torchrun every rank fails alike: rank 0 says it once
            print(f"cl2cm: error: {_one_line(user_message(exc))}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except _USAGE_ERRORS as exc:  # bad flag or value: one line naming the command and the flag
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `cl2cm`: the help, as click itself does
            text = exc.ctx.get_help()  # typer's rich help prints itself and returns ""
            if text:
                print(text, file=sys.stderr)
        else:
            print(f"cl2cm: error: {_usage_line(exc)}", file=sys.stderr)
        sys.exit(2)
    except _PARSER_ERRORS as exc:
        print(f"cl2cm: error: {_one_line(exc.format_message())}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except _ABORTS:
        print("cl2cm: aborted", file=sys.stderr)
        sys.exit(130)
    except _EXITS as exc:
        sys.exit(exc.exit_code)
    except OSError as exc:
        if exc.errno not in _ENVIRONMENT_ERRNOS:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"cl2cm: error: {where}{exc.strerror or exc}; nothing was committed, rerun to resume",
              file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt as exc:
        interrupts.clear()
        resume = "rerun the same command to resume (training stages: add --resume)"
        if not isinstance(exc, interrupts.Terminated):
            print(f"cl2cm: interrupted; {resume}", file=sys.stderr)
            sys.exit(130)
        # SIGTERM (kill, a time limit, docker stop; torchrun stopping the ranks when one failed: rank 0 says it)
        if os.environ.get("RANK", "0") == "0":
            print(f"cl2cm: terminated (SIGTERM); {resume}", file=sys.stderr)
        sys.exit(143)
    if isinstance(rv, int) and rv:
        sys.exit(rv)
