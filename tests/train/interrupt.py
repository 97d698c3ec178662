"""An in-process kill for resume tests: a method that raises KeyboardInterrupt on its n-th call."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


@contextmanager
def interrupted_on_call(cls: type, name: str, n: int) -> Iterator[None]:
    """Within the block, `cls.name` raises KeyboardInterrupt on its n-th call (as Ctrl-C at that step)."""
    original = getattr(cls, name)
    calls = 0

    def dying(self: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == n:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(cls, name, dying)
        yield
