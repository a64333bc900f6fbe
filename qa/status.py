"""What an index holds, and whether the corpus changed since it was built (`qa status`, the web app's panel)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .embed import EmbeddingPath


@dataclass(frozen=True)
class CorpusStatus:
    """Index facts plus the corpus's differences from what was indexed; to_dict() is `qa status --json`."""

    index: str
    corpus: str
    model: str
    embedding: EmbeddingPath  # what would embed questions for this index on this machine
    documents: int
    chunks: int
    built_at: str | None
    dense: str
    corpus_changed: bool
    added: list[str]
    changed: list[str]
    deleted: list[str]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def corpus_status(corpus: str | Path, index: str | Path) -> CorpusStatus:
    """Reads the index's manifest (checked like a search would) and compares it with the corpus folder.

    A missing corpus folder counts as empty: every indexed article shows as deleted.
    """
    from .domain import Skipped
    from .embed import check_model, embedding_path
    from .generation import diff
    from .ingest import iter_corpus
    from .manifest import read_manifest, verify_sizes

    corpus, index = Path(corpus), Path(index)
    manifest = read_manifest(index)
    verify_sizes(index, manifest)
    check_model(manifest.model, index)
    seen, paths = {}, {}
    if corpus.is_dir():
        for item in iter_corpus(corpus):
            if not isinstance(item, Skipped):
                seen[item.id], paths[item.id] = item.hash, item.path
    plan = diff(manifest, seen, paths)
    return CorpusStatus(
        index=str(index),
        corpus=str(corpus),
        model=manifest.model.id,
        embedding=embedding_path(manifest.model.id),
        documents=manifest.documents,
        chunks=manifest.chunks,
        built_at=manifest.built_at,
        dense=manifest.dense["type"],
        corpus_changed=not plan.nothing_to_do,
        added=list(plan.added),
        changed=list(plan.changed),
        deleted=list(plan.deleted),
    )
