"""The same build on a Ray cluster: read, clean, chunk and embed as a Ray Data pipeline.

Why: embedding is the wall (all-MiniLM-L6-v2 costs ~21 MFLOP a token), so a
corpus that takes days on one box must be able to use many. Ray Data gives the
streaming, back-pressure, actor pools and fault tolerance we would otherwise
have to write. Only the expensive, parallel stage moves to the cluster; the
diff against the previous index, reuse of unchanged articles, the embedding
cache and the writer are the local builder's own code (`qa.builder`), so the
index is the same one `qa build` writes.

Pipeline (the driver holds file names, per-article metadata and the index
being written, never the article texts):

    plan (driver: file names and .jsonl line ranges, no contents)
      -> from_items(shards)
      -> map_batches(_ChunkStage): read + clean (qa.ingest) + chunk, in actors
         that know the previous index's article hashes, so an unchanged
         article is neither chunked nor sent on
      -> map_batches(_EmbedStage): a pool of actors, each loading the model
         once (qa.embed.load_embedder, the local build's backend); vectors
         already in the index's embedding cache come from a cache actor on
         the driver's node instead of the model
      -> driver: iter_batches, new vectors into the cache (a killed build
         resumes), article texts spilled to a temporary file, then
         qa.builder._write_generation
"""

from __future__ import annotations

import functools
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
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import builder, ingest, store
from .config import Config
from .domain import Article, Skipped
from .embed import MODEL_DIM, Embedder, EmbeddingCache, default_model_id, embed_backend, load_embedder
from .errors import CorpusError, QAError

log = logging.getLogger("qa.build")

