"""Read BEIR-format benchmark folders: corpus, queries and relevance judgments.

A BEIR folder holds `corpus.jsonl[.gz]` (`_id`, `title`, `text`),
`queries.jsonl[.gz]` (`_id`, `text`, optionally `answers`) and qrels TSV files
(`query-id corpus-id score`, with a header). Documents become Articles as they
are: benchmark text is already clean, so no boilerplate cleaning runs on it.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from .domain import Article
from .errors import QAError


class DatasetError(QAError):
    """A benchmark or questions file is missing or malformed."""


def _open(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def find_file(folder: Path, stem: str) -> Path:
    """`stem.jsonl` or `stem.jsonl.gz` inside folder."""
    for name in (f"{stem}.jsonl", f"{stem}.jsonl.gz"):
        if (folder / name).is_file():
            return folder / name
    raise DatasetError(f"{folder} has no {stem}.jsonl or {stem}.jsonl.gz: is it a BEIR-format folder?")


def read_jsonl(path: Path) -> Iterator[dict]:
    with _open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise DatasetError(f"{path}:{number}: expected a JSON object")
            yield row


def iter_corpus(folder: Path) -> Iterator[Article]:
    """Each BEIR document as one Article (id = `_id`)."""
    path = find_file(folder, "corpus")
    for number, row in enumerate(read_jsonl(path), 1):
        if "_id" not in row:
            raise DatasetError(f"{path}:{number}: a corpus line needs an `_id`")
        yield Article(id=str(row["_id"]), title=str(row.get("title") or "").strip(), text=str(row.get("text") or ""))


def load_queries(folder: Path) -> dict[str, dict]:
    """query id -> {"text": ..., "answers": [...]} (answers only if the file has them)."""
    path = find_file(folder, "queries")
    queries: dict[str, dict] = {}
    for number, row in enumerate(read_jsonl(path), 1):
        if "_id" not in row or not isinstance(row.get("text"), str):
            raise DatasetError(f"{path}:{number}: a query line needs `_id` and `text`")
        queries[str(row["_id"])] = {"text": row["text"], "answers": list(row.get("answers") or [])}
    return queries


def default_qrels(folder: Path) -> Path:
    """`qrels_test.tsv` if present, else `qrels.tsv` (also looked for under qrels/ as BEIR ships it)."""
    for candidate in ("qrels_test.tsv", "qrels.tsv", "qrels/test.tsv"):
        if (folder / candidate).is_file():
            return folder / candidate
    raise DatasetError(f"{folder} has no qrels_test.tsv or qrels.tsv; name the judgments with --qrels FILE")


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    """query id -> {doc id: relevance}; the header line is optional."""
    if not path.is_file():
        raise DatasetError(f"qrels file {path} does not exist")
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if number == 1 and not parts[-1].lstrip("-").isdigit():
                continue  # header
            if len(parts) < 3:
                raise DatasetError(f"{path}:{number}: expected `query-id corpus-id score`")
            try:
                score = int(float(parts[-1]))
            except ValueError:
                raise DatasetError(f"{path}:{number}: the score {parts[-1]!r} is not a number") from None
            qrels.setdefault(parts[0], {})[parts[1]] = score
    if not qrels:
        raise DatasetError(f"qrels file {path} has no judgments")
    return qrels
