"""The same build on a Ray cluster: read, clean, chunk and embed as a Ray Data pipeline.

Why: embedding is the wall (all-MiniLM-L6-v2 costs ~21 MFLOP a token), so a
corpus that takes days on one box must be able to use many. Ray Data gives the
streaming, back-pressure, actor pools and fault tolerance we would otherwise
have to write. Only the expensive, parallel stage moves to the cluster; the
plan against the previous index, reuse of unchanged articles and the writer
are qa.generation's, shared with the local engine, so the index is the same
one `qa build` writes.

Pipeline (the driver holds file names, per-article metadata and the index
being written, never the article texts):

    plan (driver: file names and .jsonl line ranges, no contents)
      -> from_items(shards)
      -> map_batches(_ChunkStage): read + clean (qa.ingest) + chunk, in actors
         that know the previous index's article hashes, so an unchanged
         article is neither chunked nor sent on
      -> map_batches(_EmbedStage): a pool of actors, each loading the model
         once (the registered loader of the index's model); vectors
         already in the index's embedding cache come from a cache actor on
         the driver's node instead of the model
      -> driver: iter_batches, new vectors into the cache (a killed build
         resumes), article texts spilled to a temporary file, then
         qa.generation.write_generation (the local engine's writer)
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import ingest, settings, store
from .builder import asked_model, model_info
from .config import Config
from .domain import Article, Skipped
from .embed import Embedder, EmbeddingCache, default_model_id, model_spec
from .errors import CorpusError, QAError
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
    article_record,
    diff,
    embed_missing,
    nothing_changed,
    open_build,
    write_generation,
)

log = logging.getLogger("qa.build")

FILES_PER_SHARD = 32  # small files read by one call of a chunking actor
LINES_PER_SHARD = 256  # .jsonl lines read by one call
ARTICLES_PER_EMBED_BATCH = 64  # articles (not chunks) per call of an embedding actor
CPUS_PER_EMBED_ACTOR = 4  # qa's backends use up to 4 threads each
# Passed on to workers on a cluster (a local runtime's workers inherit them anyway).
_LOOPBACK_ONLY = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


class RayEngineError(QAError):
    """Ray is missing, or the pipeline failed on the cluster."""


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide the pipeline runs."""

    address: str | None = None  # None: a private local runtime on 127.0.0.1, stopped afterwards
    num_cpus: int | None = None  # CPUs of that local runtime (default: all of this machine's)
    embed_actors: int | None = None  # default: one per CPUS_PER_EMBED_ACTOR cluster CPUs, at least 1
    chunk_actors: int | None = None  # default: up to one per 8 cluster CPUs, at least 1
    files_per_shard: int = FILES_PER_SHARD
    lines_per_shard: int = LINES_PER_SHARD


def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401 - the pipeline needs the data extra
    except ImportError as exc:
        raise RayEngineError(
            f'the Ray engine needs Ray Data ({exc.name or "ray"} is not installed): pip install -e ".[ray]"'
        ) from None
    return ray


@contextmanager
def ray_runtime(address: str | None = None, num_cpus: int | None = None) -> Iterator[None]:
    """Use the Ray runtime that is already up, else connect to `address`, else start a local one.

    A local runtime listens on the loopback interface only, has no dashboard
    and keeps its logs in a temporary directory; it is shut down on exit. A
    runtime that was already initialised (e.g. by a test session) is left running.
    """
    if address and address.startswith("ray://"):
        # The driver writes the index and the cache reader runs beside it, on this machine.
        raise RayEngineError(
            "Ray Client addresses (ray://) are not supported: run `qa build --engine ray` on a "
            "node of the cluster, with --address auto or the head's host:6379"
        )
    if not address and "ray" not in sys.modules:
        # Ray's single-machine mode (its default on macOS and Windows): the node's address is the
        # loopback one, so its servers listen on 127.0.0.1 only. Read once, when ray is imported.
        os.environ.setdefault(_LOOPBACK_ONLY, "0")
    ray = _import_ray()
    if ray.is_initialized():
        yield
        return
    # ERROR: Ray's start-up notices (e.g. that token authentication is on) are not the user's business here.
    common = {"include_dashboard": False, "logging_level": logging.ERROR, "log_to_driver": False}
    temp = None
    try:
        if address:
            env = settings.worker_env()
            ray.init(address=address, runtime_env={"env_vars": env} if env else None, **common)
        else:
            temp = tempfile.mkdtemp(prefix="qa-ray-")
            ray.init(
                address="local",
                num_cpus=num_cpus or os.cpu_count() or 1,
                _node_ip_address="127.0.0.1",
                _temp_dir=temp,
                **common,
            )
    except (ConnectionError, ValueError, RuntimeError) as exc:
        if temp:
            shutil.rmtree(temp, ignore_errors=True)
        if not address:
            raise RayEngineError(f"cannot start a local Ray runtime: {exc}") from None
        raise RayEngineError(
            f"cannot connect to the Ray cluster at {address!r} ({exc}); check the address "
            "(host:6379 of the head node, or 'auto' on a cluster node)"
        ) from None
    try:
        yield
    finally:
        ray.shutdown()
        if temp:
            shutil.rmtree(temp, ignore_errors=True)