FILES_PER_SHARD = 32  # small files read by one call of a chunking actor
LINES_PER_SHARD = 256  # .jsonl lines read by one call
ARTICLES_PER_EMBED_BATCH = 64  # articles (not chunks) per call of an embedding actor
CPUS_PER_EMBED_ACTOR = 4  # qa's backends use up to 4 threads each
# Passed on to workers on a cluster (a local runtime's workers inherit them anyway).
_LOOPBACK_ONLY = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
_WORKER_ENV = ("QA_EMBED_BACKEND", "QA_FAKE_EMBEDDER", "QA_CACHE_DIR", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


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
            env = {k: os.environ[k] for k in _WORKER_ENV if k in os.environ}
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
    for item in ingest._walk(root, root.resolve(), ""):
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
            if b"\0" in f.read(ingest._SNIFF):
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
        yield from _guarded(rel, lambda: _read_jsonl_range(rel, Path(path), spec, max_bytes))
        return
    for rel, path in spec["files"]:
        yield from _guarded(
            rel, lambda rel=rel, path=path: ((got, None) for got in ingest._read(rel, Path(path), max_bytes, set()))
        )


def _read_jsonl_range(rel: str, path: Path, spec: dict, max_bytes: int) -> Iterator[tuple[Article | Skipped, int]]:
    """Lines [line, line + lines) of a .jsonl file, parsed as qa.ingest parses them."""
    first, count = int(spec["line"]), int(spec["lines"])
    with open(path, "rb") as f:
        f.seek(int(spec["offset"]))
        for k, raw in ingest._lines(f, max_bytes):
            if k > count:
                return
            n = first + k - 1
            if raw is None:
                yield Skipped(rel, f"line {ingest._too_big(max_bytes)}", n), n
            elif raw.strip():
                try:
                    yield ingest._jsonl_article(rel, n, raw), n
                except ingest._Skip as e:
                    yield Skipped(rel, str(e), n), n


def _guarded(rel: str, read: Callable[[], Iterator[tuple[Article | Skipped, int | None]]]):
    """One bad file never stops the rest: the same reasons as qa.ingest.iter_corpus gives."""
    try:
        yield from read()
    except ingest._Skip as e:
        yield Skipped(rel, str(e)), None
    except PermissionError:
        yield Skipped(rel, "permission denied: cannot read the file"), None
    except FileNotFoundError:
        yield Skipped(rel, "file vanished or is a broken symlink"), None
    except OSError as e:
        yield Skipped(rel, f"cannot read the file: {e.strerror or e}"), None
    except Exception as e:  # noqa: BLE001 - a parser bug must not stop the whole corpus
        yield Skipped(rel, f"unexpected error while reading ({type(e).__name__}: {e})"), None


def duplicate_skip(article_id: str, path: str | None, line: int | None) -> Skipped:
    """What qa.ingest reports for a later article that reuses an id."""
    return Skipped(path or article_id, f"duplicate id {article_id!r}: already used earlier", line)


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

    def __init__(self, known: dict[str, str], config: Config, full: bool, max_bytes: int):
        from .chunk import Chunker
        from .embed import WordPieceCounter

        self.known = known
        self.full = full
        self.max_bytes = max_bytes
        self.chunker = Chunker(WordPieceCounter(), config)

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
                    rows = [builder._chunk_row(c) for c in self.chunker.chunk(item)]
                    cols["article"].append(json.dumps(dict(item.to_dict(), hash=meta["hash"]), ensure_ascii=False))
                    cols["rows"].append(json.dumps(rows, ensure_ascii=False))
                else:
                    cols["article"].append("")
                    cols["rows"].append("")
        return _table(cols)


class _CacheReader:
    """Read access to the index's embedding cache (SQLite on the driver's disk) for the embedding actors."""

    def __init__(self, path: str, model_id: str):
        self.cache = EmbeddingCache(Path(path), model_id, MODEL_DIM)

    def get_many(self, hashes: list[str]) -> dict[str, bytes]:
        return {h: v.tobytes() for h, v in self.cache.get_many(hashes).items()}


class _EmbedStage:
    """Vectors for the chunk rows of each batch: from the cache if known, else from the model (loaded once)."""

    def __init__(self, embedder_factory: Callable[[], Embedder], cache_reader, model_id: str):
        self.model = embedder_factory()
        if self.model.model_id != model_id:  # vectors of another model must never enter this index
            raise RayEngineError(
                f"the embedding actor loaded model {self.model.model_id!r}, the index needs {model_id!r}"
            )
        self.cache = cache_reader

    def __call__(self, batch):
        import ray

        cols = {c: batch.column(c).to_pylist() for c in _COLUMNS}
        per_record = [json.loads(r) if r else [] for r in cols["rows"]]
        texts: dict[str, str] = {}
        for rows in per_record:
            for row in rows:
                texts.setdefault(row["hash"], builder._row_embed_text(row))
        known: dict[str, np.ndarray] = {}
        if texts:
            found = ray.get(self.cache.get_many.remote(list(texts)))
            known = {h: np.frombuffer(b, dtype=np.float32) for h, b in found.items()}
        # Longest first, as the local build does: batches of similar length waste little padding.
        missing = sorted((h for h in texts if h not in known), key=lambda h: -len(texts[h]))
        for start in range(0, len(missing), builder.EMBED_BATCH):
            part = missing[start : start + builder.EMBED_BATCH]
            known.update(zip(part, self.model.embed([texts[h] for h in part])))
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
    fresh: bool
    # Where a fresh article's data waits in the spill file, (offset, length) in bytes: the driver
    # keeps only these, so its memory does not grow with the corpus's text or vectors.
    spill: tuple[int, int] | None = None  # the article record
    rows_at: tuple[int, int] | None = None  # its chunk rows (a JSON list)
    vectors_at: tuple[int, int] | None = None  # their vectors (float32, row after row)
    n_rows: int = 0


def _append(spill, data: bytes) -> tuple[int, int]:
    spill.seek(0, os.SEEK_END)
    at = (spill.tell(), len(data))
    spill.write(data)
    return at


def _read(spill, at: tuple[int, int]) -> bytes:
    spill.seek(at[0])
    return spill.read(at[1])


def default_embedder_factory(config: Config, model_id: str | None = None) -> Callable[[], Embedder]:
    """What each embedding actor loads: the same backend and model as a local build in this environment.

    Resolved here, on the driver, so workers started earlier or on other nodes
    do not depend on their own environment variables.
    """
    from .testing import FakeEmbedder, fake_requested

    if fake_requested():
        return FakeEmbedder
    return functools.partial(load_embedder, config.batch_size, embed_backend(), model_id or default_model_id())


def build_ray(
    corpus_dir: str | Path,
    index_dir: str | Path,
    *,
    full: bool = False,
    config: Config | None = None,
    options: RayOptions | None = None,
    embedder_factory: Callable[[], Embedder] | None = None,
    progress: bool | None = None,
    on_progress: builder.ProgressFn | None = None,
    lock_timeout: float = 0,
    max_bytes: int = ingest.DEFAULT_MAX_BYTES,
) -> builder.BuildReport:
    """`qa.build` with chunking and embedding on Ray; the same index, report and incremental behaviour.

    `embedder_factory` runs in each embedding actor (default: qa.embed.load_embedder
    with this environment's backend); it must be importable on every node.
    """
    started = time.perf_counter()
    config = config or Config()
    options = options or RayOptions()
    corpus_dir, index_dir = Path(corpus_dir), Path(index_dir)
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus directory {corpus_dir} does not exist or is not a directory")
    prog = builder._Progress(sys.stderr.isatty() if progress is None else progress, on_progress)
    if importlib.util.find_spec("ray") is None:  # fail before taking the lock; ray is imported by ray_runtime
        raise RayEngineError('the Ray engine needs Ray Data (ray is not installed): pip install -e ".[ray]"')
    with builder.locked_index(index_dir, lock_timeout):
        old = builder._previous(index_dir, full, config)
        current = builder._live_generation(index_dir)
        # The model is settled on the driver: the index's own when it grows, else the one the factory
        # makes (a class or callable may say, like FakeEmbedder), else the default of this environment.
        model_id = (
            old.data["model"]["id"]
            if old is not None
            else getattr(embedder_factory, "model_id", None) or default_model_id()
        )
        factory = embedder_factory or default_embedder_factory(config, model_id)
        if full:  # from scratch: nothing cached is trusted
            for suffix in ("", "-wal", "-shm"):
                (index_dir / (store.CACHE + suffix)).unlink(missing_ok=True)
        spill_dir = Path(tempfile.mkdtemp(prefix=".tmp-ray-", dir=index_dir))  # collected if the build dies
        try:
            with ray_runtime(options.address, options.num_cpus):
                report = _build_locked(
                    corpus_dir,
                    index_dir,
                    old,
                    current,
                    full,
                    config,
                    options,
                    factory,
                    model_id,
                    prog,
                    max_bytes,
                    spill_dir,
                )
        finally:
            shutil.rmtree(spill_dir, ignore_errors=True)
    report.seconds = time.perf_counter() - started
    return report


def _actor_counts(ray, options: RayOptions) -> tuple[int, int]:
    cpus = int(ray.cluster_resources().get("CPU", 1))
    embed = options.embed_actors or max(1, cpus // CPUS_PER_EMBED_ACTOR)
    chunk = options.chunk_actors or max(1, cpus // 8)
    return embed, chunk


def _build_locked(
    corpus_dir, index_dir, old, current, full, config, options, factory, model_id, prog, max_bytes, spill_dir
) -> builder.BuildReport:
    import ray
    import ray.data
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    report = builder.BuildReport()
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

    old_hashes = {aid: e["hash"] for aid, e in (old.articles.items() if old else ())}
    entries: dict[str, _Entry] = {}
    embedded: set[str] = set()
    cache = EmbeddingCache(index_dir / store.CACHE, model_id, MODEL_DIM)
    reader = None
    try:
        with open(spill_dir / "articles.jsonl", "w+b") as spill:
            if specs:
                embed_actors, chunk_actors = _actor_counts(ray, options)
                here = ray.get_runtime_context().get_node_id()
                reader = (
                    ray.remote(_CacheReader)
                    .options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False))
                    .remote(str(index_dir.resolve() / store.CACHE), model_id)
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
                        fn_constructor_args=(old_hashes, config, full, max_bytes),
                        num_cpus=0.5,
                        compute=ray.data.ActorPoolStrategy(min_size=1, max_size=chunk_actors),
                    )
                    .map_batches(
                        _EmbedStage,
                        batch_size=ARTICLES_PER_EMBED_BATCH,
                        batch_format="pyarrow",
                        fn_constructor_args=(factory, reader, model_id),
                        num_cpus=1,
                        compute=ray.data.ActorPoolStrategy(size=embed_actors),
                    )
                )
                bar = prog.bar("ray pipeline", planned)
                done = 0
                try:
                    for table in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
                        done += _take(table, entries, skipped, embedded, cache, spill)
                        bar.update(table.num_rows)
                        prog.report("embedding", min(done, planned), planned)
                except ray.exceptions.RayError as exc:
                    raise RayEngineError(f"the Ray pipeline failed: {exc}") from exc
                finally:
                    bar.close()
            return _finish(
                index_dir,
                old,
                current,
                old_hashes,
                entries,
                skipped,
                embedded,
                report,
                str(corpus_dir.resolve()),
                config,
                prog,
                spill,
                cache,
            )
    finally:
        cache.close()
        if reader is not None:
            ray.kill(reader)


