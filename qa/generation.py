"""One generation of an index: what to redo (the plan), the records that travel, and the one writer.

Both build engines (qa.builder in this process, qa.ray_engine on a cluster)
run the same steps here and differ only in how the chunks of new and changed
articles get read, chunked and embedded:

    with open_build(index_dir, full, config) as start:   # lock, previous generation, cache wipe
        plan = diff(start.old, {article id: hash}, {article id: file})  # added / changed / deleted / moved
        ... the engine chunks and embeds plan.fresh ...
        write_generation(start, planned articles, ...)    # files, then manifest.json (the commit)

So the property the tests work hardest to prove, that both engines write the
same index, rests on one copy of the code that writes it.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

import numpy as np

from . import store
from .config import Config
from .dense import build_dense, index_spec, save_dense
from .domain import Article, Chunk, Skipped, text_hash
from .embed import Embedder
from .errors import BuildLockedError, IndexFormatError
from .lexical import DocTerms, LexicalIndex
from .manifest import (
    ArticleEntry,
    Manifest,
    ModelInfo,
    commit_manifest,
    file_sizes,
    generation_files,
    read_manifest,
    verify_sizes,
)

log = logging.getLogger("qa.build")

# on_progress(stage, done, total): lets the UI draw its own progress bar.
ProgressFn = Callable[[str, int, int], None]


# --- records ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChunkRow:
    """One row of the chunk table: a chunk, the hash of what was embedded, and its sentence spans."""

    id: str
    article_id: str
    ordinal: int
    start: int
    end: int
    text: str
    title: str
    hash: str  # sha256 of embed_text: the embedding cache's key
    sentences: tuple[tuple[int, int], ...] = ()

    @classmethod
    def from_chunk(cls, chunk: Chunk) -> ChunkRow:
        return cls(
            chunk.id,
            chunk.article_id,
            chunk.ordinal,
            chunk.start,
            chunk.end,
            chunk.text,
            chunk.title,
            text_hash(chunk.embed_text),
            tuple(chunk.sentences),
        )

    @classmethod
    def from_dict(cls, row: dict) -> ChunkRow:
        return cls(
            row["id"],
            row["article_id"],
            row["ordinal"],
            row["start"],
            row["end"],
            row["text"],
            row.get("title") or "",
            row["hash"],
            tuple(tuple(s) for s in row.get("sentences") or ()),
        )

    @property
    def embed_text(self) -> str:
        return Chunk(self.article_id, self.ordinal, self.start, self.end, self.text, self.title).embed_text

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "article_id": self.article_id,
            "ordinal": self.ordinal,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "title": self.title,
            "hash": self.hash,
            "sentences": [list(s) for s in self.sentences],
        }


@dataclass(frozen=True)
class ArticleMeta:
    """What the manifest records of an article, before its chunk range is known."""

    id: str
    hash: str
    title: str | None
    source: str | None
    date: str | None
    path: str | None

    @classmethod
    def of(cls, article: Article) -> ArticleMeta:
        return cls(article.id, article.hash, article.title, article.source, article.date, article.path)

    def entry(self, first: int, end: int) -> ArticleEntry:
        return ArticleEntry(self.hash, (first, end), self.title, self.source, self.date, self.path)


def article_record(article: Article) -> dict:
    """The row of the articles table: the cleaned text that chunk offsets point into."""
    return dict(article.to_dict(), hash=article.hash)


@dataclass
class BuildReport:
    documents: int = 0
    chunks: int = 0
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    embedded: int = 0
    seconds: float = 0.0
    generation: int = 0

    def to_dict(self) -> dict:
        """The `qa build --json` object: counts only."""
        return {
            "documents": self.documents,
            "chunks": self.chunks,
            "added": len(self.added),
            "changed": len(self.changed),
            "deleted": len(self.deleted),
            "unchanged": self.unchanged,
            "skipped": len(self.skipped),
            "embedded": self.embedded,
            "seconds": round(self.seconds, 3),
        }

    def summary(self) -> str:
        d = self.to_dict()
        return (
            f"{_counted(d['documents'], 'document')}, {_counted(d['chunks'], 'chunk')}: {d['added']} added, "
            f"{d['changed']} changed, {d['deleted']} deleted, {d['unchanged']} unchanged, {d['skipped']} skipped; "
            f"{_counted(d['embedded'], 'chunk')} embedded in {d['seconds']:.1f}s"
        )


def _counted(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


# --- the plan -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """How the scanned corpus differs from the previous generation (ids in sorted order)."""

    added: tuple[str, ...]
    changed: tuple[str, ...]
    deleted: tuple[str, ...]
    unchanged: frozenset[str]
    moved: tuple[str, ...] = ()  # unchanged, but now read from another file: cited from there

    @property
    def nothing_to_do(self) -> bool:
        return not (self.added or self.changed or self.deleted or self.moved)

    def is_fresh(self, article_id: str) -> bool:
        """True if the article must be chunked and embedded (new or changed)."""
        return article_id not in self.unchanged

    def apply_to(self, report: BuildReport) -> None:
        report.added, report.changed, report.deleted = list(self.added), list(self.changed), list(self.deleted)
        report.unchanged = len(self.unchanged)


def diff(old: Manifest | None, hashes: Mapping[str, str], paths: Mapping[str, str | None] | None = None) -> Plan:
    """Compare the scanned corpus ({article id: hash}, and {article id: file} if known) with the
    previous generation (None: a new index)."""
    before = old.articles if old is not None else {}
    added, changed, unchanged, moved = [], [], [], []
    for aid in sorted(hashes):
        entry = before.get(aid)
        if entry is None:
            added.append(aid)
        elif entry.hash != hashes[aid]:
            changed.append(aid)
        else:
            unchanged.append(aid)
            if paths is not None and entry.path != paths.get(aid):
                moved.append(aid)
    deleted = sorted(set(before) - set(hashes))
    return Plan(tuple(added), tuple(changed), tuple(deleted), frozenset(unchanged), tuple(moved))


# --- starting a build ---------------------------------------------------------------------------------


@contextmanager
def locked_index(index_dir: Path, lock_timeout: float = 0) -> Iterator[None]:
    """Create index_dir if needed and hold its build lock: one build at a time, whatever the engine."""
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise IndexFormatError(f"{index_dir} exists and is not a directory; pass a directory for the index") from None
    from filelock import FileLock, Timeout

    lock = FileLock(str(index_dir / store.LOCK))
    try:
        lock.acquire(timeout=lock_timeout)
    except Timeout:
        raise BuildLockedError(
            f"another build is running on {index_dir}; wait for it to finish, then run this again"
        ) from None
    try:
        yield
    finally:
        lock.release()


@dataclass(frozen=True)
class BuildStart:
    """What a locked build starts from."""

    index_dir: Path
    config: Config  # fitted to the model's window (qa.chunk.fit_to_model)
    old: Manifest | None  # the generation to grow (None: a new index, or a full build)
    current: Manifest | None  # the committed generation, if readable (its number is the next one's base)
    model_id: str | None = None  # the model of this build: the grown index's, or the one asked for; None: the default


@contextmanager
def open_build(
    index_dir: Path, full: bool, config: Config | None, lock_timeout: float = 0, model: str | None = None
) -> Iterator[BuildStart]:
    """Lock the index, read the generation to grow, collect dead files; a full build also drops the cache.

    `model` is the id of the model asked for (`--model`): an index built with another one is only
    rebuilt with it from scratch (full), never mixed. `config` None: the defaults, except that an index
    grown keeps the chunking, BM25 and HNSW settings it was built with (as it keeps its model), so `qa build`
    and the web app's builds update an index that `qa.build(..., config=...)` or `qa eval --chunk-tokens` made.
    """
    with locked_index(index_dir, lock_timeout):
        old = _previous(index_dir, full)
        if model is not None and old is not None and model != old.model.id:
            raise IndexFormatError(
                f"the index in {index_dir} was built with model {old.model.id!r}, not {model!r}; to rebuild it "
                "with the new model: qa build --full --model PATH (or leave out --model to keep the index's model)"
            )
        model = old.model.id if old is not None else model
        config = _fitted(config if config is not None else _built_as(old), model)
        if old is not None and old.chunking != config.chunking_params():
            raise IndexFormatError(
                f"index in {index_dir} was chunked with {old.chunking}, "
                f"the current settings are {config.chunking_params()}; {store.FIX}"
            )
        current = _live_generation(index_dir)
        if full:  # from scratch: nothing cached is trusted
            for suffix in ("", "-wal", "-shm"):
                (index_dir / (store.CACHE + suffix)).unlink(missing_ok=True)
        yield BuildStart(index_dir, config, old, current, model)


def _built_as(old: Manifest | None) -> Config:
    """The default config with what an existing index was built with (the defaults for a new one): its
    chunking, its BM25 k1 and b, its HNSW threshold and its graph's M and efConstruction, as its manifest
    records them.
    BM25 and the graph are made again at every build, so without this a later `qa build` would quietly
    put back the defaults in place of settings chosen with qa.build(..., config=...)."""
    defaults = Config()
    if old is None:
        return defaults
    known = defaults.chunking_params()
    kept: dict = {k: v for k, v in old.chunking.items() if k in known}
    if "k1" in old.lexical and "b" in old.lexical:
        kept.update(bm25_k1=float(old.lexical["k1"]), bm25_b=float(old.lexical["b"]))
    if isinstance(old.dense.get("hnsw_threshold"), int):  # not recorded before 2026-12-08
        kept["hnsw_threshold"] = old.dense["hnsw_threshold"]
    if old.dense.get("type") == "hnsw":
        kept.update(hnsw_m=int(old.dense["M"]), hnsw_ef_construction=int(old.dense["efConstruction"]))
    return replace(defaults, **kept)


def _fitted(config: Config, model_id: str | None) -> Config:
    """The config with chunks that fit the window of the build's model (the default model's when None)."""
    from .chunk import fit_to_model
    from .embed import registered

    spec = registered(model_id)
    return fit_to_model(config, spec.max_tokens if spec is not None else None)


def _previous(index_dir: Path, full: bool) -> Manifest | None:
    if full or not (index_dir / "manifest.json").exists():
        return None
    from .embed import check_model

    old = read_manifest(index_dir)
    check_model(old.model, index_dir)
    verify_sizes(index_dir, old)  # a damaged index is not silently kept as "unchanged"
    return old


def _live_generation(index_dir: Path) -> Manifest | None:
    """The committed manifest (None if unreadable), after removing files no reader can be using."""
    try:
        current: Manifest | None = read_manifest(index_dir)
    except IndexFormatError:
        current = None
    # Readers may be using the live generation (and the one before): keep both.
    keep = {current.generation, current.previous_generation} if current else set()
    store.collect_garbage(index_dir, {g for g in keep if g is not None})
    return current


def nothing_changed(start: BuildStart, plan: Plan, report: BuildReport) -> bool:
    """True (and the report filled in) when the live generation already is this corpus."""
    if start.old is None or not plan.nothing_to_do:
        return False
    report.documents, report.chunks, report.generation = start.old.documents, start.old.chunks, start.old.generation
    return True


# --- the data of one article, wherever it comes from --------------------------------------------------


class ArticleData(Protocol):
    """Random access to the chunk rows, vectors and article record of the articles an engine produced."""

    def rows(self, article_id: str) -> Iterable[ChunkRow]: ...

    def vectors(self, article_id: str) -> np.ndarray: ...

    def record(self, article_id: str) -> dict: ...


@dataclass(frozen=True)
class PlannedArticle:
    """One article of the next generation: its metadata, its chunk count and where its data is."""

    meta: ArticleMeta
    n_chunks: int
    data: ArticleData


class PreviousGeneration:
    """The rows, vectors and records of unchanged articles, read from the generation being grown."""

    def __init__(self, index_dir: Path, manifest: Manifest):
        self.manifest = manifest
        # Read, not mapped: one pass over the old generation keeps one article's data resident, not the files.
        path = {key: index_dir / name for key, name in manifest.files.items()}
        self._chunks = store.JsonlTable(path["chunks"], path["chunk_offsets"], mapped=False)
        self._articles = store.JsonlTable(path["articles"], path["article_offsets"], mapped=False)
        self._vectors = store.NpyRows(path["vectors"])
        self._row_of = {aid: i for i, aid in enumerate(manifest.articles)}
        self._where = index_dir

    def chunk_range(self, article_id: str) -> tuple[int, int]:
        lo, hi = self.manifest.articles[article_id].chunks
        return lo, hi

    def n_chunks(self, article_id: str) -> int:
        lo, hi = self.chunk_range(article_id)
        return hi - lo

    def doc_terms(self) -> DocTerms | None:
        """The BM25 terms of this generation's chunks, if its lexical index kept them."""
        return DocTerms.load(self._where / self.manifest.file("lexical"), self.manifest.chunks)

    def rows(self, article_id: str) -> Iterator[ChunkRow]:
        lo, hi = self.chunk_range(article_id)
        for i in range(lo, hi):
            row = self._chunks[i]
            if row.get("article_id") != article_id:
                raise IndexFormatError(f"chunk table of {self._where} is out of order; {store.FIX}")
            yield ChunkRow.from_dict(row)

    def encoded_rows(self, article_id: str) -> Iterator[bytes]:
        """The article's chunk rows as stored, for copying into the next table unparsed.

        Each line must hold the article's id as its "article_id" value (the check rows() makes).
        As ChunkRow.to_dict writes it, the line holds `"article_id": <id>,`: inside a JSON string
        a quote is escaped, so that text can only be the key and its value. A line written
        otherwise (another key order) is parsed to check it.
        """
        lo, hi = self.chunk_range(article_id)
        mark = f'"article_id": {json.dumps(article_id, ensure_ascii=False)},'.encode()
        for i in range(lo, hi):
            line = self._chunks.raw(i)
            if mark not in line and self._chunks[i].get("article_id") != article_id:
                raise IndexFormatError(f"chunk table of {self._where} is out of order; {store.FIX}")
            yield line

    def vectors(self, article_id: str) -> np.ndarray:
        return self._vectors.rows(*self.chunk_range(article_id))

    def record(self, article_id: str) -> dict:
        record = self._articles[self._row_of[article_id]]
        if record.get("id") != article_id:
            raise IndexFormatError(f"articles table of {self._where} is out of order; {store.FIX}")
        return record

    def encoded_record(self, article_id: str, path: str | None) -> bytes | None:
        """The article's row as stored, for copying into the next table unparsed; None if the
        article now comes from another file (its row must then say so, so it is written anew).

        The row must hold the article's id (the check record() makes). As article_record writes
        it, the line starts with `{"id": <id>,`; a line written otherwise is parsed to check it.
        """
        if self.manifest.articles[article_id].path != path:
            return None
        line = self._articles.raw(self._row_of[article_id])
        if not line.startswith(b'{"id": ' + json.dumps(article_id, ensure_ascii=False).encode() + b","):
            self.record(article_id)
        return line

    def close(self) -> None:
        self._chunks.close()
        self._articles.close()
        self._vectors.close()


