"""Streaming concatenation of chunk files into one store (the extract-features merge)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from cl2cm.artifacts.manifest import Manifest
from cl2cm.artifacts.store import concat_safetensors, load_store, save_store_from_parts
from cl2cm.errors import UserError

REPO = Path(__file__).resolve().parents[2]


def _parts(tmp_path: Path, rows: list[int]) -> tuple[list[Path], dict[str, torch.Tensor]]:
    gen = torch.Generator().manual_seed(0)
    paths, whole = [], {"features": [], "tokens": [], "mask": []}
    for i, n in enumerate(rows):
        t = {"features": torch.randn(n, 8, generator=gen).half(), "tokens": torch.randn(n, 3, 4, generator=gen).bfloat16(),
             "mask": torch.rand(n, 5, generator=gen) > 0.5, "index": torch.arange(n)}
        paths.append(tmp_path / f"chunk-{i}.safetensors")
        save_file(t, str(paths[-1]))
        for k in whole:
            whole[k].append(t[k])
    return paths, {k: torch.cat(v) for k, v in whole.items()}


def test_concat_equals_torch_cat_of_every_dtype_including_empty_parts(tmp_path: Path) -> None:
    paths, want = _parts(tmp_path, [3, 0, 5, 1])
    info = concat_safetensors(tmp_path / "out.safetensors", paths, ["features", "mask", "tokens"])
    got = load_file(str(tmp_path / "out.safetensors"))
    assert set(got) == {"features", "mask", "tokens"}
    for k in got:
        assert got[k].dtype == want[k].dtype and torch.equal(got[k], want[k]), k
    assert info == {"features": ["float16", [9, 8]], "mask": ["bool", [9, 5]], "tokens": ["bfloat16", [9, 3, 4]]}


def test_store_from_parts_reads_back_as_a_store(tmp_path: Path) -> None:
    paths, want = _parts(tmp_path, [2, 2])
    shapes = save_store_from_parts(tmp_path / "store", paths, ["features", "tokens"], list("abcd"),
                                   Manifest(kind="features"))
    store = load_store(tmp_path / "store", kind="features", dtype=None)
    assert store.ids == list("abcd") and torch.equal(store.features, want["features"])
    assert torch.equal(store.extra["tokens"], want["tokens"]) and shapes["tokens"] == [4, 3, 4]
    assert store.manifest is not None and store.manifest.extra["shape"] == [4, 8]


def test_parts_that_disagree_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    paths, _ = _parts(tmp_path, [2])
    save_file({"features": torch.zeros(2, 9)}, str(tmp_path / "bad.safetensors"))
    with pytest.raises(UserError, match="bad.safetensors"):
        concat_safetensors(tmp_path / "out.safetensors", [*paths, tmp_path / "bad.safetensors"], ["features"])
    assert not (tmp_path / "out.safetensors").exists()


def test_memory_holds_one_part_not_the_store(tmp_path: Path) -> None:
    """8 parts × 32 MB: the merge's peak extra memory stays near one part (a torch.cat merge needs 2 × 256 MB)."""
    for i in range(8):
        save_file({"tokens": torch.full((1024, 8192), float(i))}, str(tmp_path / f"p{i}.safetensors"))
    code = (  # VmHWM reset to the current RSS (clear_refs 5): the peak of the merge alone, not of the imports
        "import torch\n"
        "from cl2cm.artifacts.store import concat_safetensors\n"
        "def kb(key):\n"
        "    return next(int(x.split()[1]) for x in open('/proc/self/status') if x.startswith(key))\n"
        "open('/proc/self/clear_refs', 'w').write('5')\n"
        "base = kb('VmRSS')\n"
        f"parts = [r'{tmp_path}/p%d.safetensors' % i for i in range(8)]\n"
        f"concat_safetensors(r'{tmp_path}/out.safetensors', parts, ['tokens'])\n"
        "print((kb('VmHWM') - base) / 1024)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    extra_mb = float(out.stdout.strip())
    assert extra_mb < 128, f"merge peak {extra_mb:.0f} MB over its start for a 256 MB store"
    assert os.path.getsize(tmp_path / "out.safetensors") > 256 * 2**20
