"""What an index holds, and whether the corpus changed since it was built (`qa status`, the web app's panel)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CorpusStatus:
    """Index facts plus the corpus's differences from what was indexed; to_dict() is `qa status --json`."""

    index: str
    corpus: str
    model: str
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
    from . import store
    from .domain import Skipped
    from .embed import MODEL_DIM, MODEL_IDS
    from .ingest import iter_corpus

    corpus, index = Path(corpus), Path(index)
    manifest = store.read_manifest(index)
    store.verify_sizes(index, manifest)
    store.check_model(manifest, MODEL_IDS, MODEL_DIM, index)
    m = manifest.data
    seen = {}
    if corpus.is_dir():
        for item in iter_corpus(corpus):
            if not isinstance(item, Skipped):
                seen[item.id] = item.hash
    old = {aid: e["hash"] for aid, e in m["articles"].items()}
    added = sorted(set(seen) - set(old))
    deleted = sorted(set(old) - set(seen))
    changed = sorted(a for a in set(seen) & set(old) if seen[a] != old[a])
    return CorpusStatus(
        index=str(index),
        corpus=str(corpus),
        model=m["model"]["id"],
        documents=m["counts"]["documents"],
        chunks=m["counts"]["chunks"],
        built_at=m["built_at"],
        dense=m["dense"]["type"],
        corpus_changed=bool(added or deleted or changed),
        added=added,
        changed=changed,
        deleted=deleted,
    )