# --- plan: which files and line ranges each read call takes (names only, no contents) ---------------------


def plan_shards(
    root: Path,
    *,
    files_per_shard: int = FILES_PER_SHARD,
    lines_per_shard: int = LINES_PER_SHARD,
    max_bytes: int = ingest.DEFAULT_MAX_BYTES,
) -> Iterator[dict | tuple[tuple[int, int], Skipped]]:
    """Shard specs in corpus order, plus ((shard, 0), Skipped) for entries the walk itself rejects.

    A spec is {"shard": i, "files": [[rel, path], ...]} or, for a .jsonl file,
    {"shard": i, "jsonl": [rel, path], "offset": byte, "line": first line number,
    "lines": count}. Shard numbers follow qa.ingest's sorted walk, so
    (shard, position) orders every item exactly as `iter_corpus` does.
    """
    if not root.exists():
        raise CorpusError(f"corpus directory {root} does not exist; pass the folder that holds your articles")
    if not root.is_dir():
        raise CorpusError(f"{root} is not a directory; pass the folder that holds your articles, not a file")
    shard = 0
    files: list[list[str]] = []
    for item in ingest.walk_corpus(root):
        if files and (isinstance(item, Skipped) or len(files) >= files_per_shard or _is_jsonl(item[1])):
            yield {"shard": shard, "files": files}
            shard, files = shard + 1, []
        if isinstance(item, Skipped):
            yield (shard, 0), item
            shard += 1
            continue
        rel, path = item
        ranges = _jsonl_ranges(path, lines_per_shard, max_bytes) if _is_jsonl(path) else None
        if ranges is None:
            files.append([rel, str(path)])
            continue
        for offset, line, count in ranges:
            yield {"shard": shard, "jsonl": [rel, str(path)], "offset": offset, "line": line, "lines": count}
            shard += 1
    if files:
        yield {"shard": shard, "files": files}


def _is_jsonl(path: Path) -> bool:
    return path.suffix.lower() == ".jsonl"


def _jsonl_ranges(path: Path, lines_per_shard: int, max_bytes: int) -> list[tuple[int, int, int]] | None:
    """(byte offset, first line number, line count) per shard, or None to read the file whole.

    Whole-file reading (through qa.ingest) is kept for every file that ingest
    rejects as a whole (unreadable, not regular, binary, blank), so its reason
    is exactly ingest's. Reads the file once, in blocks; holds only offsets.
    """
    starts, newlines, pos, last, content = [0], 0, 0, b"\n", False
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return None
        with open(path, "rb") as f:
            if ingest.looks_binary(path):
                return None
            f.seek(0)
            for block in iter(lambda: f.read(1 << 20), b""):
                content = content or bool(block.strip())
                count = block.count(b"\n")
                # Line starts are only looked for in blocks that cross a shard boundary.
                if (newlines + count) // lines_per_shard > newlines // lines_per_shard:
                    i = block.find(b"\n")
                    while i >= 0:
                        newlines += 1
                        if newlines % lines_per_shard == 0:
                            starts.append(pos + i + 1)
                        i = block.find(b"\n", i + 1)
                else:
                    newlines += count
                pos += len(block)
                last = block[-1:]
    except OSError:
        return None
    if not content:
        return None
    total = newlines + (last != b"\n")  # a last line without a newline is a line too
    if len(starts) > 1 and starts[-1] >= pos:
        starts.pop()
    return [
        (offset, k * lines_per_shard + 1, min(lines_per_shard, total - k * lines_per_shard))
        for k, offset in enumerate(starts)
    ]


