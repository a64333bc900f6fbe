"""Retrieval behaviour: fusion, near-duplicate collapsing, filters before top-k, and the measured goals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa import Article, Retriever
from qa.builder import build_from
from qa.cli import format_answer
from qa.config import Config
from qa.evaluate import load_questions
from qa.retriever import Candidates, fuse
from tests.conftest import CORPUS, DATA, SEED_QUESTIONS, needs_shared

WIRE = (
    "Flood waters in the river delta forced ten thousand families from their homes on Tuesday. "
    "Rescue teams used boats to reach villages cut off by the water. "
    "The regional governor said the dams upstream were holding."
)


def _cands(dense, lex, lex_dense=None) -> Candidates:
    d_rows, d_scores = (np.array([r for r, _ in dense], dtype=np.int64), np.array([s for _, s in dense], np.float32))
    l_rows, l_scores = (np.array([r for r, _ in lex], dtype=np.int64), np.array([s for _, s in lex], np.float32))
    return Candidates(
        d_rows,
        d_scores,
        l_rows,
        l_scores,
        np.array(lex_dense if lex_dense is not None else [0.0] * len(lex), np.float32),
    )


# --- fusion ---------------------------------------------------------------------------------------


def test_convex_fusion_rewards_agreement_and_uses_exact_cosines():
    # Row 3 is second in both rankings; rows 1 and 7 each top one ranking only.
    cands = _cands(dense=[(1, 0.80), (3, 0.70), (5, 0.20)], lex=[(7, 10.0), (3, 9.0)], lex_dense=[0.10, 0.70])
    for norm in ("minmax", "max", "raw"):
        ranked = fuse(cands, Config(fusion="convex", dense_norm=norm, dense_weight=0.5), "hybrid")
        rows = [r for r, _ in ranked]
        assert rows[0] == 3, norm
        assert sorted(rows) == [1, 3, 5, 7]
        assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)
    # Weight 1 is dense alone, weight 0 lexical alone (row 7's cosine 0.10 still counts).
    only_dense = [r for r, _ in fuse(cands, Config(fusion="convex", dense_norm="raw", dense_weight=1.0), "hybrid")]
    assert only_dense == [1, 3, 5, 7]
    only_lex = [r for r, _ in fuse(cands, Config(fusion="convex", dense_norm="raw", dense_weight=0.0), "hybrid")]
    assert only_lex[:2] == [7, 3]


def test_rrf_fusion_and_single_modes():
    cands = _cands(dense=[(1, 0.9), (2, 0.8)], lex=[(2, 5.0), (9, 4.0)])
    ranked = fuse(cands, Config(fusion="rrf", rrf_k=60), "hybrid")
    assert ranked[0][0] == 2 and ranked[0][1] == pytest.approx(1 / 62 + 1 / 61)
    assert [r for r, _ in fuse(cands, Config(), "dense")] == [1, 2]
    assert [r for r, _ in fuse(cands, Config(), "lexical")] == [2, 9]
    with pytest.raises(ValueError, match="fusion"):
        fuse(cands, Config(fusion="magic"), "hybrid")


def test_lexical_candidates_get_their_exact_cosine(tmp_path, fake_embedder):
    arts = [Article(f"a{i}", f"Title {i}", f"Word{i} alpha beta gamma. Another sentence {i}.") for i in range(30)]
    build_from(arts, tmp_path / "i", embedder=fake_embedder, progress=False)
    r = Retriever.load(tmp_path / "i", fake_embedder)
    cands = r.candidates("word7 alpha", 5)
    qvec = fake_embedder.embed(["word7 alpha"])[0]
    expected = np.asarray(r.index.vectors[cands.lex_rows]) @ qvec
    assert np.allclose(cands.lex_dense, expected, atol=1e-5)


def test_a_bigger_pool_only_adds_candidates(tmp_path, fake_embedder):
    """Evaluation asks for more candidates than ask() does: the head must not change."""
    arts = [
        Article(
            f"a{i:02d}",
            f"Report {i}",
            f"The harbour {'crane ' * (i % 4)}moved {i} containers. Ships waited {i % 7} days.",
        )
        for i in range(60)
    ]
    build_from(arts, tmp_path / "i", embedder=fake_embedder, progress=False)
    r = Retriever.load(tmp_path / "i", fake_embedder)
    small = r.rank("crane containers ships", 20)
    big = r.rank("crane containers ships", 200)
    assert [row for row, _ in big[:5]] == [row for row, _ in small[:5]]


# --- near-duplicates, diversity, filters ----------------------------------------------------------


@pytest.fixture
def wire_index(tmp_path, fake_embedder) -> Path:
    arts = [
        Article("paper-a", "Delta floods", WIRE, source="Daily A", date="2021-03-02"),
        Article("paper-b", "Thousands flee delta flooding", WIRE + "\n", source="Daily B", date="2021-03-03"),
        Article(
            "paper-c",
            "Dam inspection",
            "Engineers inspected the dams upstream of the delta after the "
            "flood waters rose. The governor asked for a report.",
            source="Daily A",
            date="2021-03-05",
        ),
        Article(
            "paper-d", "Football", "The home team won the cup final on penalties.", source="Daily C", date="2021-02-01"
        ),
    ]
    build_from(arts, tmp_path / "index", embedder=fake_embedder, progress=False)
    return tmp_path / "index"


def test_same_wire_story_is_one_result_listing_every_source(wire_index, fake_embedder):
    answer = Retriever.load(wire_index, fake_embedder).ask(
        "How many families did the delta flood waters force from their homes?", k=3
    )
    texts = [p.text for p in answer.passages]
    assert len(texts) == len(set(texts)), "the same story fills two results"
    top = answer.passages[0]
    assert {top.article_id} | {o["article_id"] for o in top.also_in} == {"paper-a", "paper-b"}
    shown = format_answer(answer)
    assert "Delta floods" in shown and "Thousands flee delta flooding" in shown
    assert all(set(o) >= {"article_id", "title", "source", "date", "start", "end"} for o in top.also_in)


def test_diversity_option_returns_distinct_passages(wire_index, fake_embedder):
    r = Retriever.load(wire_index, fake_embedder)
    plain = r.ask("flood waters dams governor", k=3)
    diverse = r.ask("flood waters dams governor", k=3, diversity=0.9)
    assert len(diverse.passages) == len(plain.passages) == 3
    assert len({p.article_id for p in diverse.passages}) == 3


def test_filters_apply_before_top_k(tmp_path, fake_embedder):
    strong = [
        Article(
            f"big-{i}",
            f"Zebra {i}",
            f"Zebra migration across the plains. Zebra herds move north. Zebra count {i}.",
            source="Big",
            date=f"2020-01-{i + 1:02d}",
        )
        for i in range(20)
    ]
    weak = [Article("small-1", "Savanna", "A lone zebra was seen near the river.", source="Small", date="2019-06-01")]
    build_from(strong + weak, tmp_path / "i", embedder=fake_embedder, progress=False)
    r = Retriever.load(tmp_path / "i", fake_embedder, Config(candidates=5))
    for mode in ("hybrid", "dense", "lexical"):
        only = r.ask("zebra migration", k=1, mode=mode, sources=["small"])
        assert [p.article_id for p in only.passages] == ["small-1"], mode
        old = r.ask("zebra migration", k=2, mode=mode, until="2019-12-31")
        assert [p.article_id for p in old.passages] == ["small-1"], mode
        window = r.ask("zebra migration", k=30, mode=mode, since="2020-01-05", until="2020-01-07")
        # The three near-identical stories collapse into one result that cites all of them.
        cited = [p.article_id for p in window.passages] + [o["article_id"] for p in window.passages for o in p.also_in]
        assert sorted(cited) == ["big-4", "big-5", "big-6"], mode


# --- measured goals on the shipped corpus (real model) ----------------------------------------------


@pytest.fixture(scope="module")
def shipped(shipped_index, real_embedder) -> Retriever:
    return Retriever.load(shipped_index, real_embedder)


# Published in docs/EVALUATION.md for the TEST split of the seed questions on the shipped corpus
# (`qa eval ../shared/eval/seed_questions.jsonl --corpus corpus --index ... --split test`). The guard sits one
# question (of 6) below each figure: a change that loses more than one answer fails.
SEED_TEST_PUBLISHED = {"hit@1": 1.0, "hit@3": 1.0, "highlight_hit@1": 0.8333}
SEED_TEST_MARGIN = 1 / 6 + 1e-9


def test_seed_test_split_holds_its_published_figures(shipped_index, real_embedder):
    needs_shared(SEED_QUESTIONS)
    from qa.evaluate import evaluate_questions

    result = evaluate_questions(SEED_QUESTIONS, shipped_index, split="test", embedder=real_embedder)
    m = result.metrics
    assert m["answerable"] == 6
    for name, published in SEED_TEST_PUBLISHED.items():
        assert m[name] >= published - SEED_TEST_MARGIN, f"{name} {m[name]} (published {published})"
    assert m["answerable_flagged"] <= 1 and m["overlapping_pairs@5"] == 0
    dev = evaluate_questions(SEED_QUESTIONS, shipped_index, split="dev", embedder=real_embedder)
    unanswerable = [r for r in dev.details if not r["answers"]]
    assert unanswerable and all(r["no_answer"] and r["reason"] for r in unanswerable)


OFFTOPIC_TEST_FLAGGED = 6  # of 7 (docs/EVALUATION.md; 5 before the reader's no-answer check)
ANSWERABLE_TEST_HIT5 = 1.0  # 7 of 7


def test_no_answer_flag_on_the_test_splits_of_the_shipped_sets(shipped_index, real_embedder):
    """Thresholds were chosen on the dev halves; the test halves must still hold (margin: one question)."""
    from qa.evaluate import evaluate_questions

    offtopic = evaluate_questions(
        DATA / "offtopic_questions.jsonl", shipped_index, split="test", embedder=real_embedder
    )
    far = [r for r in offtopic.details if r["id"].startswith("offtopic-far")]
    assert far and all(r["no_answer"] for r in far), "a question about an absent topic was not flagged"
    assert offtopic.metrics["unanswerable_flagged"] >= OFFTOPIC_TEST_FLAGGED - 1
    answerable = evaluate_questions(
        DATA / "answerable_questions.jsonl", shipped_index, split="test", embedder=real_embedder
    ).metrics
    assert answerable["answerable_flagged"] <= 1
    assert answerable["hit@5"] >= ANSWERABLE_TEST_HIT5 - 1 / 7 - 1e-9


def test_question_file_format():
    for name in ("offtopic_questions.jsonl", "answerable_questions.jsonl", "news_questions.jsonl"):
        rows = load_questions(DATA / name)
        assert rows and all(isinstance(r["answers"], list) for r in rows)
        assert json.dumps(rows)


# --- highlighting ---------------------------------------------------------------------------------


def test_question_terms_match_the_lexical_index():
    import bm25s

    from qa.lexical import STOPWORDS, _stemmer, terms

    texts = [
        WIRE,
        "Who replaced the fired U.S. Secretary of Defense, Mark Esper?",
        "Élan, naïve café: 12,000 troops",
        "",
        "a an the of",
    ] + [path.read_text(encoding="utf-8") for path in sorted(CORPUS.glob("*.txt"))]  # whole raw articles too
    indexed = bm25s.tokenize(texts, stopwords=STOPWORDS, stemmer=_stemmer(), return_ids=False, show_progress=False)
    assert [terms(t) for t in texts] == indexed


@pytest.mark.parametrize("method", ["lexical", "dense", "both"])
def test_highlight_is_a_sentence_of_the_passage(wire_index, fake_embedder, method):
    r = Retriever.load(wire_index, fake_embedder, Config(highlight=method))
    for p in r.ask("Did rescue teams use boats to reach the villages?", k=3).passages:
        article = r.index.article(p.article_id)
        assert p.start <= p.highlight[0] < p.highlight[1] <= p.end
        assert article.text[p.highlight[0] : p.highlight[1]] == p.highlight_text
        if p.article_id in ("paper-a", "paper-b"):
            assert p.highlight_text.startswith("Rescue teams used boats")


def test_unknown_highlight_method_is_refused(wire_index, fake_embedder):
    with pytest.raises(ValueError, match="highlight"):
        Retriever.load(wire_index, fake_embedder, Config(highlight="magic")).ask("boats")


def test_a_recut_wire_story_still_collapses(tmp_path, fake_embedder):
    """Another paper adds its own opening sentence: the chunks differ but the story is the same."""
    arts = [
        Article("a", "Floods", WIRE, source="A"),
        Article("b", "Floods hit delta", "Our correspondent reports from the coast. " + WIRE, source="B"),
        Article("c", "Other", "Flood defences were tested in a drill last spring by volunteers.", source="C"),
    ]
    build_from(arts, tmp_path / "i", embedder=fake_embedder, progress=False)
    answer = Retriever.load(tmp_path / "i", fake_embedder).ask("families forced from homes by delta flood", k=3)
    top = answer.passages[0]
    assert {top.article_id} | {o["article_id"] for o in top.also_in} == {"a", "b"}
    assert [p.article_id for p in answer.passages[1:]] == ["c"]


def test_a_filter_on_an_hnsw_index_is_exact(tmp_path, fake_embedder):
    """HNSW searched through a selective filter loses rows: few allowed rows are scored exactly instead."""
    rng = np.random.default_rng(7)
    words = [f"w{i}" for i in range(300)]
    arts = [
        Article(
            f"a{i:03d}",
            f"T{i}",
            " ".join(". ".join(" ".join(rng.choice(words, 12)) for _ in range(3)) + "." for _ in range(3)),
            source=f"src{i % 40}",
        )
        for i in range(400)
    ]
    config = Config(hnsw_threshold=0, chunk_tokens=40, hnsw_ef_search=16)
    build_from(arts, tmp_path / "i", config=config, embedder=fake_embedder, progress=False)
    r = Retriever.load(tmp_path / "i", fake_embedder, config)
    assert r.index.dense_spec["type"] == "hnsw"
    question = " ".join(words[:20])
    qvec = fake_embedder.embed([question])[0]
    vectors = np.asarray(r.index.vectors)
    for source in ("src3", "src17"):
        allowed = r.index.allowed_rows([source])
        exact = allowed[np.argsort(-(vectors[allowed] @ qvec), kind="stable")][:10]
        cands = r._candidates(r.index, question, "dense", 10, allowed)
        assert sorted(cands.dense_rows.tolist()) == sorted(exact.tolist()), source
        assert np.allclose(cands.dense_scores, np.sort(vectors[exact] @ qvec)[::-1], atol=1e-5)


def test_an_hnsw_graph_keeps_its_float16_vectors_as_float16_codes(tmp_path, fake_embedder):
    """The vectors are float16 on disk; the graph holds them as float16 codes (half the memory of float32,
    decoded exactly): scores are the exact inner products with the stored vectors, as a float32 copy gives."""
    import faiss

    from qa.dense import build_dense, hnsw_storage, load_dense, save_dense

    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(200)]
    arts = [
        Article(f"a{i:03d}", f"T{i}", ". ".join(" ".join(rng.choice(words, 10)) for _ in range(4)) + ".")
        for i in range(150)
    ]
    config = Config(hnsw_threshold=0, chunk_tokens=40, hnsw_ef_search=512)
    build_from(arts, tmp_path / "i", config=config, embedder=fake_embedder, progress=False)
    r = Retriever.load(tmp_path / "i", fake_embedder, config)
    dense = r.index.dense
    assert isinstance(faiss.downcast_index(dense.storage), faiss.IndexScalarQuantizer)
    vectors = np.asarray(r.index.vectors)
    assert vectors.dtype == np.float16
    qvec = fake_embedder.embed([" ".join(words[:15])])[0]
    scores, rows = dense.search(qvec[None, :].astype(np.float32), 10)
    exact = np.sort(vectors.astype(np.float32) @ qvec)[::-1][:10]
    assert np.allclose(scores[0], exact, atol=1e-6)
    # float32 vectors (an index from before they were float16) keep float32 storage
    plain = tmp_path / "plain.faiss"
    save_dense(
        build_dense(vectors.astype(np.float32), {"type": "hnsw", "M": 8, "efConstruction": 40, "efSearch": 64}),
        plain,
        with_vectors=False,
    )
    loaded = load_dense(plain, len(vectors), vectors.shape[1], "fix", [vectors.astype(np.float32)], half=False)
    assert isinstance(faiss.downcast_index(loaded.storage), faiss.IndexFlat)
    assert isinstance(
        faiss.downcast_index(hnsw_storage(faiss, 8, faiss.METRIC_INNER_PRODUCT)), faiss.IndexScalarQuantizer
    )


def test_overlapping_chunks_of_one_article_are_one_passage(tmp_path, fake_embedder):
    """Chunks share a sentence; the passages shown never do, and each cites its article exactly."""
    sentences = [f"The harbour crane number {i} lifted {i * 10} containers for the port today." for i in range(12)]
    arts = [
        Article("port", "Harbour report", " ".join(sentences)),
        Article("other", "Farm report", "The farm harvested wheat. The crane flew over the field."),
    ]
    config = Config(chunk_tokens=40, overlap_sentences=1)
    build_from(arts, tmp_path / "i", config=config, embedder=fake_embedder, progress=False)
    r = Retriever.load(tmp_path / "i", fake_embedder, config)
    assert sum(c["article_id"] == "port" for c in r.index.chunks) >= 4
    ranked = r.rank("harbour crane containers port")
    port_rows = [row for row, _ in ranked if r.index.chunks[row]["article_id"] == "port"]
    assert len(port_rows) >= 4  # several overlapping chunks compete for the top k
    answer = r.ask("harbour crane containers port", k=5)
    port = [p for p in answer.passages if p.article_id == "port"]
    assert len(port) == 1, [(p.start, p.end) for p in port]  # every chunk of the article overlaps the next
    text = r.index.article("port").text
    p = port[0]
    assert p.text == text[p.start : p.end] and p.start == 0 and p.end == len(text)
    assert p.start <= p.highlight[0] < p.highlight[1] <= p.end
    assert [q.rank for q in answer.passages] == list(range(1, len(answer.passages) + 1))
