"""The ONNX Runtime backend gives the sentence-transformers vectors, and loads without torch."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import CORPUS, ROOT

from qa import cpu, embed, settings
from qa.errors import QAError

# onnxruntime is a core dependency: this skip is for a broken install, never expected in CI.
pytest.importorskip("onnxruntime", reason="onnxruntime is not importable (a core dependency: pip install -e .)")


@pytest.fixture(scope="module")
def onnx_embedder():
    """The ONNX embedder itself, not load_embedder's `auto` choice: a failed export is an error here,
    not a quiet fall back to sentence-transformers (which `auto` does, and every other test would pass).
    Two threads on any machine: a lone text then runs on its all-core session, batches on the workers'."""
    from qa.onnx_backend import OnnxEmbedder

    return OnnxEmbedder(threads=2)


def _shipped_chunk_texts(counter) -> list[str]:
    from qa.chunk import Chunker
    from qa.config import Config
    from qa.ingest import iter_corpus

    chunker = Chunker(counter, Config())
    return [c.embed_text for a in iter_corpus(CORPUS) if hasattr(a, "text") for c in chunker.chunk(a)]


@pytest.mark.slow
def test_onnx_matches_sentence_transformers_on_the_shipped_corpus(onnx_embedder):
    texts = _shipped_chunk_texts(onnx_embedder)
    assert len(texts) >= 10
    reference = embed.SentenceTransformerEmbedder()
    ours, theirs = onnx_embedder.embed(texts), reference.embed(texts)
    assert ours.shape == theirs.shape == (len(texts), 384)
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.min() >= 0.9999, f"worst cosine {cosines.min():.6f}"
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


TEXTS = ["short", "a much longer text about oil prices, OPEC quotas and the dollar " * 8, "mid length text here"] * 3


@pytest.mark.slow
def test_texts_keep_input_order_and_do_not_depend_on_each_other(onnx_embedder):
    together = onnx_embedder.embed(TEXTS)
    alone = np.vstack([onnx_embedder.embed([t]) for t in TEXTS])
    np.testing.assert_allclose(together, alone, atol=1e-6)
    assert together[0] @ together[1] < 0.99  # rows were not swapped or merged
    assert onnx_embedder.embed([]).shape == (0, 384)


@pytest.fixture(scope="module")
def int8_embedder(onnx_embedder):
    from qa.onnx_backend import OnnxEmbedder

    model = embed.load_embedder(model_id=embed.INT8_MODEL_ID)  # an int8 index gets the int8 graph, never a fallback
    assert isinstance(model, OnnxEmbedder) and model.model_id == embed.INT8_MODEL_ID
    assert model.quantize and model.file != onnx_embedder.file
    return model


@pytest.mark.slow
def test_int8_vectors_are_exact_per_text_and_close_to_fp32(int8_embedder, onnx_embedder):
    """Dynamic int8 scales activations per tensor: batched, a text's vector would depend on its batch-mates."""
    together = int8_embedder.embed(TEXTS)
    alone = np.vstack([int8_embedder.embed([t]) for t in TEXTS])
    assert np.array_equal(together, alone)
    texts = _shipped_chunk_texts(int8_embedder)
    cosines = (int8_embedder.embed(texts) * onnx_embedder.embed(texts)).sum(axis=1)
    assert cosines.min() >= 0.95 and cosines.mean() >= 0.98, (cosines.min(), cosines.mean())


def test_default_model_for_a_new_index(monkeypatch):
    from qa import cpu

    monkeypatch.delenv("QA_EMBEDDER", raising=False)
    monkeypatch.setattr(cpu, "bf16_fast", lambda: False)  # "auto" takes bf16 on CPUs with bf16 units (test_bf16)
    for backend, model_id in [
        ("auto", embed.MODEL_ID),
        ("int8", embed.INT8_MODEL_ID),
        ("onnx", embed.MODEL_ID),
        ("sentence-transformers", embed.MODEL_ID),
    ]:
        monkeypatch.setenv("QA_EMBED_BACKEND", backend)
        assert embed.default_model_id() == model_id
    with pytest.raises(QAError, match="cannot load"):
        embed.load_embedder("someone/else")


@pytest.mark.slow
def test_the_export_is_cached_and_reused(onnx_embedder):
    from qa.onnx_backend import OnnxEmbedder

    before = onnx_embedder.file.stat().st_mtime_ns
    again = OnnxEmbedder()
    assert again.file == onnx_embedder.file and again.file.stat().st_mtime_ns == before
    assert not list(again.file.parent.glob(".*.tmp.onnx")), "an export left a temporary file behind"


