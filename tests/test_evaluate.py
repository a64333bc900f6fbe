"""`qa eval`: BEIR loading, metrics through pytrec_eval, questions files, end to end on tiny_beir."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from qa import evaluate
from qa.beir import DatasetError, default_qrels, iter_corpus, load_qrels, load_queries
from qa.cli import main
from qa.config import Config
from qa.evaluate import beir_metrics, contains_answer, in_split, load_questions, question_metrics, sample, split_of
from tests.conftest import DATA, SHARED, needs_shared

TINY = DATA / "tiny_beir"
NEWS = SHARED / "data" / "news" / "articles.jsonl.gz"


def run_cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


# --- reading BEIR folders -------------------------------------------------------------------------


def test_reads_tiny_beir_plain_and_gzipped(tmp_path):
    docs = list(iter_corpus(TINY))
    assert [d.id for d in docs] == [f"d{i:02d}" for i in range(1, 13)]
    assert all(d.title and d.text for d in docs)
    gz = tmp_path / "gz"
    gz.mkdir()
    for name in ("corpus", "queries"):
        with gzip.open(gz / f"{name}.jsonl.gz", "wt", encoding="utf-8") as f:
            f.write((TINY / f"{name}.jsonl").read_text(encoding="utf-8"))
    shutil.copy(TINY / "qrels.tsv", gz / "qrels.tsv")
    assert list(iter_corpus(gz)) == docs
    assert load_queries(gz) == load_queries(TINY)
    assert default_qrels(gz) == gz / "qrels.tsv"


def test_qrels_header_is_optional_and_test_split_preferred(tmp_path):
    (tmp_path / "qrels.tsv").write_text("q1\td1\t1\nq1\td2\t2\nq2\td3\t0\n")
    assert load_qrels(tmp_path / "qrels.tsv") == {"q1": {"d1": 1, "d2": 2}, "q2": {"d3": 0}}
    assert default_qrels(tmp_path) == tmp_path / "qrels.tsv"
    (tmp_path / "qrels_test.tsv").write_text("query-id\tcorpus-id\tscore\nq9\td9\t1\n")
    assert default_qrels(tmp_path) == tmp_path / "qrels_test.tsv"
    assert load_qrels(tmp_path / "qrels_test.tsv") == {"q9": {"d9": 1}}


def test_bad_datasets_are_clear_errors(tmp_path):
    with pytest.raises(DatasetError, match="BEIR"):
        list(iter_corpus(tmp_path))
    with pytest.raises(DatasetError, match="--qrels"):
        default_qrels(tmp_path)
    (tmp_path / "corpus.jsonl").write_text('{"_id": "a", "text": "x"}\nnot json\n')
    with pytest.raises(DatasetError, match="corpus.jsonl:2"):
        list(iter_corpus(tmp_path))
    (tmp_path / "q.tsv").write_text("q1\td1\t1\nq2 d2\n")
    with pytest.raises(DatasetError, match="q.tsv:2"):
        load_qrels(tmp_path / "q.tsv")


def test_cli_reports_a_folder_that_is_not_beir(tmp_path, capsys):
    assert main(["eval", str(tmp_path), "--index", str(tmp_path / "i")]) == 1
    assert "BEIR" in capsys.readouterr().err


# --- metrics --------------------------------------------------------------------------------------


def test_metrics_come_from_trec_eval_definitions():
    qrels = {"a": {"d1": 1}, "b": {"d1": 1, "d2": 1}, "c": {"d9": 1}}
    runs = {"a": ["d1", "x"], "b": ["x", "d2", "d1"], "c": ["y"]}
    m = beir_metrics(qrels, runs)
    # a: perfect; b: relevant at ranks 2 and 3; c: nothing relevant retrieved.
    ndcg_b = (1 / 1.5849625 + 1 / 2) / (1 + 1 / 1.5849625)
    assert m["nDCG@10"] == pytest.approx((1 + ndcg_b + 0) / 3, abs=1e-4)
    assert m["MRR@10"] == pytest.approx((1 + 0.5 + 0) / 3, abs=1e-4)
    assert m["Recall@10"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["Recall@100"] == m["Recall@10"]


def test_mrr_is_cut_at_ten_and_missing_runs_count_zero():
    qrels = {"a": {"d": 1}, "b": {"d": 1}}
    runs = {"a": [f"x{i}" for i in range(10)] + ["d"]}
    m = beir_metrics(qrels, {**runs, "b": []})
    assert m["MRR@10"] == 0.0 and m["Recall@10"] == 0.0
    assert m["Recall@100"] == pytest.approx(0.5)


def test_sample_is_fixed_and_spread():
    ids = [f"q{i}" for i in range(1000)]
    part = sample(ids, 100)
    assert len(part) == 100 and part == sample(list(ids), 100)
    assert part == [q for q in ids if q in set(part)]  # file order kept
    assert max(int(q[1:]) for q in part) > 500  # not just the head of the file
    assert sample(ids, None) == ids and sample(ids, 5000) == ids


def test_answer_matching_ignores_case_and_spacing():
    assert contains_answer("Spokesman  Zabihullah\nMujahid said", ["zabihullah mujahid"])
    assert not contains_answer("Mujahid", ["Zabihullah Mujahid"])
    assert not contains_answer("anything", [""])


def test_question_metrics_count_hits_and_the_no_answer_flag():
    rows = [
        {"answers": ["a"], "no_answer": False, "hits": [True, False], "highlight_hits": [False, False]},
        {"answers": ["b"], "no_answer": True, "hits": [False, False, True], "highlight_hits": [False, False, True]},
        {"answers": [], "no_answer": True, "hits": [False], "highlight_hits": [False]},
        {"answers": [], "no_answer": False, "hits": [], "highlight_hits": []},
    ]
    m = question_metrics(rows)
    assert (m["answerable"], m["unanswerable"]) == (2, 2)
    assert (m["hit@1"], m["hit@3"], m["hit@5"]) == (0.5, 1.0, 1.0)
    assert (m["highlight_hit@1"], m["highlight_hit@3"]) == (0.0, 0.5)
    assert m["no_answer_precision"] == 0.5 and m["no_answer_recall"] == 0.5 and m["answerable_flagged"] == 1
    assert m["unanswerable_flagged"] == 1 and m["answerable_flagged_rate"] == 0.5 and m["overlapping_pairs@5"] == 0
    rows[0]["overlaps"] = 2
    assert question_metrics(rows)["overlapping_pairs@5"] == 2


def test_split_is_fixed_by_the_hash_of_the_id_or_group(tmp_path):
    # The rule of tests/data/news_heldout_questions.README.md: 120 dev and 130 test questions.
    held = load_questions(DATA / "news_heldout_questions.jsonl")
    assert [sum(in_split(q, s) for q in held) for s in ("dev", "test")] == [120, 130]
    assert all(
        split_of(q["id"]) == ("dev" if int(hashlib.sha256(q["id"].encode()).hexdigest(), 16) % 2 == 0 else "test")
        for q in held
    )
    rows = [{"id": f"q{i}", "question": "x?", "answers": ["a"], "group": "Super Bowl 50"} for i in range(20)]
    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    loaded = load_questions(path)
    sides = {split_of("Super Bowl 50")}
    assert {s for q in loaded for s in ("dev", "test") if in_split(q, s)} == sides  # one article, one side
    assert all(in_split(q, None) for q in loaded)


def test_split_of_a_beir_folder_is_refused(capsys):
    assert main(["eval", str(TINY), "--split", "test", "--index", "unused"]) == 1
    assert "--qrels" in capsys.readouterr().err


# --- end to end with the real model ---------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_index(tmp_path_factory, real_embedder) -> Path:
    return tmp_path_factory.mktemp("tiny") / "index"


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_qa_eval_tiny_beir_end_to_end(tiny_index, mode):
    code, out = run_cli("eval", str(TINY), "--index", str(tiny_index), "--mode", mode, "--json", "--quiet")
    assert code == 0
    result = json.loads(out)  # stdout is exactly one JSON object
    assert set(result) == {"dataset", "mode", "queries", "metrics", "seconds"}
    assert result["dataset"] == "tiny_beir" and result["mode"] == mode and result["queries"] == 6
    m = result["metrics"]
    assert set(m) == {"nDCG@10", "Recall@10", "Recall@100", "MRR@10"}
    if mode == "lexical":
        # q6 shares no word with its document (see tiny_beir/README.md): BM25 cannot find it.
        assert m["MRR@10"] == pytest.approx(5 / 6, abs=1e-3) and m["Recall@100"] == pytest.approx(5 / 6, abs=1e-3)
    else:
        assert m["Recall@10"] == 1.0 and m["MRR@10"] >= 0.9
    if mode == "dense":
        assert m["nDCG@10"] == 1.0


def test_eval_reuses_its_benchmark_index(tiny_index):
    run_cli("eval", str(TINY), "--index", str(tiny_index), "--json", "--quiet")
    manifest = json.loads((tiny_index / "manifest.json").read_text())
    run_cli("eval", str(TINY), "--index", str(tiny_index), "--json", "--quiet", "--mode", "dense")
    assert json.loads((tiny_index / "manifest.json").read_text())["generation"] == manifest["generation"]


def test_max_queries_and_details(tiny_index, tmp_path):
    details = tmp_path / "d.jsonl"
    code, out = run_cli(
        "eval",
        str(TINY),
        "--index",
        str(tiny_index),
        "--json",
        "--quiet",
        "--max-queries",
        "3",
        "--details",
        str(details),
    )
    assert code == 0 and json.loads(out)["queries"] == 3
    rows = [json.loads(line) for line in details.read_text().splitlines()]
    assert len(rows) == 3 and all(r["ranked"] and r["relevant"] for r in rows)


def test_fusion_grid_scores_every_setting(tiny_index, real_embedder):
    result = evaluate.grid_beir(TINY, index_dir=tiny_index, embedder=real_embedder)
    assert {"dense", "lexical", "rrf k=60", "convex minmax w=0.5"} <= set(result.metrics)
    assert result.metrics["lexical"]["MRR@10"] < result.metrics["dense"]["MRR@10"]


def test_progress_bar_goes_to_stderr(tiny_index, real_embedder, capsys):
    evaluate.evaluate_beir(TINY, index_dir=tiny_index, embedder=real_embedder, progress=True)
    captured = capsys.readouterr()
    assert "eval tiny_beir" in captured.err and captured.out == ""


def test_qa_eval_questions_file(shipped_index, tmp_path):
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        "\n".join(
            json.dumps(q)
            for q in [
                {"id": "1", "question": "Who is the spokesman for the Taliban?", "answers": ["Zabihullah Mujahid"]},
                {
                    "id": "2",
                    "question": "How much has the war in Afghanistan cost the United States?",
                    "answers": ["2 trillion"],
                },
                {"id": "3", "question": "What is the boiling point of water in Fahrenheit?", "answers": []},
            ]
        )
        + "\n"
    )
    code, out = run_cli("eval", str(questions), "--index", str(shipped_index), "--json", "--quiet")
    assert code == 0
    result = json.loads(out)
    assert result["queries"] == 3 and result["mode"] == "hybrid"
    m = result["metrics"]
    assert m["answerable"] == 2 and m["unanswerable"] == 1
    assert m["hit@5"] == 1.0 and m["hit@1"] >= 0.5
    assert m["no_answer_recall"] == 1.0 and m["no_answer_precision"] == 1.0


def test_questions_file_errors(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "answers": []}\n')
    assert main(["eval", str(bad), "--index", str(tmp_path)]) == 1
    assert "question" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "missing.jsonl")]) == 1


def test_news_subset_matches_its_readme():
    needs_shared(NEWS)
    from bench.news_subsets import subset

    articles = subset("news-questions", NEWS)
    ids = "".join(a.id + "\n" for a in articles)
    # Check values from tests/data/news_questions.README.md.
    expected = "9cea82eae88754fd54418176d9f3584fbaa27aed87ee0b40cc51843978da2eda"
    assert hashlib.sha256(ids.encode()).hexdigest() == expected
    assert sum(len(a.text) for a in articles) == 3_104_870
    wanted = {
        s
        for line in (DATA / "news_questions.jsonl").read_text().splitlines()
        if line.strip()
        for s in json.loads(line)["sources"]
    }
    assert wanted <= {a.id for a in articles}


# --- benchmarks: long runs, never in CI (python -m pytest -m benchmark) ---------------------------------
# Their indexes are cached in $QA_BENCH_CACHE (default ~/.cache/qa/bench): the first SciFact run
# embeds ~28k chunks (tens of minutes on two cores); later runs reuse the index.

SCIFACT = SHARED / "data" / "scifact"
SQUAD = SHARED / "data" / "squad"


@pytest.mark.benchmark
def test_scifact_hybrid_reaches_its_goal():
    needs_shared(SCIFACT)
    results = {m: evaluate.evaluate_beir(SCIFACT, mode=m).metrics["nDCG@10"] for m in ("dense", "lexical", "hybrid")}
    assert results["hybrid"] >= 0.70, results
    assert results["hybrid"] >= max(results["dense"], results["lexical"]), results


@pytest.mark.benchmark
def test_squad_hybrid_beats_both_single_modes():
    needs_shared(SQUAD)
    grid = evaluate.grid_beir(SQUAD, max_queries=2000).metrics
    for metric in ("nDCG@10", "MRR@10"):
        assert grid["hybrid"][metric] > max(grid["dense"][metric], grid["lexical"][metric]), grid


@pytest.mark.benchmark
def test_news_questions_at_scale():
    needs_shared(NEWS)
    from bench.news_subsets import subset
    from qa.builder import build_from
    from qa.settings import bench_cache

    index = bench_cache() / f"news-c{evaluate.Config().chunk_tokens}"
    build_from(subset("news-questions", NEWS), index)
    m = evaluate.evaluate_questions(DATA / "news_questions.jsonl", index).metrics
    assert m["hit@5"] >= 0.8 and m["hit@1"] >= 0.5, m


# The TEST-split figures published in docs/EVALUATION.md for the held-out news questions (news-5k subset),
# guarded 0.03 below each (about 3 of 109 answerable questions): every setting was chosen on the dev split.
NEWS_TEST_PUBLISHED = {"hit@1": 0.945, "hit@5": 0.9817, "highlight_hit@1": 0.7248}
NEWS_TEST_MARGIN = 0.03


def assert_holds_published(m: dict, published: dict[str, float], margin: float = NEWS_TEST_MARGIN) -> None:
    """Each published figure held within margin; answerable questions flagged within it; no overlapping pairs."""
    for name, figure in published.items():
        assert m[name] >= figure - margin, (name, m)
    assert m["answerable_flagged_rate"] <= margin and m["overlapping_pairs@5"] == 0, m


@pytest.mark.benchmark
def test_news_heldout_test_split_holds_its_published_figures():
    needs_shared(NEWS)
    from bench.news_subsets import subset
    from qa.builder import build_from
    from qa.settings import bench_cache

    index = bench_cache() / f"news-5k-c{evaluate.Config().chunk_tokens}"
    build_from(subset("news-5k", NEWS), index)  # minutes the first time, then reused
    m = evaluate.evaluate_questions(DATA / "news_heldout_questions.jsonl", index, split="test").metrics
    assert_holds_published(m, NEWS_TEST_PUBLISHED)


# The TEST-split figures published in docs/EVALUATION.md for the held-out news questions over the small
# haystack (bench.news_subsets "news-heldout-small": the articles they cite or name as near misses plus 500
# others, built in a minute or two), guarded 0.03 below each (about 3 of 109 answerable questions). Every
# setting was chosen on the dev split; the news-5k figures are guarded by the benchmark above.
SMALL_TEST_PUBLISHED = {"hit@1": 0.9817, "hit@5": 1.0, "highlight_hit@1": 0.7523}
# Near misses flagged (of 21) and answerable questions flagged (of 109) by default: 7 and 3 since the names check
# (5 and 2 with it off, 0 and 2 before the reader's no-answer check); guarded one off each.
SMALL_TEST_NEAR_MISSES_FLAGGED = 7
SMALL_TEST_ANSWERABLE_FLAGGED = 3
# The 30 sampled answerable test questions asked again without their 32 source articles (and near-duplicates):
# 22 of 30 flagged since the names check (18 with it off, 7 before the reader's no-answer check); guarded two below.
SMALL_TEST_AT_SCALE_FLAGGED = 22
# The same with the names check off (Config(max_missing_names=None)): 5 of 21 near misses, 2 of 109 answerable
# flagged, 18 of 30 at scale; guarded one, one and two off.
NAMES_OFF = {"max_missing_names": None}
SMALL_TEST_NAMES_OFF_PUBLISHED = {"near_misses": 5, "answerable_flagged": 2, "at_scale": 18}


@pytest.mark.slow
def test_news_heldout_test_split_on_the_small_haystack_holds_its_published_figures(tmp_path, real_embedder):
    needs_shared(NEWS)
    from bench.news_subsets import subset, write_articles

    corpus = tmp_path / "news-heldout-small.jsonl"
    write_articles(subset("news-heldout-small", NEWS), corpus)  # as `qa eval --corpus` reads it (docs)
    evaluate.build_corpus(corpus, tmp_path / "index")
    result = evaluate.evaluate_questions(
        DATA / "news_heldout_questions.jsonl", tmp_path / "index", split="test", embedder=real_embedder
    )
    m = result.metrics
    assert (m["answerable"], m["unanswerable"]) == (109, 21), m
    assert_holds_published(m, SMALL_TEST_PUBLISHED)
    assert m["unanswerable_flagged"] >= SMALL_TEST_NEAR_MISSES_FLAGGED - 1, m
    assert m["answerable_flagged"] <= SMALL_TEST_ANSWERABLE_FLAGGED + 1, m
    from bench.unanswerable_at_scale import measure

    def asked_at_scale(work: str, config: Config | None = None) -> dict:
        # as docs/EVALUATION.md runs it; the index is updated without the articles, nothing embedded again
        questions = DATA / "news_heldout_questions.jsonl"
        return measure(
            questions, tmp_path / "index", tmp_path / work, size=30, subset_name="news-heldout-small", config=config
        )

    at_scale = asked_at_scale("minus")
    assert at_scale["questions"] == 30 and at_scale["flagged"] >= SMALL_TEST_AT_SCALE_FLAGGED - 2, at_scale

    off = Config(**NAMES_OFF)
    published = SMALL_TEST_NAMES_OFF_PUBLISHED
    m = evaluate.evaluate_questions(
        DATA / "news_heldout_questions.jsonl", tmp_path / "index", split="test", embedder=real_embedder, config=off
    ).metrics
    assert m["unanswerable_flagged"] >= published["near_misses"] - 1, m
    assert m["answerable_flagged"] <= published["answerable_flagged"] + 1, m
    at_scale = asked_at_scale("minus-names-off", off)
    assert at_scale["flagged"] >= published["at_scale"] - 2, at_scale


# The TEST-split figures published in docs/EVALUATION.md for SQuAD v1.1 dev as questions (bench.squad_questions;
# split by article title), a fixed 200 of the test half over all 2,067 paragraphs, guarded 0.03 below each (6 of
# 200 questions; the same code gave one question less on an AMX machine than where they were published).
SQUAD_TEST_PUBLISHED = {"hit@1": 0.875, "hit@5": 0.96, "highlight_hit@1": 0.78}


@pytest.mark.slow
def test_squad_test_split_holds_its_published_figures(tmp_path, real_embedder):
    squad = SHARED / "data" / "squad"
    needs_shared(squad)
    from bench import squad_questions

    questions = tmp_path / "squad_questions.jsonl"
    with redirect_stdout(io.StringIO()):
        squad_questions.main([str(questions), "--squad", str(squad)])  # as docs/EVALUATION.md writes it
    evaluate.build_corpus(squad / "corpus.jsonl.gz", tmp_path / "index")  # as `qa eval --corpus` reads it (docs)
    result = evaluate.evaluate_questions(
        questions, tmp_path / "index", split="test", max_queries=200, embedder=real_embedder
    )
    m = result.metrics
    assert m["answerable"] == 200, m
    assert_holds_published(m, SQUAD_TEST_PUBLISHED)


# The TEST-split figures published in docs/EVALUATION.md for the held-out question sets over the shipped
# corpus, each written after every setting was chosen (none was tuned on either half): shipped_heldout (32
# paraphrased questions; 13 answerable + 4 near misses in the test half; 2 answerable flagged since the reader's
# no-answer check, 1 before it) and shipped_fresh (32 more, written 2026-12-08; 16 + 3). So few questions that
# the guard allows one question less than each figure, and one more answerable question flagged.
SHIPPED_TESTS = {
    "shipped_heldout_questions.jsonl": (
        (13, 4),
        {"hit@1": 0.4615, "hit@3": 0.6154, "hit@5": 0.6923, "highlight_hit@1": 0.3077},
        2,
    ),
    "shipped_fresh_questions.jsonl": (
        (16, 3),
        {"hit@1": 0.5, "hit@3": 0.625, "hit@5": 0.75, "highlight_hit@1": 0.4375},
        3,
    ),
}


@pytest.mark.parametrize("questions", sorted(SHIPPED_TESTS))
def test_shipped_held_out_test_splits_hold_their_published_figures(questions, shipped_index, real_embedder):
    counts, published, flagged = SHIPPED_TESTS[questions]
    m = evaluate.evaluate_questions(DATA / questions, shipped_index, split="test", embedder=real_embedder).metrics
    assert (m["answerable"], m["unanswerable"]) == counts, m
    for name, figure in published.items():
        assert m[name] >= figure - 1 / counts[0] - 1e-9, (name, m)
    assert m["answerable_flagged"] <= flagged + 1 and m["overlapping_pairs@5"] == 0, m