@dataclass
class _Spilled:
    """Where one article's data waits in a spill file: (offset, length) in bytes of each part."""

    record: tuple[int, int]
    rows: tuple[int, int]
    n_rows: int
    vectors: tuple[int, int] | None = None
    dim: int = 0


class SpilledArticles:
    """New and changed articles of a local build, waiting in a spill file until the writer reads them.

    Why: the build then holds a few offsets per article, not the corpus's text,
    chunk rows and vectors, so its memory does not grow with the corpus (the
    Ray driver keeps its results in one too). Records and rows are appended as
    articles are chunked, vectors once their embedding window is done.
    """

    def __init__(self, path: Path):
        self._file = open(path, "w+b")  # noqa: SIM115 - closed by close(), after the writer has read it
        self._at: dict[str, _Spilled] = {}

    def _append(self, data: bytes) -> tuple[int, int]:
        self._file.seek(0, 2)
        at = (self._file.tell(), len(data))
        self._file.write(data)
        return at

    def _read(self, at: tuple[int, int]) -> bytes:
        self._file.seek(at[0])
        return self._file.read(at[1])

    def add(self, article: Article, rows: Sequence[ChunkRow]) -> None:
        record = json.dumps(article_record(article), ensure_ascii=False).encode("utf-8")
        table = json.dumps([r.to_dict() for r in rows], ensure_ascii=False).encode("utf-8")
        self.put(article.id, record, table, len(rows))

    def put(self, article_id: str, record: bytes, rows: bytes, n_rows: int) -> None:
        """An article already encoded (its record, and its chunk rows as a JSON list), as Ray's actors send it;
        putting an id again points it at the new data."""
        self._at[article_id] = _Spilled(self._append(record), self._append(rows), n_rows)

    def set_vectors(self, article_id: str, vectors: np.ndarray) -> None:
        at = self._at[article_id]
        at.vectors, at.dim = self._append(np.ascontiguousarray(vectors, dtype=np.float32).tobytes()), vectors.shape[1]

    def n_chunks(self, article_id: str) -> int:
        return self._at[article_id].n_rows

    def rows(self, article_id: str) -> Iterator[ChunkRow]:
        for row in json.loads(self._read(self._at[article_id].rows)):
            yield ChunkRow.from_dict(row)

    def vectors(self, article_id: str) -> np.ndarray:
        at = self._at[article_id]
        if at.vectors is None:
            raise ValueError(f"article {article_id!r} was never embedded")
        return np.frombuffer(self._read(at.vectors), dtype=np.float32).reshape(at.n_rows, at.dim)

    def record(self, article_id: str) -> dict:
        return json.loads(self._read(self._at[article_id].record))

    def close(self) -> None:
        self._file.close()