def test_the_chunker_and_the_embedder_share_one_tokenizer(onnx_embedder):
    """A build chunks with word_piece_counter and embeds with a model that counts too: the
    tokenizer file (about 30 ms to read) is read once for both."""
    from qa.embed import word_piece_counter

    assert word_piece_counter(None) is onnx_embedder._counter
    assert word_piece_counter(onnx_embedder.model_id).count(["two words"]) == [2]


@pytest.mark.slow
def test_loading_the_cached_onnx_model_does_not_import_torch(onnx_embedder):
    code = (
        "import sys; from qa.embed import load_embedder; e = load_embedder(); "
        "e.embed(['hello']); assert 'torch' not in sys.modules, 'torch was imported'; "
        "assert 'sentence_transformers' not in sys.modules; print(type(e).__name__)"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("QA_EMBEDDER", "QA_EMBED_BACKEND")}
    env["QA_EMBED_BACKEND"] = "onnx"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "OnnxEmbedder"


def test_import_qa_stays_light():
    code = "import qa, sys; assert 'gradio' not in sys.modules and 'torch' not in sys.modules"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def test_backend_choice_from_argument_and_environment(monkeypatch):
    monkeypatch.delenv("QA_EMBED_BACKEND", raising=False)
    assert settings.embed_backend() == "auto"
    monkeypatch.setenv("QA_EMBED_BACKEND", "torch")
    assert settings.embed_backend() == "sentence-transformers"
    assert settings.embed_backend("onnx") == "onnx"
    monkeypatch.setenv("QA_EMBED_BACKEND", "tensorflow")
    with pytest.raises(QAError, match="QA_EMBED_BACKEND"):
        settings.embed_backend()


def test_auto_falls_back_to_sentence_transformers_without_onnxruntime(monkeypatch):
    from qa.onnx_backend import EmbedBackendError

    class Stub:
        model_id = embed.MODEL_ID

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    monkeypatch.setattr(embed, "SentenceTransformerEmbedder", Stub)
    monkeypatch.setattr(cpu, "bf16_fast", lambda: False)  # the fp32 path, as on a CPU without bf16 units
    monkeypatch.setenv("QA_EMBED_BACKEND", "auto")
    assert embed.default_model_id() == embed.MODEL_ID
    assert isinstance(embed._load_fp32(), Stub)
    monkeypatch.setenv("QA_EMBED_BACKEND", "onnx")
    with pytest.raises(EmbedBackendError, match="onnxruntime"):
        embed._load_fp32()
    # An index built with the int8 model can only be searched with it: no silent fallback.
    monkeypatch.setenv("QA_EMBED_BACKEND", "auto")
    with pytest.raises(EmbedBackendError, match="int8 model needs ONNX Runtime"):
        embed._load_int8()


def test_an_embedder_named_in_the_environment_is_registered_under_its_own_id(monkeypatch):
    from tests.support.fake import SPEC, FakeEmbedder

    monkeypatch.setenv("QA_EMBEDDER", SPEC)
    assert embed.default_model_id() == FakeEmbedder.model_id != embed.MODEL_ID
    assert embed.load_embedder().model_id == FakeEmbedder.model_id
    for bad, message in [
        ("nocolon", "module:attribute"),
        ("no_such_module_xyz:X", "cannot be loaded"),
        ("os:sep", "must name a ModelSpec"),
    ]:
        monkeypatch.setenv("QA_EMBEDDER", bad)
        with pytest.raises(QAError, match=message):
            embed.default_model_id()


def test_the_export_key_is_remembered_until_a_model_file_changes(tmp_path, monkeypatch):
    """The key hashes the model's files once; a file changed in place is hashed again, and the
    remembered key is the one hashing gives (so exports made before the memo stay valid)."""
    import time

    from qa import onnx_backend

    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"weights, first version")
    model = onnx_backend.OnnxModel(folder, "local/test", "test", 4, 1)
    reads: list[str] = []
    real_open = open

    def counting_open(path, *args, **kwargs):
        if str(path).startswith(str(folder)):
            reads.append(str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", counting_open)
    first = onnx_backend.model_key(model)
    assert len(reads) == 2  # both files hashed
    assert onnx_backend.model_key(model) == first and len(reads) == 2  # remembered: nothing read
    time.sleep(0.01)
    (folder / "model.safetensors").write_bytes(b"weights, second version")
    second = onnx_backend.model_key(model)
    assert second != first and len(reads) == 4
    (tmp_path / "cache" / "model-keys.json").write_text("{not json")  # a damaged memo is ignored
    assert onnx_backend.model_key(model) == second and len(reads) == 6
