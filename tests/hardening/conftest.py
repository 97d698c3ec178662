"""A tiny shared world for the hardening tests: `generate_world` at 60/20/20 images (2 captions each),
plus the reference artifact of every long stage (its uninterrupted run through `cl2cm.cli.main`, with one
torch thread, exactly as the killed subprocesses run it).
"""

from __future__ import annotations

import pytest
import torch
from hardening_helpers import STAGES, World, run_main


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """The tiny demo world plus every stage's uninterrupted reference artifact (≈ 20 s, once)."""
    from cl2cm.demo.world import generate_world

    base = tmp_path_factory.mktemp("hardening")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        generate_world(base / "world", n_train=60, n_val=20, n_test=20, captions_per_image=2, seed=0)
        wd = World(base / "world", base / "ref")
        for stage in STAGES:
            code = run_main(wd.argv(stage, wd.ref / stage))
            assert code == 0, stage
    finally:
        torch.set_num_threads(before)
    return wd
