"""manifest.json as typed records that check themselves when read.

The manifest is the commit point of a build and the one file a reader trusts
to find the rest, so it is validated whole on load: a hand edit, bit rot or a
manifest of another format gives one IndexFormatError naming the fix, never a
KeyError deep inside a search. Every module reads it through these records.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from . import store
from .errors import IndexFormatError
from .store import FIX

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
FILE_KEYS = ("chunks", "chunk_offsets", "articles", "article_offsets", "chunk_article", "vectors", "lexical")
OPTIONAL_FILE_KEYS = ("dense",)  # an HNSW graph; a flat index has no file of its own (qa.index.open_dense)


class _Problem(ValueError):
    """Internal: what is wrong with a manifest (becomes an IndexFormatError with the index's path)."""


def _count(value, what: str, positive: bool = False) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < (1 if positive else 0):
        raise _Problem(f"'{what}' is not a {'positive ' if positive else ''}whole number")
    return value


def _text(value, what: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise _Problem(f"{what} is not text")
    return value


def _object(value, what: str) -> dict:
    if not isinstance(value, dict):
        raise _Problem(f"'{what}' is not an object")
    return value


@dataclass(frozen=True)
class ArticleEntry:
    """What the manifest keeps of one article: enough to diff, filter and cite without reading its text."""

    hash: str
    chunks: tuple[int, int]  # [first, end) rows of its chunks in the chunk table
    title: str | None = None
    source: str | None = None
    date: str | None = None
    path: str | None = None

    def to_dict(self) -> dict:
        return {
            "hash": self.hash,
            "title": self.title,
            "source": self.source,
            "date": self.date,
            "path": self.path,
            "chunks": list(self.chunks),
        }

    @classmethod
    def from_dict(cls, article_id: str, data) -> ArticleEntry:
        if not isinstance(data, dict):
            raise _Problem("'articles' is not an object of article entries")
        span = data.get("chunks")
        if not isinstance(data.get("hash"), str) or not (
            isinstance(span, list) and len(span) == 2 and all(isinstance(x, int) and x >= 0 for x in span)
        ):
            raise _Problem(f"the entry of article {article_id!r} is incomplete")
        if span[0] > span[1]:
            raise _Problem(f"the entry of article {article_id!r} is incomplete")
        what = f"the entry of article {article_id!r} has a title, source, date or path that"
        return cls(
            hash=data["hash"],
            chunks=(span[0], span[1]),
            title=_text(data.get("title"), what),
            source=_text(data.get("source"), what),
            date=_text(data.get("date"), what),
            path=_text(data.get("path"), what),
        )


@dataclass(frozen=True)
class ModelInfo:
    """The model the vectors came from: only it may embed questions for this index or vectors added to it."""

    id: str
    dim: int
    max_tokens: int | None = None
    package: str | None = None
    # A local folder model (`qa build --model PATH`): where it is and the hash of its files, so that a
    # search re-registers it from there, and refuses the folder once its files changed.
    path: str | None = None
    hash: str | None = None

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "dim": self.dim,
            "max_tokens": self.max_tokens,
            "package": self.package,
            "path": self.path,
            "hash": self.hash,
        }

    @classmethod
    def from_dict(cls, data) -> ModelInfo:
        data = _object(data, "model")
        if not isinstance(data.get("id"), str) or not data["id"]:
            raise _Problem("'model.id' is missing")
        max_tokens = data.get("max_tokens")
        if max_tokens is not None:
            _count(max_tokens, "model.max_tokens", positive=True)
        path, files_hash = _text(data.get("path"), "'model.path'"), _text(data.get("hash"), "'model.hash'")
        if (path is None) != (files_hash is None):
            raise _Problem("'model.path' and 'model.hash' go together")
        return cls(
            data["id"],
            _count(data.get("dim"), "model.dim", positive=True),
            max_tokens,
            _text(data.get("package"), "'model.package'"),
            path,
            files_hash,
        )


@dataclass(frozen=True)
class Manifest:
    """One committed generation of an index."""

    generation: int
    model: ModelInfo
    files: dict[str, str]
    articles: dict[str, ArticleEntry]  # in sorted id order, as the tables are
    chunks: int
    dense: dict
    chunking: dict = field(default_factory=dict)
    lexical: dict = field(default_factory=dict)
    previous_generation: int | None = None
    built_at: str = ""
    corpus: str = ""
    sizes: dict[str, int] | None = None
    skipped: list[dict] = field(default_factory=list)

    @property
    def documents(self) -> int:
        return len(self.articles)

    def file(self, key: str) -> str:
        return self.files[key]

    def to_dict(self) -> dict:
        return {
            "format_version": FORMAT_VERSION,
            "generation": self.generation,
            "previous_generation": self.previous_generation,
            "built_at": self.built_at,
            "corpus": self.corpus,
            "model": self.model.to_dict(),
            "chunking": self.chunking,
            "dense": self.dense,
            "lexical": self.lexical,
            "counts": {"documents": self.documents, "chunks": self.chunks, "skipped": len(self.skipped)},
            "files": self.files,
            "sizes": self.sizes,
            "skipped": self.skipped,
            "articles": {aid: entry.to_dict() for aid, entry in self.articles.items()},
        }

    @classmethod
    def from_dict(cls, data, where: Path | str = "the index") -> Manifest:
        """Check every field a reader relies on; any problem is an IndexFormatError with the fix."""
        if not isinstance(data, dict):
            raise IndexFormatError(f"manifest.json in {where} is not a JSON object; {FIX}")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise IndexFormatError(
                f"index in {where} has format version {version!r}, this qa reads version {FORMAT_VERSION}; {FIX}"
            )
        for key in ("generation", "model", "files", "articles", "counts"):
            if key not in data:
                raise IndexFormatError(f"manifest.json in {where} lacks '{key}'; {FIX}")
        try:
            return cls._parse(data)
        except _Problem as problem:
            raise IndexFormatError(f"manifest.json in {where} is damaged ({problem}); {FIX}") from None

    @classmethod
    def _parse(cls, data: dict) -> Manifest:
        generation = _count(data["generation"], "generation", positive=True)
        prev = data.get("previous_generation")
        if prev is not None:
            _count(prev, "previous_generation")
        files = _object(data["files"], "files")
        for key in FILE_KEYS + tuple(k for k in OPTIONAL_FILE_KEYS if k in files):
            name = files.get(key)
            # Plain names only: a manifest must never point a reader outside the index directory.
            if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith("."):
                raise _Problem(f"'files.{key}' is missing or not a plain file name")
        counts = data["counts"]
        if not isinstance(counts, dict) or not all(
            isinstance(counts.get(k), int) and not isinstance(counts.get(k), bool) and counts[k] >= 0
            for k in ("documents", "chunks")
        ):
            raise _Problem("'counts' lacks whole-number 'documents' and 'chunks'")
        raw_articles = _object(data["articles"], "articles")
        articles = {aid: ArticleEntry.from_dict(aid, entry) for aid, entry in raw_articles.items()}
        if len(articles) != counts["documents"]:
            raise _Problem(f"{len(articles)} articles listed but 'counts.documents' is {counts['documents']}")
        n_chunks = counts["chunks"]
        for aid, entry in articles.items():
            if entry.chunks[1] > n_chunks:
                raise _Problem(f"the entry of article {aid!r} is incomplete")
        covered = max((e.chunks[1] for e in articles.values()), default=0)
        if covered != n_chunks:
            raise _Problem(f"the article entries cover {covered} chunks but 'counts.chunks' is {n_chunks}")
        dense = data.get("dense")
        if (
            not isinstance(dense, dict)
            or dense.get("type") not in ("flat", "hnsw")
            or (dense["type"] == "hnsw" and not (isinstance(dense.get("efSearch"), int) and dense["efSearch"] >= 0))
        ):
            raise _Problem("'dense' does not describe a flat or HNSW index")
        if dense["type"] == "hnsw" and "dense" not in files:
            raise _Problem("'files.dense' is missing for its HNSW index")
        sizes = data.get("sizes")
        if sizes is not None and not (
            isinstance(sizes, dict)
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in sizes.values())
        ):
            raise _Problem("'sizes' is not an object of byte counts")
        skipped = data.get("skipped")
        if skipped is not None and not (isinstance(skipped, list) and all(_skip_entry(s) for s in skipped)):
            raise _Problem("'skipped' is not a list of skipped files")
        return cls(
            generation=generation,
            previous_generation=prev,
            model=ModelInfo.from_dict(data["model"]),
            files=dict(files),
            articles=articles,
            chunks=n_chunks,
            dense=dense,
            chunking=data.get("chunking") or {},
            lexical=data.get("lexical") or {},
            built_at=str(data.get("built_at") or ""),
            corpus=str(data.get("corpus") or ""),
            sizes=sizes,
            skipped=list(skipped or []),
        )


