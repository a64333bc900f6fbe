"""The txtai side of the comparison, run in txtai's own environment (not a dependency of qa).

    /work/txtai-venv/bin/python bench/txtai_side.py INPUT.json OUTPUT_DIR

INPUT.json: {"model": dir, "chunks": [{"id", "text"}], "questions": [...], "k": 5}
It indexes exactly the chunk texts qa embedded (title + chunk), with the same
model files, then answers the same questions; the last stdout line is JSON.
Or, as a user would run txtai on the same articles (its natural use):
{"model": dir, "articles": [{"id", "text"}], "hybrid": true, "questions": [...]}:
one row per paragraph (non-empty line) of each article, `Embeddings(content=True,
hybrid=True)` (dense + its BM25 scoring), its defaults otherwise.
This file imports nothing from qa, so that it runs wherever txtai is installed.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    out_dir = Path(argv[1])
    started = time.perf_counter()
    from txtai import Embeddings

    imported = time.perf_counter() - started
    hybrid = bool(spec.get("hybrid"))
    embeddings = Embeddings(
        path=spec["model"],
        content=True,
        hybrid=hybrid,
        batch=spec.get("batch", 1024),
        encodebatch=spec.get("encodebatch", 32),
    )
    if "chunks" in spec:
        rows = [(c["id"], c["text"], None) for c in spec["chunks"]]
    else:
        rows = paragraph_rows(spec["articles"])
    t = time.perf_counter()
    embeddings.index(rows)
    index_s = time.perf_counter() - t
    t = time.perf_counter()
    embeddings.save(str(out_dir))
    save_s = time.perf_counter() - t
    build_wall = time.perf_counter() - started  # import + model + index + save: the process's build part
    size = sum(p.stat().st_size for p in out_dir.rglob("*") if p.is_file())
    k = int(spec.get("k", 5))
    for q in spec["questions"][:5]:  # warm-up, as for qa
        embeddings.search(q, k)
    latencies, hits = [], []
    for q in spec["questions"]:
        t = time.perf_counter()
        res = embeddings.search(q, k)
        latencies.append(time.perf_counter() - t)
        hits.append([r["id"] for r in res])
    print(
        json.dumps(
            {
                "import_s": imported,
                "index_s": index_s,
                "save_s": save_s,
                "build_wall_s": build_wall,
                "chunks": len(rows),
                "articles": len(spec.get("articles", ())) or None,
                "index_bytes": size,
                "latencies": latencies,
                "hits": hits,
                "config": {k: v for k, v in embeddings.config.items() if k != "build"},
            }
        )
    )
    return 0


def paragraph_rows(articles: list[dict]) -> list[tuple[str, str, None]]:
    """(id, paragraph, None) for each non-empty line of each article: how txtai's examples index documents."""
    rows = []
    for article in articles:
        paragraphs = [line.strip() for line in article["text"].splitlines() if line.strip()]
        rows += [(f"{article['id']}#{i}", text, None) for i, text in enumerate(paragraphs)]
    return rows


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
