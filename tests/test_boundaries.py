"""Dependencies the right way round, checked on the import statements of every module (AST, no import)."""

from __future__ import annotations

import ast
import re
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
    base = _imports(PACKAGE / "translation" / "base.py")
    assert not {n for n in base if n.startswith("cl2cm.translation.")}
    io = _imports(PACKAGE / "models" / "io.py")
    assert not {n for n in io if n in ("cl2cm.models.teacher", "cl2cm.models.student")}


def test_no_source_file_points_outside_the_repository() -> None:
    """A reader of the code has the repository only: what they need is in docs/, not in ../shared."""
    cites = [p.relative_to(PACKAGE).as_posix() for p in sorted(PACKAGE.rglob("*.py"))
             if "../shared" in p.read_text(encoding="utf-8") or "shared/design" in p.read_text(encoding="utf-8")]
    assert cites == []


_FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def _flag_literals(path: Path) -> set[str]:
    """The `--flag`s in the file's string literals (f-string parts included), except docstrings and the
    help and `flag=` of a config field's `option(...)`: where a field registers what the CLI shows."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skip.add(id(first.value))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "option":
            help_and_flag = [*node.args[1:2], *(k.value for k in node.keywords if k.arg in ("help", "flag"))]
            skip.update(id(n) for part in help_and_flag for n in ast.walk(part))
    return {flag for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in skip for flag in _FLAG.findall(node.value)}


# Where the training stages read the user's files they still name them by flag, and the manifests record
# their inputs under flag names (an artifact format: a resumed run compares them). Only these may remain;
# a new flag name in models/, losses/ or the training code is a `ConfigError` naming the field instead.
_STAGE_INPUT_FLAGS = {
    "train/data.py": {"--src", "--tgt"},
    "train/teacher.py": {"--src", "--tgt", "--val-src", "--val-tgt"},
    "train/distill.py": {"--teacher", "--features", "--src", "--tgt", "--val-features", "--val-captions", "--val"},
}


def test_models_losses_and_training_name_fields_not_flags() -> None:
    """The library speaks of config fields (`ConfigError`); the CLI names their flags (`cl2cm.cli.flags`)."""
    found = {p.relative_to(PACKAGE).as_posix(): _flag_literals(p)
             for d in ("models", "losses", "train") for p in sorted((PACKAGE / d).rglob("*.py"))}
    extra = {m: sorted(flags - _STAGE_INPUT_FLAGS.get(m, set())) for m, flags in found.items()}
    assert {m: f for m, f in extra.items() if f} == {}


def test_the_flag_scan_skips_docstrings_and_registrations(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text('"""Run with --a."""\nx = option(1, f"see --g {x}", flag="--b")\ny = f"--c {x}"\n'
                 'def g():\n    """--d"""\n    return "see --e-f", "a--b", "---"\n')
    assert _flag_literals(f) == {"--c", "--e-f"}


# ---------------------------------------------------------------------------------------------- layers
#: Lowest first. A package may import its own modules and any package of a LOWER layer, never one of its
#: own layer or above; every package must be placed here (a new one fails `test_every_package_has_a_layer`).
LAYERS: list[set[str]] = [
    {"_version", "errors", "progress", "testhook", "registry", "interrupts", "langid"},  # no cl2cm imports
    {"runtime", "artifacts", "config"},                            # devices/seeds; files on disk; settings
    {"distributed"},                                               # which process am I (torchrun, --shard)
    {"losses", "features", "translation"},                         # independent building blocks / stages
    {"models"},                                                    # teacher, student (students encode images)
    {"retrieval"},                                                 # metrics, eval (loads models), search
    {"train"},                                                     # the engine, teacher and distill stages
    {"pipeline"},                                                  # `cl2cm pipeline`: the stages from one config
    {"api", "demo", "serve"},                                      # the public API; the demo; the server
    {"cli", "__init__"},                                           # the skin; `cl2cm` (lazy names of `api`)
    {"__main__"},                                                  # `python -m cl2cm`
]


def _package(module: str) -> str:
    """`cl2cm.train.dist` → `train`; `cl2cm` (the top-level `__init__`) → `__init__`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _module_graph() -> dict[str, set[str]]:
    """module → the cl2cm modules it imports (`from cl2cm.train import dist` names `cl2cm.train.dist`)."""
    files = {".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): p
             for p in PACKAGE.rglob("*.py")}

    def resolve(name: str) -> str:
        while name not in files:
            name = name.rpartition(".")[0]
        return name

    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        edges = graph.setdefault(module, set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                edges.update(resolve(a.name) for a in node.names if a.name.split(".")[0] == "cl2cm")
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "cl2cm":
                edges.update(resolve(f"{node.module}.{a.name}") for a in node.names)
        edges.discard(module)
    return graph


def _upward(graph: dict[str, set[str]]) -> list[str]:
    layer = {pkg: i for i, pkgs in enumerate(LAYERS) for pkg in pkgs}
    return sorted(f"{m} -> {n}" for m, names in graph.items() for n in names
                  if _package(m) != _package(n) and layer[_package(n)] >= layer[_package(m)])


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while (w := stack.pop()) != v:
                comp.append(w)
            if comp:
                found.append(sorted([v, *comp]))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_every_package_has_a_layer() -> None:
    placed = set().union(*LAYERS)
    assert {_package(m) for m in _module_graph()} - placed == set()


def test_no_import_reaches_up_or_sideways() -> None:
    """Every import (top level or inside a function) goes from a higher layer to a lower one."""
    assert _upward(_module_graph()) == []


def test_no_import_circle() -> None:
    assert _cycles(_module_graph()) == []


def test_the_layer_and_circle_checks_can_fail() -> None:
    """The checks on a made-up graph: the old `retrieval.languages → api` arrow and its circle."""
    graph = {"cl2cm.api": {"cl2cm.retrieval.evaluate"}, "cl2cm.retrieval.evaluate": {"cl2cm.retrieval.languages"},
             "cl2cm.retrieval.languages": {"cl2cm.api", "cl2cm.retrieval.evaluate"},
             "cl2cm.features.extract": {"cl2cm.train.dist"}, "cl2cm.train.dist": set()}
    assert _upward(graph) == ["cl2cm.features.extract -> cl2cm.train.dist",
                              "cl2cm.retrieval.languages -> cl2cm.api"]
    assert _cycles(graph) == [["cl2cm.api", "cl2cm.retrieval.evaluate", "cl2cm.retrieval.languages"]]
