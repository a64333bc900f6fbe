"""Import a package with one of its optional dependencies taken as absent.

Some packages import an optional dependency at import time only to offer a feature qa never
uses, and that import costs the user something: openvino's model converter sends a usage event
(qa.openvino_backend); bm25s's scipy and tqdm.auto (which imports asyncio) cost 0.15 s of
every process that builds or searches (qa.lexical). The package's own
`try: import ... except ImportError` fallback then applies.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType


def import_without(name: str, *optional: str) -> ModuleType:
    """`import name` with each of the optional modules marked as not installed while it runs.

    Where the package or an optional module is already imported (by the caller's own code),
    that one is not marked: it is used as it is. The marks are removed afterwards, so an
    explicit import of an optional module later still works.
    """
    if sys.modules.get(name) is not None:
        return sys.modules[name]
    marked = [module for module in optional if module not in sys.modules]
    for module in marked:
        sys.modules[module] = None  # `import module` now raises ImportError
    try:
        return importlib.import_module(name)
    finally:
        for module in marked:
            if sys.modules.get(module, False) is None:
                del sys.modules[module]