def generation_files(gen: int) -> dict[str, str]:
    """The data files of generation `gen`, by role."""
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


def read_manifest(index_dir: Path | str) -> Manifest:
    """Read and check manifest.json; every problem is an IndexFormatError with the fix."""
    index_dir = Path(index_dir)
    path = index_dir / MANIFEST
    if not index_dir.is_dir() or not path.exists():
        if index_dir.is_dir() and store.has_generation_files(index_dir):
            raise IndexFormatError(f"manifest.json is missing from the index files in {index_dir}; {FIX}")
        raise IndexFormatError(f"no index in {index_dir} (manifest.json not found); run `qa build` first")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise IndexFormatError(f"manifest.json in {index_dir} is unreadable ({exc}); {FIX}") from exc
    return Manifest.from_dict(data, index_dir)


def commit_manifest(index_dir: Path, manifest: Manifest) -> None:
    """The commit point of a build: readers see the new generation from here on."""
    payload = json.dumps(manifest.to_dict(), ensure_ascii=False, indent=1).encode("utf-8")
    store.atomic_write_bytes(Path(index_dir) / MANIFEST, payload)
    store.fsync_dir(Path(index_dir))


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
    for name, size in (manifest.sizes or {}).items():
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


def _skip_entry(entry) -> bool:
    """One skipped file as the build records it: an object whose "line", if any, is a line number."""
    if not isinstance(entry, dict):
        return False
    line = entry.get("line")
    return line is None or (isinstance(line, int) and not isinstance(line, bool))
