"""Incremental builds: only what changed is embedded, and the result equals a full build."""

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from qa import Retriever, build
from qa.embed import ModelSpec, register
from qa.errors import BuildLockedError, CorpusError, IndexFormatError
from qa.index import Index
from qa.manifest import read_manifest
from tests.support.fake import FakeEmbedder


def write_articles(root: Path, n: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (root / f"a{i:02d}.txt").write_text(
            f"Story {i} about topic {i}\n\n"
            f"The council of town {i} voted on budget item {i * 7}. "
            f"Residents of town {i} asked about roads and schools. "
            f"The mayor promised a report on item {i * 7} by spring.\n",
            encoding="utf-8",
        )


def snapshot(index_dir: Path) -> dict:
    """Everything that defines an index's content, without timestamps and generation numbers."""
    idx = Index.open(index_dir)
    m = idx.manifest.to_dict()
    return {
        "chunks": [{k: v for k, v in idx.chunks[i].items()} for i in range(len(idx.chunks))],
        "articles": {a: {k: v for k, v in e.items()} for a, e in m["articles"].items()},
        "vectors": np.asarray(idx.vectors).copy(),
    }


def assert_same_index(a: Path, b: Path, embedder) -> None:
    sa, sb = snapshot(a), snapshot(b)
    assert sa["chunks"] == sb["chunks"]
    assert sa["articles"] == sb["articles"]
    assert np.allclose(sa["vectors"], sb["vectors"], atol=1e-6)
    ra, rb = Retriever.load(a, embedder), Retriever.load(b, embedder)
    for q in ("budget item 21", "roads and schools in town 3", "mayor report"):
        pa = [(p.article_id, p.start, p.end, round(p.score, 5)) for p in ra.ask(q, k=5).passages]
        pb = [(p.article_id, p.start, p.end, round(p.score, 5)) for p in rb.ask(q, k=5).passages]
        assert pa == pb


def test_first_build_then_nothing_to_do(tmp_path, fake_embedder):
    write_articles(tmp_path / "c", 6)
    r1 = build(tmp_path / "c", tmp_path / "i", embedder=fake_embedder, progress=False)
    assert (r1.documents, len(r1.added), r1.embedded) == (6, 6, r1.chunks)
    fake_embedder.calls.clear()
    r2 = build(tmp_path / "c", tmp_path / "i", embedder=fake_embedder, progress=False)
    assert r2.to_dict()["unchanged"] == 6 and r2.embedded == 0 and fake_embedder.calls == []


def test_changing_one_article_embeds_only_its_chunks(tmp_path, fake_embedder):
    corpus = tmp_path / "c"
    write_articles(corpus, 12)
    build(corpus, tmp_path / "i", embedder=fake_embedder, progress=False)
    fake_embedder.calls.clear()
    (corpus / "a03.txt").write_text("Story 3 rewritten\n\nA brand new sentence about harbours. Another one.\n")
    report = build(corpus, tmp_path / "i", embedder=fake_embedder, progress=False)
    idx = Index.open(tmp_path / "i")
    lo, hi = idx.manifest.articles["a03.txt"].chunks
    assert report.changed == ["a03.txt"] and report.unchanged == 11
    assert report.embedded == hi - lo == len(fake_embedder.calls)
    assert all("harbours" in t or "Story 3 rewritten" in t for t in fake_embedder.calls)


def test_incremental_equals_full_after_add_change_delete(tmp_path, fake_embedder):
    corpus = tmp_path / "c"
    write_articles(corpus, 10)
    build(corpus, tmp_path / "inc", embedder=fake_embedder, progress=False)
    (corpus / "a01.txt").unlink()
    (corpus / "a02.txt").write_text("Changed story\n\nThe harbour master resigned on Monday.\n")
    (corpus / "new.md").write_text("---\ntitle: Fresh\nsource: Gazette\ndate: 2021-05-01\n---\nA fresh item.\n")
    r = build(corpus, tmp_path / "inc", embedder=fake_embedder, progress=False)
    assert (r.added, r.changed, r.deleted) == (["new.md"], ["a02.txt"], ["a01.txt"])
    build(corpus, tmp_path / "full", embedder=fake_embedder, progress=False, full=True)
    assert_same_index(tmp_path / "inc", tmp_path / "full", fake_embedder)


@pytest.mark.slow
def test_incremental_equals_full_with_the_real_model(tmp_path, real_embedder, corpus_copy):
    build(corpus_copy, tmp_path / "inc", embedder=real_embedder, progress=False)
    first = sorted(corpus_copy.glob("*.txt"))[0]
    first.write_text(first.read_text(encoding="utf-8") + "\nA closing line was added.\n", encoding="utf-8")
    build(corpus_copy, tmp_path / "inc", embedder=real_embedder, progress=False)
    build(corpus_copy, tmp_path / "full", embedder=real_embedder, progress=False, full=True)
    assert_same_index(tmp_path / "inc", tmp_path / "full", real_embedder)


def test_cache_means_readding_text_costs_nothing(tmp_path, fake_embedder):
    corpus = tmp_path / "c"
    write_articles(corpus, 4)
    build(corpus, tmp_path / "i", embedder=fake_embedder, progress=False)
    saved = (corpus / "a00.txt").read_text()
    (corpus / "a00.txt").unlink()
    build(corpus, tmp_path / "i", embedder=fake_embedder, progress=False)
    (corpus / "a00.txt").write_text(saved)
    fake_embedder.calls.clear()
    r = build(corpus, tmp_path / "i", embedder=fake_embedder, progress=False)
    assert r.added == ["a00.txt"] and r.embedded == 0 and fake_embedder.calls == []


def test_full_rebuild_reembeds_everything(tmp_path, fake_embedder):
    write_articles(tmp_path / "c", 3)
    r1 = build(tmp_path / "c", tmp_path / "i", embedder=fake_embedder, progress=False)
    r2 = build(tmp_path / "c", tmp_path / "i", embedder=fake_embedder, progress=False, full=True)
    assert r2.embedded == r1.chunks


def test_old_generations_are_collected(tmp_path, fake_embedder):
    corpus = tmp_path / "c"
    write_articles(corpus, 3)
    for i in range(4):
        (corpus / "extra.txt").write_text(f"Round {i}\n\nSomething new number {i}.\n")
        build(corpus, tmp_path / "i", embedder=fake_embedder, progress=False)
    gens = {p.name.split(".")[1] for p in (tmp_path / "i").iterdir() if p.name.startswith("vectors.")}
    assert len(gens) == 2  # the live generation and the one before it


def test_second_build_stops_with_a_clear_message(tmp_path, fake_embedder):
    from filelock import FileLock

    write_articles(tmp_path / "c", 2)
    (tmp_path / "i").mkdir()
    with FileLock(str(tmp_path / "i" / "build.lock")):
        with pytest.raises(BuildLockedError, match="another build is running"):
            build(tmp_path / "c", tmp_path / "i", embedder=fake_embedder, progress=False)


def test_missing_corpus_is_a_clear_error(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        build(tmp_path / "nope", tmp_path / "i", progress=False)


def test_manifest_records_what_an_inspector_needs(tmp_path, fake_embedder):
    write_articles(tmp_path / "c", 2)
    build(tmp_path / "c", tmp_path / "i", embedder=fake_embedder, progress=False)
    m = json.loads((tmp_path / "i" / "manifest.json").read_text())
    assert m["format_version"] == 1
    assert m["model"]["id"] == FakeEmbedder.model_id and m["model"]["dim"] == 384  # the model that made the vectors
    assert m["lexical"] == {
        "library": "bm25s",
        "method": "lucene",
        "k1": 1.5,
        "b": 0.75,
        "stopwords": "en",
        "stemmer": "english",
    }  # what the BM25 index was really built with
    assert m["chunking"]["chunk_tokens"] > 0 and m["built_at"]
    assert set(m["articles"]) == {"a00.txt", "a01.txt"}
    assert all(len(e["hash"]) == 64 for e in m["articles"].values())
    assert m["counts"]["documents"] == 2
    for name in m["files"].values():
        assert (tmp_path / "i" / name).exists()


def test_changed_chunking_settings_require_full(tmp_path, fake_embedder):
    from qa.config import Config

    write_articles(tmp_path / "c", 2)
    build(tmp_path / "c", tmp_path / "i", embedder=fake_embedder, progress=False)
    with pytest.raises(IndexFormatError, match="qa build --full"):
        build(tmp_path / "c", tmp_path / "i", embedder=fake_embedder, progress=False, config=Config(chunk_tokens=64))


def test_index_dir_is_only_plain_files(tmp_path, fake_embedder):
    write_articles(tmp_path / "c", 2)
    build(tmp_path / "c", tmp_path / "i", embedder=fake_embedder, progress=False)
    for p in (tmp_path / "i").rglob("*"):
        assert p.suffix not in {".pkl", ".pickle"}
    shutil.rmtree(tmp_path / "i")


def test_refresh_reads_the_manifest_only_after_a_commit(tmp_path, fake_embedder, monkeypatch):
    """Asking does not re-parse manifest.json (which lists every article) unless a build committed."""
    from qa import manifest

    write_articles(tmp_path / "c", 3)
    build(tmp_path / "c", tmp_path / "i", embedder=fake_embedder, progress=False)
    retriever = Retriever.load(tmp_path / "i", fake_embedder)
    reads = []
    real_read = manifest.read_manifest
    monkeypatch.setattr(manifest, "read_manifest", lambda d: reads.append(d) or real_read(d))
    for _ in range(5):
        retriever.ask("harbour", k=1)
    assert reads == []
    write_articles(tmp_path / "c", 4)
    build(tmp_path / "c", tmp_path / "i", embedder=fake_embedder, progress=False)
    retriever.ask("harbour", k=1)
    assert len(retriever.index.article_ids) == 4 and reads
    reads.clear()
    retriever.ask("harbour", k=1)
    assert reads == []


class OtherFake(FakeEmbedder):
    """A second model: the same vectors under another id (as int8 is to fp32)."""

    model_id = "qa-tests/other-fake"


register(ModelSpec(OtherFake.model_id, OtherFake.dim, OtherFake))


def test_an_index_keeps_its_model_and_refuses_vectors_of_another(tmp_path, fake_embedder):
    write_articles(tmp_path / "c", 3)
    build(tmp_path / "c", tmp_path / "i", embedder=fake_embedder, progress=False)
    assert read_manifest(tmp_path / "i").model.id == FakeEmbedder.model_id
    with pytest.raises(IndexFormatError, match="built with model .*fake-bag-of-words'.*other-fake"):
        Retriever.load(tmp_path / "i", OtherFake()).ask("harbour", k=1)
    write_articles(tmp_path / "c", 4)
    with pytest.raises(IndexFormatError, match="use the same model"):
        build(tmp_path / "c", tmp_path / "i", embedder=OtherFake(), progress=False)
    asked = []  # a factory is told which model the index needs
    build(
        tmp_path / "c",
        tmp_path / "i",
        embedder=lambda model_id: asked.append(model_id) or FakeEmbedder(),
        progress=False,
    )
    assert asked == [FakeEmbedder.model_id]
    report = build(tmp_path / "c", tmp_path / "i", full=True, embedder=OtherFake(), progress=False)
    assert report.embedded == report.chunks  # a full build may change the model: everything is embedded again
    assert read_manifest(tmp_path / "i").model.id == OtherFake.model_id
    assert Retriever.load(tmp_path / "i").ask("harbour", k=1).passages  # the registry loads the index's model


def _answers(index_dir: Path, embedder) -> list:
    r = Retriever.load(index_dir, embedder)
    qs = ("budget item 21", "roads and schools in town 3", "mayor report")
    return [[(p.article_id, p.start, round(p.score, 5)) for p in r.ask(q, k=5).passages] for q in qs]


def test_vectors_are_on_disk_once_and_both_index_types_answer_alike(tmp_path, fake_embedder):
    """A flat index writes no FAISS file; an HNSW file holds its graph only. Both give the vectors' answers."""
    from qa.config import Config

    write_articles(tmp_path / "c", 12)
    build(tmp_path / "c", tmp_path / "flat", embedder=fake_embedder, progress=False)
    build(tmp_path / "c", tmp_path / "hnsw", embedder=fake_embedder, progress=False, config=Config(hnsw_threshold=0))
    flat, hnsw = read_manifest(tmp_path / "flat"), read_manifest(tmp_path / "hnsw")
    assert "dense" not in flat.files and not list((tmp_path / "flat").glob("dense.*"))
    vectors = (tmp_path / "hnsw" / hnsw.file("vectors")).stat().st_size
    assert (tmp_path / "hnsw" / hnsw.file("dense")).stat().st_size < vectors / 2  # links, not a second copy
    for name in ("flat", "hnsw"):
        idx = Index.open(tmp_path / name)
        assert idx.dense.ntotal == len(idx) and np.array_equal(
            idx.dense.reconstruct_n(0, len(idx)), np.asarray(idx.vectors)
        )
    assert _answers(tmp_path / "flat", fake_embedder) == _answers(tmp_path / "hnsw", fake_embedder)
    # An incremental build grows an HNSW index like a flat one.
    (tmp_path / "c" / "a03.txt").write_text("Story 3 rewritten\n\nA brand new sentence about harbours.\n")
    for name, config in (("flat", Config()), ("hnsw", Config(hnsw_threshold=0))):
        build(tmp_path / "c", tmp_path / name, embedder=fake_embedder, progress=False, config=config)
    assert _answers(tmp_path / "flat", fake_embedder) == _answers(tmp_path / "hnsw", fake_embedder)


def test_an_index_whose_faiss_file_holds_the_vectors_still_opens(tmp_path, fake_embedder):
    """Indexes written before the lean format keep a FAISS file with its own copy of the vectors."""
    import faiss

    from qa.dense import build_dense
    from qa.manifest import commit_manifest, file_sizes

    write_articles(tmp_path / "c", 6)
    build(tmp_path / "c", tmp_path / "i", embedder=fake_embedder, progress=False)
    before = _answers(tmp_path / "i", fake_embedder)
    m = read_manifest(tmp_path / "i")
    vectors = np.load(tmp_path / "i" / m.file("vectors"))
    name = f"dense.{m.generation}.faiss"
    faiss.write_index(build_dense(vectors, m.dense), str(tmp_path / "i" / name))  # as the old writer did
    files = dict(m.files, dense=name)
    commit_manifest(tmp_path / "i", replace(m, files=files, sizes=file_sizes(tmp_path / "i", files)))
    assert _answers(tmp_path / "i", fake_embedder) == before
    (tmp_path / "c" / "a03.txt").write_text("Story 3 rewritten\n\nA brand new sentence about harbours.\n")
    build(tmp_path / "c", tmp_path / "i", embedder=fake_embedder, progress=False)  # grows it into the lean format
    assert "dense" not in read_manifest(tmp_path / "i").files
