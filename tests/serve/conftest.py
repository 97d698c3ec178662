"""A tiny demo run for the server tests (no ../shared): a demo world, test-split features, a student.

The student is freshly initialised (not distilled): the tests compare the server with `cl2cm search` on the
same model and store, which needs a deterministic model, not a good one. Built once per session (~10 s).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from cl2cm.artifacts.manifest import Manifest
from cl2cm.artifacts.store import load_store
from cl2cm.cli import main
from cl2cm.demo.world import generate_world
from cl2cm.models import TextEncoderConfig
from cl2cm.models.student import Student, StudentConfig
from cl2cm.train.distill import visual_encoder

REPO = Path(__file__).resolve().parents[2]
GERMAN_QUERIES = ["ein roter Kreis oben links", "zwei blaue Quadrate", "ein großer gelber Stern in der Mitte",
                  "ein kleines grünes Dreieck", "ein schwarzer Kreis unten rechts"]


@dataclass
class DemoRun:
    root: Path
    student: Path
    features: Path
    images: Path
    ids: list[str]


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    root = tmp_path_factory.mktemp("serve-demo")
    world = root / "world"
    generate_world(world, n_train=6, n_val=2, n_test=12, seed=0)
    main(["extract-features", str(world / "test_images.txt"), "--root", str(world / "images" / "test"),
          "--model", str(world / "tiny-vit.json"), "--pretrained", "none", "--workers", "0",
          "--out", str(root / "features"), "--device", "cpu", "--quiet"])
    store = load_store(root / "features")
    torch.manual_seed(0)
    text = TextEncoderConfig(encoder=str(world / "encoder"), dim=16, train_layers="all", max_length=32)
    # as `distill` records it: the store's visual model and how to rebuild its encoder (search by image)
    Student(StudentConfig(text=text, head="mlp", visual_dim=store.dim, hidden=16,
                          visual_model=dict(store.manifest.model), visual_encoder=visual_encoder(store),
                          languages=["de"])
            ).save(root / "student", Manifest(kind="student"))
    return DemoRun(root, root / "student", root / "features", world / "images" / "test", store.ids)


@dataclass
class VideoRun:
    frames: Path  # one folder of frames per clip
    features: Path
    student: Path


@pytest.fixture(scope="session")
def video_run(demo_run: DemoRun, tmp_path_factory: pytest.TempPathFactory) -> VideoRun:
    """Four 3-frame clips made of the demo images, extracted with `--frames 2`, and a fresh video student."""
    from PIL import Image

    root = tmp_path_factory.mktemp("serve-video")
    frames = root / "clips"
    for v in range(4):
        (frames / f"clip{v}").mkdir(parents=True)
        for f in range(3):
            Image.open(demo_run.images / demo_run.ids[3 * v + f]).save(frames / f"clip{v}" / f"frame{f + 1}.png")
    world = demo_run.root / "world"
    main(["extract-features", str(frames), "--frames", "2", "--model", str(world / "tiny-vit.json"),
          "--pretrained", "none", "--workers", "0", "--out", str(root / "features"), "--device", "cpu", "--quiet"])
    store = load_store(root / "features")
    torch.manual_seed(0)
    text = TextEncoderConfig(encoder=str(world / "encoder"), dim=16, train_layers="all", max_length=32)
    Student(StudentConfig(text=text, head="temporal", visual_dim=store.dim, visual_len=2, hidden=16,
                          visual_model=dict(store.manifest.model), languages=["de"])
            ).save(root / "student", Manifest(kind="student"))
    return VideoRun(frames, root / "features", root / "student")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    proc: subprocess.Popen


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


@contextmanager
def serving(args: list[str], log_path: Path) -> Iterator[LiveServer]:
    """`cl2cm serve ARGS --port 0` as a real process on 127.0.0.1 until the block ends (then Ctrl-C: a
    graceful stop, exit 0, no traceback); the printed URL says which port."""
    log = log_path.open("w")
    proc = subprocess.Popen([sys.executable, "-m", "cl2cm", "serve", *args, "--port", "0"],
                            stdout=subprocess.PIPE, stderr=log, text=True, env=_env())
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    deadline = time.monotonic() + 120
    url = None
    while url is None and time.monotonic() < deadline and proc.poll() is None:
        url = next((w for line in lines for w in line.split() if w.startswith("http://")), None)
        time.sleep(0.1)
    if url is None:
        proc.kill()
        log.close()
        pytest.fail(f"cl2cm serve did not start: {log_path.read_text()[-2000:]}")
    yield LiveServer(url, proc)
    proc.send_signal(signal.SIGINT)
    try:
        code = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    finally:
        log.close()
    err = log_path.read_text()
    assert code == 0 and "Traceback" not in err, err[-2000:]
    reader.join(5)
    assert any("cl2cm serve: stopped" in line for line in lines)


@pytest.fixture(scope="session")
def live_server(demo_run: DemoRun) -> Iterator[LiveServer]:
    """`cl2cm serve` on the demo run, with the world's English and German captions."""
    with serving(["--model", str(demo_run.student), "--features", str(demo_run.features), "--root",
                  str(demo_run.images), "--device", "cpu",
                  "--captions", str(demo_run.root / "world" / "test.en.jsonl"),
                  "--captions", str(demo_run.root / "world" / "test.de.jsonl")], demo_run.root / "serve.log") as srv:
        yield srv
