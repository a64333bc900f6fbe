"""Incremental builds: only what changed is embedded, and the result equals a full build."""

import gc
import json
import shutil
import weakref
from dataclasses import replace
from pathlib import Path

import bm25s
import numpy as np
import pytest

from qa import Retriever, build
from qa.embed import ModelSpec, register
from qa.errors import BuildLockedError, CorpusError, IndexFormatError
from qa.index import Index
from qa.lexical import TERM_OFFSETS_FILE, TERMS_FILE, DocTerms, terms
from qa.manifest import read_manifest
from tests.conftest import CORPUS
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


def lexical_content(index_dir: Path) -> dict:
    """The BM25 index by term (its ids are arbitrary): each term's documents and weights, and
    each document's terms as saved for the next build."""
    m = read_manifest(index_dir)
    model = bm25s.BM25.load(str(index_dir / m.file("lexical")))
    indptr, indices, data = (np.asarray(model.scores[k]) for k in ("indptr", "indices", "data"))
    columns = {
        term: (indices[indptr[i] : indptr[i + 1]].tolist(), data[indptr[i] : indptr[i + 1]].tolist())
        for term, i in model.vocab_dict.items()
        if i < len(indptr) - 1
    }
    terms = DocTerms.load(index_dir / m.file("lexical"), m.chunks)
    assert terms is not None, "the lexical index keeps its documents' terms"
    return {"columns": columns, "num_docs": int(model.scores["num_docs"]), "docs": term_lists(terms)}


def term_lists(terms: DocTerms) -> list[list[str]]:
    """Each document's terms, as words."""
    return [[terms.vocab[t] for t in terms.ids[a:z]] for a, z in zip(terms.offsets[:-1], terms.offsets[1:])]


def snapshot(index_dir: Path) -> dict:
    """Everything that defines an index's content, without timestamps and generation numbers."""
    idx = Index.open(index_dir)
    m = idx.manifest.to_dict()
    return {
        "chunks": [{k: v for k, v in idx.chunks[i].items()} for i in range(len(idx.chunks))],
        "chunk_table": (index_dir / m["files"]["chunks"]).read_bytes(),
        "article_table": (index_dir / m["files"]["articles"]).read_bytes(),
        "articles": {a: {k: v for k, v in e.items()} for a, e in m["articles"].items()},
        "vectors": np.asarray(idx.vectors).copy(),
        "lexical": lexical_content(index_dir),
    }


def assert_same_index(a: Path, b: Path, embedder) -> None:
    sa, sb = snapshot(a), snapshot(b)
    assert sa["chunks"] == sb["chunks"]
    assert sa["chunk_table"] == sb["chunk_table"]  # unchanged rows are copied as stored, byte for byte
    assert sa["article_table"] == sb["article_table"]  # so are the rows of unchanged articles
    assert sa["lexical"] == sb["lexical"]  # the same BM25 weights, to the bit
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


def test_an_unchanged_article_that_moved_to_another_file_is_cited_from_there(tmp_path, fake_embedder):
    """A move alone makes a new generation (nothing embedded): the index used to keep citing the old
    file. Its row is copied as stored only while it comes from the same file."""
    from qa.status import corpus_status

    corpus = tmp_path / "c"
    corpus.mkdir()
    story = {"id": "story-1", "title": "Harbour plan", "text": "The council approved the harbour plan. Work starts."}
    other = {"id": "story-2", "title": "Roads", "text": "Roads in town 3 will be repaired this summer. Schools too."}
    (corpus / "a.jsonl").write_text(json.dumps(story) + "\n" + json.dumps(other) + "\n")
    build(corpus, tmp_path / "i", embedder=fake_embedder, progress=False)
    (corpus / "a.jsonl").write_text(json.dumps(other) + "\n")
    (corpus / "b.jsonl").write_text(json.dumps(story) + "\n")
    assert corpus_status(corpus, tmp_path / "i").corpus_changed  # `qa status` says the index is behind
    report = build(corpus, tmp_path / "i", embedder=fake_embedder, progress=False)
    assert report.to_dict()["unchanged"] == 2 and report.embedded == 0
    idx = Index.open(tmp_path / "i")
    assert (idx.article("story-1").path, idx.article("story-2").path) == ("b.jsonl", "a.jsonl")
    assert idx.manifest.articles["story-1"].path == "b.jsonl"
    build(corpus, tmp_path / "full", full=True, embedder=fake_embedder, progress=False)
    assert_same_index(tmp_path / "i", tmp_path / "full", fake_embedder)


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


