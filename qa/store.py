"""The index directory: plain, named files, committed atomically.

Layout (``<g>`` is the generation number of a build):

    manifest.json            the commit point: names the files of the live generation
    chunks.<g>.jsonl         chunk table, one JSON object per line
    chunks.<g>.offsets.npy   byte offset of each line (random access without parsing all)
    articles.<g>.jsonl       cleaned articles (cited text), one per line
    articles.<g>.offsets.npy
    chunk_article.<g>.npy    int32 article row of each chunk (filters, dedup)
    vectors.<g>.npy          float32 [chunks, dim] unit vectors
    dense.<g>.faiss          FAISS index over the vectors
    lexical.<g>/             bm25s index (plain .npy/.json files)
    embeddings.sqlite        embedding cache, shared by all generations
    build.lock               held while a build runs

Every data file is written under a temporary name and moved into place with
``os.replace``; ``manifest.json`` is replaced last. A reader that reads the
manifest therefore sees either the old generation or the new one, whole. The
previous generation is kept one build longer so that a reader that has just
read the old manifest can still open its files.
"""

from __future__ import annotations

import json
import mmap
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .errors import IndexFormatError

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
LOCK = "build.lock"
CACHE = "embeddings.sqlite"
_GEN_FILE = re.compile(r"^[a-z_]+\.(\d+)(\.|/|$)")
FIX = "run `qa build --full` to rebuild it"


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """Open a temporary file beside path; on success it replaces path whole, on failure it vanishes."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write data to path so that readers see the old file or the new one, never half."""
    with atomic_file(path) as f:
        f.write(data)


def atomic_save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_file(path) as f:
        np.save(f, array, allow_pickle=False)


def atomic_write_jsonl(path: Path, rows) -> np.ndarray:
    """Write rows as JSON lines; return the byte offset of each line (plus the end)."""
    offsets = [0]
    with atomic_file(path) as f:
        pos = 0
        for row in rows:
            line = (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
            f.write(line)
            pos += len(line)
            offsets.append(pos)
    return np.asarray(offsets, dtype=np.int64)


class JsonlTable:
    """Random access to the rows of a JSON-lines file through a memory map.

    Rows are parsed on demand, so a million-row table costs 8 bytes a row of
    resident memory (its offsets), not a million Python objects.
    """

    def __init__(self, path: Path, offsets_path: Path):
        self.path = path
        try:
            self.offsets = np.load(offsets_path, mmap_mode="r", allow_pickle=False)
            size = path.stat().st_size
        except Exception as exc:  # noqa: BLE001 - numpy raises many kinds on a damaged header
            raise IndexFormatError(f"index table {path.name} is missing or unreadable ({exc}); {FIX}") from exc
        if len(self.offsets) == 0 or int(self.offsets[-1]) != size:
            raise IndexFormatError(f"index table {path.name} is truncated or altered; {FIX}")
        self._file = open(path, "rb")
        self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ) if size else b""

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, row: int) -> dict:
        if not 0 <= row < len(self):
            raise IndexError(row)
        a, b = int(self.offsets[row]), int(self.offsets[row + 1])
        try:
            return json.loads(self._map[a:b])
        except ValueError as exc:
            raise IndexFormatError(f"index table {self.path.name} is corrupt at row {row}; {FIX}") from exc

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def close(self) -> None:
        if isinstance(self._map, mmap.mmap):
            self._map.close()
        self._file.close()


@dataclass
class Manifest:
    data: dict

    @property
    def generation(self) -> int:
        return int(self.data["generation"])

    def file(self, key: str) -> str:
        return self.data["files"][key]

    @property
    def articles(self) -> dict[str, dict]:
        return self.data["articles"]


def generation_files(gen: int) -> dict[str, str]:
    return {
        "chunks": f"chunks.{gen}.jsonl",
        "chunk_offsets": f"chunks.{gen}.offsets.npy",
        "articles": f"articles.{gen}.jsonl",
        "article_offsets": f"articles.{gen}.offsets.npy",
        "chunk_article": f"chunk_article.{gen}.npy",
        "vectors": f"vectors.{gen}.npy",
        "dense": f"dense.{gen}.faiss",
        "lexical": f"lexical.{gen}",
    }