# --- read: the same Articles and Skipped as qa.ingest.iter_corpus, per shard ----------------------------


def read_shard(spec: dict, max_bytes: int = ingest.DEFAULT_MAX_BYTES) -> Iterator[tuple[Article | Skipped, int | None]]:
    """(item, jsonl line or None) for one shard, in corpus order, without claiming ids.

    Duplicate ids are resolved by the driver, which sees the whole corpus (the
    first in corpus order wins, as in iter_corpus).
    """
    if "jsonl" in spec:
        rel, path = spec["jsonl"]
        yield from ingest.read_jsonl_lines(
            rel, Path(path), int(spec["offset"]), int(spec["line"]), int(spec["lines"]), max_bytes
        )
        return
    for rel, path in spec["files"]:
        for got in ingest.read_file(rel, Path(path), max_bytes):
            yield got, None


# --- the two Ray Data stages ----------------------------------------------------------------------------

_COLUMNS = ("shard", "pos", "kind", "meta", "article", "rows", "vectors", "embedded")


def _table(cols: dict[str, list]):
    import pyarrow as pa

    types = {
        "shard": pa.int64(),
        "pos": pa.int64(),
        "kind": pa.string(),
        "meta": pa.large_string(),
        "article": pa.large_string(),
        "rows": pa.large_string(),
        "vectors": pa.large_binary(),
        "embedded": pa.large_string(),
    }
    return pa.table({c: pa.array(cols[c], type=types[c]) for c in _COLUMNS})


class _ChunkStage:
    """Read, clean and chunk shards; only new or changed articles carry text and chunk rows on."""

    def __init__(self, known: dict[str, str], config: Config, full: bool, max_bytes: int, tokenizer: str | None):
        from .chunk import Chunker
        from .embed import WordPieceCounter

        self.known = known
        self.full = full
        self.max_bytes = max_bytes
        # A local model's folder counts with its own tokenizer (the folder must be there on every node).
        self.chunker = Chunker(WordPieceCounter(Path(tokenizer) if tokenizer else None), config)

    def __call__(self, batch):
        cols: dict[str, list] = {c: [] for c in _COLUMNS}
        for spec_json in batch.column("spec").to_pylist():
            spec = json.loads(spec_json)
            for pos, (item, line) in enumerate(read_shard(spec, self.max_bytes)):
                cols["shard"].append(spec["shard"])
                cols["pos"].append(pos)
                cols["vectors"].append(b"")
                cols["embedded"].append("")
                if isinstance(item, Skipped):
                    cols["kind"].append("skipped")
                    cols["meta"].append(json.dumps(item.to_dict(), ensure_ascii=False))
                    cols["article"].append("")
                    cols["rows"].append("")
                    continue
                meta = {
                    "id": item.id,
                    "hash": item.hash,
                    "title": item.title,
                    "source": item.source,
                    "date": item.date,
                    "path": item.path,
                    "line": line,
                }
                fresh = self.full or self.known.get(item.id) != meta["hash"]
                cols["kind"].append("fresh" if fresh else "unchanged")
                cols["meta"].append(json.dumps(meta, ensure_ascii=False))
                if fresh:
                    rows = [ChunkRow.from_chunk(c).to_dict() for c in self.chunker.chunk(item)]
                    cols["article"].append(json.dumps(article_record(item), ensure_ascii=False))
                    cols["rows"].append(json.dumps(rows, ensure_ascii=False))
                else:
                    cols["article"].append("")
                    cols["rows"].append("")
        return _table(cols)