def add_change_delete(corpus: Path) -> None:
    """Delete a01, change a02, add new.md (of a corpus made by write_articles)."""
    (corpus / "a01.txt").unlink()
    (corpus / "a02.txt").write_text("Changed story\n\nThe harbour master resigned on Monday.\n")
    (corpus / "new.md").write_text("---\ntitle: Fresh\nsource: Gazette\ndate: 2021-05-01\n---\nA fresh item.\n")


def test_incremental_equals_full_after_add_change_delete(tmp_path, fake_embedder):
    corpus = tmp_path / "c"
    write_articles(corpus, 10)
    build(corpus, tmp_path / "inc", embedder=fake_embedder, progress=False)
    add_change_delete(corpus)
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


def test_a_small_change_tokenizes_only_its_own_chunks_for_bm25(tmp_path, fake_embedder, monkeypatch):
    import qa.lexical

    corpus = tmp_path / "c"
    write_articles(corpus, 10)
    build(corpus, tmp_path / "inc", embedder=fake_embedder, progress=False)
    add_change_delete(corpus)
    seen: list[str] = []
    real = qa.lexical.tokenize

    def counting(texts):
        texts = list(texts)
        seen.extend(texts)
        return real(texts)

    monkeypatch.setattr(qa.lexical, "tokenize", counting)
    build(corpus, tmp_path / "inc", embedder=fake_embedder, progress=False)
    idx = Index.open(tmp_path / "inc")
    fresh = [idx.chunks[i] for a in ("a02.txt", "new.md") for i in range(*idx.manifest.articles[a].chunks)]
    assert len(seen) == len(fresh) and all("harbour" in t or "fresh item" in t for t in seen)
    build(corpus, tmp_path / "full", embedder=fake_embedder, progress=False, full=True)
    assert len(seen) == len(fresh) + len(idx.chunks)  # a full build tokenizes every chunk
    assert lexical_content(tmp_path / "inc") == lexical_content(tmp_path / "full")


def test_an_index_without_saved_terms_is_tokenized_again_and_grows_them(tmp_path, fake_embedder):
    """An index built before the terms were kept (or whose terms do not fit it) still updates correctly."""
    corpus = tmp_path / "c"
    write_articles(corpus, 6)
    build(corpus, tmp_path / "inc", embedder=fake_embedder, progress=False)
    manifest_path = tmp_path / "inc" / "manifest.json"
    m = json.loads(manifest_path.read_text())
    for name in (TERMS_FILE, TERM_OFFSETS_FILE):
        (tmp_path / "inc" / m["files"]["lexical"] / name).unlink()
        del m["sizes"][f"{m['files']['lexical']}/{name}"]
    manifest_path.write_text(json.dumps(m))
    (corpus / "a03.txt").write_text("Story 3 rewritten\n\nA brand new sentence about harbours.\n")
    build(corpus, tmp_path / "inc", embedder=fake_embedder, progress=False)
    build(corpus, tmp_path / "full", embedder=fake_embedder, progress=False, full=True)
    assert_same_index(tmp_path / "inc", tmp_path / "full", fake_embedder)


@pytest.mark.parametrize("table_role, id_key", [("chunks", "article_id"), ("articles", "id")])
def test_unchanged_rows_are_copied_whatever_their_key_order_and_a_misplaced_row_is_refused(
    tmp_path, fake_embedder, table_role, id_key
):
    """Chunk rows and article rows of unchanged articles are copied as stored: found by a quick byte
    check of the article's id, else parsed to check it; a row that claims another article is refused."""
    corpus = tmp_path / "c"
    write_articles(corpus, 6)
    build(corpus, tmp_path / "inc", embedder=fake_embedder, progress=False)

    def table_of(index_dir: Path) -> Path:
        return index_dir / read_manifest(index_dir).file(table_role)

    def id_last(line: bytes) -> bytes:  # same length, so the offsets and sizes still hold
        row = json.loads(line)
        row[id_key] = row.pop(id_key)
        return (json.dumps(row, ensure_ascii=False) + "\n").encode()

    table = table_of(tmp_path / "inc")
    table.write_bytes(b"".join(id_last(x) for x in table.read_bytes().splitlines(keepends=True)))
    (corpus / "a03.txt").write_text("Story 3 rewritten\n\nA brand new sentence about harbours.\n")
    build(corpus, tmp_path / "inc", embedder=fake_embedder, progress=False)
    build(corpus, tmp_path / "full", embedder=fake_embedder, progress=False, full=True)
    rows = {d: [json.loads(x) for x in table_of(tmp_path / d).read_bytes().splitlines()] for d in ("inc", "full")}
    assert rows["inc"] == rows["full"]

    data = table_of(tmp_path / "inc").read_bytes()
    assert data.splitlines()[0].endswith(f'"{id_key}": "a00.txt"}}'.encode())  # unchanged: copied as stored
    # Row 0 now claims another article (an id of the same length: offsets and sizes still hold).
    table_of(tmp_path / "inc").write_bytes(
        data.replace(f'"{id_key}": "a00.txt"'.encode(), f'"{id_key}": "a05.txt"'.encode(), 1)
    )
    (corpus / "a04.txt").write_text("Story 4 rewritten\n\nFerries stopped running.\n")
    with pytest.raises(IndexFormatError, match="out of order"):
        build(corpus, tmp_path / "inc", embedder=fake_embedder, progress=False)


