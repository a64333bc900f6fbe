"""The Ray engine against the local engine: the same news slice, fresh processes, alternating runs.

    python -m bench.ray_vs_local --articles 2000 --out /tmp/ray_vs_local.json

Each build is `--full` in a fresh process (the driver), timed with its peak
RSS (VmHWM). For Ray, the local runtime's processes (GCS, raylet, workers,
the embedding actor) are children of the driver: their summed RSS, PSS and
CPU seconds are sampled every 0.5 s (CPU seconds are the fair cost on a shared
box, where wall time mostly measures the other tenants). Afterwards the two indexes are compared (chunks, ids,
vectors, answers), and an incremental rebuild (1% of articles edited) is timed.
Engines alternate (--first picks which starts) because this box is shared:
the load average is recorded with each run.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np

from . import data, measure


def _tree_memory(stop: threading.Event, peaks: dict) -> None:
    """Peak summed RSS and PSS of this process and all its descendants."""
    import psutil

    me = psutil.Process()
    cpu: dict[int, float] = {}  # last seen user+system seconds of each process of the tree
    while True:
        rss = pss = 0
        procs = [me, *me.children(recursive=True)]
        for p in procs:
            try:
                info = p.memory_full_info()
                times = p.cpu_times()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
            cpu[p.pid] = times.user + times.system
        peaks["tree_rss_mb"] = max(peaks.get("tree_rss_mb", 0.0), rss / 2**20)
        peaks["tree_pss_mb"] = max(peaks.get("tree_pss_mb", 0.0), pss / 2**20)
        peaks["processes"] = max(peaks.get("processes", 0), len(procs))
        peaks["tree_cpu_s"] = sum(cpu.values())  # CPU time is what contention on a shared box does not inflate
        if stop.wait(0.5):
            return


def child(engine: str, corpus: Path, index: Path, full: bool) -> dict:
    """One build in this process; the report, the stage times and the memory peaks, as JSON."""
    peaks: dict = {}
    stop = threading.Event()
    sampler = threading.Thread(target=_tree_memory, args=(stop, peaks), daemon=True)
    sampler.start()
    out: dict = {"engine": engine}
    t0 = time.perf_counter()
    try:
        if engine == "local":
            from qa import build

            report = build(corpus, index, full=full, progress=False)
        else:
            from qa.ray_engine import build_ray, ray_runtime

            with ray_runtime(num_cpus=2):
                out["runtime_start_s"] = time.perf_counter() - t0
                report = build_ray(corpus, index, full=full, progress=False)
    finally:
        stop.set()
        sampler.join()
    out["seconds"] = time.perf_counter() - t0
    out["build_s"] = report.seconds
    out["report"] = report.to_dict()
    out.update(peaks)
    return out


def _run(engine: str, corpus: Path, index: Path, full: bool) -> dict:
    load = measure.load_avg()
    res = measure.run_process([measure.python(), "-m", "bench.ray_vs_local", "--child", engine, "--corpus",
                               str(corpus), "--index", str(index)] + (["--full"] if full else []))
    out = res.json()
    out["driver_peak_rss_mb"] = res.peak_rss_mb
    out["process_s"] = res.seconds
    out["load_avg"] = load
    print(json.dumps(out), file=sys.stderr)
    return out


def _tokens(index: Path) -> int:
    """Word pieces the model saw (embedded texts, with special tokens)."""
    from qa.embed import WordPieceCounter
    from qa.index import Index

    counter = WordPieceCounter()
    idx = Index.open(index)
    try:
        texts = [f"{c['title']}\n{c['text']}" if c["title"] else c["text"] for c in idx.chunks]
    finally:
        idx.close()
    return sum(counter.count(texts)) + 2 * len(texts)


def _compare(a: Path, b: Path, questions: list[str]) -> dict:
    from qa.embed import load_embedder
    from qa.testing import fingerprint_differences, index_fingerprint

    fa = index_fingerprint(a, questions, load_embedder())
    fb = index_fingerprint(b, questions, load_embedder())
    diff = float(np.abs(fa["vectors"] - fb["vectors"]).max()) if fa["vectors"].shape == fb["vectors"].shape else None
    return {"differences": fingerprint_differences(fa, fb, atol=1e-5), "max_abs_vector_diff": diff,
            "chunks": len(fa["chunks"]), "questions": len(questions)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=1, help="full builds per engine (alternating)")
    ap.add_argument("--first", choices=("local", "ray"), default="local", help="engine of the first run")
    ap.add_argument("--work", default="/tmp/qa-ray-bench")
    ap.add_argument("--out", default=None)
    ap.add_argument("--child", choices=("local", "ray"), help=argparse.SUPPRESS)
    ap.add_argument("--corpus", help=argparse.SUPPRESS)
    ap.add_argument("--index", help=argparse.SUPPRESS)
    ap.add_argument("--full", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, Path(args.corpus), Path(args.index), args.full)))
        return 0

    work = Path(args.work)
    rows, _ = data.pick_slice(data.read_news(), args.articles)
    corpus = work / "corpus"
    data.write_corpus(rows, corpus / "news.jsonl")
    indexes = {"local": work / "index-local", "ray": work / "index-ray"}
    result: dict = {"articles": len(rows), "runs": [], "machine": {"cpus": 2}}
    for r in range(args.rounds):
        order = ("local", "ray") if (r % 2 == 0) == (args.first == "local") else ("ray", "local")
        for engine in order:
            result["runs"].append(_run(engine, corpus, indexes[engine], full=True))
    result["tokens"] = _tokens(indexes["local"])
    questions = data.questions_for(rows, 30)
    result["equality"] = _compare(indexes["local"], indexes["ray"], questions)

    # Incremental: 1% of the articles edited; both engines update their own index.
    changed = {r["id"] for r in rows[:: max(1, len(rows) // max(1, len(rows) // 100))][: max(1, len(rows) // 100)]}
    data.write_corpus([data.edited(r, "bench") if r["id"] in changed else r for r in rows], corpus / "news.jsonl")
    result["incremental"] = [_run(engine, corpus, indexes[engine], full=False) for engine in ("local", "ray")]
    result["equality_after_incremental"] = _compare(indexes["local"], indexes["ray"], questions)
    text = json.dumps(result, indent=1)
    if args.out:
        Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
