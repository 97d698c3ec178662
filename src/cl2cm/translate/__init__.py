"""Machine translation of caption corpora into pseudo-parallel pairs (`cl2cm translate`).

This package shares its name with the stage function of the public API, `cl2cm.translate(captions, out,
config)`: once the package is imported, Python binds `cl2cm.translate` to it, so the package itself is
callable and calls `cl2cm.api.translate`.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _StageModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from cl2cm.api import translate

        return translate(*args, **kwargs)


sys.modules[__name__].__class__ = _StageModule
