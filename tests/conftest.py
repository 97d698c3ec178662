"""Shared fixtures: a committed slice of real captions, tiny models built offline, and ../shared/data.

The default suite stands on its own: library tests use `tests/data` (a few hundred Multi30K lines with their
SOURCE.txt) and generated worlds. Only tests marked `realdata` read ../shared/data; they run wherever it
exists, are deselected where it does not (the end of the run says how many and why), and fail under
CI=true (CI must have it). A test that asks for ../shared/data without the marker is a collection error.
Only "needs CUDA" skips, and the browser test of `cl2cm serve` without chromium (a failure under CI=true);
every skip is listed at the end with its reason.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# One intra-op thread, here and in the subprocesses tests start: the models are tiny, and on a small or
# shared machine OpenMP threads only spin against each other (tiny-BERT steps measured 20-30x slower).
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SLICE = Path(__file__).resolve().parent / "data"  # committed: tests/data/*/SOURCE.txt says what and from where
CUDA_SKIP = "needs CUDA"
_REALDATA_DESELECTED = pytest.StashKey[int]()


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """GPU tests skip without CUDA; realdata tests skip without ../shared/data (outside CI, with the reason)."""
    unmarked = [item.nodeid for item in items if "shared_data" in getattr(item, "fixturenames", ())
                and "realdata" not in item.keywords]
    if unmarked:
        raise pytest.UsageError("tests that read ../shared/data must be marked realdata: " + ", ".join(unmarked))
    if not SHARED_DATA.is_dir() and not in_ci():  # under CI the shared_data fixture fails instead
        # Not run here, like -m 'not slow': deselected (the summary says so), so -rs lists only real skips.
        realdata = [item for item in items if "realdata" in item.keywords]
        if realdata:
            items[:] = [item for item in items if "realdata" not in item.keywords]
            config.hook.pytest_deselected(items=realdata)
            config.stash[_REALDATA_DESELECTED] = len(realdata)
    if not torch.cuda.is_available():
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(pytest.mark.skip(reason=CUDA_SKIP))


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """Every skipped test with its reason, and the realdata tests not run, so a partial run never looks whole."""
    deselected = config.stash.get(_REALDATA_DESELECTED, 0)
    if deselected:
        terminalreporter.section("realdata")
        terminalreporter.write_line(f"{deselected} realdata test(s) deselected: {SHARED_DATA} not found (they run "
                                    "wherever it exists; under CI=true its absence is a failure)")
    skipped = terminalreporter.stats.get("skipped", [])
    if not skipped:
        return
    terminalreporter.section(f"{len(skipped)} skipped test(s)")
    for report in skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        terminalreporter.write_line(f"SKIPPED {report.nodeid}: {reason.removeprefix('Skipped: ')}")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (Multi30K, COCO-CN, ...), beside the repository; only for tests marked realdata."""
    if not SHARED_DATA.is_dir():
        message = f"realdata: {SHARED_DATA} not found"
        if in_ci():
            pytest.fail(f"{message}; CI must provide it (tests marked realdata never skip under CI=true)")
        pytest.skip(message)
    return SHARED_DATA


@pytest.fixture(scope="session")
def multi30k(shared_data: Path) -> Path:
    """The full Multi30K (realdata tests only)."""
    return shared_data / "multi30k"


@pytest.fixture(scope="session")
def multi30k_slice() -> Path:
    """The committed Multi30K slice: train.{en,de,fr,cs} (800 lines), test_2016_flickr.{en,de,fr,txt} (100)."""
    return SLICE / "multi30k"


@pytest.fixture(scope="session")
def multiscript_slice() -> Path:
    """The committed MultiScript30k slice: machine-translated val.{zh_hans,uk} (200 lines each)."""
    return SLICE / "multiscript30k-mt"


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory: pytest.TempPathFactory, multi30k_slice: Path) -> Path:
    """A tiny BERT with a WordPiece vocabulary trained on the Multi30K slice (en/de/fr/cs)."""
    from cl2cm.models.tiny import build_tiny_bert

    texts: list[str] = []
    for lang in ("en", "de", "fr", "cs"):
        texts += (multi30k_slice / f"train.{lang}").read_text(encoding="utf-8").splitlines()
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), texts, vocab_size=3000)


@pytest.fixture(scope="session")
def tiny_clip_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An open_clip model-config JSON for a tiny random ViT (64 px, patch 16)."""
    from cl2cm.models.tiny import tiny_open_clip_config

    return tiny_open_clip_config(tmp_path_factory.mktemp("clip") / "tiny-vit.json")


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[[list[str]], tuple[int, str, str]]:
    """`cli(argv) -> (exit code, stdout, stderr)` through `cl2cm.cli.main`, as the console script runs it."""
    from cl2cm.cli import main

    def run(argv: list[str]) -> tuple[int, str, str]:
        code = 0
        try:
            main(argv)
        except SystemExit as exc:
            code = int(exc.code or 0)
        finally:
            gc.unfreeze()  # a command may freeze the GC for its process's short life; this process lives on
        out, err = capsys.readouterr()
        return code, out, err

    return run
