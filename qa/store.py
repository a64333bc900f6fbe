"""The index directory: plain, named files, committed atomically.

Layout (``<g>`` is the generation number of a build):

    manifest.json            the commit point: names the files of the live generation
    chunks.<g>.jsonl         chunk table, one JSON object per line
    chunks.<g>.offsets.npy   byte offset of each line (random access without parsing all)
    articles.<g>.jsonl       cleaned articles (cited text), one per line
    articles.<g>.offsets.npy
    chunk_article.<g>.npy    int32 article row of each chunk (filters, dedup)
    vectors.<g>.npy          float32 [chunks, dim] unit vectors: the one copy on disk
    dense.<g>.faiss          HNSW graph over them, written without the vectors (large indexes only;
                             a flat index is made from vectors.<g>.npy when opened)
    lexical.<g>/             bm25s index (plain .npy/.json files) + each chunk's terms (DocTerms)
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
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .errors import IndexFormatError

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


class NpyRows:
    """Rows of a 2-d .npy file, read on demand (not memory-mapped).

    Why: the touched pages of a memory map count in the process's RSS; a build
    that passes over a large file once keeps only what it asked for resident.
    """

    def __init__(self, path: Path):
        self.path = path
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        fmt = np.lib.format
        try:
            version = fmt.read_magic(self._file)
            read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, fortran, self.dtype = read(self._file)
        except ValueError as exc:
            self._file.close()
            raise IndexFormatError(f"{path.name} is unreadable ({exc}); {FIX}") from exc
        if fortran or len(shape) != 2:
            self._file.close()
            raise IndexFormatError(f"{path.name} is not a 2-d C-ordered array; {FIX}")
        self.shape: tuple[int, int] = shape
        self._start = self._file.tell()
        self._width = shape[1] * self.dtype.itemsize

    def rows(self, lo: int, hi: int) -> np.ndarray:
        """Rows [lo, hi) as a new array."""
        data = os.pread(self._file.fileno(), (hi - lo) * self._width, self._start + lo * self._width)
        if len(data) != (hi - lo) * self._width:
            raise IndexFormatError(f"{self.path.name} is truncated; {FIX}")
        return np.frombuffer(data, dtype=self.dtype).reshape(hi - lo, self.shape[1])

    def close(self) -> None:
        self._file.close()


# How vectors.<g>.npy stores the vectors (qa.generation._write_vectors says why float16);
# indexes written before hold float32 and are read as they are.
VECTOR_DTYPE = np.float16


def npy_blocks(path: Path, rows: int = 16_384) -> Iterator[np.ndarray]:
    """The rows of a 2-d .npy file as float32 (what FAISS takes), `rows` at a time: one block resident."""
    table = NpyRows(path)
    try:
        for lo in range(0, table.shape[0], rows):
            yield table.rows(lo, min(lo + rows, table.shape[0])).astype(np.float32, copy=False)
    finally:
        table.close()


def atomic_write_jsonl(path: Path, rows) -> np.ndarray:
    """Write rows as JSON lines; return the byte offset of each line (plus the end).

    A row is a dict, or a line already encoded (bytes ending in a newline, as JsonlTable.raw
    returns it): rows copied from a previous table are not parsed and written again.
    """
    offsets = [0]
    with atomic_file(path) as f:
        pos = 0
        for row in rows:
            line = row if isinstance(row, bytes) else (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
            f.write(line)
            pos += len(line)
            offsets.append(pos)
    return np.asarray(offsets, dtype=np.int64)


def iter_jsonl(path: Path) -> Iterator[dict]:
    """The rows of a JSON-lines file in order, read (not memory-mapped): one pass keeps a buffer
    resident, not the whole file (a mapped file's pages count in the process's RSS)."""
    with open(path, "rb") as f:
        for line in f:
            yield json.loads(line)


class JsonlTable:
    """Random access to the rows of a JSON-lines file through a memory map.

    Rows are parsed on demand, so a million-row table costs 8 bytes a row of
    resident memory (its offsets), not a million Python objects.
    """

    def __init__(self, path: Path, offsets_path: Path, mapped: bool = True):
        """mapped=False reads each row with pread instead: for one pass over a large table (a build)."""
        self.path = path
        try:
            self.offsets = np.load(offsets_path, mmap_mode="r", allow_pickle=False)
            size = path.stat().st_size
        except Exception as exc:  # noqa: BLE001 - numpy raises many kinds on a damaged header
            raise IndexFormatError(f"index table {path.name} is missing or unreadable ({exc}); {FIX}") from exc
        if len(self.offsets) == 0 or int(self.offsets[-1]) != size:
            raise IndexFormatError(f"index table {path.name} is truncated or altered; {FIX}")
        self._file = open(path, "rb")
        self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ) if size and mapped else None

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def raw(self, row: int) -> bytes:
        """The row's line as stored (with its newline), not parsed."""
        if not 0 <= row < len(self):
            raise IndexError(row)
        a, b = int(self.offsets[row]), int(self.offsets[row + 1])
        return self._map[a:b] if self._map is not None else os.pread(self._file.fileno(), b - a, a)

    def __getitem__(self, row: int) -> dict:
        data = self.raw(row)
        try:
            return json.loads(data)
        except ValueError as exc:
            raise IndexFormatError(f"index table {self.path.name} is corrupt at row {row}; {FIX}") from exc

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def close(self) -> None:
        if isinstance(self._map, mmap.mmap):
            self._map.close()
        self._file.close()


def has_generation_files(index_dir: Path) -> bool:
    """True if index_dir holds data files of some generation (an index, perhaps without its manifest)."""
    return any(_GEN_FILE.match(p.name) for p in Path(index_dir).iterdir())


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
