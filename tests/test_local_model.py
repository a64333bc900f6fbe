"""`qa build --model PATH`: an index built with a local sentence-transformers folder, made here (tests/support)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa import build
from qa.errors import IndexFormatError
from qa.local_model import ModelFolderError, folder_hash, inspect
from qa.manifest import ModelInfo, read_manifest
from qa.retriever import Retriever
from tests.support.corpus import write_synthetic_corpus
from tests.support.fake import FakeEmbedder
from tests.support.tiny_model import HIDDEN, WINDOW, make_tiny_model

pytest.importorskip("sentence_transformers")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """The tiny model, made once for this file (read-only: tests that change it work on a copy)."""
    return make_tiny_model(tmp_path_factory.mktemp("models") / "tiny-bert")


@pytest.fixture(autouse=True)
def own_cache(tmp_path_factory, monkeypatch):
    """ONNX exports go to a cache of this file's own (subprocesses inherit it), not the user's."""
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "qa-cache"))


@pytest.fixture
def corpus(tmp_path) -> Path:
    write_synthetic_corpus(tmp_path / "corpus", range(6))
    return tmp_path / "corpus"


def qa(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa", *args], capture_output=True, text=True, timeout=300)


def test_cli_build_records_the_model_and_ask_finds_it_again(tiny, corpus, tmp_path):
    index = tmp_path / "index"
    out = qa("build", "--corpus", str(corpus), "--index", str(index), "--model", str(tiny), "--json", "--quiet")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["documents"] == 6

    model = read_manifest(index).model
    assert model.id == f"local:tiny-bert@{folder_hash(tiny)[:12]}"
    assert (model.hash, model.path, model.dim) == (folder_hash(tiny), str(tiny), HIDDEN)
    assert model.max_tokens == WINDOW and model.package is None
    assert read_manifest(index).chunking["max_model_tokens"] == WINDOW  # chunks fit the model's window
    exports = [p.name for p in (tmp_path.parent / "qa-cache").glob("*.onnx")]
    assert any(name.startswith("tiny-bert-") for name in exports), exports  # cached under the model's own name

    # Later commands find the model from the manifest, without --model.
    asked = qa("ask", "Which harbour was approved?", "--index", str(index), "--json")
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["passages"]
    status = qa("status", "--index", str(index), "--corpus", str(corpus), "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["model"] == model.id


def test_questions_are_embedded_with_the_index_model(tiny, corpus, tmp_path):
    from sentence_transformers import SentenceTransformer

    build(corpus, tmp_path / "index", model=tiny, progress=False)
    retriever = Retriever.load(tmp_path / "index")
    answer = retriever.ask("Which harbour was approved near article3?", k=3, mode="dense")
    assert answer.passages and not answer.warnings
    question = "the harbour council approved the budget"
    assert retriever.embedder.model_id == read_manifest(tmp_path / "index").model.id
    got = retriever.embedder.embed([question])[0]
    want = SentenceTransformer(str(tiny), device="cpu").encode([question], normalize_embeddings=True)[0]
    assert got.shape == (HIDDEN,)
    assert float(np.dot(got, want)) > 0.999


def test_a_long_question_is_measured_against_the_model_window(tiny, corpus, tmp_path):
    build(corpus, tmp_path / "index", model=tiny, progress=False)
    answer = Retriever.load(tmp_path / "index").ask("harbour " * 200)
    assert any(f"reads only the first {WINDOW - 2}" in w for w in answer.warnings), answer.warnings


def test_a_model_the_onnx_graph_cannot_express_runs_on_sentence_transformers(corpus, tmp_path):
    folder = make_tiny_model(tmp_path / "tiny-cls", pooling="cls")  # CLS pooling: not the exported mean
    assert not inspect(folder).exportable and inspect(folder).dim == HIDDEN
    build(corpus, tmp_path / "index", model=folder, progress=False)
    retriever = Retriever.load(tmp_path / "index")
    assert retriever.ask("Which harbour was approved?").passages
    assert retriever.embedder.runtime.startswith("sentence-transformers")


def test_an_incremental_build_keeps_the_local_model(tiny, corpus, tmp_path):
    index = tmp_path / "index"
    build(corpus, index, model=tiny, progress=False)
    model_id = read_manifest(index).model.id
    write_synthetic_corpus(corpus, [6])
    report = build(corpus, index, progress=False)  # no model given: the index's own
    assert (report.added, report.unchanged) == (["article0006.txt"], 6)
    assert report.embedded > 0
    assert read_manifest(index).model.id == model_id
    again = build(corpus, index, model=tiny, progress=False)  # the same folder again: still incremental
    assert again.unchanged == 7 and again.embedded == 0


def test_another_model_on_an_existing_index_needs_full(tiny, corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("QA_EMBED_BACKEND", "sentence-transformers")  # no second ONNX export for the other model
    index, other = tmp_path / "index", tmp_path / "other"
    build(corpus, index, model=tiny, progress=False)
    shutil.copytree(tiny, other)
    (other / "README.md").write_text("another model\n")
    with pytest.raises(IndexFormatError, match=r"qa build --full --model PATH"):
        build(corpus, index, model=other, progress=False)
    build(corpus, index, model=other, full=True, progress=False)
    assert read_manifest(index).model.id == inspect(other).id != inspect(tiny).id


def test_a_changed_or_missing_model_folder_is_refused_with_the_fix(tiny, corpus, tmp_path):
    folder, index = tmp_path / "copy" / tiny.name, tmp_path / "index"
    shutil.copytree(tiny, folder)
    build(corpus, index, model=folder, progress=False)
    assert read_manifest(index).model.id == inspect(tiny).id  # the same name and files: the same model, anywhere

    with open(folder / "tokenizer_config.json", "a") as f:
        f.write("\n")
    with pytest.raises(IndexFormatError, match=r"changed since.*qa build --full --model PATH"):
        Retriever.load(index)
    out = qa("ask", "Which harbour?", "--index", str(index))
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.startswith("error: ") and "qa build --full --model PATH" in out.stderr

    shutil.rmtree(folder)
    with pytest.raises(IndexFormatError, match=r"now gone.*qa build --full --model PATH"):
        Retriever.load(index)


def test_folders_that_are_no_model_are_refused_with_what_they_lack(tiny, corpus, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny, broken)
    (broken / "model.safetensors").write_bytes(b"not weights")
    no_tokenizer = tmp_path / "no-tokenizer"
    shutil.copytree(tiny, no_tokenizer)
    (no_tokenizer / "tokenizer.json").unlink()
    cases = {
        tmp_path / "absent": "is not a folder",
        corpus: "modules.json is missing",
        no_tokenizer: "no tokenizer.json",
        broken: "cannot load the model",
    }
    for folder, message in cases.items():
        with pytest.raises(ModelFolderError, match=message):
            build(corpus, tmp_path / "index", model=folder, progress=False)
    assert not (tmp_path / "index" / "manifest.json").exists()


def test_the_cli_says_what_is_wrong_with_a_model_folder_in_one_line(corpus, tmp_path):
    out = qa("build", "--corpus", str(corpus), "--index", str(tmp_path / "i"), "--model", str(corpus), "--quiet")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.startswith("error: ") and "modules.json is missing" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_the_default_model_is_still_the_default(corpus, tmp_path):
    build(corpus, tmp_path / "index", embedder=FakeEmbedder(), progress=False)
    model = read_manifest(tmp_path / "index").model
    assert (model.id, model.path, model.hash) == (FakeEmbedder.model_id, None, None)
    assert read_manifest(tmp_path / "index").chunking["max_model_tokens"] == 256


def test_exports_of_two_models_never_share_a_file(tiny, tmp_path):
    from qa.onnx_backend import OnnxModel, bundled, onnx_path

    pytest.importorskip("onnxruntime")
    other = tmp_path / "other"
    shutil.copytree(tiny, other)
    (other / "README.md").write_text("another model\n")
    paths = {
        onnx_path(OnnxModel(m.path, m.id, m.name, m.dim, m.heads, m.max_tokens, m.files_hash))
        for m in (inspect(tiny), inspect(other))
    }
    paths.add(onnx_path(bundled()))
    assert len(paths) == 3


def test_the_bundled_model_still_builds_and_answers_without_a_folder(shipped_index):
    from qa.embed import MODEL_ID

    model = read_manifest(shipped_index).model
    assert model.id.startswith(MODEL_ID) and (model.path, model.hash, model.dim) == (None, None, 384)
    assert read_manifest(shipped_index).chunking["max_model_tokens"] == 256
    answer = Retriever.load(shipped_index).ask("Who is the spokesman for the Taliban?")
    assert any("Zabihullah Mujahid" in p.text for p in answer.passages)


def test_manifest_model_info_keeps_path_and_hash(corpus, tmp_path):
    info = ModelInfo("local:x@0123", 32, 128, None, "/models/x", "0123abcd")
    assert ModelInfo.from_dict(info.to_dict()) == info
    assert ModelInfo.from_dict({"id": "m", "dim": 3}).path is None  # manifests of before keep reading
    build(corpus, tmp_path / "index", embedder=FakeEmbedder(), progress=False)
    path = tmp_path / "index" / "manifest.json"
    data = json.loads(path.read_text())
    data["model"]["path"] = "/models/x"  # a path without its hash could not tell a changed folder
    path.write_text(json.dumps(data))
    with pytest.raises(IndexFormatError, match="go together"):
        read_manifest(tmp_path / "index")


def test_a_model_whose_configs_lie_about_its_dimension_is_refused(tiny, monkeypatch):
    from dataclasses import replace

    monkeypatch.setenv("QA_EMBED_BACKEND", "sentence-transformers")
    with pytest.raises(ModelFolderError, match="dim 32, its configs say 64"):
        replace(inspect(tiny), dim=64).spec().load()


@pytest.mark.slow
def test_the_ray_engine_builds_the_same_index_with_the_model(tiny, corpus, tmp_path):
    if importlib.util.find_spec("ray") is None:
        pytest.skip("the Ray engine is optional: pip install -e '.[ray]'")
    from qa.ray_engine import build_ray, ray_runtime

    local, remote = tmp_path / "local", tmp_path / "ray"
    build(corpus, local, model=tiny, progress=False)
    with ray_runtime(num_cpus=2):
        build_ray(corpus, remote, model=tiny, progress=False)
    a, b = read_manifest(local), read_manifest(remote)
    assert (a.model, a.chunking, a.chunks) == (b.model, b.chunking, b.chunks)
    va, vb = np.load(local / a.file("vectors")), np.load(remote / b.file("vectors"))
    assert va.shape == (a.chunks, HIDDEN) and np.allclose(va, vb, atol=1e-6)