# --- embedding ----------------------------------------------------------------------------------------


def embed_missing(
    texts: Mapping[str, str],
    model: Embedder,
    batch: int,
    on_batch: Callable[[dict[str, np.ndarray]], None] | None = None,
) -> dict[str, np.ndarray]:
    """Vectors for {hash: text}, longest first (batches of similar length waste little padding).

    on_batch sees each batch's vectors as they come (the cache commits them: a killed build resumes there).
    """
    order = sorted(texts, key=lambda h: -len(texts[h]))
    out: dict[str, np.ndarray] = {}
    for start in range(0, len(order), batch):
        part = order[start : start + batch]
        fresh = dict(zip(part, model.embed([texts[h] for h in part])))
        out.update(fresh)
        if on_batch is not None:
            on_batch(fresh)
    return out


# --- the writer ---------------------------------------------------------------------------------------


class Progress:
    """tqdm on a terminal (unless quiet), plus an optional callback for the UI."""

    def __init__(self, show: bool | None, callback: ProgressFn | None):
        self.show = sys.stderr.isatty() if show is None else show
        self.callback = callback

    def bar(self, stage: str, total: int):
        from tqdm import tqdm

        return tqdm(total=total, desc=stage, unit="chunk", disable=not self.show, file=sys.stderr, leave=False)

    def report(self, stage: str, done: int, total: int) -> None:
        if self.callback:
            self.callback(stage, done, total)


