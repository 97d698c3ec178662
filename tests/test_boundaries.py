"""Dependencies the right way round, checked on the import statements of every module (AST, no import)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "cl2cm"


def _imports(path: Path) -> set[str]:
    """Every module name an `import` / `from ... import` in the file names (top level or in a function)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules() -> dict[str, set[str]]:
    return {p.relative_to(PACKAGE).as_posix(): _imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_only_the_cli_imports_rich_or_typer() -> None:
    offenders = {m: sorted(n for n in names if n.split(".")[0] in ("rich", "typer", "click"))
                 for m, names in _modules().items() if not m.startswith("cli/")}
    assert {m: n for m, n in offenders.items() if n} == {}


def test_the_parser_sees_imports_inside_functions(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from rich.table import Table\n    import typer\n")
    assert _imports(f) == {"rich.table", "typer"}


def test_the_library_does_not_import_the_demo() -> None:
    """The demo uses the library; only its command (`cli/demo.py`) and the demo package itself import it."""
    users = {m for m, names in _modules().items()
             if any(n == "cl2cm.demo" or n.startswith("cl2cm.demo.") for n in names)}
    assert {m for m in users if not m.startswith("demo/")} == {"cli/demo.py"}


def test_registries_do_not_import_what_they_list() -> None:
    """Backends import the translation base; the base names them by import string, never imports them."""
    base = _imports(PACKAGE / "translate" / "base.py")
    assert not {n for n in base if n.startswith("cl2cm.translate.")}
    io = _imports(PACKAGE / "models" / "io.py")
    assert not {n for n in io if n in ("cl2cm.models.teacher", "cl2cm.models.student")}


def test_no_source_file_points_outside_the_repository() -> None:
    """A reader of the code has the repository only: what they need is in docs/, not in ../shared."""
    cites = [p.relative_to(PACKAGE).as_posix() for p in sorted(PACKAGE.rglob("*.py"))
             if "../shared" in p.read_text(encoding="utf-8") or "shared/design" in p.read_text(encoding="utf-8")]
    assert cites == []
