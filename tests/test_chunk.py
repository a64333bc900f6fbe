import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.chunk import SPECIAL_TOKENS, Chunker
from qa.config import Config
from qa.domain import Article
from qa.embed import WordPieceCounter


class Words:
    def count(self, texts):
        return [len(t.split()) for t in texts]


def article(text, title="Title"):
    return Article(id="a.txt", title=title, text=text)


def test_chunks_respect_budget_and_offsets():
    text = " ".join(f"Sentence number {i} has five words." for i in range(40))
    chunks = Chunker(Words(), Config(chunk_tokens=20, overlap_sentences=1)).chunk(article(text))
    assert len(chunks) > 5
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert len(c.text.split()) <= 20
    # consecutive chunks overlap by exactly one sentence
    assert chunks[1].start < chunks[0].end


def test_no_overlap_when_disabled_and_every_sentence_kept():
    text = "One two three. Four five six. Seven eight nine. Ten eleven twelve."
    chunks = Chunker(Words(), Config(chunk_tokens=8, overlap_sentences=0)).chunk(article(text))
    assert [c.text for c in chunks] == ["One two three. Four five six.", "Seven eight nine. Ten eleven twelve."]


def test_long_sentence_is_split_at_word_boundaries():
    text = " ".join(f"w{i}" for i in range(100)) + "."
    chunks = Chunker(Words(), Config(chunk_tokens=16, overlap_sentences=1)).chunk(article(text))
    assert all(len(c.text.split()) <= 16 for c in chunks)
    assert " ".join(c.text for c in chunks).split() == text.split()


def test_title_is_context_not_citation():
    c = Chunker(Words(), Config(chunk_tokens=16)).chunk(article("Body text here.", title="The Headline"))[0]
    assert c.text == "Body text here."
    assert c.embed_text == "The Headline\nBody text here."


def test_budget_must_fit_the_model_window():
    with pytest.raises(ValueError, match="chunk_tokens"):
        Chunker(Words(), Config(chunk_tokens=400))


@pytest.fixture(scope="module")
def wordpiece():
    return WordPieceCounter()


def test_shipped_corpus_never_exceeds_the_model_window(wordpiece):
    from qa.ingest import scan_corpus
    from tests.conftest import CORPUS

    config = Config()
    chunker = Chunker(wordpiece, config)
    articles, _ = scan_corpus(CORPUS)
    for a in articles:
        for c in chunker.chunk(a):
            assert a.text[c.start : c.end] == c.text
            assert wordpiece.count([c.embed_text])[0] + SPECIAL_TOKENS <= config.max_model_tokens


words = st.text(alphabet=st.sampled_from(list("abcdefghij")), min_size=1, max_size=12)
sentences = st.builds(
    lambda ws, end: " ".join(ws) + end, st.lists(words, min_size=1, max_size=30), st.sampled_from([".", "!", "?", ""])
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(sentences, min_size=1, max_size=25),
    st.sampled_from([" ", "\n", "\n\n"]),
    st.integers(min_value=8, max_value=60),
    st.integers(min_value=0, max_value=2),
)
def test_property_offsets_exact_and_nothing_lost(parts, sep, budget, overlap):
    text = sep.join(parts)
    chunks = Chunker(Words(), Config(chunk_tokens=budget, overlap_sentences=overlap)).chunk(article(text))
    assert chunks == Chunker(Words(), Config(chunk_tokens=budget, overlap_sentences=overlap)).chunk(article(text))
    covered = set()
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert len(c.text.split()) <= budget
        covered.update(range(c.start, c.end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())
    for prev, nxt in zip(chunks, chunks[1:]):
        assert nxt.start > prev.start  # always progresses
        if nxt.start < prev.end:  # overlap is bounded by half the budget
            assert len(text[nxt.start : prev.end].split()) <= budget // 2
