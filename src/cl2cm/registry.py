"""Registries name their entries by import string ("package.module:attr"), resolved on first use.

So a registry module never imports what it lists (loading one backend or model kind does not import the
others, and a listed module may import the registry back without a cycle).
"""

from __future__ import annotations

import importlib
from typing import Any


def resolve(target: str) -> Any:
    """"package.module:attr" → the attribute (imported now)."""
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)
