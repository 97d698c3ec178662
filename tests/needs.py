"""Optional packages some tests need: skipped (with the reason) where missing, a failure under CI=true.

A module of its own, not conftest.py: several conftest modules exist, so `from conftest import` is ambiguous.
"""

from __future__ import annotations

import importlib.util
import os

import pytest


def need_numba() -> None:
    """numba (in the dev extra) for the fused ranking kernel's tests; module-level or inside a test."""
    if importlib.util.find_spec("numba") is None:
        message = "numba is not installed (pip install -e '.[dev]')"
        if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):  # as tests/conftest.py's in_ci()
            pytest.fail(f"CI=true but {message}", pytrace=False)
        pytest.skip(message, allow_module_level=True)