def manifest_stamp(index_dir: Path) -> tuple[int, int, int] | None:
    """(inode, size, mtime) of manifest.json: a build's commit (os.replace) always changes it.

    Lets a reader check for a new generation with one stat() instead of parsing
    a manifest that lists every article (tens of ms at a few thousand articles).
    """
    try:
        st = os.stat(Path(index_dir) / MANIFEST)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def read_manifest(index_dir: Path) -> Manifest:
    """Read and check manifest.json; every problem is an IndexFormatError with the fix."""
    path = Path(index_dir) / MANIFEST
    if not Path(index_dir).is_dir() or not path.exists():
        if Path(index_dir).is_dir() and any(_GEN_FILE.match(p.name) for p in Path(index_dir).iterdir()):
            raise IndexFormatError(f"manifest.json is missing from the index files in {index_dir}; {FIX}")
        raise IndexFormatError(f"no index in {index_dir} (manifest.json not found); run `qa build` first")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise IndexFormatError(f"manifest.json in {index_dir} is unreadable ({exc}); {FIX}") from exc
    if not isinstance(data, dict):
        raise IndexFormatError(f"manifest.json in {index_dir} is not a JSON object; {FIX}")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise IndexFormatError(
            f"index in {index_dir} has format version {version!r}, this qa reads version {FORMAT_VERSION}; {FIX}"
        )
    for key in ("generation", "model", "files", "articles", "counts"):
        if key not in data:
            raise IndexFormatError(f"manifest.json in {index_dir} lacks '{key}'; {FIX}")
    problem = _manifest_problem(data)
    if problem:
        raise IndexFormatError(f"manifest.json in {index_dir} is damaged ({problem}); {FIX}")
    return Manifest(data)


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _manifest_problem(data: dict) -> str | None:
    """What is structurally wrong with a manifest (hand edits, bit rot), or None."""
    if not _is_count(data["generation"]) or data["generation"] == 0:
        return "'generation' is not a positive whole number"
    prev = data.get("previous_generation")
    if prev is not None and not _is_count(prev):
        return "'previous_generation' is not a whole number"
    if not isinstance(data["model"], dict):
        return "'model' is not an object"
    files = data["files"]
    if not isinstance(files, dict):
        return "'files' is not an object"
    for key in generation_files(0):
        name = files.get(key)
        # Plain names only: a manifest must never point a reader outside the index directory.
        if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith("."):
            return f"'files.{key}' is missing or not a plain file name"
    counts = data["counts"]
    if not isinstance(counts, dict) or not all(_is_count(counts.get(k)) for k in ("documents", "chunks")):
        return "'counts' lacks whole-number 'documents' and 'chunks'"
    articles = data["articles"]
    if not isinstance(articles, dict) or not all(isinstance(e, dict) for e in articles.values()):
        return "'articles' is not an object of article entries"
    if len(articles) != counts["documents"]:
        return f"{len(articles)} articles listed but 'counts.documents' is {counts['documents']}"
    for aid, entry in articles.items():
        span = entry.get("chunks")
        if not isinstance(entry.get("hash"), str) or not (
            isinstance(span, list)
            and len(span) == 2
            and all(_is_count(x) for x in span)
            and span[0] <= span[1] <= counts["chunks"]
        ):
            return f"the entry of article {aid!r} is incomplete"
        if not all(entry.get(k) is None or isinstance(entry[k], str) for k in ("title", "source", "date", "path")):
            return f"the entry of article {aid!r} has a title, source, date or path that is not text"
    ends = [e["chunks"][1] for e in articles.values()]
    if max(ends, default=0) != counts["chunks"]:
        return f"the article entries cover {max(ends, default=0)} chunks but 'counts.chunks' is {counts['chunks']}"
    dense = data.get("dense")
    if (
        not isinstance(dense, dict)
        or dense.get("type") not in ("flat", "hnsw")
        or (dense["type"] == "hnsw" and not _is_count(dense.get("efSearch")))
    ):
        return "'dense' does not describe a flat or HNSW index"
    sizes = data.get("sizes")
    if sizes is not None and not (isinstance(sizes, dict) and all(_is_count(v) for v in sizes.values())):
        return "'sizes' is not an object of byte counts"
    return None


def file_sizes(index_dir: Path, files: dict[str, str]) -> dict[str, int]:
    """Byte size of every data file of a generation (directories: of each file inside), for the manifest."""
    sizes: dict[str, int] = {}
    for name in files.values():
        path = Path(index_dir) / name
        if path.is_dir():
            for inner in sorted(path.iterdir()):
                sizes[f"{name}/{inner.name}"] = inner.stat().st_size
        else:
            sizes[name] = path.stat().st_size
    return sizes


def verify_sizes(index_dir: Path, manifest: Manifest) -> None:
    """Cheap check that no data file is missing, truncated or replaced (manifests that record sizes)."""
    for name, size in (manifest.data.get("sizes") or {}).items():
        path = Path(index_dir) / name
        try:
            actual = path.stat().st_size
        except OSError:
            raise IndexFormatError(f"index file {name} is missing from {index_dir}; {FIX}") from None
        if actual != size:
            raise IndexFormatError(
                f"index file {name} in {index_dir} has {actual} bytes, the manifest says {size} "
                f"(truncated or altered); {FIX}"
            )


def check_model(manifest: Manifest, model_ids: tuple[str, ...], dim: int, index_dir: Path) -> str:
    """The index's model id, if it is one this qa can embed questions with (else the error and its fix)."""
    model = manifest.data.get("model") or {}
    if model.get("id") not in model_ids or model.get("dim") != dim:
        raise IndexFormatError(
            f"index in {index_dir} was built with model {model.get('id')!r} (dim {model.get('dim')}), "
            f"but this qa uses {' or '.join(map(repr, model_ids))} (dim {dim}); {FIX}"
        )
    return model["id"]


def commit_manifest(index_dir: Path, data: dict) -> None:
    """The commit point of a build."""
    atomic_write_bytes(Path(index_dir) / MANIFEST, json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"))
    fsync_dir(Path(index_dir))


def collect_garbage(index_dir: Path, keep: set[int]) -> list[str]:
    """Remove files of generations not in keep, and temporaries of killed builds."""
    removed = []
    for entry in Path(index_dir).iterdir():
        name = entry.name
        match = _GEN_FILE.match(name)
        stale = name.startswith(".") and name.endswith(".tmp") or name.startswith(".tmp-")
        if match and int(match.group(1)) not in keep:
            stale = True
        if stale:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(name)
    return removed
