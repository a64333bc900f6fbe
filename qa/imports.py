"""Import a package with one of its optional dependencies taken as absent.

Some packages import an optional dependency at import time only to offer a feature qa never
uses, and that import costs the user something: openvino's model converter sends a usage event
(qa.openvino_backend), bm25s's scipy costs 0.1 s of every process that builds or searches
(qa.lexical). The package's own `try: import ... except ImportError` fallback then applies.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType


def import_without(name: str, optional: str) -> ModuleType:
    """`import name` with `optional` marked as not installed while it runs.

    Where either is already imported (by the caller's own code), nothing is marked: the
    package is used as it is. The mark is removed afterwards, so an explicit import of the
    optional package later still works.
    """
    if sys.modules.get(name) is not None:
        return sys.modules[name]
    skip = optional not in sys.modules
    if skip:
        sys.modules[optional] = None  # `import optional` now raises ImportError
    try:
        return importlib.import_module(name)
    finally:
        if skip and sys.modules.get(optional, False) is None:
            del sys.modules[optional]
