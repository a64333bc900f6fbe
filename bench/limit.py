"""How close embedding runs to this CPU's limit: GEMM GFLOP/s (fp32, bf16) and each path's word pieces/s.

    nice python -m bench.limit --texts 512 --out /tmp/limit.json

The ceiling of a path is its GEMM rate divided by the model's FLOPs per word piece:
2 x (the encoder's matmul weights: 6 layers x (4 x 384^2 + 2 x 384 x 1536) = 10.6M) =
21.2 MFLOP per token, plus attention's 4 x L x 384 x 6 per token at length L (0.9
MFLOP at L = 100). The embedding table (11.7M of the 22.7M parameters) is a lookup,
not a matmul, so "2 x 22M" would double-count. FLOPs are counted on the sequences as
run (with [CLS] and [SEP], without padding); word pieces as `count()` gives them
(without the special tokens), like bench.run's tokens/s, so padding and special
tokens count against the path. Where the CPU lacks bf16 units torch emulates bf16:
the bf16 figures then say nothing about a CPU with them, and the script says so.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class PathSpeed:
    """One embedding path on the same texts: throughput, and its share of the GEMM ceiling."""

    path: str
    runtime: str
    texts: int
    word_pieces: int
    seconds: float
    word_pieces_per_s: float
    cosine_min_vs_st: float
    ceiling_word_pieces_per_s: float  # at its own precision's GEMM rate
    share_of_own_ceiling: float
    share_of_bf16_ceiling: float


def model_flops(lengths: list[int], layers: int = 6, hidden: int = 384, ffn: int = 1536) -> float:
    """FLOPs of the encoder on sequences of these lengths (special tokens included)."""
    per_token = 2 * layers * (4 * hidden * hidden + 2 * hidden * ffn)
    return float(sum(per_token * n + 4 * n * n * hidden * layers for n in lengths))


def gemm_gflops(dtype_name: str, size: int, budget_s: float) -> float:
    """Best rate of size x size matmuls in this dtype, as many rounds as fit in budget_s (at least one)."""
    import torch

    dtype = getattr(torch, dtype_name)
    a = torch.randn(size, size).to(dtype)
    b = torch.randn(size, size).to(dtype)
    best, spent = float("inf"), 0.0
    while spent < budget_s or best == float("inf"):
        t = time.perf_counter()
        a @ b
        d = time.perf_counter() - t
        best, spent = min(best, d), spent + d
    return 2 * size**3 / best / 1e9


def _chunk_texts(n: int) -> list[str]:
    from bench.data import read_news
    from qa.chunk import Chunker
    from qa.config import Config
    from qa.domain import Article
    from qa.embed import WordPieceCounter

    chunker = Chunker(WordPieceCounter(), Config())
    texts: list[str] = []
    for r in read_news():
        texts.extend(c.embed_text for c in chunker.chunk(Article(r["id"], r.get("title") or "", r["text"])))
        if len(texts) >= n:
            break
    return texts[:n]


def _time(model, texts: list[str], rounds: int) -> tuple[float, np.ndarray]:
    model.embed(texts[:4])  # warm-up
    best, vectors = float("inf"), None
    for _ in range(rounds):
        t = time.perf_counter()
        vectors = model.embed(texts)
        best = min(best, time.perf_counter() - t)
    return best, vectors


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=int, default=512, help="news chunks per path")
    ap.add_argument("--emulated-texts", type=int, default=48, help="chunks for bf16 where it is emulated (slow)")
    ap.add_argument("--rounds", type=int, default=2, help="best of this many rounds (emulated bf16: one)")
    ap.add_argument("--gemm", type=int, default=2048, help="matmul size")
    ap.add_argument("--gemm-seconds", type=float, default=5.0, help="time budget per GEMM dtype (at least one)")
    ap.add_argument("--out", type=Path, help="also write the results as JSON here")
    args = ap.parse_args(argv)

    import torch

    from qa import settings
    from qa.bf16_backend import Bf16Embedder
    from qa.cpu import cpu_features
    from qa.embed import SentenceTransformerEmbedder
    from qa.onnx_backend import OnnxEmbedder, _tokenizer
    from qa.openvino_backend import OpenVinoEmbedder

    threads = settings.cpu_threads()
    torch.set_num_threads(threads)
    features = cpu_features(with_torch=True)
    emulated = not features.bf16_units
    gflops = {d: gemm_gflops(d, args.gemm, args.gemm_seconds) for d in ("float32", "bfloat16")}

    texts = _chunk_texts(args.texts)
    st = SentenceTransformerEmbedder()
    paths = [("onnx fp32", OnnxEmbedder(), "float32"), ("sentence-transformers fp32", st, "float32")]
    paths.append(("openvino bf16", OpenVinoEmbedder(), "bfloat16"))
    paths.append(("openvino bf16, streams (builds)", OpenVinoEmbedder(streams=True), "bfloat16"))
    paths.append(("torch bf16", Bf16Embedder(), "bfloat16"))
    tok = _tokenizer(st.path)
    results: list[PathSpeed] = []
    reference: dict[int, np.ndarray] = {}
    for name, model, dtype in paths:
        subset = texts[: args.emulated_texts] if (dtype == "bfloat16" and emulated) else texts
        rounds = 1 if (dtype == "bfloat16" and emulated) else args.rounds
        seconds, vectors = _time(model, subset, rounds)
        if len(subset) not in reference:
            reference[len(subset)] = st.embed(subset)
        cos = float((vectors * reference[len(subset)]).sum(axis=1).min())
        pieces = sum(model.count(subset))
        flops_per_piece = model_flops([len(e.ids) for e in tok.encode_batch(subset)]) / pieces
        ceiling = gflops[dtype] * 1e9 / flops_per_piece
        bf16_ceiling = gflops["bfloat16"] * 1e9 / flops_per_piece
        rate = pieces / seconds
        runtime = getattr(model, "runtime", name)
        results.append(
            PathSpeed(
                name, runtime, len(subset), pieces, seconds, rate, cos, ceiling, rate / ceiling, rate / bf16_ceiling
            )
        )

    report = {
        "cpu": features.summary(),
        "threads": threads,
        "bf16_emulated": emulated,
        "amx": features.bf16_faster,
        "gemm": {"size": args.gemm, "gflops": gflops},
        "mflop_per_word_piece": model_flops([102]) / 100 / 1e6,
        "paths": [asdict(r) for r in results],
    }
    print(render(report))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
    return 0


def render(report: dict) -> str:
    """The report as markdown for docs/BENCHMARKS.md."""
    size, fp32, bf16 = report["gemm"]["size"], report["gemm"]["gflops"]["float32"], report["gemm"]["gflops"]["bfloat16"]
    warn = " **No bf16 units: torch emulates bf16 here; its figures say nothing about AMX.**"
    if not report["bf16_emulated"] and not report.get("amx", True):
        warn = " **No AMX: bf16 runs on AVX-512 BF16 here; its figures say nothing about AMX.**"
    lines = [
        f"CPU: {report['cpu']}; {report['threads']} threads."
        + (warn if report["bf16_emulated"] or not report.get("amx", True) else ""),
        "",
        f"GEMM {size}x{size}: fp32 {fp32:,.1f} GFLOP/s, bf16 {bf16:,.2f} GFLOP/s (bf16/fp32 {bf16 / fp32:.3f}x); "
        f"the model costs {report['mflop_per_word_piece']:.1f} MFLOP per word piece at 100 word pieces.",
        "",
        "| path | runtime | texts | word pieces/s | min cosine vs sentence-transformers | ceiling wp/s (own GEMM) "
        "| share of own ceiling | share of bf16 ceiling |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for p in report["paths"]:
        cells = [p["path"], p["runtime"], str(p["texts"]), f"{p['word_pieces_per_s']:,.0f}"]
        cells += [f"{p['cosine_min_vs_st']:.5f}", f"{p['ceiling_word_pieces_per_s']:,.0f}"]
        cells += [f"{p['share_of_own_ceiling']:.1%}", f"{p['share_of_bf16_ceiling']:.1%}"]
        lines.append("| " + " | ".join(cells) + " |")
    rate = {p["path"]: p["word_pieces_per_s"] for p in report["paths"]}
    for bf16 in ("openvino bf16", "openvino bf16, streams (builds)", "torch bf16"):
        if rate.get(bf16) and rate.get("onnx fp32"):
            lines += ["", f"{bf16} / ONNX fp32 word pieces/s: {rate[bf16] / rate['onnx fp32']:.2f}x (same run)."]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
