"""Property-based tests (hypothesis) for cleaning, segmenting and chunking, on adversarial text.

tests/test_chunk.py and tests/test_clean.py hold the first properties (a word
counter, ordinary sentences). These add the real WordPiece counter, text
with other scripts, long "words" and blobs, the sentence-count bound on
overlap, the model window, and the accounting of everything cleaning removes.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from qa.chunk import SPECIAL_TOKENS, Chunker
from qa.clean import clean_text
from qa.config import Config
from qa.domain import Article
from qa.segment import sentence_spans


class Whitespace:
    """The simplest token counter: whitespace-separated words."""

    def count(self, texts: list[str]) -> list[int]:
        return [len(t.split()) for t in texts]


@pytest.fixture(scope="module")
def wordpiece():
    from qa.embed import WordPieceCounter

    return WordPieceCounter()


WORDS = [
    "the",
    "council",
    "voted",
    "on",
    "Tuesday",
    "Mr.",
    "Dr.",
    "U.S.",
    "3.5%",
    "$2,500",
    "e.g.",
    "“quoted”",
    "don't",
    "co-operate",
    "naïve",
    "café",
    "新闻",
    "发言人",
    "طالبان",
    "Москва",
    "😀",
    "a\u0301",
    "ﬁ",
    "x" * 30,
    "Q" * 150,
    "https://example.com/" + "p" * 120,
    "—",
    "...",
    "?",
    "!",
    ";",
]
WORD = st.one_of(
    st.sampled_from(WORDS),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Zs", "Cc")), min_size=1, max_size=15),
)
SENTENCE = st.builds(
    lambda ws, end: " ".join(ws) + end,
    st.lists(WORD, min_size=1, max_size=40),
    st.sampled_from([".", "!", "?", "", "。", "؟"]),
)
SEPARATOR = st.sampled_from([" ", "  ", "\n", "\n\n", "\t", " \n ", "\r\n"])
TEXT = st.one_of(
    st.builds(
        lambda parts, seps: "".join(p + s for p, s in zip(parts, seps)),
        st.lists(SENTENCE, min_size=1, max_size=30),
        st.lists(SEPARATOR, min_size=30, max_size=30),
    ),
    st.text(min_size=1, max_size=600),  # anything at all, control characters included
)
TITLE = st.one_of(st.just(""), st.text(max_size=40), st.builds(" ".join, st.lists(WORD, max_size=60)))
CONFIG = st.builds(
    lambda budget, overlap: Config(chunk_tokens=budget, overlap_sentences=overlap),
    st.integers(min_value=8, max_value=200),
    st.integers(min_value=0, max_value=3),
)


def _check_chunks(article: Article, config: Config, counter) -> None:
    chunker = Chunker(counter, config)
    chunks = chunker.chunk(article)
    # Deterministic.
    assert chunks == Chunker(counter, config).chunk(article)
    text = article.text
    spans = sentence_spans(text)
    covered = bytearray(len(text))
    for i, c in enumerate(chunks):
        # Offsets exact, in order.
        assert c.ordinal == i and 0 <= c.start < c.end <= len(text)
        assert c.text == text[c.start : c.end]
        # Kept sentence spans (used for highlighting): ordered, inside the chunk, tiling its words.
        assert c.sentences and c.sentences[0][0] == 0 and c.sentences[-1][1] == len(c.text)
        assert all(0 <= a < b <= len(c.text) for a, b in c.sentences)
        assert all(b1 <= a2 for (_, b1), (a2, _) in zip(c.sentences, c.sentences[1:]))
        assert "".join("".join(c.text[a:b].split()) for a, b in c.sentences) == "".join(c.text.split())
        covered[c.start : c.end] = b"\x01" * (c.end - c.start)
        # The model sees everything: title + chunk + [CLS]/[SEP] fit the window.
        assert counter.count([c.embed_text])[0] + SPECIAL_TOKENS <= config.max_model_tokens
    # No text lost: every sentence (so every non-space character) is inside a chunk.
    for a, b in spans:  # (a long sentence may be cut at a space: only its words must be covered)
        assert all(covered[i] for i in range(a, b) if not text[i].isspace()), f"{text[a:b]!r} is in no chunk"
    for prev, nxt in zip(chunks, chunks[1:]):
        assert nxt.start > prev.start  # always moves forward
        if nxt.start < prev.end:
            # Overlap: at most overlap_sentences sentences, at most half the budget.
            assert config.overlap_sentences > 0
            inside = [(a, b) for a, b in spans if nxt.start <= a and b <= prev.end]
            assert len(inside) <= config.overlap_sentences
            assert counter.count([text[nxt.start : prev.end]])[0] <= config.chunk_tokens // 2


@settings(max_examples=100, deadline=None)
@given(text=TEXT, title=TITLE, config=CONFIG)
def test_chunking_properties_with_a_whitespace_counter(text, title, config):
    _check_chunks(Article(id="a", title=title, text=text), config, Whitespace())


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT, title=TITLE, config=CONFIG)
def test_chunking_properties_with_the_real_wordpiece_counter(wordpiece, text, title, config):
    _check_chunks(Article(id="a", title=title, text=text), config, wordpiece)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    blob=st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", min_size=200, max_size=20_000
    ),
    config=CONFIG,
)
def test_a_blob_without_spaces_gives_bounded_chunks(wordpiece, blob, config):
    """WordPiece reads a word over 100 characters as one [UNK]; chunks must still stay small."""
    article = Article(id="b", title="Blob", text=f"Before the blob. {blob} After the blob.")
    chunks = Chunker(wordpiece, config).chunk(article)
    assert max(len(c.text) for c in chunks) <= config.chunk_tokens * 12
    _check_chunks(article, config, wordpiece)


@settings(max_examples=100, deadline=None)
@given(text=TEXT)
def test_sentence_spans_are_exact_ordered_trimmed_and_complete(text):
    spans = sentence_spans(text)
    assert spans == sentence_spans(text)
    last = 0
    for a, b in spans:
        assert last <= a < b <= len(text)
        assert not text[a].isspace() and not text[b - 1].isspace()
        assert "\n" not in text[a:b]
        last = b
    inside = bytearray(len(text))
    for a, b in spans:
        inside[a:b] = b"\x01" * (b - a)
    # Everything but whitespace is in some sentence (blingfire's Unicode view of "space" is narrower than
    # Python's, so characters Python calls space may stay outside).
    assert all(inside[i] for i, ch in enumerate(text) if not ch.isspace())


BOILERPLATE = [
    "Related Posts",
    "Comments are closed.",
    "Click to Hide",
    "Sign up for our newsletter",
    "Read more: https://x.y/z",
    "© 2021 Example Corp. All rights reserved.",
    "Leave a Reply",
    "Reuters - Monday, March 1, 2021",
    "Your email address will not be published.",
]
SOUP = st.lists(st.one_of(SENTENCE, st.sampled_from(BOILERPLATE), SEPARATOR), min_size=1, max_size=40)


def _chars(text: str) -> Counter:
    return Counter(ch for ch in text if not ch.isspace())


@settings(max_examples=300, deadline=None)
@given(parts=st.one_of(SOUP, st.lists(st.text(max_size=50), max_size=10)))
def test_cleaning_loses_nothing_silently(parts):
    """Every non-space character of the input is in the cleaned text or in what `removed` reports."""
    raw = " ".join(parts) if parts and len(parts) % 2 else "\n".join(parts)
    cleaned = clean_text(raw)
    assert cleaned == clean_text(raw)  # deterministic
    kept = _chars(cleaned.text)
    gone = sum((_chars(t) for _, t in cleaned.removed), Counter())
    assert kept + gone == _chars(raw.replace("\r", "\n"))
    # The title is reported, not invented.
    if cleaned.title:
        assert cleaned.title in raw


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(SENTENCE, min_size=1, max_size=12), sep=st.sampled_from(["\n", "\n\n"]))
def test_article_sentences_survive_cleaning_and_chunking(wordpiece, parts, sep):
    """Ordinary sentences (no boilerplate) pass cleaning untouched and every one ends up in a chunk."""
    assume(not any(re.search(r"[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]", p) for p in parts))
    raw = sep.join(parts)
    cleaned = clean_text(raw)
    assume(cleaned.removed == ())  # random words can (rarely) form a dateline or a repeated headline
    article = Article(id="a", title=cleaned.title or "", text=cleaned.text)
    chunks = Chunker(wordpiece, Config()).chunk(article)
    joined = " ".join(c.text for c in chunks)
    for part in parts:
        for word in part.split():
            assert word in joined
