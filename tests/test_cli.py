"""The `qa` command as a user runs it: JSON contracts, readable output, clean errors."""

import json
import subprocess
import sys

import pytest


def qa(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "qa", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def built(tmp_path_factory, shipped_index):
    return shipped_index


@pytest.mark.slow
def test_build_json_is_exactly_the_report(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "one.txt").write_text("A headline\n\nThe only article says the harbour opened in May.\n")
    (corpus / "bad.txt").write_bytes(b"\x00\x01binary")
    out = qa("build", "--corpus", str(corpus), "--index", str(tmp_path / "i"), "--json", "--quiet")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert set(report) == {
        "documents",
        "chunks",
        "added",
        "changed",
        "deleted",
        "unchanged",
        "skipped",
        "embedded",
        "seconds",
    }
    assert (report["documents"], report["added"], report["skipped"]) == (1, 1, 1)
    assert "bad.txt" in out.stderr and "Traceback" not in out.stderr


def test_ask_json_and_text(built):
    out = qa("ask", "Who is the spokesman for the Taliban?", "-k", "3", "--index", str(built), "--json")
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert len(answer["passages"]) == 3
    assert any("Zabihullah Mujahid" in p["text"] for p in answer["passages"])
    text = qa("ask", "Who is the spokesman for the Taliban?", "--index", str(built))
    assert text.returncode == 0 and "[1]" in text.stdout and ">>" in text.stdout


def test_status_reports_changes(tmp_path, built):
    out = qa("status", "--index", str(built), "--corpus", str(tmp_path), "--json")
    assert out.returncode == 0, out.stderr
    st = json.loads(out.stdout)
    assert st["documents"] == 5 and st["corpus_changed"] is True and len(st["deleted"]) == 5


@pytest.mark.parametrize(
    "args, message",
    [
        (("ask", "hello", "--index", "/nonexistent/index"), "no index"),
        (("ask", "   ", "--index", "{built}"), "empty"),
        (("build", "--corpus", "/nonexistent/corpus", "--index", "{tmp}"), "does not exist"),
        (("ask", "x", "--since", "yesterday", "--index", "{built}"), "YYYY-MM-DD"),
    ],
)
def test_errors_are_one_clear_line(tmp_path, built, args, message):
    args = [a.format(built=built, tmp=tmp_path / "i") for a in args]
    out = qa(*args)
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], out.stderr


@pytest.mark.slow
def test_an_int8_index_keeps_and_uses_its_model(tmp_path, corpus_copy):
    """Built with QA_EMBED_BACKEND=onnx-int8, the index decides the model for questions and later builds."""
    import os

    pytest.importorskip("onnxruntime")
    from qa import store
    from qa.embed import INT8_MODEL_ID

    env = {k: v for k, v in os.environ.items() if k != "QA_FAKE_EMBEDDER"}
    index = tmp_path / "i"

    def run(*args, backend):
        return subprocess.run(
            [sys.executable, "-m", "qa", *args],
            capture_output=True,
            text=True,
            timeout=600,
            env=dict(env, QA_EMBED_BACKEND=backend),
        )

    out = run("build", "--corpus", str(corpus_copy), "--index", str(index), "--json", "--quiet", backend="onnx-int8")
    assert out.returncode == 0, out.stderr
    assert store.read_manifest(index).data["model"]["id"] == INT8_MODEL_ID
    # Another backend asked for: the index's model still embeds the question.
    out = run("ask", "Who is the spokesman for the Taliban?", "--index", str(index), "--json", backend="onnx")
    assert out.returncode == 0, out.stderr
    assert any("Zabihullah Mujahid" in p["text"] for p in json.loads(out.stdout)["passages"])
    (corpus_copy / "new.txt").write_text("Harbour news\n\nThe harbour of Deltaport reopened on Monday.\n")
    out = run("build", "--corpus", str(corpus_copy), "--index", str(index), "--json", "--quiet", backend="auto")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["added"] == 1 and json.loads(out.stdout)["embedded"] >= 1
    assert store.read_manifest(index).data["model"]["id"] == INT8_MODEL_ID  # an incremental build keeps it