def test_a_rebuild_parses_no_stored_row_of_an_unchanged_article(tmp_path, fake_embedder, monkeypatch):
    """Their chunk rows and article rows (each article's whole text) are copied as stored."""
    from qa import store

    corpus = tmp_path / "c"
    write_articles(corpus, 6)
    build(corpus, tmp_path / "i", embedder=fake_embedder, progress=False)
    parsed = []
    real_getitem = store.JsonlTable.__getitem__

    def counting(table, row):
        parsed.append((table.path.name.split(".")[0], row))
        return real_getitem(table, row)

    monkeypatch.setattr(store.JsonlTable, "__getitem__", counting)
    (corpus / "a03.txt").write_text("Story 3 rewritten\n\nA brand new sentence about harbours.\n")
    assert build(corpus, tmp_path / "i", embedder=fake_embedder, progress=False).embedded > 0
    assert parsed == []


def test_doc_terms_join_pieces_of_different_vocabularies():
    old = DocTerms(np.array([0, 1, 1, 2, 3]), np.array([0, 2, 4, 5]), ["harbour", "master", "ferry", "gone"])
    new = DocTerms(np.array([0, 1]), np.array([0, 2]), ["ferry", "strike"])
    joined = DocTerms.join([(old, 0, 1), (new, 0, 1), (old, 1, 2)])  # "gone" (doc 2 of old) is left out
    assert term_lists(joined) == [["harbour", "master"], ["ferry", "strike"], ["master", "ferry"]]
    assert sorted(joined.vocab) == ["ferry", "harbour", "master", "strike"]  # no unused term, none twice


def test_doc_terms_hand_bm25s_lists_that_share_one_object_per_term():
    """A list per document, as bm25s.tokenize makes them: each term's int object is shared, so a
    large corpus costs a pointer per term, not a new int object per term as well."""
    vocab = [f"t{i}" for i in range(1000)]
    terms = DocTerms(np.array([999, 500, 999, 500, 3], dtype=np.int32), np.array([0, 2, 5]), vocab)
    lists = terms.doc_lists()
    assert lists == [[999, 500], [999, 500, 3]]
    assert lists[0][0] is lists[1][0] and lists[0][1] is lists[1][1]


def _bm25s_own_index(terms: DocTerms, **params):
    model = bm25s.BM25(**params)
    vocab = {t: i for i, t in enumerate(terms.vocab)}
    model.index(bm25s.tokenization.Tokenized(ids=terms.doc_lists(), vocab=vocab), show_progress=False)
    return model


