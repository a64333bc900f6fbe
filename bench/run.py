"""The performance benchmark: one command, every figure of docs/BENCHMARKS.md.

    python -m bench.run --out docs/BENCHMARKS.md          # the full run (about an hour here)
    python -m bench.run --articles 200 --sizes 2000 --million 20000 --questions 30 --out /tmp/b.md  # a smoke run

Sections (each saved to WORK/results.json as soon as it is done; --sections picks some):
  embed        texts/s of the ONNX and sentence-transformers backends (int8 ONNX, OpenVINO bf16), same texts
  build        `qa build --full` of a news slice in a fresh process vs txtai indexing the same chunks
  incremental  rebuild after changing 1% of the articles, then after adding 1%
  query        end-to-end `Retriever.ask` latency at the slice size and at --sizes chunks, RSS per chunk
  million      the dense search path alone at --million synthetic vectors: latency and recall@10
  realrecall   HNSW recall@10 on real embeddings (the slice's, plus any --real-vectors caches)
  coldstart    `qa ask` as a fresh process (both backends), and time until the web UI answers
  int8         nDCG@10 of int8 vs fp32 ONNX on a SciFact subsample (bench.int8_eval)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import socket
import sys
import time
from pathlib import Path

import numpy as np

from . import data, measure, report

SECTIONS = ("embed", "build", "incremental", "query", "million", "realrecall", "coldstart", "int8")
TXTAI_PYTHON = "/work/txtai-venv/bin/python"


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--news", type=Path, default=data.NEWS, help="news articles (.jsonl or .jsonl.gz)")
    ap.add_argument("--articles", type=int, default=1000, help="articles in the build slice (default 1000)")
    ap.add_argument("--sizes", default="10000,100000", help="chunk counts for the query benchmark")
    ap.add_argument("--million", type=int, default=1_000_000, help="vectors for the search-only benchmark")
    ap.add_argument("--questions", type=int, default=200, help="questions per latency measurement")
    ap.add_argument("--embed-texts", type=int, default=256, help="texts for the backend throughput test")
    ap.add_argument(
        "--txtai-python",
        default=os.environ.get("QA_BENCH_TXTAI_PYTHON", TXTAI_PYTHON),
        help="python of txtai's own environment ('' to skip txtai)",
    )
    ap.add_argument(
        "--work",
        type=Path,
        default=Path(os.environ.get("TMPDIR", "/tmp")) / "qa-bench",
        help="scratch directory (indexes, results.json)",
    )
    ap.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    ap.add_argument(
        "--reuse", action="store_true", help="query section: reuse the scaled indexes left in WORK by the last run"
    )
    ap.add_argument("--no-int8", action="store_true", help="skip the int8 ONNX throughput measurement")
    ap.add_argument("--int8-docs", type=int, default=1500, help="SciFact documents for the int8 quality test")
    ap.add_argument("--fp32-cache", type=Path, default=None, help="see python -m bench.int8_eval --help")
    ap.add_argument(
        "--real-vectors",
        type=Path,
        nargs="*",
        default=[],
        help="embeddings.sqlite files of other real corpora, for the realrecall section",
    )
    ap.add_argument("--out", type=Path, default=None, help="write the Markdown report here (and a PNG beside it)")
    ap.add_argument("--plot", type=Path, default=None, help="PNG plot path (default: OUT's folder/bench_cost.png)")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    wanted = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(wanted) - set(SECTIONS)
    if unknown:
        print(f"error: unknown sections {sorted(unknown)}; choose from {SECTIONS}", file=sys.stderr)
        return 2
    args.work.mkdir(parents=True, exist_ok=True)
    results_path = args.work / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    command = "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:])
    results.setdefault("machine", _machine())  # sections re-run later keep the first run's record
    bench = Bench(args, results)
    for name in SECTIONS:
        if name in wanted:
            print(f"== {name} (load average {measure.load_avg():.1f})", flush=True)
            started = time.perf_counter()
            results[name] = getattr(bench, name)()
            results[name]["command"] = command
            results[name]["section_seconds"] = time.perf_counter() - started
            results[name]["load_avg"] = measure.load_avg()
            results_path.write_text(json.dumps(results, indent=1))
    print(report.table(results))
    if args.out:
        plot = args.plot or args.out.parent / "bench_cost.png"
        report.plot(results, plot)
        args.out.write_text(report.markdown(results, plot.name), encoding="utf-8")
        print(f"wrote {args.out} and {plot}")
    return 0


def _machine() -> dict:
    import platform

    import faiss
    import onnxruntime

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "faiss": faiss.__version__,
        "onnxruntime": onnxruntime.__version__,
        "load_avg_start": measure.load_avg(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


class Bench:
    def __init__(self, args, results: dict):
        self.args = args
        self.results = results
        self.work: Path = args.work
        self.rows = data.read_news(args.news)
        _, cited = data.question_sources()
        self.slice, self.rest = data.pick_slice(self.rows, args.articles, cited)
        self.questions = data.questions_for(self.slice, args.questions)
        self.corpus = self.work / "corpus"
        self.qa_index = self.work / "qa-index"

    # -- embedding backends -------------------------------------------------
    def embed(self) -> dict:
        from qa.cpu import cpu_features
        from qa.embed import SentenceTransformerEmbedder
        from qa.onnx_backend import OnnxEmbedder
        from qa.openvino_backend import OpenVinoEmbedder
        from qa.openvino_backend import available as openvino_available

        texts = self._chunk_texts(self.args.embed_texts)
        onnx = OnnxEmbedder()
        tokens = sum(onnx.count(texts)) + 2 * len(texts)
        t = time.perf_counter()
        st = SentenceTransformerEmbedder()
        st_load = time.perf_counter() - t
        out: dict = {"texts": len(texts), "tokens": tokens, "st_load_s": st_load}
        backends = {"onnx": onnx, "sentence-transformers": st}
        if not self.args.no_int8:
            t = time.perf_counter()
            backends["onnx-int8"] = OnnxEmbedder(quantize=True)
            out["int8_export_s"] = time.perf_counter() - t
        if cpu_features().bf16_units and openvino_available():
            backends["openvino-bf16"] = OpenVinoEmbedder()  # the default for a new index on this CPU (qa.cpu)
            backends["openvino-bf16-streams"] = OpenVinoEmbedder(streams=True)  # the same model as builds run it
        vectors, times = {}, {name: [] for name in backends}
        for model in backends.values():
            model.embed(texts[:8])
        for _ in range(2):  # interleaved rounds: the machine is shared, take each backend's best
            for name, model in backends.items():
                t = time.perf_counter()
                vectors[name] = model.embed(texts)
                times[name].append(time.perf_counter() - t)
        ref = vectors["sentence-transformers"]
        for name in backends:
            cos = (vectors[name] * ref).sum(axis=1)
            best = min(times[name])
            out[name] = {
                "texts_per_s": len(texts) / best,
                "tokens_per_s": tokens / best,
                "seconds": times[name],
                "cos_vs_st_min": float(cos.min()),
                "cos_vs_st_mean": float(cos.mean()),
            }
        if "onnx-int8" in vectors:
            cos = (vectors["onnx-int8"] * vectors["onnx"]).sum(axis=1)
            out["int8_vs_fp32"] = {
                "cos_min": float(cos.min()),
                "cos_mean": float(cos.mean()),
                "top10_overlap": _topk_overlap(vectors["onnx"], vectors["onnx-int8"]),
            }
        single = {}
        for name, model in backends.items():
            lat = []
            for q in self.questions[:50]:
                t = time.perf_counter()
                model.embed([q])
                lat.append(time.perf_counter() - t)
            single[name] = measure.percentiles(lat)
        out["one_question_ms"] = single
        return out

    def _chunk_texts(self, n: int) -> list[str]:
        from qa.chunk import Chunker
        from qa.config import Config
        from qa.domain import Article
        from qa.embed import WordPieceCounter

        chunker = Chunker(WordPieceCounter(), Config())
        texts: list[str] = []
        for r in self.slice:
            article = Article(r["id"], r.get("title") or "", r["text"], r.get("source"), r.get("date"))
            texts.extend(c.embed_text for c in chunker.chunk(article))
            if len(texts) >= n:
                break
        return texts[:n]

    # -- full build: qa against txtai ------------------------------------------
    def build(self) -> dict:
        data.write_corpus(self.slice, self.corpus / "news.jsonl")
        shutil.rmtree(self.qa_index, ignore_errors=True)
        qa_run = measure.run_process(self._build_argv(self.qa_index, full=True))
        rep = qa_run.json()
        total = measure.dir_bytes(self.qa_index)
        cache = measure.dir_bytes(self.qa_index) - measure.dir_bytes(self.qa_index, skip=("embeddings.sqlite",))
        files = self._largest_files(self.qa_index)
        out = {
            "articles": rep["documents"],
            "chunks": rep["chunks"],
            "embedded": rep["embedded"],
            "skipped": rep["skipped"],
            "build_s": rep["seconds"],
            "process_s": qa_run.seconds,
            "peak_rss_mb": qa_run.peak_rss_mb,
            "index_bytes": total - cache,
            "cache_bytes": cache,
            "files": files,
        }
        out["articles_per_s"] = rep["documents"] / qa_run.seconds
        out["chunks_per_s"] = rep["chunks"] / qa_run.seconds
        out["index_bytes_per_chunk"] = (total - cache) / max(1, rep["chunks"])
        out["model"] = self._model_id(self.qa_index)
        from qa.embed import runtime

        out["runtime"] = runtime(out["model"])  # what runs it on this machine (`qa status` says the same)
        # The same build with the int8 model (QA_EMBED_BACKEND=onnx-int8): what int8 would buy, in this run.
        int8_index = self.work / "qa-index-int8"
        shutil.rmtree(int8_index, ignore_errors=True)
        int8_run = measure.run_process(
            self._build_argv(int8_index, full=True),
            env={"QA_EMBED_BACKEND": "onnx-int8"},
        )
        int8_rep = int8_run.json()
        out["int8"] = {
            "model": self._model_id(int8_index),
            "chunks": int8_rep["chunks"],
            "build_s": int8_rep["seconds"],
            "process_s": int8_run.seconds,
            "peak_rss_mb": int8_run.peak_rss_mb,
            "chunks_per_s": int8_rep["chunks"] / int8_run.seconds,
        }
        out["ratio_int8_vs_fp32"] = out["int8"]["chunks_per_s"] / out["chunks_per_s"]
        if self.args.txtai_python:
            out["txtai"] = self._txtai()
            tx = out["txtai"]
            if "error" not in tx:
                out["ratio_chunks_per_s_process"] = out["chunks_per_s"] / tx["chunks_per_s_process"]
                out["ratio_chunks_per_s_index"] = (rep["chunks"] / rep["seconds"]) / (tx["chunks"] / tx["index_s"])
                out["int8"]["ratio_chunks_per_s_process"] = out["int8"]["chunks_per_s"] / tx["chunks_per_s_process"]
            out["txtai_natural"] = natural = self._txtai(natural=True)
            if "error" not in natural:
                out["ratio_articles_per_s_natural"] = out["articles_per_s"] / natural["articles_per_s_process"]
                out["ratio_bytes_per_article_natural"] = (out["index_bytes"] / out["articles"]) / natural[
                    "index_bytes_per_article"
                ]
        return out

    def _build_argv(self, index: Path, full: bool = False) -> list[str]:
        """`qa build` of this run's corpus into index, in a fresh process, as a user runs it."""
        return [
            measure.python(),
            "-m",
            "qa",
            "build",
            "--corpus",
            str(self.corpus),
            "--index",
            str(index),
            *(["--full"] if full else []),
            "--json",
            "--quiet",
        ]

    @staticmethod
    def _model_id(index: Path) -> str:
        from qa.manifest import read_manifest

        return read_manifest(index).model.id

    @staticmethod
    def _largest_files(index: Path) -> dict:
        sizes: dict[str, int] = {}
        for p in index.rglob("*"):
            if p.is_file():
                key = p.relative_to(index).parts[0].split(".")[0]
                sizes[key] = sizes.get(key, 0) + p.stat().st_size
        return sizes

    def _txtai(self, natural: bool = False) -> dict:
        """txtai in its own process on qa's chunks, or (natural) on the slice's articles as its users index
        them: a row per paragraph, content and hybrid (BM25) scoring on (bench/txtai_side.py)."""
        from qa.embed import model_path

        rows = {"articles": [{"id": a["id"], "text": a["text"]} for a in self.slice], "hybrid": True}
        if not natural:
            rows = {"chunks": self._qa_chunk_texts()}
        spec = {"model": str(model_path()), **rows, "questions": self.questions, "k": 5}
        res, run = measure.run_txtai(self.args.txtai_python, spec, self.work, "txtai-natural" if natural else "txtai")
        if "error" in res:
            return res
        res["process_s"] = run.seconds
        res["peak_rss_mb"] = run.peak_rss_mb
        # The process also answers the questions afterwards: its build part is timed inside it.
        res["chunks_per_s_process"] = res["chunks"] / res["build_wall_s"]
        res["chunks_per_s_index"] = res["chunks"] / res["index_s"]
        res["index_bytes_per_chunk"] = res["index_bytes"] / max(1, res["chunks"])
        if res.get("articles"):
            res["articles_per_s_process"] = res["articles"] / res["build_wall_s"]
            res["index_bytes_per_article"] = res["index_bytes"] / res["articles"]
        res["query"] = measure.percentiles(res.pop("latencies"))
        res.pop("hits", None)
        return res

    def _qa_chunk_texts(self) -> list[dict]:
        """The texts qa embedded for its build (ChunkRow.embed_text: title + chunk), with their ids."""
        from qa import store
        from qa.generation import ChunkRow
        from qa.manifest import read_manifest

        manifest = read_manifest(self.qa_index)
        index = self.qa_index
        table = store.JsonlTable(index / manifest.file("chunks"), index / manifest.file("chunk_offsets"))
        try:
            return [{"id": r["id"], "text": ChunkRow.from_dict(r).embed_text} for r in table]
        finally:
            table.close()

    # -- incremental rebuilds ------------------------------------------------
    CHANGE_REPEATS = 3

    def incremental(self) -> dict:
        if not (self.qa_index / "manifest.json").exists():
            self.build()
        n = max(1, round(len(self.slice) / 100))
        out: dict = {"articles": len(self.slice), "added": n}

        def rebuild(rows: list[dict]) -> dict:
            data.write_corpus(rows, self.corpus / "news.jsonl")
            run = measure.run_process(self._build_argv(self.qa_index))
            rep = run.json()
            return {
                "process_s": run.seconds,
                "build_s": rep["seconds"],
                "embedded": rep["embedded"],
                "changed": rep["changed"],
                "added": rep["added"],
                "peak_rss_mb": run.peak_rss_mb,
            }

        # The 1% change is timed CHANGE_REPEATS times, each a new edit of the same articles (so each embeds
        # them): one 2-second sample on a shared machine spanned 3.0-3.8% of a full build between runs.
        samples = []
        for k in range(self.CHANGE_REPEATS):
            changed = [data.edited(r, f"bench-{k}") if i % 100 == 0 else r for i, r in enumerate(self.slice)]
            samples.append(rebuild(changed))
        out["changed"] = sum(r is not o for r, o in zip(changed, self.slice))
        middle = sorted(samples, key=lambda x: x["process_s"])[len(samples) // 2]
        runs = {
            "change_1pct": {**middle, "process_s_samples": [x["process_s"] for x in samples]},
            "add_1pct": rebuild(changed + self.rest[:n]),
        }
        data.write_corpus(self.slice, self.corpus / "news.jsonl")  # leave the slice as built for later sections
        run = measure.run_process(self._build_argv(self.qa_index))
        run.json()
        out.update(runs)
        full = self.results.get("build", {})
        if full.get("process_s"):
            for label in runs:
                out[label]["share_of_full_process"] = runs[label]["process_s"] / full["process_s"]
                out[label]["share_of_full_build"] = runs[label]["build_s"] / full["build_s"]
        return out

    # -- query latency at growing sizes -----------------------------------------
    def query(self) -> dict:
        if not (self.qa_index / "manifest.json").exists():
            self.build()
        qfile = self.work / "questions.json"
        qfile.write_text(json.dumps(self.questions), encoding="utf-8")
        out: dict = {"questions": len(self.questions), "sizes": {}}
        targets = [int(s) for s in self.args.sizes.split(",") if s.strip()]
        indexes = [("slice", self.qa_index, None)] + [(str(t), self.work / f"index-{t}", t) for t in targets]
        for label, index_dir, target in indexes:
            entry: dict = {}
            previous = (self.results.get("query") or {}).get("sizes", {}).get(label, {}).get("build")
            if target is not None and self.args.reuse and previous and (index_dir / "manifest.json").exists():
                entry["build"] = previous  # same inputs, same seeds: the index of the last run is this one
            elif target is not None:
                entry["build"] = self._scaled_index(index_dir, target)
            run = measure.run_process([measure.python(), "-m", "bench.query_child", str(index_dir), str(qfile)])
            res = run.json()
            chunks = res["chunks"]
            rss = res["rss"]
            entry.update(
                {
                    "chunks": chunks,
                    "articles": res["articles"],
                    "dense": res["dense"],
                    "load_s": res["load_s"],
                    "backend": res["backend"],
                    "end_to_end": measure.percentiles(res["latencies"]),
                    "stages": {k: measure.percentiles(v) for k, v in res["stages"].items()},
                    "recall_at_10": res["recall"],
                    "rss": rss,
                    "peak_rss_mb": run.peak_rss_mb,
                    "index_bytes": measure.dir_bytes(index_dir, skip=("embeddings.sqlite",)),
                }
            )
            entry["index_bytes_per_chunk"] = entry["index_bytes"] / max(1, chunks)
            grown = rss["after_queries"]["rss_mb"] - rss["with_model"]["rss_mb"]
            entry["rss_bytes_per_chunk"] = grown * 2**20 / max(1, chunks)
            entry["manifest_bytes"] = (index_dir / "manifest.json").stat().st_size
            entry["manifest_python_mb"] = res.get("manifest_python_mb")
            out["sizes"][label] = entry
            print(
                f"   {label}: {chunks} chunks, p50 {entry['end_to_end']['p50']:.1f} ms, "
                f"p99 {entry['end_to_end']['p99']:.1f} ms",
                flush=True,
            )
        tx = self.results.get("build", {}).get("txtai", {})
        if "query" in tx:
            out["txtai_slice"] = tx["query"]
            out["qa_slice_p50_same_conditions"] = out["sizes"]["slice"]["end_to_end"]["p50"]
            out["ratio_p50_slice"] = out["qa_slice_p50_same_conditions"] / tx["query"]["p50"]
        return out

    def _scaled_index(self, index_dir: Path, target: int) -> dict:
        """An index of about `target` chunks from the whole news corpus (then variants of it).

        Chunks of the build slice keep their real vectors (the slice's embedding
        cache is copied in); every other chunk gets a synthetic vector.
        """
        from qa import store as qa_store
        from qa.builder import build_from
        from qa.config import Config
        from qa.domain import Article

        base = self.slice + self.rest
        wanted = math.ceil(target / self._chunks_per_article(base) * 1.02)
        copies = max(1, math.ceil(wanted / len(base)))
        rows = list(data.scaled_rows(base, copies))[:wanted]
        shutil.rmtree(index_dir, ignore_errors=True)
        index_dir.mkdir(parents=True)
        cache = self.qa_index / qa_store.CACHE
        if cache.exists():
            shutil.copy(cache, index_dir / qa_store.CACHE)
        real = self._real_vectors()
        items = (
            Article(r["id"], r.get("title") or "", r["text"], r.get("source"), (r.get("date") or "")[:10] or None)
            for r in rows
        )
        t = time.perf_counter()
        synthetic = data.SyntheticEmbedder(real, model_id=self._model_id(self.qa_index))
        rep = build_from(items, index_dir, embedder=synthetic, config=Config(), progress=False)
        seconds = time.perf_counter() - t
        slice_chunks = int((self.results.get("build") or {}).get("chunks") or 0)
        return {
            "articles": rep.documents,
            "chunks": rep.chunks,
            "synthetic_vectors": rep.embedded,
            "slice_vectors": slice_chunks,
            "from_cache": rep.chunks - rep.embedded,
            "seconds_without_model": seconds,
        }

    def _chunks_per_article(self, rows: list[dict], sample: int = 300) -> float:
        from qa.chunk import Chunker
        from qa.config import Config
        from qa.domain import Article
        from qa.embed import WordPieceCounter

        chunker = Chunker(WordPieceCounter(), Config())
        picked = rows[:: max(1, len(rows) // sample)][:sample]
        n = sum(len(chunker.chunk(Article(r["id"], r.get("title") or "", r["text"]))) for r in picked)
        return max(0.1, n / max(1, len(picked)))

    def _real_vectors(self) -> np.ndarray:
        from qa.manifest import read_manifest

        manifest = read_manifest(self.qa_index)
        return np.load(self.qa_index / manifest.file("vectors"), allow_pickle=False)

    # -- the search path alone at a million vectors ------------------------------
    def million(self) -> dict:
        from . import ann

        if not (self.qa_index / "manifest.json").exists():
            self.build()
        from qa.embed import load_embedder

        qvecs = load_embedder().embed(self.questions)
        return ann.million(self._real_vectors(), qvecs, self.args.million)

    # -- int8 quantization: quality on a SciFact subsample --------------------------
    def int8(self) -> dict:
        cmd = [
            measure.python(),
            "-m",
            "bench.int8_eval",
            "--docs",
            str(self.args.int8_docs),
            "--work",
            str(self.work / "int8"),
        ]
        if self.args.fp32_cache:
            cmd += ["--fp32-cache", str(self.args.fp32_cache)]
        run = measure.run_process(cmd)
        return dict(run.json(), process_s=run.seconds)

    def realrecall(self) -> dict:
        from qa.embed import load_embedder

        from . import ann

        if not (self.qa_index / "manifest.json").exists():
            self.build()
        parts = [self._real_vectors()] + [ann.cached_vectors(p) for p in self.args.real_vectors if p.exists()]
        vectors = np.unique(np.vstack(parts), axis=0)
        out = ann.real_recall(vectors, load_embedder().embed(self.questions))
        out["sources"] = ["slice"] + [str(p) for p in self.args.real_vectors if p.exists()]
        return out

    # -- cold start -----------------------------------------------------------
    def coldstart(self) -> dict:
        if not (self.qa_index / "manifest.json").exists():
            self.build()
        q = self.questions[0]
        out: dict = {"question": q}
        cmd = [measure.python(), "-m", "qa", "ask", q, "--index", str(self.qa_index), "--json"]
        for label, env in (
            ("onnx", {"QA_EMBED_BACKEND": "onnx"}),
            ("sentence-transformers", {"QA_EMBED_BACKEND": "sentence-transformers"}),
        ):
            times = []
            for _ in range(3):
                run = measure.run_process(cmd, env=env)
                run.json()
                times.append(run.seconds)
            out[f"qa_ask_{label}_s"] = {"median": float(np.median(times)), "all": times}
        imp = measure.run_process([measure.python(), "-c", "import qa"])
        out["import_qa_s"] = imp.seconds
        out["ui_first_answer_s"] = self._ui_first_answer(q)
        return out

    def _ui_first_answer(self, question: str) -> float | None:
        """Seconds from starting `python ui.py` until its /ask API returns the first answer."""
        import subprocess

        try:
            from gradio_client import Client
        except ImportError:
            return None
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        log = open(self.work / "ui.log", "w")  # noqa: SIM115 - closed below
        started = time.perf_counter()
        proc = subprocess.Popen(
            [
                measure.python(),
                "ui.py",
                "--index",
                str(self.qa_index),
                "--corpus",
                str(self.work / "no-corpus"),
                "--port",
                str(port),
            ],
            cwd=data.ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            while time.perf_counter() - started < 300 and proc.poll() is None:
                try:
                    client = Client(f"http://127.0.0.1:{port}/", verbose=False)
                    client.predict(question, api_name="/ask")
                    return time.perf_counter() - started
                except Exception:  # noqa: BLE001 - not up yet
                    time.sleep(0.2)
            return None
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()


def _topk_overlap(a: np.ndarray, b: np.ndarray, k: int = 10) -> float:
    """Share of each text's k nearest neighbours (within the set) that both vector sets agree on."""
    k = min(k, len(a) - 1)
    if k < 1:
        return 1.0
    na = np.argsort(-(a @ a.T), axis=1)[:, 1 : k + 1]
    nb = np.argsort(-(b @ b.T), axis=1)[:, 1 : k + 1]
    return float(np.mean([len(set(x) & set(y)) / k for x, y in zip(na, nb)]))


if __name__ == "__main__":
    sys.exit(main())
