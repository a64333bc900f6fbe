"""The benchmark code runs on tiny inputs (never timed here), and the HNSW index stays incremental."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, SHARED, needs_shared

sys.path.insert(0, str(ROOT))  # bench/ is a folder of the project, not an installed package
from bench import ann, data, measure, report  # noqa: E402
from qa import Retriever, build  # noqa: E402
from qa.config import Config  # noqa: E402
from qa.dense import index_spec  # noqa: E402
from qa.index import Index  # noqa: E402
from tests.support.fake import SPEC as FAKE_SPEC

ROWS = [
    {
        "id": f"n{i}",
        "title": f"Title number {i} here",
        "text": f"First para {i}.\n\nSecond para {i} words.",
        "source": "Wire",
        "date": f"1987-03-0{i % 9 + 1}T10:00:00",
    }
    for i in range(30)
]


def test_slice_questions_and_scaled_rows_are_deterministic():
    chosen, rest = data.pick_slice(ROWS, 10, {"n25"})
    assert chosen[0]["id"] == "n25" and len(chosen) == 10 and len(rest) == 20
    assert {r["id"] for r in chosen}.isdisjoint(r["id"] for r in rest)
    assert data.pick_slice(ROWS, 10, {"n25"}) == (chosen, rest)
    hand_written, _ = data.question_sources()
    assert len(hand_written) >= 5
    assert data.questions_for(ROWS, 5) == hand_written[:5]  # the hand-written questions come first
    questions = data.questions_for(ROWS, len(hand_written) + 10)  # then 10 of the 30 titles, seeded
    assert questions == data.questions_for(ROWS, len(hand_written) + 10)
    assert questions[: len(hand_written)] == hand_written
    assert len(questions) == len(set(questions)) == len(hand_written) + 10
    assert set(questions[len(hand_written) :]) < {r["title"].lower().capitalize() for r in ROWS}
    assert data.questions_for(ROWS, len(hand_written) + 10, seed=2) != questions  # the seed picks the titles
    scaled = list(data.scaled_rows(ROWS[:3], 3))
    assert len({r["id"] for r in scaled}) == 9
    assert scaled[3]["text"] == "Second para 0 words.\n\nFirst para 0."  # paragraphs rotated in a copy
    assert data.edited(ROWS[0], "x")["text"].startswith(ROWS[0]["text"])


def test_synthetic_vectors_are_unit_and_similar_for_similar_texts():
    rng = np.random.default_rng(0)
    real = rng.standard_normal((50, 384)).astype(np.float32)
    real /= np.linalg.norm(real, axis=1, keepdims=True)
    emb = data.SyntheticEmbedder(real)
    v = emb.embed(["oil prices rise in march", "oil prices rise in april", "football cup final tonight"])
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2]
    sample = data.CovarianceSampler(real).sample(20)
    assert sample.shape == (20, 384)
    np.testing.assert_allclose(np.linalg.norm(sample, axis=1), 1.0, atol=1e-5)


def test_run_process_reports_time_peak_memory_and_json():
    res = measure.run_process([sys.executable, "-c", "import json; x = bytearray(60 * 2**20); print(json.dumps(1))"])
    assert res.json() == 1
    assert res.peak_rss_mb >= 60 and res.seconds > 0
    failing = measure.run_process([sys.executable, "-c", "raise SystemExit(3)"])
    with pytest.raises(RuntimeError, match="failed"):
        failing.json()
    p = measure.percentiles([0.001, 0.002, 0.003])
    assert p["p50"] == pytest.approx(2.0) and p["n"] == 3


def test_million_section_on_a_small_set_and_the_report(tmp_path):
    rng = np.random.default_rng(1)
    real = rng.standard_normal((200, 384)).astype(np.float32)
    real /= np.linalg.norm(real, axis=1, keepdims=True)
    queries = data.CovarianceSampler(real, seed=3).sample(12)
    result = ann.million(real, queries, 2000, sweep=(32, 128))
    assert result["spec"]["type"] == "hnsw" and 0.0 <= result["recall_at_10"] <= 1.0
    assert set(result["ef_curve"]) == {32, 128}
    assert result["ef_curve"][128]["recall_at_10"] >= result["ef_curve"][32]["recall_at_10"] - 1e-9
    results = {"command": "python -m bench.run --million 2000", "machine": {"cpus": 2}, "million": result}
    md = report.markdown(results, "plot.png")
    assert "2,000 vectors" in md and f"{result['recall_at_10']:.3f}" in md
    report.plot(results, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "recall@10" in report.table(results)


def test_index_spec_switches_to_hnsw_at_the_threshold():
    config = Config(hnsw_threshold=100)
    assert index_spec(99, config)["type"] == "flat"
    spec = index_spec(100, config)
    assert spec["type"] == "hnsw" and spec["M"] == config.hnsw_m and spec["efSearch"] == config.hnsw_ef_search


def test_the_hnsw_beam_grows_with_the_index_past_100k():
    from qa.dense import ef_search

    config = Config()
    assert ef_search(20_000, config) == ef_search(100_000, config) == config.hnsw_ef_search
    assert ef_search(1_000_000, config) == config.hnsw_ef_search_1m
    sizes = [100_000, 200_000, 500_000, 1_000_000, 10_000_000]
    beams = [ef_search(n, config) for n in sizes]
    assert beams == sorted(beams) and len(set(beams)) == len(beams)
    assert index_spec(1_000_000, config)["efSearch"] == config.hnsw_ef_search_1m  # what the manifest records


def _write(corpus: Path, n: int, changed: int | None = None) -> None:
    corpus.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        extra = " A late correction was issued." if i == changed else ""
        (corpus / f"s{i:02d}.txt").write_text(
            f"Story {i}\n\nThe harbour of port {i} handled {i * 13} ships. Dockers in port {i} went on strike."
            f"{extra}\n",
            encoding="utf-8",
        )


def test_hnsw_index_is_recorded_and_updated_incrementally(tmp_path, fake_embedder):
    config = Config(hnsw_threshold=10)
    corpus, index_dir = tmp_path / "c", tmp_path / "i"
    _write(corpus, 14)
    first = build(corpus, index_dir, config=config, embedder=fake_embedder, progress=False)
    manifest = json.loads((index_dir / "manifest.json").read_text())
    assert first.chunks >= 10
    assert manifest["dense"] == index_spec(first.chunks, config) and manifest["dense"]["type"] == "hnsw"

    _write(corpus, 15, changed=3)
    fake_embedder.calls.clear()
    second = build(corpus, index_dir, config=config, embedder=fake_embedder, progress=False)
    assert second.changed == ["s03.txt"] and second.added == ["s14.txt"]
    assert 0 < second.embedded == len(fake_embedder.calls) < second.chunks
    index = Index.open(index_dir)
    assert index.dense_spec["type"] == "hnsw" and index.dense.ntotal == second.chunks == len(index)

    answer = Retriever.load(index_dir, fake_embedder, config).ask("dockers strike port 14", k=3, mode="dense")
    assert answer.passages and answer.passages[0].article_id == "s14.txt"
    filtered = Retriever.load(index_dir, fake_embedder, config).ask(
        "harbour ships", k=3, mode="dense", sources=["nowhere"]
    )
    assert filtered.passages == []


def test_real_recall_reads_an_embedding_cache(tmp_path):
    from qa.embed import EmbeddingCache

    rng = np.random.default_rng(2)
    vecs = rng.standard_normal((300, 384)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    cache = EmbeddingCache(tmp_path / "e.sqlite", "m", 384)
    cache.put_many((f"h{i}", v) for i, v in enumerate(vecs))
    cache.close()
    got = ann.cached_vectors(tmp_path / "e.sqlite")
    assert got.shape == (300, 384)
    result = ann.real_recall(got, vecs[:5], sweep=(16, 64))
    assert result["n"] == 300 and set(result["ef_curve"]) == {16, 64}
    assert result["ef_curve"][64]["recall_at_10"] > 0.5  # the queries are in the index


def test_ray_vs_local_summary_gives_throughput_memory_and_ratios():
    from bench.ray_vs_local import summary

    def run(engine, wall, cpu, rss):
        return {
            "engine": engine,
            "process_s": wall,
            "build_s": wall - 1,
            "tree_cpu_s": cpu,
            "report": {"documents": 100, "chunks": 400},
            "driver_peak_rss_mb": rss,
            "tree_rss_mb": rss * 2,
            "tree_pss_mb": rss * 1.5,
            "processes": 1,
            "load_avg": 1.0,
        }

    runs = [run("local", 10.0, 18.0, 500), run("ray", 12.0, 20.0, 300), run("local", 9.0, 17.0, 500)]
    got = summary(runs, tokens=34_000)
    assert got["local"]["wall_s"] == 9.0  # the best run of each engine
    assert got["local"]["chunks_per_s"] == pytest.approx(400 / 9) and got["local"]["articles_per_s"] == 100 / 9
    assert got["ray"]["tokens_per_cpu_s"] == pytest.approx(1700)
    assert got["ray_over_local"]["wall_s"] == pytest.approx(12 / 9)
    assert got["ray_over_local"]["driver_peak_rss_mb"] == pytest.approx(0.6)


def test_scaling_cost_model_is_recovered_and_extrapolated():
    from bench.scaling import extrapolate, fit_cost_model

    n, nlist, t_code_ns, coarse_ms = 1_000_000, 1000, 2.0, 0.4
    curve = {
        p: {
            "p50": coarse_ms + p * (n / nlist) * t_code_ns / 1e6,
            "recall_at_10": min(1.0, 0.5 + p / 100),
            "rerank_p50": coarse_ms + p * (n / nlist) * t_code_ns / 1e6 + 0.1,
            "rerank_recall_at_10": min(1.0, 0.6 + p / 50),
        }
        for p in (1, 8, 16, 32)
    }
    model = fit_cost_model(curve, n, nlist)
    assert model["t_code_ns"] == pytest.approx(t_code_ns) and model["t_coarse_ms_at_nlist"] == pytest.approx(coarse_ms)
    ivf = {"nlist": nlist, "code_bytes": 48, "flat_ns_per_vector": 50.0, "hnsw_link_bytes_per_vector": 270.0}
    got = extrapolate(
        model,
        curve,
        ivf,
        384,
        {"chunks": 600.0, "lexical": 400.0, "vectors": 1536.0},
        0.9,
        targets=(10_000_000,),
        shards=(1, 4),
    )
    assert got["nprobe"] == 16 and got["with_rerank"] and got["rerank_ms"] == pytest.approx(0.1)
    at = got["by_n"][10_000_000]
    assert at["shards"][1]["scan_ms"] == pytest.approx(16 * 10_000 * t_code_ns / 1e6)
    assert at["shards"][4]["scan_ms"] == pytest.approx(at["shards"][1]["scan_ms"] / 4)
    assert at["ivf_codes_gb"] == pytest.approx(0.56) and at["float32_gb"] == pytest.approx(15.36)
    assert at["text_side_gb"] == {"chunks": pytest.approx(6.0), "lexical": pytest.approx(4.0)}
    assert at["flat_search_ms"] == pytest.approx(500)
    assert extrapolate(model, curve, ivf, 384, {}, 0.5)["with_rerank"] is False  # PQ alone reaches 0.5


@pytest.mark.slow
def test_scaling_runs_end_to_end_on_a_tiny_index(tmp_path, fake_embedder, monkeypatch):
    from bench import scaling

    needs_shared(SHARED / "data" / "news" / "articles.jsonl.gz")
    monkeypatch.setenv("QA_EMBEDDER", FAKE_SPEC)  # the serving child and the queries
    rows = [dict(r, text=r["text"] + " " + " ".join(f"w{i}x{j}" for j in range(40))) for i, r in enumerate(ROWS)]
    data.write_corpus(rows, tmp_path / "c" / "news.jsonl")
    build(tmp_path / "c", tmp_path / "i", embedder=fake_embedder, progress=False)
    out_path = tmp_path / "s.json"
    scaling.main(
        [
            "--index",
            str(tmp_path / "i"),
            "--n",
            "2000",
            "--nlist",
            "8",
            "--codes",
            "PQ8,SQ8",
            "--queries",
            "6",
            "--rerank",
            "2000",
            "--out",
            str(out_path),
        ]
    )
    out = json.loads(out_path.read_text())
    assert out["index_files"]["chunks"] == len(Index.open(tmp_path / "i"))
    assert out["ram"]["bytes_per_chunk"]["dense_index"] >= 0 and "vectors" in out["index_files"]["bytes_per_chunk"]
    assert out["hnsw"]["link_bytes_per_vector"] > 0 and out["serving"]["hybrid"]["n"] == out["serving"]["questions"]
    assert out["ivf"]["PQ8"]["code_bytes"] == 8 and out["ivf"]["SQ8"]["code_bytes"] == 384
    for code in ("PQ8", "SQ8"):
        curve = out["ivf"][code]["curve"]
        assert set(curve) == {str(p) for p in scaling.NPROBES}
        assert all(0 <= c["recall_at_10"] <= 1 and 0 <= c["rerank_recall_at_10"] <= 1 for c in curve.values())
        assert curve["128"]["rerank_recall_at_10"] == 1.0  # every list probed, all re-ranked exactly: exact top 10
        assert set(out["extrapolation"][code]["by_n"]) == {str(n) for n in scaling.TARGETS}
    assert out["choice"] == "PQ8"  # the smaller code, since re-ranking everything reaches any target


def test_limit_counts_the_encoders_matmul_flops_and_renders_its_report():
    from bench import limit, wordpieces

    # 6 layers x (4 x 384^2 + 2 x 384 x 1536) weights, 2 FLOPs each: 21.2 MFLOP a token, plus attention.
    assert limit.model_flops([1]) == 2 * 6 * (4 * 384 * 384 + 2 * 384 * 1536) + 4 * 384 * 6
    assert limit.model_flops([10, 20]) == limit.model_flops([10]) + limit.model_flops([20])
    path = {"path": "p", "runtime": "r", "texts": 2, "word_pieces_per_s": 10.0, "cosine_min_vs_st": 1.0}
    path |= {"ceiling_word_pieces_per_s": 20.0, "share_of_own_ceiling": 0.5, "share_of_bf16_ceiling": 0.1}
    gemm = {"size": 8, "gflops": {"float32": 2.0, "bfloat16": 1.0}}
    text = limit.render(
        {
            "cpu": "avx2",
            "threads": 2,
            "bf16_emulated": True,
            "gemm": gemm,
            "mflop_per_word_piece": 22.6,
            "paths": [path],
        }
    )
    assert "emulates bf16" in text and "| p | r | 2 | 10 |" in text
    from qa.evaluate import split_of

    dev = wordpieces._questions(Path(__file__).parent / "data" / "news_heldout_questions.jsonl")
    assert 60 < len(dev) < 120 and all(split_of(q["id"]) == "dev" and q["answers"] for q in dev)  # dev, answerable


def test_footprint_counts_one_generation_by_role_and_renders(tmp_path):
    """bench.footprint: a fresh `qa build` child, its peak RSS, and bytes per article of the live generation only."""
    from bench import footprint

    result = footprint.measure_build(ROWS, len(ROWS), False, tmp_path)
    assert result.chunks >= len(ROWS) and result.peak_rss_mb > 0
    assert result.bytes_by_role["vectors"] > 0 and "dense" not in result.bytes_by_role  # flat: no FAISS file
    assert result.index_bytes == sum(result.bytes_by_role.values())
    assert result.bytes_per_article == result.index_bytes / len(ROWS)
    assert not (tmp_path / f"index{len(ROWS)}").exists()  # cleaned up
    row = footprint.render([result]).splitlines()[-1]
    assert row.startswith(f"| {len(ROWS)} news | {result.chunks} |")


def test_txtai_in_its_natural_use_indexes_paragraphs_and_the_report_sets_qa_against_it():
    """bench.txtai_side's natural rows (a row per non-empty line), and the goals and table bench.run's build prints."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    try:
        import txtai_side
    finally:
        sys.path.pop(0)
    from bench import report

    rows = txtai_side.paragraph_rows([{"id": "a", "text": "First para.\n\n  Second one. \n"}, {"id": "b", "text": ""}])
    assert rows == [("a#0", "First para.", None), ("a#1", "Second one.", None)]
    build = {"articles": 10, "chunks": 30, "process_s": 5.0, "build_s": 4.0, "articles_per_s": 2.0}
    build |= {"chunks_per_s": 6.0, "peak_rss_mb": 100.0, "index_bytes": 80_000, "index_bytes_per_chunk": 2_667}
    build["txtai_natural"] = {"chunks": 55, "articles_per_s_process": 1.0, "index_bytes_per_article": 10_000.0}
    build["txtai_natural"]["peak_rss_mb"] = 300.0
    build |= {"ratio_articles_per_s_natural": 2.0, "ratio_bytes_per_article_natural": 0.8}
    goals = {g: (got, met) for g, _, got, met in report.goals({"build": build})}
    assert goals["full build vs txtai in its natural use (articles/s, whole process)"] == ("2.00×", False)
    assert goals["index bytes per article vs txtai in its natural use"] == ("0.80×", False)
    text = "\n".join(report._build_md(build, None))
    assert "| articles/s (whole process) | 2.00 | 1.00 | 2.00× |" in text
    assert "| index on disk per article (bytes) | 8,000 | 10,000 | 0.80× |" in text
    change = {"changed": 1, "embedded": 3, "process_s": 0.15, "build_s": 0.1, "share_of_full_process": 0.03}
    inc = {"articles": 10, "change_1pct": change | {"process_s_samples": [0.2, 0.15, 0.1]}}
    text = "\n".join(report._build_md(build, inc))
    assert "median of 0.20, 0.15, 0.10 s" in text and "| change 1% | 1 changed | 3 | 0.15 | 3.0% |" in text


