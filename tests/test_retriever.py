"""The Python API on the shipped corpus with the real model."""

import json

import pytest

from qa import Answer, Retriever
from qa.errors import QuestionError


@pytest.fixture(scope="module")
def retriever(shipped_index, real_embedder):
    return Retriever.load(shipped_index, real_embedder)


def test_passages_cite_exact_article_offsets(retriever):
    answer = retriever.ask("Who replaced the fired US Secretary of Defense?", k=5)
    assert isinstance(answer, Answer) and len(answer.passages) == 5
    for p in answer.passages:
        article = retriever.index.article(p.article_id)
        assert article.text[p.start : p.end] == p.text
        assert p.start <= p.highlight[0] < p.highlight[1] <= p.end
        assert p.highlight_text == article.text[p.highlight[0] : p.highlight[1]]
    assert [p.rank for p in answer.passages] == [1, 2, 3, 4, 5]
    assert all(0.0 < p.score <= 1.0 for p in answer.passages)  # fused scores, scaled to the best candidate


def test_to_dict_is_json(retriever):
    d = retriever.ask("Where are the peace talks held?", k=2).to_dict()
    assert json.loads(json.dumps(d)) == d
    assert set(d["passages"][0]) >= {
        "rank",
        "score",
        "text",
        "article_id",
        "title",
        "source",
        "date",
        "start",
        "end",
        "highlight",
    }


@pytest.mark.parametrize("question", ["", "   ", "\x00\x01"])
def test_empty_question_is_a_clear_error(retriever, question):
    with pytest.raises(QuestionError, match="empty"):
        retriever.ask(question)


def test_long_question_is_truncated_with_a_warning(retriever):
    answer = retriever.ask("NATO troops in Afghanistan " * 200, k=2)
    assert answer.warnings and answer.passages


def test_all_modes_answer(retriever):
    for mode in ("dense", "lexical", "hybrid"):
        assert retriever.ask("Taliban spokesman", k=3, mode=mode).passages
    with pytest.raises(QuestionError):
        retriever.ask("x", mode="magic")


def _chunks_in(retriever, passages) -> int:
    """How many chunks of the index lie inside the passages' spans."""
    return sum(
        any(c["article_id"] == p.article_id and p.start <= c["start"] and c["end"] <= p.end for p in passages)
        for c in retriever.index.chunks
    )


def test_source_and_date_filters_apply_before_top_k(retriever):
    # One shipped article has a byline ("- The Washington Times - Wednesday, October 21, 2020"), one a
    # dateline (BRUSSELS (Reuters) –); each is a small share of the chunks: passages from five or more of
    # its chunks (overlapping chunks are merged into one passage) show the filter ran before the top k was cut.
    assert retriever.index.sources == ["Reuters", "The Washington Times"]
    answer = retriever.ask("troops", k=5, sources=["The Washington Times"])
    assert _chunks_in(retriever, answer.passages) >= 5
    assert all(p.source == "The Washington Times" for p in answer.passages)
    dated = retriever.ask("troops", k=5, since="2020-01-01", until="2020-12-31")
    assert _chunks_in(retriever, dated.passages) >= 5
    assert all(p.date and "2020-01-01" <= p.date[:10] <= "2020-12-31" for p in dated.passages)
    assert retriever.ask("troops", k=5, since="2021-01-01").passages == []  # no article is dated after 2020
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        retriever.ask("troops", since="a while back")
    assert [p.article_id for p in retriever.ask("troops", k=5, since="2020", until="2020").passages] == [
        p.article_id for p in dated.passages
    ]  # a year means its first day for since, its last for until


def test_sort_newest_orders_the_k_best_by_date(retriever):
    best = retriever.ask("NATO troops withdrawal", k=5)
    newest = retriever.ask("NATO troops withdrawal", k=5, sort="newest")
    assert sorted(p.rank for p in newest.passages) == [p.rank for p in best.passages]  # the same k, ranks kept
    dates = [p.date or "" for p in newest.passages]
    assert dates == sorted(dates, reverse=True) and newest.no_answer == best.no_answer
    with pytest.raises(QuestionError, match="sort must be one of relevance, newest"):
        retriever.ask("troops", sort="oldest")


def test_import_qa_is_light():
    import subprocess
    import sys

    heavy = "('gradio', 'torch', 'sentence_transformers')"
    code = f"import qa, sys; print([m for m in {heavy} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
