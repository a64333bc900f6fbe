"""qa: cited semantic question answering over a collection of articles.

    from qa import Retriever, build
    build("corpus", "index")
    answer = Retriever.load("index").ask("Who replaced the fired US Secretary of Defense?")

Importing qa is light: no Gradio, no model; heavy modules load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .config import Config
from .domain import Answer, Article, Chunk, Passage, Skipped
from .errors import QAError

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .builder import BuildReport, build
    from .retriever import Retriever

__all__ = [
    "Answer",
    "Article",
    "BuildReport",
    "Chunk",
    "Config",
    "Passage",
    "QAError",
    "Retriever",
    "Skipped",
    "build",
    "__version__",
]


def __getattr__(name: str):
    if name in ("build", "BuildReport"):
        from . import builder as _build_module

        return getattr(_build_module, name)
    if name == "Retriever":
        from .retriever import Retriever

        return Retriever
    raise AttributeError(f"module 'qa' has no attribute {name!r}")
