"""The hand-written part of docs/BENCHMARKS.md: how to run, what exactly is measured, the decisions."""

NOTES = """
## How to run

```sh
pip install -e ".[bench]"                 # onnxruntime, onnx (one-time export), matplotlib, psutil, gradio_client
python -m venv --system-site-packages /work/txtai-venv && /work/txtai-venv/bin/pip install txtai
nice -n 10 python -m bench.run --out docs/BENCHMARKS.md            # everything, about 1.5 hours on 2 busy cores
python -m bench.run --articles 60 --sizes 3000 --million 30000 --questions 20 --embed-texts 32 \\
    --sections embed,build,incremental,query,million,coldstart --out /tmp/bench.md   # smoke run, a few minutes
python -m bench.report /tmp/qa-bench/results.json --out docs/BENCHMARKS.md         # re-render only
```

txtai is never a dependency of qa: it runs in its own environment (`--txtai-python`, default
`/work/txtai-venv/bin/python`; `--txtai-python ''` skips it). Each section is saved to
`$TMPDIR/qa-bench/results.json` as soon as it ends, and `--sections` re-runs a subset.

## What exactly is measured

- **Build slice**: `--articles` news articles (the ones the hand-written questions in tests/data cite, then a
  seeded random sample), written as one JSON-lines corpus file. qa: `qa build --full` in a fresh process, so
  imports, model loading, reading, cleaning, chunking, embedding, BM25, FAISS and writing all count. txtai: the
  exact strings qa embedded (title + chunk text, same chunks) are given to `txtai.Embeddings(path=<the bundled
  model folder>, content=True)` in its own fresh process: `index()` then `save()`. "Whole process" compares
  qa's process wall time with txtai's time from before `import txtai` to after `save()` (its process goes on
  to answer the questions, which is not build time); "indexing call" compares qa's `build()` (everything but
  interpreter start and imports) with txtai's `index()` alone (which does no reading, cleaning or chunking and no BM25).
- **Peak RSS** is the kernel's high-water mark (VmHWM) of the child process.
- **Incremental**: 1% of the slice's articles get a sentence appended, `qa build` runs (incrementally) in a
  fresh process; then 1% new articles are added and it runs again. The share is against the full build's
  process wall time.
- **Questions**: the hand-written questions of tests/data (news, answerable, off-topic), then news titles as
  queries, up to `--questions`.
- **10k and 100k chunks**: real chunk texts (the whole news corpus, then copies of it with paragraphs rotated
  and new ids) so that BM25, the chunk table and highlighting work on real text. Vectors: the slice's chunks
  keep their real vectors (its embedding cache is copied in); the others get synthetic ones (bench.data.
  SyntheticEmbedder: a bag of random word vectors mapped onto the mean and covariance of the real vectors).
  The question is always embedded by the real model, so the end-to-end latency is real; synthetic vectors do
  not change the cost of exact search and change HNSW's cost only a little. Quality is never measured on them.
- **1M vectors**: bench.data.CovarianceSampler (a random real vector plus noise drawn from the real vectors'
  covariance, normalised); the queries are the real embeddings of the questions; recall@10 is against exact
  inner-product search over the same vectors.
- **Resident memory per chunk**: RSS after the questions, minus RSS with only the model loaded, in a fresh
  process; the growth between the two largest sizes is the per-chunk cost.
- **Cold start**: `qa ask` as a fresh process (median of 3) with each backend; `python ui.py` until its
  `/ask` API returns the first answer (gradio_client polling 127.0.0.1).

## Decisions taken from these measurements

- **ONNX Runtime is the default backend** (`QA_EMBED_BACKEND=auto|onnx|sentence-transformers`). The graph is
  exported once from the bundled model with `torch.onnx.export` (BERT with eager attention + mean pooling +
  L2 normalisation, dynamic batch and length), fused by onnxruntime's BERT optimizer (Attention,
  SkipLayerNorm, BiasGelu), checked against torch (1 − cosine ≤ 1e-4) and cached atomically in
  `~/.cache/qa/` (`$QA_CACHE_DIR`, `$XDG_CACHE_HOME`) under a key made of the model files' sha256 and the
  versions. Without onnxruntime, or if the export fails, sentence-transformers is used. `optimum` was not
  used: installing it would downgrade transformers 5 to 4.57.
- **Threads**: a question runs on a one-thread ONNX session and batches on a session with every core (made on
  first use): on this shared machine two spinning threads took about twice as long for one question. For the
  same reason one FAISS query searches on one thread.
- **Exact below 20,000 chunks, HNSW above** (`Config.hnsw_threshold`): exact search costs about 0.2 ms per
  1,000 chunks per query here, so 20k chunks stay around 4 ms; HNSW answers in 1-2 ms at any size but is
  rebuilt on every build (about 0.35 s per 1,000 chunks on one core). M=32, efConstruction=64, efSearch=384
  were chosen from the recall/latency curve below (recall@10 ≥ 0.97 with room under 20 ms).
- **int8 quantization** (dynamic, per-channel int8 weights of the fused graph) was measured and is **not
  adopted**, although it passes the quality rule on the SciFact subsample (nDCG@10 −0.003, under the 0.005
  limit): it brought no reliable speed-up on this CPU (AVX2 without VNNI: between −5% and +30% texts/s across
  runs, within the noise of this machine), its vectors differ from fp32 (cosine down to 0.97), and the
  embedding cache and the manifest key vectors by model id, so int8 would need its own model id and a full
  rebuild to be safe. `OnnxEmbedder(quantize=True)` keeps it available for the benchmark. Worth revisiting on a
  CPU with VNNI/AMX, and on the full SciFact corpus (5,183 documents, not 1,500).
"""
