"""Does int8 quantization of the ONNX model cost retrieval quality? nDCG@10 on a SciFact subsample.

    python -m bench.int8_eval [--docs 1500] [--work DIR]

The full SciFact corpus takes too long to embed twice on this machine, so the
subsample keeps every document judged for the 300 test claims plus seeded
random distractors up to --docs documents; the same subsample is indexed with
the fp32 and the int8 ONNX models and scored with `qa.evaluate` (hybrid and
dense). Prints one JSON line; the rule (issue 6) is to adopt int8 only if it
loses less than 0.005 nDCG@10.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import shutil
import sqlite3
import sys
import time
from pathlib import Path

from .data import ROOT

SCIFACT = ROOT.parent / "shared" / "data" / "scifact"


def subsample(src: Path, dest: Path, docs: int, seed: int = 0) -> dict:
    """A BEIR folder with the judged documents plus random distractors (test qrels only)."""
    from qa import beir

    qrels = beir.load_qrels(src / "qrels_test.tsv")
    judged = {d for rel in qrels.values() for d in rel}
    rows = list(beir.read_jsonl(beir.find_file(src, "corpus")))
    others = [r for r in rows if str(r["_id"]) not in judged]
    random.Random(seed).shuffle(others)
    keep = [r for r in rows if str(r["_id"]) in judged] + others[: max(0, docs - len(judged))]
    dest.mkdir(parents=True, exist_ok=True)
    with open(dest / "corpus.jsonl", "w", encoding="utf-8") as f:
        for r in keep:
            f.write(json.dumps(r) + "\n")
    with (
        gzip.open(src / "queries.jsonl.gz", "rt", encoding="utf-8") as f_in,
        open(dest / "queries.jsonl", "w", encoding="utf-8") as f_out,
    ):
        f_out.writelines(line for line in f_in if json.loads(line)["_id"] in qrels)
    shutil.copy(src / "qrels_test.tsv", dest / "qrels_test.tsv")
    return {"documents": len(keep), "judged": len(judged), "queries": len(qrels)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.int8_eval", description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=1500)
    ap.add_argument("--work", type=Path, default=Path("/tmp/qa-bench-int8"))
    ap.add_argument(
        "--fp32-cache",
        type=Path,
        default=None,
        help="an embeddings.sqlite of fp32 SciFact vectors to seed the fp32 index (saves time)",
    )
    args = ap.parse_args(argv)
    from qa.config import Config
    from qa.evaluate import evaluate_beir
    from qa.onnx_backend import OnnxEmbedder

    folder = args.work / "scifact-sub"
    out: dict = {"subsample": subsample(SCIFACT, folder, args.docs)}
    config = Config()
    for label, quantize in (("fp32", False), ("int8", True)):
        model = OnnxEmbedder(quantize=quantize)
        index_dir = args.work / f"index-{label}"
        if not quantize and args.fp32_cache and args.fp32_cache.exists() and not index_dir.exists():
            from qa import store

            index_dir.mkdir(parents=True)
            src = sqlite3.connect(f"file:{args.fp32_cache}?mode=ro", uri=True)
            dst = sqlite3.connect(index_dir / store.CACHE)
            src.backup(dst)  # consistent even while its owner writes (WAL mode)
            src.close()
            dst.close()
        t = time.perf_counter()
        res = {
            mode: evaluate_beir(folder, index_dir=index_dir, mode=mode, config=config, embedder=model).metrics
            for mode in ("hybrid", "dense")
        }
        out[label] = {"metrics": res, "seconds": time.perf_counter() - t}
        print(label, json.dumps(res), file=sys.stderr, flush=True)
    out["ndcg10_loss"] = {
        m: out["fp32"]["metrics"][m]["nDCG@10"] - out["int8"]["metrics"][m]["nDCG@10"] for m in ("hybrid", "dense")
    }
    out["adopt_int8"] = all(loss < 0.005 for loss in out["ndcg10_loss"].values())
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
