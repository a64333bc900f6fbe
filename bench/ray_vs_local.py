"""The Ray engine against the local engine: the same news slice, fresh processes, alternating runs.

    QA_EMBED_BACKEND=onnx python -m bench.ray_vs_local --articles 2000 --out /tmp/ray_vs_local.json

Each build is `--full` in a fresh process (the driver), timed with its peak
RSS (VmHWM). For Ray, the local runtime's processes (GCS, raylet, workers,
the embedding actor) are children of the driver: their summed RSS, PSS and
CPU seconds are sampled every 0.5 s and once more before the runtime stops
(CPU seconds are the fair cost on a shared box, where wall time mostly
measures the other tenants). Afterwards the two indexes are compared (chunks,
ids, vectors, answers), and an incremental rebuild (1% of articles edited) is
timed. Engines alternate (--first picks which starts) because this box is
shared: the load average is recorded before and after each run. `summary`
holds articles/s, chunks/s, CPU seconds and memory per engine, and ray / local.

How the driver's memory grows with the corpus, without paying for the model:
the same command with QA_EMBEDDER=tests.support.fake:FakeEmbedder (vectors meaningless, pipeline and
writer the same) at two corpus sizes, e.g. --articles 2000 and --articles 20000.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np

from qa.embed import default_model_id
from qa.settings import embed_backend

from . import data, measure


def _sample(me, cpu: dict[int, float], peaks: dict) -> None:
    """One sample of the tree: summed RSS and PSS (peaks kept), and CPU seconds of every process seen."""
    import psutil

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
        cpu[p.pid] = times.user + times.system  # last seen user+system seconds of each process of the tree
    peaks["tree_rss_mb"] = max(peaks.get("tree_rss_mb", 0.0), rss / 2**20)
    peaks["tree_pss_mb"] = max(peaks.get("tree_pss_mb", 0.0), pss / 2**20)
    peaks["processes"] = max(peaks.get("processes", 0), len(procs))
    peaks["tree_cpu_s"] = sum(cpu.values())  # CPU time is what contention on a shared box does not inflate


def _tree_memory(stop: threading.Event, peaks: dict, cpu: dict[int, float]) -> None:
    """Peak summed RSS and PSS of this process and all its descendants, every 0.5 s until stopped."""
    import psutil

    me = psutil.Process()
    while True:
        _sample(me, cpu, peaks)
        if stop.wait(0.5):
            return


def child(engine: str, corpus: Path, index: Path, full: bool) -> dict:
    """One build in this process; the report, the stage times and the memory peaks, as JSON."""
    import psutil

    peaks: dict = {}
    cpu: dict[int, float] = {}
    stop = threading.Event()
    sampler = threading.Thread(target=_tree_memory, args=(stop, peaks, cpu), daemon=True)
    sampler.start()
    out: dict = {"engine": engine}
    t0 = time.perf_counter()

    def final_sample() -> None:  # while Ray's processes are still alive: their last CPU seconds count
        stop.set()
        sampler.join()
        _sample(psutil.Process(), cpu, peaks)

    try:
        if engine == "local":
            from qa import build

            report = build(corpus, index, full=full, progress=False)
            final_sample()
        else:
            from qa.ray_engine import build_ray, ray_runtime

            with ray_runtime(num_cpus=2):
                out["runtime_start_s"] = time.perf_counter() - t0
                _sample(psutil.Process(), cpu, peaks)
                out["runtime_start_cpu_s"] = sum(cpu.values())
                report = build_ray(corpus, index, full=full, progress=False)
                final_sample()
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
    res = measure.run_process(
        [
            measure.python(),
            "-m",
            "bench.ray_vs_local",
            "--child",
            engine,
            "--corpus",
            str(corpus),
            "--index",
            str(index),
        ]
        + (["--full"] if full else [])
    )
    out = res.json()
    out["driver_peak_rss_mb"] = res.peak_rss_mb
    out["process_s"] = res.seconds
    out["load_avg"] = load
    out["load_avg_after"] = measure.load_avg()
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
    from tests.support.corpus import fingerprint_differences, index_fingerprint

    fa = index_fingerprint(a, questions, load_embedder())
    fb = index_fingerprint(b, questions, load_embedder())
    diff = float(np.abs(fa["vectors"] - fb["vectors"]).max()) if fa["vectors"].shape == fb["vectors"].shape else None
    return {
        "differences": fingerprint_differences(fa, fb, atol=1e-5),
        "max_abs_vector_diff": diff,
        "chunks": len(fa["chunks"]),
        "questions": len(questions),
    }


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
    result: dict = {
        "command": "python -m bench.ray_vs_local " + " ".join(argv if argv is not None else sys.argv[1:]),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "articles": len(rows),
        "embedder": f"{default_model_id()} ({embed_backend()})",
        "corpus_bytes": (corpus / "news.jsonl").stat().st_size,
        "corpus_text_bytes": sum(len(r["text"].encode("utf-8")) for r in rows),
        "runs": [],
        "machine": {"cpus": os.cpu_count()},
    }
    for r in range(args.rounds):
        order = ("local", "ray") if (r % 2 == 0) == (args.first == "local") else ("ray", "local")
        for engine in order:
            result["runs"].append(_run(engine, corpus, indexes[engine], full=True))
    result["tokens"] = _tokens(indexes["local"])
    result["summary"] = summary(result["runs"], result["tokens"])
    questions = data.questions_for(rows, 30)
    result["equality"] = _compare(indexes["local"], indexes["ray"], questions)

    # Incremental: 1% of the articles edited; both engines update their own index.
    changed = {r["id"] for r in rows[:: max(1, len(rows) // max(1, len(rows) // 100))][: max(1, len(rows) // 100)]}
    data.write_corpus([data.edited(r, "bench") if r["id"] in changed else r for r in rows], corpus / "news.jsonl")
    result["incremental"] = [_run(engine, corpus, indexes[engine], full=False) for engine in ("local", "ray")]
    result["equality_after_incremental"] = _compare(indexes["local"], indexes["ray"], questions)
    result["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    text = json.dumps(result, indent=1)
    if args.out:
        Path(args.out).write_text(text)
    print(text)
    return 0


def summary(runs: list[dict], tokens: int) -> dict:
    """Per engine (best full build of each): throughput by wall and by CPU, memory; and ray / local ratios."""
    best: dict[str, dict] = {}
    for run in runs:
        if run["engine"] not in best or run["process_s"] < best[run["engine"]]["process_s"]:
            best[run["engine"]] = run
    out: dict = {}
    for engine, run in best.items():
        docs, chunks = run["report"]["documents"], run["report"]["chunks"]
        out[engine] = {
            "wall_s": run["process_s"],
            "build_s": run["build_s"],
            "cpu_s": run["tree_cpu_s"],
            "articles_per_s": docs / run["process_s"],
            "chunks_per_s": chunks / run["process_s"],
            "chunks_per_s_build": chunks / run["build_s"],
            "tokens_per_cpu_s": tokens / run["tree_cpu_s"],
            "driver_peak_rss_mb": run["driver_peak_rss_mb"],
            "tree_rss_mb": run["tree_rss_mb"],
            "tree_pss_mb": run["tree_pss_mb"],
            "processes": run["processes"],
            "load_avg": run["load_avg"],
        }
    if {"local", "ray"} <= set(out):
        a, b = out["ray"], out["local"]
        out["ray_over_local"] = {
            k: a[k] / b[k]
            for k in ("wall_s", "build_s", "cpu_s", "chunks_per_s", "driver_peak_rss_mb", "tree_pss_mb")
            if b[k]
        }
    return out


if __name__ == "__main__":
    sys.exit(main())
