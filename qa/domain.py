"""The domain records: plain dataclasses shared by every module.

They are deliberately dumb: no I/O, no model, just data with `to_dict()`,
so the CLI, the web UI and tests all speak the same JSON.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field


def text_hash(text: str) -> str:
    """A stable content hash (hex sha256 of the UTF-8 text)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Article:
    """One cleaned article. `text` is what chunk offsets point into."""

    id: str
    title: str
    text: str
    source: str | None = None
    date: str | None = None  # ISO 8601 date, "YYYY-MM-DD"
    url: str | None = None
    path: str | None = None  # file it came from, relative to the corpus root
    place: str | None = None  # where it was filed, from a wire dateline ("Brussels")

    @property
    def hash(self) -> str:
        """Hash of everything that changes what gets indexed or cited."""
        payload = json.dumps(
            [self.title, self.text, self.source, self.date, self.url],
            ensure_ascii=False,
        )
        return text_hash(payload)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Chunk:
    """A span of an article: `article.text[start:end] == text`, always."""

    article_id: str
    ordinal: int
    start: int
    end: int
    text: str
    title: str = ""
    # Sentence spans relative to `start`, as the chunker cut them: kept in the chunk
    # table so highlighting at query time does not split sentences again.
    sentences: tuple[tuple[int, int], ...] = ()

    @property
    def embed_text(self) -> str:
        """What the model sees: the title gives context but is not cited."""
        return f"{self.title}\n{self.text}" if self.title else self.text

    @property
    def id(self) -> str:
        return f"{self.article_id}#{self.ordinal}"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Skipped:
    """An input that could not be ingested, and why (shown to the user)."""

    path: str
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.reason}"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Passage:
    """A ranked, cited passage. Offsets are in the cleaned article text."""

    rank: int
    score: float
    text: str
    article_id: str
    title: str
    source: str | None
    date: str | None
    start: int
    end: int
    highlight: tuple[int, int]
    # Other articles carrying a near-identical passage (same wire story):
    # each a dict with article_id, title, source, date, place, start, end.
    also_in: list[dict] = field(default_factory=list)
    place: str | None = None  # where the article was filed, from a wire dateline ("Brussels")

    @property
    def highlight_text(self) -> str:
        return self.text[self.highlight[0] - self.start : self.highlight[1] - self.start]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["highlight"] = list(self.highlight)
        d["highlight_text"] = self.highlight_text
        return d


@dataclass
class Answer:
    """What `Retriever.ask` returns."""

    question: str
    passages: list[Passage]
    no_answer: bool = False
    reason: str | None = None  # why no_answer is set
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "no_answer": self.no_answer,
            "reason": self.reason,
            "warnings": list(self.warnings),
            "passages": [p.to_dict() for p in self.passages],
        }