def write_generation(
    start: BuildStart,
    articles: Sequence[PlannedArticle],
    model: ModelInfo,
    report: BuildReport,
    corpus_label: str,
    prog: Progress,
) -> Manifest:
    """Write the next generation's files from `articles` (sorted by id), then commit its manifest.

    Each table is streamed article by article from wherever the engine keeps the
    data (memory, a spill file, the previous generation), so no engine has to
    hold the whole corpus; vectors go straight into a memory-mapped .npy file.
    Sets the report's counts.
    """
    index_dir, config, current = start.index_dir, start.config, start.current
    gen = current.generation + 1 if current else 1
    files = generation_files(gen)
    prog.report("writing index", 0, 1)

    entries: dict[str, ArticleEntry] = {}
    total = 0
    for planned in articles:
        entries[planned.meta.id] = planned.meta.entry(total, total + planned.n_chunks)
        total += planned.n_chunks

    def rows() -> Iterator[dict | bytes]:
        for planned in articles:
            got = 0
            if isinstance(planned.data, PreviousGeneration):  # unchanged: copied as stored
                encoded: Iterable[dict | bytes] = planned.data.encoded_rows(planned.meta.id)
            else:
                encoded = (row.to_dict() for row in planned.data.rows(planned.meta.id))
            for row in encoded:
                got += 1
                yield row
            if got != planned.n_chunks:
                raise ValueError(f"article {planned.meta.id!r}: {got} chunk rows, {planned.n_chunks} planned")

    def records() -> Iterator[dict | bytes]:
        for planned in articles:
            if isinstance(planned.data, PreviousGeneration):  # unchanged, from the same file: copied as stored
                encoded = planned.data.encoded_record(planned.meta.id, planned.meta.path)
                if encoded is not None:
                    yield encoded
                    continue
            record = planned.data.record(planned.meta.id)
            record["path"] = planned.meta.path  # the same article may have moved to another file
            yield record

    chunk_offsets = store.atomic_write_jsonl(index_dir / files["chunks"], rows())
    store.atomic_save_npy(index_dir / files["chunk_offsets"], chunk_offsets)
    article_offsets = store.atomic_write_jsonl(index_dir / files["articles"], records())
    store.atomic_save_npy(index_dir / files["article_offsets"], article_offsets)
    chunk_article = np.zeros(total, dtype=np.int32)
    for a_row, entry in enumerate(entries.values()):
        chunk_article[entry.chunks[0] : entry.chunks[1]] = a_row
    store.atomic_save_npy(index_dir / files["chunk_article"], chunk_article)
    _write_vectors(index_dir / files["vectors"], articles, entries, model.dim)

    spec = index_spec(total, config)
    if spec["type"] == "hnsw":  # its graph only: the vectors are kept once, in vectors.<g>.npy (docs/SCALING.md)
        prog.report("building dense index", 0, 1)
        dense = build_dense(np.zeros((0, model.dim), dtype=np.float32), spec)
        _presize_hnsw(dense, total)
        for block in store.npy_blocks(index_dir / files["vectors"]):
            dense.add(block)
        save_dense(dense, index_dir / files["dense"], with_vectors=False)
        del dense
    else:  # a flat index is the vectors themselves: made from vectors.<g>.npy when the index is opened
        del files["dense"]
    prog.report("building lexical index", 0, 1)
    lexical = _lexical_index(index_dir / files["chunks"], articles, config)
    lexical.save(index_dir / files["lexical"])

    manifest = Manifest(
        generation=gen,
        previous_generation=current.generation if current else None,
        built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        corpus=corpus_label,
        model=model,
        chunking=config.chunking_params(),
        dense=spec,
        lexical=lexical.params(),
        chunks=total,
        files=files,
        sizes=file_sizes(index_dir, files),
        skipped=[s.to_dict() for s in report.skipped],
        articles=entries,
    )
    commit_manifest(index_dir, manifest)
    store.collect_garbage(index_dir, {gen, current.generation} if current else {gen})
    report.documents, report.chunks, report.generation = len(entries), total, gen
    prog.report("done", 1, 1)
    return manifest


