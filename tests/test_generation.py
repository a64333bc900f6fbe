"""The generation layer both engines share: the plan, the typed records, the one writer; and Config checks."""

from __future__ import annotations

import numpy as np
import pytest

from qa import build
from qa.config import Config, ConfigError
from qa.generation import BuildReport, ChunkRow, diff
from qa.index import Index
from qa.manifest import ArticleEntry, Manifest, ModelInfo, read_manifest


def _manifest(hashes: dict[str, str]) -> Manifest:
    articles = {aid: ArticleEntry(h, (i, i + 1)) for i, (aid, h) in enumerate(sorted(hashes.items()))}
    return Manifest(
        generation=1,
        model=ModelInfo("m", 4),
        files={},
        articles=articles,
        chunks=len(articles),
        dense={"type": "flat"},
    )


def test_the_build_summary_counts_in_words_one_or_many():
    one = BuildReport(documents=1, chunks=1, added=["a"], embedded=1, seconds=0.04).summary()
    assert one == "1 document, 1 chunk: 1 added, 0 changed, 0 deleted, 0 unchanged, 0 skipped; 1 chunk embedded in 0.0s"
    many = BuildReport(documents=3, chunks=0, unchanged=3).summary()
    assert many.startswith("3 documents, 0 chunks: ") and many.endswith("; 0 chunks embedded in 0.0s")


def test_the_plan_sorts_articles_into_added_changed_deleted_unchanged():
    old = _manifest({"a": "1", "b": "2", "c": "3"})
    plan = diff(old, {"b": "2", "c": "changed", "d": "4"})
    assert (plan.added, plan.changed, plan.deleted) == (("d",), ("c",), ("a",))
    assert plan.unchanged == {"b"}
    assert plan.is_fresh("c") and plan.is_fresh("d") and not plan.is_fresh("b")
    assert not plan.nothing_to_do
    assert diff(old, {"a": "1", "b": "2", "c": "3"}).nothing_to_do
    new = diff(None, {"x": "1"})
    assert new.added == ("x",) and not new.unchanged


def test_a_manifest_round_trips_through_its_json(tmp_path, fake_embedder):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "one.txt").write_text("Harbour news\n\nThe harbour council approved the budget.\n")
    build(tmp_path / "c", tmp_path / "i", embedder=fake_embedder, progress=False)
    manifest = read_manifest(tmp_path / "i")
    assert Manifest.from_dict(manifest.to_dict()) == manifest
    assert manifest.articles["one.txt"].title == "Harbour news"
    assert manifest.model == ModelInfo(fake_embedder.model_id, fake_embedder.dim, Config().max_model_tokens, None)


def test_chunk_rows_round_trip_and_keep_what_was_embedded(tmp_path, fake_embedder):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "one.txt").write_text("Harbour news\n\nThe harbour council approved the budget. It rained.\n")
    build(tmp_path / "c", tmp_path / "i", embedder=fake_embedder, progress=False)
    index = Index.open(tmp_path / "i")
    try:
        rows = [ChunkRow.from_dict(r) for r in index.chunks]
        assert rows and all(ChunkRow.from_dict(r.to_dict()) == r for r in rows)
        # The stored vector is the model's vector of the row's embed text (title + chunk), as float16:
        # half the bytes, each component within float16's rounding (2**-11 relative), so a cosine moves
        # by at most 2**-11 (these fake vectors are sparse, the worst case; real ones move ~1e-5).
        vectors = fake_embedder.embed([r.embed_text for r in rows])
        assert index.vectors.dtype == np.float16
        assert np.allclose(index.vector_rows(slice(None)), vectors, rtol=2**-11, atol=1e-7)
        assert np.abs((index.vector_rows(slice(None)) * vectors).sum(axis=1) - 1).max() <= 2**-11
    finally:
        index.close()


@pytest.mark.parametrize(
    "settings, word",
    [
        ({"fusion": "average"}, "fusion"),
        ({"dense_norm": "z"}, "dense_norm"),
        ({"highlight": "best"}, "highlight"),
        ({"dense_weight": 1.5}, "dense_weight"),
        ({"chunk_tokens": 400}, "chunk_tokens"),
        ({"overlap_sentences": -1}, "overlap_sentences"),
        ({"min_dense_score": 2.0}, "min_dense_score"),
        ({"bm25_b": 3.0}, "bm25"),
    ],
)
def test_config_refuses_bad_values_when_made(settings, word):
    with pytest.raises(ConfigError, match=word):
        Config(**settings)


def test_settings_from_the_command_line_are_typed_and_checked():
    c = Config().with_settings(["max_missing_names=0.7", "min-reader-logit=off", "rerank_passages=5", "fusion=rrf"])
    assert (c.max_missing_names, c.min_reader_logit, c.rerank_passages, c.fusion) == (0.7, None, 5, "rrf")
    assert Config().with_settings([]) == Config()
    assert Config(chunk_tokens=128).with_settings(["fusion=rrf"]).chunk_tokens == 128  # the rest is kept
    for settings, message in [
        (["max_mising_names=0.7"], "did you mean max_missing_names"),
        (["chunk_tokens=off"], "chunk_tokens cannot be off"),
        (["chunk_tokens=1.5"], "chunk_tokens takes a whole number"),
        (["dense_weight=heavy"], "dense_weight takes a number"),
        (["dense_weight"], "NAME=VALUE"),
        (["fusion=magic"], "fusion must be one of"),  # checked as any Config is
        (["max_missing_names=2"], "max_missing_names must be above 0"),
    ]:
        with pytest.raises(ConfigError, match=message):
            Config().with_settings(settings)
    # A command that only answers refuses what only a build would use, instead of ignoring it.
    assert Config().with_settings(["chunk_tokens=128"]).chunk_tokens == 128
    with pytest.raises(ConfigError, match="chunk_tokens shapes the index"):
        Config().with_settings(["chunk_tokens=128"], builds=False)
    assert Config().with_settings(["hnsw_ef_search=64"], builds=False).hnsw_ef_search == 64  # a search setting


def test_the_writer_reads_arrays_and_tables_without_mapping_them(tmp_path):
    """store.NpyRows / npy_blocks / JsonlTable(mapped=False) give what was written; a cut file is refused."""
    from qa import store
    from qa.errors import IndexFormatError

    a = np.arange(40, dtype=np.float32).reshape(10, 4)
    np.save(tmp_path / "v.npy", a)
    rows = store.NpyRows(tmp_path / "v.npy")
    assert rows.shape == (10, 4) and np.array_equal(rows.rows(3, 7), a[3:7])
    rows.close()
    assert np.array_equal(np.concatenate(list(store.npy_blocks(tmp_path / "v.npy", rows=3))), a)
    data = (tmp_path / "v.npy").read_bytes()
    (tmp_path / "v.npy").write_bytes(data[:-4])
    with pytest.raises(IndexFormatError, match="truncated"):
        list(store.npy_blocks(tmp_path / "v.npy", rows=3))
    offsets = store.atomic_write_jsonl(tmp_path / "t.jsonl", [{"i": i} for i in range(5)])
    store.atomic_save_npy(tmp_path / "t.offsets.npy", offsets)
    table = store.JsonlTable(tmp_path / "t.jsonl", tmp_path / "t.offsets.npy", mapped=False)
    assert [table[i]["i"] for i in (4, 0, 2)] == [4, 0, 2]
    assert list(store.iter_jsonl(tmp_path / "t.jsonl"))[3] == {"i": 3}
    table.close()