def test_the_hand_written_part_of_benchmarks_md_is_what_the_report_renders():
    """bench.report writes docs/BENCHMARKS.md from the results plus bench/notes.py; a note edited in the
    Markdown alone would be lost at the next run, so the two must hold the same text."""
    from bench.notes import NOTES

    doc = (ROOT / "docs" / "BENCHMARKS.md").read_text(encoding="utf-8")
    assert "## How to run" in doc
    assert NOTES.strip() == doc[doc.index("## How to run") :].strip()


def test_peer_quality_scores_txtai_rows_as_qa_scores_passages(monkeypatch, tmp_path):
    """txtai answers with row ids (article#paragraph): each must be read back as the paragraph txtai indexed."""
    from bench import measure, peer_quality

    articles = [
        {"id": "a", "text": "The strike began on Monday.\n\nAbout 4,000 dockers joined it."},
        {"id": "b", "text": "Prices rose.\nThe index reached 112."},
    ]
    questions = [
        {"question": "How many dockers joined?", "answers": ["4,000"]},
        {"question": "What did the index reach?", "answers": ["112"]},
        {"question": "Who won the race?", "answers": []},
    ]
    seen = {}

    def fake_run(cmd, env=None, **kw):
        seen["spec"] = json.loads(Path(cmd[2]).read_text(encoding="utf-8"))
        report = {"hits": [["a#0", "a#1"], ["b#1"], ["b#0"]], "chunks": 4, "latencies": [0.01, 0.02, 0.03]}
        return measure.ProcResult(1.0, 10.0, 0, json.dumps(report) + "\n", "")

    monkeypatch.setattr(measure, "run_process", fake_run)
    python = tmp_path / "python"
    python.write_text("")
    got = peer_quality.txtai_side(questions, articles, str(python), "model-dir")
    assert seen["spec"]["hybrid"] is True and seen["spec"]["articles"] == articles  # its natural use
    m = got["metrics"]
    assert (m["answerable"], m["hit@1"], m["hit@3"]) == (2, 0.5, 1.0)
    assert m["highlight_hit@1"] is None  # txtai picks no sentence
    assert got["first_text_chars"] == (len("The strike began on Monday.") + len("The index reached 112.")) / 2
    missing = peer_quality.txtai_side(questions, articles, str(tmp_path / "absent"), "model-dir")
    assert "not found" in missing["error"]