@pytest.mark.parametrize("params", [{}, {"k1": 0.9, "b": 0.4}, {"method": "robertson"}])
def test_bm25_weights_from_terms_are_bm25s_own_bit_for_bit(params, tmp_path):
    """qa computes Lucene BM25's weights over whole arrays (lexical.lucene_weights); bm25s's indexing is the
    reference: the shipped articles' paragraphs, an empty document, a repeated term, a term used once."""
    from qa.lexical import LexicalIndex, lucene_weights

    texts = [p for f in sorted(CORPUS.glob("*.txt")) for p in f.read_text(encoding="utf-8").split("\n") if p]
    texts += ["", "strike strike strike strike", "zeppelin"]
    terms = DocTerms.of_texts(texts)
    ours = LexicalIndex.from_terms(terms, **params).model
    theirs = _bm25s_own_index(terms, **params)
    for key in ("data", "indices", "indptr"):
        assert ours.scores[key].dtype == theirs.scores[key].dtype
        assert np.array_equal(ours.scores[key], theirs.scores[key]), key
    assert ours.scores["num_docs"] == theirs.scores["num_docs"] == len(texts)
    assert ours.vocab_dict == theirs.vocab_dict and ours.unique_token_ids_set == theirs.unique_token_ids_set
    assert np.array_equal(ours.get_scores(["strike"]), theirs.get_scores(["strike"]))
    ours.save(str(tmp_path / "ours"), show_progress=False)
    theirs.save(str(tmp_path / "theirs"), show_progress=False)
    saved = sorted(p.name for p in (tmp_path / "theirs").iterdir())
    assert saved == sorted(p.name for p in (tmp_path / "ours").iterdir())
    assert all((tmp_path / "ours" / n).read_bytes() == (tmp_path / "theirs" / n).read_bytes() for n in saved)
    blocks = lucene_weights(terms, 1.5, 0.75, "float32", "int32", block=50)  # many small blocks: the same
    plain = _bm25s_own_index(terms).scores
    assert all(np.array_equal(blocks[key], plain[key]) for key in ("data", "indices", "indptr"))


@pytest.mark.parametrize("block", [10**9, 7])
def test_full_build_bm25_in_blocks_scores_as_bm25s_own_indexing(block):
    """A full build tokenizes a block of documents at a time and weights them over arrays (its memory
    stays low at 200,000 articles); bm25s's own tokenize and index over all the texts is the reference.
    bm25s numbers its vocabulary in set order, so term ids may differ: every term scores the same."""
    from qa.lexical import LexicalIndex, tokenize

    texts = [p for f in sorted(CORPUS.glob("*.txt")) for p in f.read_text(encoding="utf-8").split("\n") if p]
    texts += ["", "strike strike strike strike", "zeppelin"]
    ours = LexicalIndex.build(iter(texts), block=block)
    theirs = bm25s.BM25()
    theirs.index(tokenize(texts), show_progress=False)
    assert ours.size == len(texts) and set(ours.model.vocab_dict) == set(theirs.vocab_dict)
    for term in filter(None, theirs.vocab_dict):  # "": beyond the matrix in both, never asked for by qa
        assert np.array_equal(ours.model.get_scores([term]), theirs.get_scores([term])), term
    assert ours.model.scores["data"].dtype == theirs.scores["data"].dtype
    assert [ours.terms.vocab[i] for i in ours.terms.ids[:12]] == terms(texts[0])[:12]  # the terms kept for rebuilds


def test_doc_terms_that_do_not_fit_the_index_are_not_used(tmp_path):
    terms = DocTerms(np.array([0, 1, 1]), np.array([0, 2, 3]), ["harbour", "master"])
    terms.save(tmp_path)
    (tmp_path / "vocab.index.json").write_text(json.dumps({"harbour": 0, "master": 1, "": 2}))
    assert DocTerms.load(tmp_path, 2) is not None
    assert DocTerms.load(tmp_path, 3) is None  # another number of documents
    (tmp_path / "vocab.index.json").write_text(json.dumps({"harbour": 0}))
    assert DocTerms.load(tmp_path, 2) is None  # a term id past the vocabulary
    (tmp_path / "vocab.index.json").write_text(json.dumps(["harbour", "master"]))
    assert DocTerms.load(tmp_path, 2) is None  # not a term -> id mapping
    (tmp_path / TERMS_FILE).write_bytes(b"not an array")
    assert DocTerms.load(tmp_path, 2) is None


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


def test_an_index_keeps_its_chunking_when_no_settings_are_given(tmp_path, fake_embedder):
    """Built with other chunking (qa.build(config=...), qa eval --chunk-tokens), an index grows with it when
    `qa build` or the web app builds without settings, as it keeps its model; given settings still decide."""
    from qa.config import Config

    write_articles(tmp_path / "c", 2)
    build(tmp_path / "c", tmp_path / "i", embedder=fake_embedder, progress=False, config=Config(chunk_tokens=24))
    small = read_manifest(tmp_path / "i")
    write_articles(tmp_path / "c", 3)  # one more article
    report = build(tmp_path / "c", tmp_path / "i", embedder=fake_embedder, progress=False)
    grown = read_manifest(tmp_path / "i")
    assert report.added == ["a02.txt"] and not report.changed and grown.chunking == small.chunking
    assert grown.chunking["chunk_tokens"] == 24
    index = Index.open(tmp_path / "i")
    try:  # the new article is cut as the others were: as many chunks as its twin a01
        per_article = {a: int((np.asarray(index.chunk_article) == index.article_row(a)).sum()) for a in grown.articles}
    finally:
        index.close()
    assert per_article["a02.txt"] == per_article["a01.txt"] > 1
    with pytest.raises(IndexFormatError, match="qa build --full"):  # settings given: they must match
        build(tmp_path / "c", tmp_path / "i", embedder=fake_embedder, progress=False, config=Config())
    fresh = build(tmp_path / "c", tmp_path / "i", embedder=fake_embedder, progress=False, full=True)
    assert fresh.documents == 3 and read_manifest(tmp_path / "i").chunking == Config().chunking_params()


