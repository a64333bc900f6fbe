"""A loaded index generation. It holds data, never a model: the retriever composes the two."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import numpy as np

from . import store
from .dense import build_dense, load_dense
from .domain import Article
from .embed import check_model
from .errors import IndexFormatError
from .highlight import IdfTable
from .lexical import LexicalIndex
from .manifest import Manifest, manifest_stamp, read_manifest, verify_sizes


def parse_date(value: str | date | None, what: str = "date") -> date | None:
    """Accept 'YYYY-MM-DD' (or a date); a clear error otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ValueError(f"{what} must look like YYYY-MM-DD, got {value!r}") from None


class Index:
    def __init__(self, index_dir: Path, manifest: Manifest):
        self.dir = index_dir
        self.manifest = manifest
        fix = store.FIX
        # The model a retriever must embed questions with: refused here, at open, if it cannot be loaded.
        self.model_id = manifest.model.id
        self.dim = check_model(manifest.model, index_dir).dim
        verify_sizes(index_dir, manifest)
        n_chunks = manifest.chunks
        self.article_ids: list[str] = list(manifest.articles)
        self.chunks = store.JsonlTable(index_dir / manifest.file("chunks"), index_dir / manifest.file("chunk_offsets"))
        self.articles = store.JsonlTable(
            index_dir / manifest.file("articles"), index_dir / manifest.file("article_offsets")
        )
        if len(self.chunks) != n_chunks or len(self.articles) != len(self.article_ids):
            raise IndexFormatError(f"index tables in {index_dir} do not match the manifest counts; {fix}")
        try:
            self.chunk_article = np.load(index_dir / manifest.file("chunk_article"), mmap_mode="r", allow_pickle=False)
            self.vectors = np.load(index_dir / manifest.file("vectors"), mmap_mode="r", allow_pickle=False)
        except Exception as exc:  # noqa: BLE001 - numpy raises many kinds on a damaged header
            raise IndexFormatError(f"index arrays in {index_dir} are missing or unreadable ({exc}); {fix}") from exc
        if self.vectors.shape != (n_chunks, self.dim) or self.chunk_article.shape != (n_chunks,):
            raise IndexFormatError(f"index arrays in {index_dir} do not match the manifest; {fix}")
        self.dense_spec = manifest.dense
        self.dense = open_dense(index_dir, manifest, self.dim)
        try:
            self.lexical = LexicalIndex.load(index_dir / manifest.file("lexical"))
        except Exception as exc:  # noqa: BLE001 - bm25s raises many kinds on bad files
            raise IndexFormatError(f"lexical index in {index_dir} is missing or corrupt ({exc}); {fix}") from exc
        if n_chunks and self.lexical.size != n_chunks:
            raise IndexFormatError(f"lexical index in {index_dir} does not match the manifest; {fix}")
        entries = list(manifest.articles.values())
        self.sources = sorted({e.source or "" for e in entries} - {""})
        code = {s: i for i, s in enumerate(self.sources)}
        self.article_source = np.array([code.get(e.source or "", -1) for e in entries], dtype=np.int32)
        self.article_date = np.array([_day(e.date) for e in entries], dtype=np.int64)
        self.stamp: tuple[int, int, int] | None = None  # manifest.json as it was when opened (Index.open)
        self._idf: dict[str, float] | None = None
        self._rows: dict[str, int] | None = None

    @classmethod
    def open(cls, index_dir: str | Path) -> Index:
        """Open the live generation; retries if a build swaps it while we open."""
        index_dir = Path(index_dir)
        for attempt in range(3):
            stamp = manifest_stamp(index_dir)  # before reading: a commit in between only costs a re-read
            manifest = read_manifest(index_dir)
            try:
                index = cls(index_dir, manifest)
                index.stamp = stamp
                return index
            except IndexFormatError:
                # A build may have committed and removed these files meanwhile.
                if attempt == 2 or read_manifest(index_dir).generation == manifest.generation:
                    raise
                time.sleep(0.05)
        raise AssertionError("unreachable")

    @property
    def generation(self) -> int:
        return self.manifest.generation

    def vector_rows(self, rows) -> np.ndarray:
        """The vectors of chunk rows as float32 (vectors.<g>.npy stores float16: qa.store.VECTOR_DTYPE)."""
        return np.asarray(self.vectors[rows], dtype=np.float32)

    def __len__(self) -> int:
        return len(self.chunks)

    def article_row(self, article_id: str) -> int:
        if self._rows is None:
            self._rows = {a: i for i, a in enumerate(self.article_ids)}
        if article_id not in self._rows:
            raise KeyError(f"no article {article_id!r} in the index")
        return self._rows[article_id]

    def article(self, article_id: str) -> Article:
        row = self.articles[self.article_row(article_id)]
        row.pop("hash", None)
        return Article(**row)

    def place(self, article_id: str) -> str | None:
        """Where the article was filed (Article.place), from the articles table (None: unknown, or an older index)."""
        return self.articles[self.article_row(article_id)].get("place")

    def idf(self) -> dict[str, float]:
        if self._idf is None:
            self._idf = IdfTable(self.lexical.document_frequency())
        return self._idf

    def allowed_rows(self, sources=None, since=None, until=None) -> np.ndarray | None:
        """Chunk rows that pass the filters (None: no filter). Applied before top-k."""
        since, until = parse_date(since, "since"), parse_date(until, "until")
        if not sources and since is None and until is None:
            return None
        ok = np.ones(len(self.article_ids), dtype=bool)
        if sources:
            wanted = {s.casefold() for s in sources}
            codes = [i for i, s in enumerate(self.sources) if s.casefold() in wanted]
            ok &= np.isin(self.article_source, codes)
        if since is not None:
            ok &= self.article_date >= since.toordinal()
        if until is not None:
            ok &= (self.article_date <= until.toordinal()) & (self.article_date > 0)
        return np.flatnonzero(ok[np.asarray(self.chunk_article)])

    def close(self) -> None:
        self.chunks.close()
        self.articles.close()


def open_dense(index_dir: Path, manifest: Manifest, dim: int):
    """The generation's FAISS index, its vectors read once from vectors.<g>.npy.

    This qa writes no FAISS file for a flat index (it is the vectors: made here)
    and an HNSW file without its vectors (they are given back here), so the
    vectors are on disk once. An older generation's FAISS file holds its own
    copy of them and is read as it is.
    """
    vectors = index_dir / manifest.file("vectors")
    blocks = store.npy_blocks(vectors)  # read only if needed
    if "dense" in manifest.files:
        table = store.NpyRows(vectors)
        half = table.dtype == np.float16  # float32 in indexes from before 368be97
        table.close()
        return load_dense(index_dir / manifest.file("dense"), manifest.chunks, dim, store.FIX, blocks, half)
    if manifest.dense["type"] != "flat":
        raise IndexFormatError(f"the manifest of {index_dir} names no file for its HNSW index; {store.FIX}")
    index = build_dense(np.zeros((0, dim), dtype=np.float32), manifest.dense)
    for block in blocks:
        index.add(block)
    return index


def _day(value: str | None) -> int:
    """Date as a day number; 0 for unknown (excluded by since/until filters)."""
    if not value:
        return 0
    try:
        return date.fromisoformat(value[:10]).toordinal()
    except ValueError:
        return 0
