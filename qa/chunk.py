"""Sentence-aware chunking within a token budget.

Tokens are counted with the embedding model's own tokenizer, so a chunk plus
its title prefix always fits the model's window: nothing is silently
truncated. Chunks keep exact offsets: `article.text[c.start:c.end] == c.text`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from .config import Config, ConfigError
from .domain import Article, Chunk
from .segment import sentence_spans

TITLE_TOKEN_CAP = 32  # the title is context, not content: cap what it may take
SPECIAL_TOKENS = 2  # [CLS] and [SEP]
# WordPiece reads any word over 100 characters (a base64 blob, a long URL) as one [UNK]:
# count such text as at least one token per 12 characters, so no chunk grows unbounded.
MAX_CHARS_PER_TOKEN = 12


def fit_to_model(config: Config, max_tokens: int | None) -> Config:
    """The config for a model whose window is narrower than config.max_model_tokens: chunks shrink to fit it."""
    if max_tokens is None or max_tokens >= config.max_model_tokens:
        return config
    limit = max_tokens - SPECIAL_TOKENS - TITLE_TOKEN_CAP
    if limit < 8:
        raise ConfigError(
            f"the model reads only {max_tokens} word pieces; qa needs {8 + SPECIAL_TOKENS + TITLE_TOKEN_CAP} or more"
        )
    return replace(config, max_model_tokens=max_tokens, chunk_tokens=min(config.chunk_tokens, limit))


class TokenCounter(Protocol):
    def count(self, texts: list[str]) -> list[int]: ...


@dataclass(frozen=True)
class Chunker:
    counter: TokenCounter
    config: Config

    def __post_init__(self) -> None:
        limit = self.config.max_model_tokens - SPECIAL_TOKENS - TITLE_TOKEN_CAP
        if not 8 <= self.config.chunk_tokens <= limit:
            raise ValueError(
                f"chunk_tokens must be between 8 and {limit} for a {self.config.max_model_tokens}-token model"
            )

    def embed_title(self, title: str) -> str:
        """The title as embedded: cut to TITLE_TOKEN_CAP tokens, at a word boundary."""
        words = title.split()
        while words and self.counter.count([" ".join(words)])[0] > TITLE_TOKEN_CAP:
            words = words[: max(1, len(words) * 3 // 4)] if len(words) > 1 else []
        return " ".join(words)

    def chunk(self, article: Article) -> list[Chunk]:
        budget = self.config.chunk_tokens
        spans = []
        for a, b in sentence_spans(article.text):
            spans.extend(self._split_long(article.text, a, b, budget))
        if not spans:
            return []
        counts = self._cost([article.text[a:b] for a, b in spans])
        title = self.embed_title(article.title)
        chunks: list[Chunk] = []
        i = 0
        while i < len(spans):
            j, used = i, 0
            while j < len(spans) and (j == i or used + counts[j] <= budget):
                used += counts[j]
                j += 1
            start, end = spans[i][0], spans[j - 1][1]
            sentences = tuple((a - start, b - start) for a, b in spans[i:j])
            chunks.append(Chunk(article.id, len(chunks), start, end, article.text[start:end], title, sentences))
            if j >= len(spans):
                break
            # Overlap: restart a few sentences back, but always move forward and
            # keep the overlap to at most half the budget.
            back = j
            overlap_tokens = 0
            for _ in range(self.config.overlap_sentences):
                if back - 1 <= i or overlap_tokens + counts[back - 1] > budget // 2:
                    break
                back -= 1
                overlap_tokens += counts[back]
            i = back
        return chunks

    def _cost(self, texts: list[str]) -> list[int]:
        """Tokens as the budget sees them: the model's count, but never under len/MAX_CHARS_PER_TOKEN."""
        return [max(n, len(t) // MAX_CHARS_PER_TOKEN) for t, n in zip(texts, self.counter.count(texts))]

    def _split_long(self, text: str, a: int, b: int, budget: int) -> list[tuple[int, int]]:
        """Split a sentence longer than the budget at word boundaries."""
        if self._cost([text[a:b]])[0] <= budget:
            return [(a, b)]
        pieces: list[tuple[int, int]] = []
        words = [(m_start, m_end) for m_start, m_end in _word_spans(text, a, b)]
        lo = 0
        while lo < len(words):
            # Grow greedily by halving steps: cheap enough for rare long sentences.
            hi = lo + 1
            step = max(1, budget // 2)
            while hi < len(words):
                nxt = min(len(words), hi + step)
                if self._cost([text[words[lo][0] : words[nxt - 1][1]]])[0] <= budget:
                    hi = nxt
                elif step > 1:
                    step //= 2
                else:
                    break
            s, e = words[lo][0], words[hi - 1][1]
            if hi == lo + 1 and self._cost([text[s:e]])[0] > budget:
                pieces.extend(self._split_word(text, s, e, budget))
            else:
                pieces.append((s, e))
            lo = hi
        return pieces

    def _split_word(self, text: str, a: int, b: int, budget: int) -> list[tuple[int, int]]:
        """A single 'word' over budget (e.g. a long URL or base64 blob): cut by characters.

        Pieces are as long as the budget allows (a blob the model reads as [UNK]
        gives a few long pieces, not one per `budget` characters).
        """
        pieces = []
        s = a
        while s < b:
            size = min(b - s, budget * MAX_CHARS_PER_TOKEN)
            while size > 1 and self._cost([text[s : s + size]])[0] > budget:
                size //= 2
            pieces.append((s, s + size))
            s += size
        return pieces


def _word_spans(text: str, a: int, b: int):
    i = a
    while i < b:
        while i < b and text[i].isspace():
            i += 1
        if i >= b:
            break
        j = i
        while j < b and not text[j].isspace():
            j += 1
        yield i, j
        i = j