def test_an_index_keeps_its_bm25_and_hnsw_settings_when_no_settings_are_given(tmp_path, fake_embedder):
    """BM25 and the HNSW graph are made again at every build: one that is given no settings makes them with
    what the index was built with (its manifest), not the defaults; --full goes back to the defaults."""
    from qa.config import Config

    chosen = Config(bm25_k1=1.2, bm25_b=0.5, hnsw_threshold=0, hnsw_m=8, hnsw_ef_construction=20)
    write_articles(tmp_path / "c", 2)
    build(tmp_path / "c", tmp_path / "i", embedder=fake_embedder, progress=False, config=chosen)
    write_articles(tmp_path / "c", 3)
    report = build(tmp_path / "c", tmp_path / "i", embedder=fake_embedder, progress=False)
    grown = read_manifest(tmp_path / "i")
    assert report.added == ["a02.txt"] and grown.documents == 3
    assert (grown.lexical["k1"], grown.lexical["b"]) == (1.2, 0.5)
    assert grown.dense["type"] == "hnsw" and (grown.dense["M"], grown.dense["efConstruction"]) == (8, 20)
    assert Retriever.load(tmp_path / "i", fake_embedder).ask("What did the council of town 2 vote on?").passages
    build(tmp_path / "c", tmp_path / "i", embedder=fake_embedder, progress=False, full=True)
    fresh, defaults = read_manifest(tmp_path / "i"), Config()
    assert (fresh.lexical["k1"], fresh.lexical["b"]) == (defaults.bm25_k1, defaults.bm25_b)
    assert fresh.dense["type"] == "flat" and fresh.dense["hnsw_threshold"] == defaults.hnsw_threshold

    # An index from before the threshold was recorded grows with the default one.
    path = tmp_path / "i" / "manifest.json"
    old = json.loads(path.read_text(encoding="utf-8"))
    del old["dense"]["hnsw_threshold"]
    path.write_text(json.dumps(old), encoding="utf-8")
    write_articles(tmp_path / "c", 4)
    build(tmp_path / "c", tmp_path / "i", embedder=fake_embedder, progress=False)
    assert read_manifest(tmp_path / "i").dense == fresh.dense  # flat, the default threshold recorded again


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


class TrackedFake(FakeEmbedder):
    """The fake model under its own id; each instance it makes is watched by a weak reference."""

    model_id = "qa-tests/fake-tracked"
    made: list = []

    def __init__(self):
        super().__init__()
        TrackedFake.made.append(weakref.ref(self))


register(ModelSpec(TrackedFake.model_id, TrackedFake.dim, TrackedFake))


def test_a_build_lets_go_of_the_model_it_loaded_before_writing_the_index(tmp_path, monkeypatch):
    """The index is written (where a large build peaks) without the model it embedded with in memory;
    a model the caller gave stays theirs."""
    import qa.builder

    write_articles(tmp_path / "c", 3)
    given = TrackedFake()
    build(tmp_path / "c", tmp_path / "i", embedder=given, progress=False)
    alive_while_writing = []
    real_write = qa.builder.write_generation

    def writing(*args, **kwargs):
        gc.collect()
        alive_while_writing.append([ref() is not None for ref in TrackedFake.made])
        return real_write(*args, **kwargs)

    monkeypatch.setattr(qa.builder, "write_generation", writing)
    write_articles(tmp_path / "c", 5)  # two new articles: the index's model is loaded to embed them
    report = build(tmp_path / "c", tmp_path / "i", progress=False)
    assert report.embedded > 0 and len(TrackedFake.made) == 2
    assert alive_while_writing == [[True, False]]  # the given one is alive, the loaded one was let go
    assert read_manifest(tmp_path / "i").model.id == TrackedFake.model_id
    assert Retriever.load(tmp_path / "i", given).ask("harbour", k=1).passages


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
