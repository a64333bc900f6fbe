"""The bf16 model: close to fp32, chosen by the CPU's features or QA_EMBED_BACKEND, and kept by its indexes.

It runs on OpenVINO, else on torch. This machine may lack bf16 units (then
OpenVINO keeps f32 and torch emulates bf16: slow), so the corpora embedded in
bf16 are small.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import CORPUS, ROOT, SHARED, needs_shared

from qa import cpu, embed

QUESTION = "Who is the spokesman for the Taliban?"
ANSWER = "Zabihullah Mujahid"
NEWS = SHARED / "data" / "news" / "articles.jsonl.gz"


def _backend(mp: pytest.MonkeyPatch, backend: str, units: bool | None = None) -> None:
    mp.delenv("QA_EMBEDDER", raising=False)
    mp.setenv("QA_EMBED_BACKEND", backend)
    if units is not None:  # as on a CPU with (or without) bf16 matrix units
        mp.setattr(cpu, "bf16_fast", lambda: units)


def _build(index: Path):
    from qa import build

    return build(CORPUS, index, progress=False)


def _answers(index: Path) -> tuple[str, bool]:
    from qa import Retriever

    r = Retriever.load(index)
    answer = r.ask(QUESTION, k=5)
    return r.embedder.model_id, any(ANSWER in p.text for p in answer.passages)


def _texts_and_vectors(index: Path) -> tuple[list[str], np.ndarray]:
    from qa.generation import ChunkRow
    from qa.index import Index

    idx = Index.open(index)
    texts = [ChunkRow.from_dict(idx.chunks[i]).embed_text for i in range(len(idx.chunks))]
    return texts, np.asarray(idx.vectors)


@pytest.fixture(scope="module")
def bf16_index(tmp_path_factory) -> Path:
    """The shipped corpus built with QA_EMBED_BACKEND=bf16 (emulated here if the CPU lacks the units)."""
    index = tmp_path_factory.mktemp("bf16") / "index"
    with pytest.MonkeyPatch.context() as mp:
        _backend(mp, "bf16")
        _build(index)
    return index


@pytest.fixture(scope="module")
def fp32_fallback_index(tmp_path_factory) -> Path:
    """The shipped corpus built by "auto" on a CPU without bf16 units (the detection is forced)."""
    index = tmp_path_factory.mktemp("fp32") / "index"
    with pytest.MonkeyPatch.context() as mp:
        _backend(mp, "auto", units=False)
        _build(index)
    return index


@pytest.fixture(scope="module")
def st_fp32():
    return embed.SentenceTransformerEmbedder()


def test_cpu_flags_decide_the_default_model(monkeypatch):
    amx = "processor : 0\nflags : fpu sse avx2 fma avx512f avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8\n"
    flags = cpu.parse_flags(amx)
    assert cpu.CpuFeatures(flags, True).bf16_units and "amx_bf16" in flags
    assert not cpu.CpuFeatures(cpu.parse_flags("flags : fpu avx avx2 fma\n"), True).bf16_units
    assert cpu.parse_flags("no flags here") == ()
    assert cpu.CpuFeatures(flags, True).bf16_faster
    # AVX-512 BF16 without AMX: OpenVINO bf16 beats fp32 ONNX there, torch bf16 did not (docs/BENCHMARKS.md).
    epyc = cpu.parse_flags("flags : fpu avx2 fma avx512f avx512_vnni avx512_bf16\n")
    assert cpu.CpuFeatures(epyc, True).bf16_units and not cpu.CpuFeatures(epyc, True).bf16_faster
    avx2 = cpu.parse_flags("flags : fpu avx avx2 fma\n")
    from qa import openvino_backend

    for openvino, cpu_flags, fast in [
        (True, flags, True),
        (True, epyc, True),
        (True, avx2, False),
        (False, flags, True),
        (False, epyc, False),
        (False, avx2, False),
    ]:
        monkeypatch.setattr(openvino_backend, "available", lambda openvino=openvino: openvino)
        monkeypatch.setattr(cpu, "_proc_flags", lambda cpu_flags=cpu_flags: (cpu_flags, True))
        assert cpu.bf16_fast() == fast, (openvino, cpu_flags)
    for backend, units, model_id in [
        ("auto", True, embed.BF16_MODEL_ID),
        ("auto", False, embed.MODEL_ID),
        ("bf16", False, embed.BF16_MODEL_ID),
        ("onnx", True, embed.MODEL_ID),
        ("sentence-transformers", True, embed.MODEL_ID),
        ("onnx-int8", True, embed.INT8_MODEL_ID),
    ]:
        _backend(monkeypatch, backend, units)
        assert embed.default_model_id() == model_id, (backend, units)


def test_forced_bf16_builds_records_its_model_and_answers(bf16_index, monkeypatch):
    from qa.manifest import read_manifest

    assert read_manifest(bf16_index).model.id == embed.BF16_MODEL_ID
    _backend(monkeypatch, "bf16")
    assert _answers(bf16_index) == (embed.BF16_MODEL_ID, True)


def test_bf16_vectors_are_close_to_sentence_transformers_on_the_shipped_corpus(bf16_index, st_fp32):
    texts, vectors = _texts_and_vectors(bf16_index)
    cosine = (vectors * st_fp32.embed(texts)).sum(axis=1)
    assert len(texts) > 20 and cosine.min() >= 0.999, cosine.min()


@pytest.mark.slow
def test_bf16_vectors_are_close_to_sentence_transformers_on_1000_news_chunks(st_fp32):
    """1,000 whole news chunks, as a build embeds them (OpenVINO: seconds; where it keeps f32, still fast)."""
    needs_shared(NEWS)
    from qa.chunk import Chunker
    from qa.config import Config
    from qa.domain import Article

    counter = embed.WordPieceCounter()
    chunker = Chunker(counter, Config())
    texts: list[str] = []
    with gzip.open(NEWS, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            article = Article(r["id"], r.get("title") or "", r["text"], r.get("source"), r.get("date"))
            texts.extend(c.embed_text for c in chunker.chunk(article))
            if len(texts) >= 1000:
                break
    texts = texts[:1000]
    cosine = (embed.load_embedder(embed.BF16_MODEL_ID).embed(texts) * st_fp32.embed(texts)).sum(axis=1)
    assert len(texts) == 1000 and cosine.min() >= 0.999, (cosine.min(), texts[int(cosine.argmin())])


def test_without_bf16_units_a_build_takes_fp32_and_answers(fp32_fallback_index, monkeypatch):
    from qa.manifest import read_manifest

    assert read_manifest(fp32_fallback_index).model.id == embed.MODEL_ID
    _backend(monkeypatch, "auto", units=False)
    assert _answers(fp32_fallback_index) == (embed.MODEL_ID, True)


def test_an_index_keeps_its_model_whatever_the_default(bf16_index, fp32_fallback_index, monkeypatch, tmp_path):
    import shutil

    from qa import build
    from qa.manifest import read_manifest

    _backend(monkeypatch, "auto", units=False)  # fp32 is the default: the bf16 index still embeds with bf16
    assert _answers(bf16_index) == (embed.BF16_MODEL_ID, True)
    _backend(monkeypatch, "auto", units=True)  # bf16 is the default: the fp32 index still embeds with fp32
    assert _answers(fp32_fallback_index) == (embed.MODEL_ID, True)
    # An incremental build of the bf16 index where fp32 is the default adds bf16 vectors.
    _backend(monkeypatch, "onnx")
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(CORPUS, corpus)
    shutil.copytree(bf16_index, index)
    (corpus / "new.txt").write_text("Harbour news\n\nThe harbour of Deltaport reopened on Monday.\n")
    report = build(corpus, index, progress=False)
    assert report.added == ["new.txt"] and report.embedded >= 1
    assert read_manifest(index).model.id == embed.BF16_MODEL_ID


def test_status_and_build_log_say_which_path_embeds(bf16_index, capsys, monkeypatch, tmp_path):
    from qa.cli import main

    _backend(monkeypatch, "auto")
    assert main(["status", "--corpus", str(CORPUS), "--index", str(bf16_index)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("embedding "))
    assert line.startswith(f"embedding  {embed.BF16_MODEL_ID} on openvino ") and "bf16" in line
    assert main(["status", "--corpus", str(CORPUS), "--index", str(bf16_index), "--json"]) == 0
    path = json.loads(capsys.readouterr().out)["embedding"]
    assert path["model"] == embed.BF16_MODEL_ID and path["cpu"] == cpu.cpu_features().summary()

    env = {k: v for k, v in os.environ.items() if k != "QA_EMBEDDER"}
    env["QA_EMBED_BACKEND"] = "onnx"
    out = subprocess.run(
        [sys.executable, "-m", "qa", "build", "--corpus", str(CORPUS), "--index", str(tmp_path / "i")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert f"embedding  {embed.MODEL_ID} on onnxruntime " in out.stderr


def test_a_bf16_index_without_openvino_or_torch_is_refused_with_the_fix(monkeypatch):
    from qa.onnx_backend import EmbedBackendError

    monkeypatch.setitem(sys.modules, "openvino", None)  # import fails as if not installed
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(EmbedBackendError, match="pip install openvino.*QA_EMBED_BACKEND=onnx qa build --full"):
        embed._load_bf16()
    from qa.openvino_backend import OpenVinoEmbedder

    with pytest.raises(EmbedBackendError, match=r"^the bf16 model on OpenVINO needs openvino \(pip install \w+\)$"):
        OpenVinoEmbedder()  # said as such, not as a failure to compile


def test_without_openvino_the_bf16_model_runs_on_torch_with_close_vectors(monkeypatch):
    texts = [QUESTION, "a", "Shares rose 4% after quarterly earnings beat forecasts."]
    on_openvino = embed._load_bf16()
    assert on_openvino.runtime.startswith("openvino ")
    monkeypatch.setitem(sys.modules, "openvino", None)
    on_torch = embed._load_bf16()
    assert on_torch.runtime.startswith("torch ") and on_torch.model_id == embed.BF16_MODEL_ID
    # Both run bf16, so they may serve one index: their vectors agree as closely as each agrees with fp32.
    cosine = (on_openvino.embed(texts) * on_torch.embed(texts)).sum(axis=1)
    assert cosine.min() >= 0.999, cosine


@pytest.mark.parametrize("runtime", ["openvino", "openvino-streams", "torch"])
def test_a_bf16_vector_does_not_depend_on_its_batch_mates(runtime):
    from qa.bf16_backend import Bf16Embedder
    from qa.openvino_backend import OpenVinoEmbedder

    model = Bf16Embedder() if runtime == "torch" else OpenVinoEmbedder(streams=runtime == "openvino-streams")
    texts = ["Who is the spokesman for the Taliban?", "a", "Shares rose 4% after quarterly earnings beat forecasts."]
    # Twelve more of the first text's width, so that it shares a full batch with others of its bucket.
    mates = [f"Who is the spokesman for the {w}?" for w in ("army", "navy", "police", "court", "bank", "union")] * 2
    together = model.embed(texts + texts[:1] + mates)
    alone = np.stack([model.embed([t])[0] for t in texts])
    assert np.array_equal(together[3], together[0])  # the same text twice in one batch: the same vector
    if runtime == "torch":
        # torch's oneDNN picks its bf16 kernels by batch size (on an AMX CPU a text alone and in a batch
        # of 3 differ by up to 6e-4 a component), so on torch the guarantee is closeness, not equality.
        cosine = (together[:3] * alone).sum(axis=1)
        assert cosine.min() >= 0.9999, cosine
    else:
        assert np.array_equal(together[:3], alone)


def test_builds_embed_on_parallel_streams_with_the_vectors_questions_get(monkeypatch):
    from qa import settings
    from qa.builder import ModelForBuild
    from qa.ray_engine import default_embedder_factory

    _backend(monkeypatch, "bf16")
    for_questions = embed.load_embedder(embed.BF16_MODEL_ID)
    for_builds = ModelForBuild(None, embed.BF16_MODEL_ID).get()
    assert for_builds is not for_questions and embed.load_embedder(embed.BF16_MODEL_ID) is for_questions
    assert for_questions.streams == 1 and ", " not in for_questions.runtime
    if settings.cpu_threads() > 1:  # OpenVINO's throughput hint gives each stream its own thread(s)
        assert for_builds.streams > 1 and for_builds.runtime.endswith(f", {for_builds.streams} streams")
    assert default_embedder_factory(embed.BF16_MODEL_ID)().streams == for_builds.streams  # Ray's actors too
    texts = [QUESTION, "a"] + [f"Shares rose {n}% after quarterly earnings beat forecasts." for n in range(40)]
    cosine = (for_builds.embed(texts) * for_questions.embed(texts)).sum(axis=1)
    assert cosine.min() >= 0.99999, cosine  # the same model in the same precision: one index may hold both


def test_a_failed_inference_on_the_streams_is_raised_once_and_the_next_call_works(monkeypatch):
    from qa import openvino_backend

    model = openvino_backend.OpenVinoEmbedder(streams=True)
    texts = [f"Shares rose {n}% after earnings beat forecasts in {w}." for n in range(30) for w in ("May", "a year")]
    before = model.embed(texts)
    real_feed, fed = openvino_backend._feed, []

    def one_bad_batch(ids, mask):
        fed.append(1)
        feed = real_feed(ids, mask)
        if len(fed) == 2:  # an attention mask of the wrong width: the plugin's shape check fails
            feed["attention_mask"] = np.ones((ids.shape[0], ids.shape[1] + 5), dtype=np.int64)
        return feed

    monkeypatch.setattr(openvino_backend, "_feed", one_bad_batch)
    with pytest.raises(RuntimeError, match="mismatch"):
        model.embed(texts)
    monkeypatch.setattr(openvino_backend, "_feed", real_feed)
    assert np.array_equal(model.embed(texts), before)


def test_the_first_inference_of_a_process_runs_alone_before_the_streams(monkeypatch):
    """Two threads doing a process's first OpenVINO inference together can deadlock in the binding's
    NumPy set-up (a build hung for good in 1 of 30 fresh processes): the first model made runs one
    inference on its own thread, once per process, before any call can use the streams."""
    import threading

    from qa import openvino_backend

    real_feed, fed = openvino_backend._feed, []

    def recorded(ids, mask):
        fed.append(threading.get_ident())
        return real_feed(ids, mask)

    monkeypatch.setattr(openvino_backend, "_feed", recorded)
    monkeypatch.setattr(openvino_backend, "_first_inference_done", False)  # as in a fresh process
    model = openvino_backend.OpenVinoEmbedder(streams=True)
    assert fed == [threading.get_ident()]  # one inference, on the thread that made the model
    openvino_backend.OpenVinoEmbedder()
    assert len(fed) == 1  # once per process
    model.embed([f"Shares rose {n}% after earnings beat forecasts." for n in range(40)])
    assert len(fed) > 1


def test_loading_the_openvino_model_sends_no_telemetry():
    """`import openvino` imports its model-conversion tools, and those post a usage event to Google
    Analytics (openvino-telemetry); qa imports openvino without them, and they stay importable."""
    code = (
        "import sys, importlib.util; from qa.embed import load_embedder; "
        "load_embedder('sentence-transformers/all-MiniLM-L6-v2#bf16', for_builds=True).embed(['hello']); "
        "import openvino; assert 'openvino' in sys.modules; "
        "loaded = sorted(m for m in sys.modules if 'telemetry' in m or m.startswith('openvino.tools')); "
        "assert not loaded, loaded; assert importlib.util.find_spec('openvino.tools.ovc') is not None"
    )
    env = {k: v for k, v in os.environ.items() if k != "QA_EMBEDDER"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr


def test_openvino_compiles_through_its_cache_and_recovers_from_a_damaged_blob(monkeypatch, tmp_path):
    from qa.onnx_backend import bundled, onnx_path
    from qa.openvino_backend import OpenVinoEmbedder

    graph = onnx_path(bundled())  # the exported graph of the real cache: no second export
    OpenVinoEmbedder()  # makes sure it exists
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path))
    (tmp_path / graph.name).write_bytes(graph.read_bytes())
    first = OpenVinoEmbedder().embed([QUESTION])
    blobs = list((tmp_path / "openvino").glob("*.blob"))
    assert len(blobs) == 1
    blobs[0].chmod(0o600)
    blobs[0].write_bytes(b"not a compiled model" * 100)
    assert np.array_equal(OpenVinoEmbedder().embed([QUESTION]), first)  # compiled again, same vector
    assert blobs[0].stat().st_size > 1_000_000  # and the cache was written anew


def test_on_a_cpu_without_bf16_units_openvino_runs_f32_and_says_so(monkeypatch):
    from qa import openvino_backend
    from qa.onnx_backend import OnnxEmbedder

    no_units = cpu.CpuFeatures(cpu.parse_flags("flags : fpu avx avx2 fma\n"), True)
    monkeypatch.setattr(openvino_backend, "cpu_features", lambda: no_units)
    model = openvino_backend.OpenVinoEmbedder()
    assert model.runtime.endswith(" f32") and model.model_id == embed.BF16_MODEL_ID
    texts = [QUESTION, "Shares rose 4% after quarterly earnings beat forecasts."]
    cosine = (model.embed(texts) * OnnxEmbedder().embed(texts)).sum(axis=1)
    assert cosine.min() >= 0.99999, cosine  # f32: the fp32 model's vectors, where bf16 gives about 0.9999