def _take(table, entries: dict[str, _Entry], skipped: list, embedded: set[str], cache: EmbeddingCache, spill) -> int:
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
        if entry.fresh:
            rows = json.loads(cols["rows"][i])
            vectors = np.frombuffer(cols["vectors"][i], dtype=np.float32).reshape(len(rows), MODEL_DIM)
            hashes = [r["hash"] for r in rows]
            for h in json.loads(cols["embedded"][i] or "[]"):
                if h not in embedded:
                    embedded.add(h)
                    fresh_vectors.append((h, vectors[hashes.index(h)]))
            entry.n_rows = len(rows)
            entry.spill = _append(spill, cols["article"][i].encode("utf-8"))
            entry.rows_at = _append(spill, cols["rows"][i].encode("utf-8"))
            entry.vectors_at = _append(spill, vectors.tobytes())
        aid = meta["id"]
        other = entries.get(aid)
        if other is None or key < other.key:  # the first in corpus order wins, as in qa.ingest
            entries[aid] = entry
            loser = other
        else:
            loser = entry
        if loser is not None:
            skipped.append((loser.key, duplicate_skip(aid, loser.meta["path"], loser.meta["line"])))
    if fresh_vectors:
        cache.put_many(fresh_vectors)  # committed per batch: a killed build resumes here
    return articles