def _lexical_index(chunks_path: Path, articles: Sequence[PlannedArticle], config: Config) -> LexicalIndex:
    """BM25 over every chunk of the next generation.

    Unchanged articles take their chunks' terms from the previous generation's lexical
    index, so a small change splits and stems only its own chunks (that was the largest
    part of a 1% rebuild); without saved terms (a full build, or an index from before they
    were kept) every chunk is tokenized, streamed from the chunk table just written.
    """
    previous = next((p.data for p in articles if isinstance(p.data, PreviousGeneration)), None)
    old = previous.doc_terms() if previous is not None else None
    if old is None:
        # Read as a stream: the table's pages are not mapped into this process.
        texts = (ChunkRow.from_dict(row).embed_text for row in store.iter_jsonl(chunks_path))
        return LexicalIndex.build(texts, k1=config.bm25_k1, b=config.bm25_b)
    fresh = [p for p in articles if p.data is not previous]
    new = DocTerms.of_texts(row.embed_text for p in fresh for row in p.data.rows(p.meta.id))
    pieces, at = [], 0
    for planned in articles:
        if planned.data is previous:
            lo, hi = previous.chunk_range(planned.meta.id)
            pieces.append((old, lo, hi))
        else:
            pieces.append((new, at, at + planned.n_chunks))
            at += planned.n_chunks
    return LexicalIndex.from_terms(DocTerms.join(pieces), k1=config.bm25_k1, b=config.bm25_b)


