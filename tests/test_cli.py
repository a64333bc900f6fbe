"""The `qa` command as a user runs it: JSON contracts, readable output, clean errors."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from importlib import resources
from pathlib import Path

import pytest

import qa as qa_package
from tests.support.corpus import write_synthetic_corpus
from tests.support.fake import FakeEmbedder, fake_env


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
    wire = qa("ask", "NATO officials in Brussels on the withdrawal from Afghanistan", "--index", str(built))
    assert wire.returncode == 0 and "(Reuters, Brussels)" in wire.stdout  # the dateline's source and place
    newest = qa("ask", "NATO troops", "--sort", "newest", "--since", "2020", "--index", str(built), "--json")
    assert newest.returncode == 0, newest.stderr
    dates = [p["date"] or "" for p in json.loads(newest.stdout)["passages"]]
    assert dates == sorted(dates, reverse=True) and all(d >= "2020" for d in dates)


def test_ask_answers_with_the_settings_given(built):
    question = ("Who is the spokesman for the Taliban?", "--index", str(built), "--json")
    assert json.loads(qa("ask", *question).stdout)["no_answer"] is False
    strict = qa("ask", *question, "--set", "min_dense_score=1.0")
    assert strict.returncode == 0, strict.stderr
    answer = json.loads(strict.stdout)
    assert answer["no_answer"] is True and "similar" in answer["reason"] and answer["passages"]


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
        (("ask", "x", "--since", "sometime soon", "--index", "{built}"), "YYYY-MM-DD"),
        (("ask", "x", "--set", "min_dense=0.5", "--index", "{built}"), "did you mean min_dense_score"),
        (("eval", "{built}", "--set", "rerank_passages=many"), "rerank_passages takes a whole number"),
        (("ask", "x", "--set", "chunk_tokens=128", "--index", "{built}"), "chunk_tokens shapes the index"),
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
    from qa.embed import INT8_MODEL_ID
    from qa.manifest import read_manifest

    env = {k: v for k, v in os.environ.items() if k != "QA_EMBEDDER"}
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
    assert read_manifest(index).model.id == INT8_MODEL_ID
    # Another backend asked for: the index's model still embeds the question.
    out = run("ask", "Who is the spokesman for the Taliban?", "--index", str(index), "--json", backend="onnx")
    assert out.returncode == 0, out.stderr
    assert any("Zabihullah Mujahid" in p["text"] for p in json.loads(out.stdout)["passages"])
    (corpus_copy / "new.txt").write_text("Harbour news\n\nThe harbour of Deltaport reopened on Monday.\n")
    out = run("build", "--corpus", str(corpus_copy), "--index", str(index), "--json", "--quiet", backend="auto")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["added"] == 1 and json.loads(out.stdout)["embedded"] >= 1
    assert read_manifest(index).model.id == INT8_MODEL_ID  # an incremental build keeps it


SERVE_SECONDS = 60


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _http(url: str, body: dict | None = None) -> str:
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as r:
        return r.read().decode("utf-8")


def test_qa_serve_runs_from_any_folder_on_the_installed_package_alone(tmp_path):
    """`qa serve` with only the qa package on the path (no ui.py, no checkout), started in an unrelated folder.

    The package is copied as a non-editable install lays it out; the page's CSS must come from its files.
    """
    site, elsewhere, corpus, index = tmp_path / "site", tmp_path / "elsewhere", tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(Path(qa_package.__file__).parent, site / "qa", ignore=shutil.ignore_patterns("__pycache__"))
    elsewhere.mkdir()
    write_synthetic_corpus(corpus, range(5))
    qa_package.build(corpus, index, embedder=FakeEmbedder(), progress=False)
    port, log = _free_port(), tmp_path / "serve.log"
    # ...and the tests' fake model, which the server loads by QA_EMBEDDER (tests.support.fake).
    shutil.copytree(
        Path(__file__).parent / "support", site / "tests" / "support", ignore=shutil.ignore_patterns("__pycache__")
    )
    env = fake_env(dict(os.environ, HF_HUB_OFFLINE="1"))
    env["PYTHONPATH"] = str(site)
    argv = [sys.executable, "-m", "qa", "serve", "--corpus", str(corpus), "--index", str(index), "--port", str(port)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, cwd=elsewhere, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + SERVE_SECONDS
        while True:
            assert proc.poll() is None, f"qa serve exited with {proc.returncode}:\n{log.read_text()}"
            try:
                _http(url + "gradio_api/info")
                break
            except OSError:
                assert time.monotonic() < deadline, f"qa serve not up in {SERVE_SECONDS}s:\n{log.read_text()}"
                time.sleep(0.5)
        css = (resources.files("qa.web") / "static" / "qa.css").read_text(encoding="utf-8")
        assert css.strip() in json.loads(_http(url + "config"))["css"]
        event = json.loads(
            _http(url + "gradio_api/call/ask", {"data": ["harbour council budget", 2, None, None, None]})
        )
        stream = _http(f"{url}gradio_api/call/ask/{event['event_id']}")
        assert "event: complete" in stream, stream
        data = next(line[6:] for line in stream.splitlines() if line.startswith("data: "))
        assert len(json.loads(data)[0]["passages"]) == 2
    finally:
        proc.kill()  # nothing to lose: the index was built before the server started
        proc.wait(20)