def _finish(
    index_dir, old, current, old_hashes, entries, skipped, embedded, report, corpus_label, config, prog, spill, cache
) -> builder.BuildReport:
    """Diff, reuse the old rows of unchanged articles, and write with the local builder's writer."""
    skipped.sort(key=lambda ks: ks[0])
    ingest_log = logging.getLogger("qa.ingest")
    for _, s in skipped:
        ingest_log.warning("skipped %s", s)
    report.skipped = [s for _, s in skipped]
    ids = sorted(entries)
    for aid in ids:
        entry = entries[aid]
        if not entry.fresh and old_hashes.get(aid) != entry.meta["hash"]:
            raise RayEngineError(f"article {aid!r} was not processed although it changed; run the build again")
        if aid not in old_hashes:
            report.added.append(aid)
        elif old_hashes[aid] != entry.meta["hash"]:
            report.changed.append(aid)
        else:
            report.unchanged += 1
    report.deleted = sorted(set(old_hashes) - set(entries))
    report.embedded = len(embedded)
    if old is not None and not (report.added or report.changed or report.deleted):
        report.documents, report.chunks = len(ids), int(old.data["counts"]["chunks"])
        report.generation = old.generation
        prog.report("done", 1, 1)
        return report

    # Streamed: rows and vectors go from the spill file (new articles) or the old generation
    # (unchanged ones) to the writer, vectors through a memory-mapped array beside the spill file.
    manifest_articles: dict[str, dict] = {}
    total = 0
    for aid in ids:
        entry = entries[aid]
        m = entry.meta
        if entry.fresh:
            n = entry.n_rows
        else:
            lo, hi = _old_range(old, aid)
            n = hi - lo
        manifest_articles[aid] = {
            "hash": m["hash"],
            "title": m["title"],
            "source": m["source"],
            "date": m["date"],
            "path": m["path"],
            "chunks": [total, total + n],
        }
        total += n
    old_vectors = (
        np.load(index_dir / old.file("vectors"), mmap_mode="r", allow_pickle=False) if old is not None else None
    )
    if total:
        vectors = np.lib.format.open_memmap(
            Path(spill.name).with_name("vectors.npy"), mode="w+", dtype=np.float32, shape=(total, MODEL_DIM)
        )
    else:
        vectors = np.zeros((0, MODEL_DIM), dtype=np.float32)
    for aid in ids:
        entry = entries[aid]
        lo, hi = manifest_articles[aid]["chunks"]
        if hi == lo:
            continue
        if entry.fresh:
            vectors[lo:hi] = np.frombuffer(_read(spill, entry.vectors_at), dtype=np.float32).reshape(hi - lo, MODEL_DIM)
        else:
            olo, ohi = _old_range(old, aid)
            vectors[lo:hi] = old_vectors[olo:ohi]
    builder._write_generation(
        index_dir,
        current,
        _rows(index_dir, old, ids, entries, spill),
        vectors,
        manifest_articles,
        _article_records(index_dir, old, ids, entries, spill),
        report,
        corpus_label,
        config,
        prog,
        cache.model_id,
    )
    return report