def _write_vectors(
    path: Path, articles: Sequence[PlannedArticle], entries: Mapping[str, ArticleEntry], dim: int
) -> None:
    """Write vectors.<g>.npy article by article, in row order: one article's block in memory at a time.

    Stored as float16 (store.VECTOR_DTYPE): half the bytes on disk. float16 keeps each component
    within 2**-11 of itself, so a cosine with a unit vector moves by 2**-11 at the very most and by
    about 1e-5 for the model's dense vectors: far below what tells passages apart. Every row of a
    generation is written here, so one index never mixes precisions; FAISS and the exact searches
    compute in float32 (store.npy_blocks and Index.vector_rows cast).
    """
    total = sum(p.n_chunks for p in articles)
    with store.atomic_file(path) as f:
        np.lib.format.write_array_header_1_0(
            f,
            {
                "descr": np.lib.format.dtype_to_descr(np.dtype(store.VECTOR_DTYPE)),
                "fortran_order": False,
                "shape": (total, dim),
            },
        )
        row = 0
        for planned in articles:
            lo, hi = entries[planned.meta.id].chunks
            if hi > lo:
                block = np.ascontiguousarray(planned.data.vectors(planned.meta.id), dtype=store.VECTOR_DTYPE)
                if block.shape != (hi - lo, dim) or lo != row:
                    raise ValueError(f"article {planned.meta.id!r}: vectors of shape {block.shape} at row {row}")
                f.write(block.tobytes())
                row = hi
        if row != total:
            raise ValueError(f"{row} vector rows written, {total} planned")


def _presize_hnsw(index, n: int) -> None:
    """Give an empty HNSW index the capacity of n vectors before they are added block by block.

    Why: each add() grows the vector storage and the link table, and a C++ vector
    that outgrows its capacity doubles it while the old buffer is still held: the
    dense stage of a build peaked at 3.5-3.9 KB a chunk instead of the index's 1.8
    (docs/BENCHMARKS.md). Resizing up and back to zero keeps the capacity. The links
    get 2M per vector at level 0 plus room for the upper levels (about 1/M of the
    vectors, M links each per level), with a margin; past it, growth is as before.
    """
    import faiss

    hnsw = faiss.downcast_index(index)
    storage = faiss.downcast_index(hnsw.storage)
    codes = storage.codes
    codes.resize(n * storage.code_size)
    codes.resize(0)
    m = hnsw.hnsw.nb_neighbors(1)
    hnsw.hnsw.neighbors.resize(n * (2 * m + 2))
    hnsw.hnsw.neighbors.resize(0)