class _CacheReader:
    """Read access to the index's embedding cache (SQLite on the driver's disk) for the embedding actors."""

    def __init__(self, path: str, model_id: str, dim: int):
        self.cache = EmbeddingCache(Path(path), model_id, dim)

    def get_many(self, hashes: list[str]) -> dict[str, bytes]:
        return {h: v.tobytes() for h, v in self.cache.get_many(hashes).items()}


class _EmbedStage:
    """Vectors for the chunk rows of each batch: from the cache if known, else from the model (loaded once)."""

    def __init__(self, embedder_factory: Callable[[], Embedder], cache_reader, model_id: str, batch: int):
        self.model = embedder_factory()
        if self.model.model_id != model_id:  # vectors of another model must never enter this index
            raise RayEngineError(
                f"the embedding actor loaded model {self.model.model_id!r}, the index needs {model_id!r}"
            )
        self.cache = cache_reader
        self.batch = batch

    def __call__(self, batch):
        import ray

        cols = {c: batch.column(c).to_pylist() for c in _COLUMNS}
        per_record = [json.loads(r) if r else [] for r in cols["rows"]]
        texts: dict[str, str] = {}
        for rows in per_record:
            for row in rows:
                texts.setdefault(row["hash"], ChunkRow.from_dict(row).embed_text)
        known: dict[str, np.ndarray] = {}
        if texts:
            found = ray.get(self.cache.get_many.remote(list(texts)))
            known = {h: np.frombuffer(b, dtype=np.float32) for h, b in found.items()}
        missing = {h: t for h, t in texts.items() if h not in known}
        known.update(embed_missing(missing, self.model, self.batch))
        fresh = set(missing)
        for i, rows in enumerate(per_record):
            if not rows:
                continue
            hashes = [row["hash"] for row in rows]
            cols["vectors"][i] = np.stack([known[h] for h in hashes]).astype(np.float32, copy=False).tobytes()
            mine = [h for h in dict.fromkeys(hashes) if h in fresh]
            fresh.difference_update(mine)
            cols["embedded"][i] = json.dumps(mine)
        return _table(cols)


# --- driver ---------------------------------------------------------------------------------------------


@dataclass
class _Entry:
    key: tuple[int, int]
    meta: dict
    fresh: bool  # its record, rows and vectors wait in the driver's spill (SpilledArticles)


def default_embedder_factory(model_id: str) -> Callable[[], Embedder]:
    """What each embedding actor calls to load the model the driver settled.

    The registered loader is resolved here, on the driver, so workers started
    earlier or on other nodes need not share the driver's registry or $QA_EMBEDDER.
    """
    spec = model_spec(model_id)
    return spec.load_for_builds or spec.load


def build_ray(
    corpus_dir: str | Path,
    index_dir: str | Path,
    *,
    full: bool = False,
    config: Config | None = None,
    options: RayOptions | None = None,
    embedder_factory: Callable[[], Embedder] | None = None,
    model: str | Path | None = None,
    progress: bool | None = None,
    on_progress: ProgressFn | None = None,
    lock_timeout: float = 0,
    max_bytes: int = ingest.DEFAULT_MAX_BYTES,
) -> BuildReport:
    """`qa.build` with chunking and embedding on Ray; the same index, report and incremental behaviour.

    `embedder_factory` runs in each embedding actor (default: the registered loader
    of the index's model); it must be importable on every node. `model` is a local
    model folder, as for qa.build; it must be at the same path on every node.
    """
    started = time.perf_counter()
    options = options or RayOptions()
    corpus_dir, index_dir = Path(corpus_dir), Path(index_dir)
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus directory {corpus_dir} does not exist or is not a directory")
    prog = Progress(progress, on_progress)
    if importlib.util.find_spec("ray") is None:  # fail before taking the lock; ray is imported by ray_runtime
        raise RayEngineError('the Ray engine needs Ray Data (ray is not installed): pip install -e ".[ray]"')
    with open_build(index_dir, full, config, lock_timeout, asked_model(model)) as start:
        # The model is settled on the driver: the index's own when it grows, else the one asked for,
        # else the one the factory makes, else the default of this environment.
        model_id = start.model_id or (_factory_model(embedder_factory) if embedder_factory else default_model_id())
        factory = embedder_factory or default_embedder_factory(model_id)
        spill_dir = Path(tempfile.mkdtemp(prefix=".tmp-ray-", dir=index_dir))  # collected if the build dies
        try:
            with ray_runtime(options.address, options.num_cpus):
                report = _run(start, corpus_dir, full, options, factory, model_id, prog, max_bytes, spill_dir)
        finally:
            shutil.rmtree(spill_dir, ignore_errors=True)
    report.seconds = time.perf_counter() - started
    return report


