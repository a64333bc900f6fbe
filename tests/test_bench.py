"""The benchmark code runs on tiny inputs (never timed here), and the HNSW index stays incremental."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT))  # bench/ is a folder of the project, not an installed package
from bench import ann, data, measure, report  # noqa: E402
from qa import Retriever, build  # noqa: E402
from qa.config import Config  # noqa: E402
from qa.dense import index_spec  # noqa: E402
from qa.index import Index  # noqa: E402

ROWS = [{"id": f"n{i}", "title": f"Title number {i} here", "text": f"First para {i}.\n\nSecond para {i} words.",
         "source": "Wire", "date": f"1987-03-0{i % 9 + 1}T10:00:00"} for i in range(30)]


def test_slice_questions_and_scaled_rows_are_deterministic():
    chosen, rest = data.pick_slice(ROWS, 10, {"n25"})
    assert chosen[0]["id"] == "n25" and len(chosen) == 10 and len(rest) == 20
    assert {r["id"] for r in chosen}.isdisjoint(r["id"] for r in rest)
    assert data.pick_slice(ROWS, 10, {"n25"}) == (chosen, rest)
    questions = data.questions_for(ROWS, 70)
    assert len(questions) == len(set(questions)) or len(questions) <= 70
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
            f"{extra}\n", encoding="utf-8")


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
    filtered = Retriever.load(index_dir, fake_embedder, config).ask("harbour ships", k=3, mode="dense",
                                                                   sources=["nowhere"])
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
