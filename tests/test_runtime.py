"""`cl2cm.runtime.resolve_device`: what `--device` accepts, and one line for what it cannot give."""

from __future__ import annotations

import pytest
import torch

from cl2cm.errors import UserError
from cl2cm.runtime import resolve_device


def test_cpu_and_auto() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize("spec", ["tpu", "cudafoo", "cuda:", "cuda:-1", "cuda:x", "CPU"])
def test_a_malformed_device_is_one_line(spec: str) -> None:
    with pytest.raises(UserError, match=rf"^--device '{spec}': expected one of auto, cpu, cuda \(or cuda:N\)$"):
        resolve_device(spec)


@pytest.mark.parametrize("spec", ["cuda", "cuda:99"])
def test_a_cuda_device_this_machine_lacks_is_named_as_typed(spec: str) -> None:
    """`eval --device cuda:99` said `--device cuda: ...`; no machine here has 100 GPUs."""
    if spec == "cuda" and torch.cuda.is_available():
        assert resolve_device(spec).type == "cuda"
        return
    with pytest.raises(UserError, match=rf"^--device {spec}: (no CUDA device|this machine has \d+ CUDA)"):
        resolve_device(spec)