def _factory_model(factory: Callable[[], Embedder]) -> str:
    """The model id a factory's embedders carry: declared (a class attribute, or a partial's class), else made once."""
    for candidate in (factory, getattr(factory, "func", None)):
        model_id = getattr(candidate, "model_id", None)
        if isinstance(model_id, str):
            return model_id
    return factory().model_id


def _actor_counts(ray, options: RayOptions) -> tuple[int, int]:
    cpus = int(ray.cluster_resources().get("CPU", 1))
    embed = options.embed_actors or max(1, cpus // CPUS_PER_EMBED_ACTOR)
    chunk = options.chunk_actors or max(1, cpus // 8)
    return embed, chunk


def _run(start: BuildStart, corpus_dir, full, options, factory, model_id, prog, max_bytes, spill_dir) -> BuildReport:
    import ray
    import ray.data
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    index_dir, config, old = start.index_dir, start.config, start.old
    skipped: list[tuple[tuple[int, int], Skipped]] = []
    specs: list[dict] = []
    planned = 0
    prog.report("planning", 0, 1)
    # Absolute paths: the chunking actors open the files, and on another node a relative path would
    # name a file under that worker's own working directory. Ids stay relative to the corpus.
    for got in plan_shards(
        corpus_dir.absolute(),
        files_per_shard=options.files_per_shard,
        lines_per_shard=options.lines_per_shard,
        max_bytes=max_bytes,
    ):
        if isinstance(got, dict):
            specs.append({"spec": json.dumps(got, ensure_ascii=False)})
            planned += got.get("lines") or len(got.get("files", ()))
        else:
            skipped.append(got)

    old_hashes = {aid: e.hash for aid, e in (old.articles.items() if old else ())}
    spec = model_spec(model_id)
    dim = spec.dim
    cache = EmbeddingCache(index_dir / store.CACHE, model_id, dim)
    reader = None
    try:
        with closing(SpilledArticles(spill_dir / "fresh.bin")) as spill:
            driver = _Driver(dim, spill)
            if specs:
                embed_actors, chunk_actors = _actor_counts(ray, options)
                here = ray.get_runtime_context().get_node_id()
                reader = (
                    ray.remote(_CacheReader)
                    .options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False))
                    .remote(str(index_dir.resolve() / store.CACHE), model_id, dim)
                )
                logging.getLogger("ray.data").setLevel(logging.ERROR)
                ctx = ray.data.DataContext.get_current()
                ctx.enable_progress_bars = False
                ctx.print_on_execution_start = False
                ds = (
                    ray.data.from_items(specs, override_num_blocks=min(len(specs), 1000))
                    .map_batches(
                        _ChunkStage,
                        batch_size=1,
                        batch_format="pyarrow",
                        fn_constructor_args=(old_hashes, config, full, max_bytes, spec.path and str(spec.path)),
                        num_cpus=0.5,
                        compute=ray.data.ActorPoolStrategy(min_size=1, max_size=chunk_actors),
                    )
                    .map_batches(
                        _EmbedStage,
                        batch_size=ARTICLES_PER_EMBED_BATCH,
                        batch_format="pyarrow",
                        fn_constructor_args=(factory, reader, model_id, config.embed_batch),
                        num_cpus=1,
                        compute=ray.data.ActorPoolStrategy(size=embed_actors),
                    )
                )
                bar = prog.bar("ray pipeline", planned)
                done = 0
                try:
                    for table in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
                        done += driver.take(table, skipped, cache)
                        bar.update(table.num_rows)
                        prog.report("embedding", min(done, planned), planned)
                except ray.exceptions.RayError as exc:
                    raise RayEngineError(f"the Ray pipeline failed: {exc}") from exc
                finally:
                    bar.close()
            return _finish(start, driver, skipped, str(corpus_dir.resolve()), prog, model_id)
    finally:
        cache.close()
        if reader is not None:
            ray.kill(reader)