def _old_range(old: store.Manifest, aid: str) -> tuple[int, int]:
    lo, hi = old.articles[aid]["chunks"]
    return int(lo), int(hi)


def _rows(index_dir, old, ids, entries, spill) -> Iterator[dict]:
    """Chunk rows in id order: new ones from the spill file, unchanged ones from the old chunk table."""
    table = None
    if old is not None:
        table = store.JsonlTable(index_dir / old.file("chunks"), index_dir / old.file("chunk_offsets"))
    try:
        for aid in ids:
            entry = entries[aid]
            if entry.fresh:
                yield from json.loads(_read(spill, entry.rows_at))
                continue
            lo, hi = _old_range(old, aid)
            for i in range(lo, hi):
                row = table[i]
                if row.get("article_id") != aid:
                    raise store.IndexFormatError(f"chunk table of {index_dir} is out of order; {store.FIX}")
                yield row
    finally:
        if table is not None:
            table.close()


def _article_records(index_dir, old, ids, entries, spill) -> Iterator[dict]:
    """Full article records in id order: new text from the spill file, unchanged text from the old index."""
    table = None
    old_row: dict[str, int] = {}
    if old is not None:
        table = store.JsonlTable(index_dir / old.file("articles"), index_dir / old.file("article_offsets"))
        old_row = {aid: i for i, aid in enumerate(sorted(old.articles))}
    try:
        for aid in ids:
            entry = entries[aid]
            if entry.fresh:
                yield json.loads(_read(spill, entry.spill))
                continue
            record = table[old_row[aid]]
            if record.get("id") != aid:
                raise store.IndexFormatError(f"articles table of {index_dir} is out of order; {store.FIX}")
            record["path"] = entry.meta["path"]  # the same article may have moved to another file
            yield record
    finally:
        if table is not None:
            table.close()