class _Driver:
    """The driver's state: per-article metadata; fresh articles' data waits in a spill file (SpilledArticles).

    So its memory does not grow with the corpus's text or vectors; the spill is
    the ArticleData the writer reads them from, as in the local build.
    """

    def __init__(self, dim: int, spill: SpilledArticles):
        self.dim = dim
        self.spill = spill
        self.entries: dict[str, _Entry] = {}
        self.embedded: set[str] = set()

    def take(self, table, skipped: list, cache: EmbeddingCache) -> int:
        """Fold one result batch into the driver's state; returns how many articles it held."""
        cols = {c: table.column(c).to_pylist() for c in _COLUMNS}
        fresh_vectors: list[tuple[str, np.ndarray]] = []
        articles = 0
        for i in range(table.num_rows):
            key = (cols["shard"][i], cols["pos"][i])
            meta = json.loads(cols["meta"][i])
            if cols["kind"][i] == "skipped":
                skipped.append((key, Skipped(**meta)))
                continue
            articles += 1
            entry = _Entry(key, meta, cols["kind"][i] == "fresh")
            aid = meta["id"]
            other = self.entries.get(aid)
            if other is None or key < other.key:  # the first in corpus order wins, as in qa.ingest
                self.entries[aid] = entry
                loser = other
            else:
                loser = entry
            if loser is not None:
                skipped.append((loser.key, ingest.duplicate_skip(aid, loser.meta["path"], loser.meta["line"])))
            if not entry.fresh:
                continue
            rows = json.loads(cols["rows"][i])
            vectors = np.frombuffer(cols["vectors"][i], dtype=np.float32).reshape(len(rows), self.dim)
            hashes = [r["hash"] for r in rows]
            for h in json.loads(cols["embedded"][i] or "[]"):
                if h not in self.embedded:
                    self.embedded.add(h)
                    fresh_vectors.append((h, vectors[hashes.index(h)]))
            if loser is not entry:
                self.spill.put(aid, cols["article"][i].encode("utf-8"), cols["rows"][i].encode("utf-8"), len(rows))
                self.spill.set_vectors(aid, vectors)
        if fresh_vectors:
            cache.put_many(fresh_vectors)  # committed per batch: a killed build resumes here
        return articles


def _finish(start: BuildStart, driver: _Driver, skipped, corpus_label: str, prog, model_id: str) -> BuildReport:
    """The shared plan and writer: unchanged articles come from the old generation, fresh ones from the spill."""
    skipped.sort(key=lambda ks: ks[0])
    ingest_log = logging.getLogger("qa.ingest")
    for _, s in skipped:
        ingest_log.warning("skipped %s", s)
    report = BuildReport(skipped=[s for _, s in skipped], embedded=len(driver.embedded))
    entries = driver.entries
    metas = {aid: e.meta for aid, e in entries.items()}
    plan = diff(start.old, {aid: m["hash"] for aid, m in metas.items()}, {aid: m["path"] for aid, m in metas.items()})
    plan.apply_to(report)
    for aid, entry in entries.items():
        if not entry.fresh and plan.is_fresh(aid):
            raise RayEngineError(f"article {aid!r} was not processed although it changed; run the build again")
    if nothing_changed(start, plan, report):
        prog.report("done", 1, 1)
        return report

    previous = PreviousGeneration(start.index_dir, start.old) if start.old is not None else None
    try:
        planned = []
        for aid in sorted(entries):
            entry = entries[aid]
            m = entry.meta
            meta = ArticleMeta(aid, m["hash"], m["title"], m["source"], m["date"], m["path"])
            if entry.fresh:
                planned.append(PlannedArticle(meta, driver.spill.n_chunks(aid), driver.spill))
            else:
                planned.append(PlannedArticle(meta, previous.n_chunks(aid), previous))
        info = model_info(model_id, driver.dim, start.config)
        write_generation(start, planned, info, report, corpus_label, prog)
    finally:
        if previous is not None:
            previous.close()
    return report
