"""`qa build --engine ray` on a local Ray runtime writes the same index as the local build."""

from __future__ import annotations

import functools
import gzip
import importlib.util
import ipaddress
import itertools
import json
import shutil
import sys
from pathlib import Path

import pytest

from qa import build
from qa.domain import Article
from qa.ingest import iter_corpus
from tests.conftest import CORPUS, SHARED, needs_shared
from tests.support.corpus import fingerprint_differences, index_fingerprint, write_synthetic_corpus
from tests.support.fake import SPEC as FAKE_SPEC
from tests.support.fake import FakeEmbedder

NEWS = SHARED / "data" / "news" / "articles.jsonl.gz"
QUESTIONS = [
    "What happened to oil prices?",
    "council budget approved",
    "Why did the shares fall?",
    "Who won the election?",
    "report on topic3",
]


def news_lines(start: int, count: int) -> str:
    """`count` articles of the shared news set as .jsonl text (read in place, never copied into the project)."""
    needs_shared(NEWS)
    with gzip.open(NEWS, "rt", encoding="utf-8") as f:
        return "".join(itertools.islice(f, start, start + count))


def hostile_corpus(root: Path) -> Path:
    """The shipped articles, news lines split over several shards, and inputs ingest must skip."""
    shutil.copytree(CORPUS, root)
    lines = news_lines(0, 14).splitlines(keepends=True)
    lines[3:3] = ["\n", "not json\n", '{"text": ""}\n']
    lines.append('{"id": "reuters-2", "text": "A later article reusing an id. It is skipped."}\n')
    (root / "news.jsonl").write_text("".join(lines) + '{"id": "last", "text": "No newline at the end. Still read."}')
    (root / "zz.jsonl").write_text('{"id": "sub/a.md", "text": "Reuses the id of a file. Skipped too."}\n')
    (root / "binary.txt").write_bytes(b"abc\0def")
    (root / "empty.md").write_text("")
    (root / "sub").mkdir()
    (root / "sub" / "a.md").write_text("# A title\n\nSome body text here. Another sentence follows.\n")
    write_synthetic_corpus(root, range(6))
    return root


def test_shard_plan_reads_exactly_what_ingest_reads(tmp_path):
    """Line ranges and file groups of any size give iter_corpus's items, in its order (no Ray needed)."""
    from qa.ingest import duplicate_skip
    from qa.ray_engine import plan_shards, read_shard

    root = hostile_corpus(tmp_path / "corpus")
    expected = list(iter_corpus(root))
    assert sum("already used earlier" in str(i) for i in expected) == 2
    for files, lines in ((1, 1), (2, 3), (3, 7), (64, 1000)):
        got = []
        for item in plan_shards(root, files_per_shard=files, lines_per_shard=lines):
            if isinstance(item, dict):
                got += [((item["shard"], pos), it, line) for pos, (it, line) in enumerate(read_shard(item))]
            else:
                got.append((*item, None))
        got.sort(key=lambda x: x[0])
        # Shards do not know each other: the first article with an id wins, later ones become skips.
        seen, items = set(), []
        for _, it, line in got:
            if isinstance(it, Article) and it.id in seen:
                it = duplicate_skip(it.id, it.path, line)
            elif isinstance(it, Article):
                seen.add(it.id)
            items.append(it)
        assert items == expected, (files, lines)


@pytest.fixture(scope="module")
def ray_local():
    """One private local Ray runtime (2 CPUs, 127.0.0.1, no dashboard) for this module."""
    if importlib.util.find_spec("ray") is None:  # not importorskip: ray must be imported by ray_runtime
        pytest.skip("the Ray engine is optional: pip install -e '.[ray]'")
    from qa.ray_engine import ray_runtime

    with ray_runtime(num_cpus=2):
        yield


@pytest.mark.slow
def test_local_runtime_listens_on_loopback_only(ray_local):
    import psutil
    import ray

    assert ray.get(ray.remote(lambda: 1).remote()) == 1  # a worker process is up too
    mine = {p.pid for p in psutil.Process().children(recursive=True)}
    listening = [c for c in psutil.net_connections("inet") if c.status == psutil.CONN_LISTEN and c.pid in mine]
    assert len({c.pid for c in listening}) >= 3  # GCS, raylet, workers: the check looks at Ray's servers

    def loopback(host: str) -> bool:
        ip = ipaddress.ip_address(host)
        return ip.is_loopback or bool(getattr(ip, "ipv4_mapped", None) and ip.ipv4_mapped.is_loopback)

    assert [c.laddr for c in listening if not loopback(c.laddr.ip)] == []


@pytest.mark.slow
def test_the_local_runtime_reports_no_usage_stats(ray_local):
    """Ray's dashboard process reports usage to usage-stats.ray.io unless RAY_USAGE_STATS_ENABLED=0.

    ray.init() sets that for the runtimes it starts (release wheels, Ray 2.60): qa relies on it, this checks it."""
    import psutil

    dashboards = [p for p in psutil.Process().children(recursive=True) if "dashboard.py" in " ".join(p.cmdline())]
    assert dashboards, "no dashboard process: this check would not see Ray's usage reporter"
    assert [p.environ().get("RAY_USAGE_STATS_ENABLED") for p in dashboards] == ["0"] * len(dashboards)


class RecordingEmbedder(FakeEmbedder):
    """The fake model, appending every text it embeds to a file (actors live in other processes)."""

    def __init__(self, log_path: str):
        super().__init__()
        self.log_path = log_path

    def embed(self, texts: list[str]):
        with open(self.log_path, "a", encoding="utf-8") as f:
            f.writelines(json.dumps(t) + "\n" for t in texts)
        return super().embed(texts)


def embedded_texts(path: Path) -> list[str]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def assert_same_index(local_dir: Path, ray_dir: Path, embedder=None, atol: float = 1e-6) -> None:
    a = index_fingerprint(local_dir, QUESTIONS, embedder)
    b = index_fingerprint(ray_dir, QUESTIONS, embedder)
    assert fingerprint_differences(a, b, atol=atol) == []
    ma, mb = (json.loads((d / "manifest.json").read_text()) for d in (local_dir, ray_dir))
    assert ma["skipped"] == mb["skipped"]
    assert ma["counts"] == mb["counts"] and ma["dense"] == mb["dense"]
    assert (local_dir / ma["files"]["articles"]).read_bytes() == (ray_dir / mb["files"]["articles"]).read_bytes()


def report_of(report) -> dict:
    d = report.to_dict()
    d.pop("seconds")
    return dict(
        d, added=report.added, changed=report.changed, deleted=report.deleted, skipped=[str(s) for s in report.skipped]
    )


@pytest.mark.slow
def test_ray_build_equals_local_full_and_incremental(tmp_path, ray_local, fake_embedder):
    import ray.cloudpickle

    from qa.ray_engine import RayOptions, build_ray

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # actors cannot import the tests folder
    corpus = hostile_corpus(tmp_path / "corpus")
    local, remote, log = tmp_path / "local", tmp_path / "ray", tmp_path / "embedded.jsonl"
    factory = functools.partial(RecordingEmbedder, str(log))
    options = RayOptions(files_per_shard=3, lines_per_shard=5)

    expected = build(corpus, local, embedder=fake_embedder, progress=False)
    got = build_ray(corpus, remote, embedder_factory=factory, options=options, progress=False)
    assert_same_index(local, remote)
    want, have = report_of(expected), report_of(got)
    # The two id-reusing articles are embedded before the driver sees that they lose: honest extra work.
    assert have.pop("embedded") >= want.pop("embedded")
    assert have == want
    assert any("duplicate id 'reuters-2'" in s for s in have["skipped"])

    # Edit one article, add two, delete one (so the article that reused its id now counts): only new
    # text reaches the model. The Ray index's cache already holds the once-losing article's vectors.
    first_round = set(embedded_texts(log))
    fake_embedder.calls.clear()
    log.unlink()
    write_synthetic_corpus(corpus, [2, 40, 41], variants={2: 1})
    (corpus / "sub" / "a.md").unlink()
    expected = build(corpus, local, embedder=fake_embedder, progress=False)
    got = build_ray(corpus, remote, embedder_factory=factory, options=options, progress=False)
    assert_same_index(local, remote)
    want, have = report_of(expected), report_of(got)
    want.pop("embedded")
    assert have.pop("embedded") == len(set(embedded_texts(log))) and have == want
    assert expected.changed == ["article0002.txt", "sub/a.md"] and len(expected.added) == 2
    assert sorted(embedded_texts(log)) == sorted(set(fake_embedder.calls) - first_round) != []
    assert set(fake_embedder.calls) & first_round  # the revived article was embedded by the local build only

    # Nothing changed: nothing is embedded and no new generation is written.
    log.unlink()
    generation = json.loads((remote / "manifest.json").read_text())["generation"]
    again = build_ray(corpus, remote, embedder_factory=factory, options=options, progress=False)
    assert again.embedded == 0 and not log.exists() and again.unchanged == again.documents
    assert json.loads((remote / "manifest.json").read_text())["generation"] == generation

    # With the index gone but its embedding cache kept, every article is chunked again, yet the
    # vectors come from the cache (through the cache actor), not from the model.
    for entry in remote.iterdir():
        if entry.name != "embeddings.sqlite" and not entry.name.startswith("embeddings.sqlite-"):
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    got = build_ray(corpus, remote, embedder_factory=factory, options=options, progress=False)
    assert got.embedded == 0 and not log.exists() and len(got.added) == got.documents
    assert_same_index(local, remote)


@pytest.mark.slow
def test_ray_build_with_the_real_model_matches_local(tmp_path, ray_local, real_embedder):
    """Same chunks and ids, vectors within 1e-5, same search results: shipped corpus plus news articles."""
    from qa.ray_engine import build_ray

    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    (corpus / "news.jsonl").write_text(news_lines(100, 30))
    local, remote = tmp_path / "local", tmp_path / "ray"
    expected = build(corpus, local, embedder=real_embedder, progress=False)
    got = build_ray(corpus, remote, progress=False)  # actors load the model with qa.embed.load_embedder
    assert got.chunks == expected.chunks > 30 and got.embedded == expected.embedded
    assert_same_index(local, remote, embedder=real_embedder, atol=1e-5)


@pytest.mark.slow
def test_cli_build_engine_ray(tmp_path, ray_local, monkeypatch, capsys):
    from qa.cli import main

    monkeypatch.setenv("QA_EMBEDDER", FAKE_SPEC)  # resolved on the driver, so the actors use it too
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    write_synthetic_corpus(corpus, range(4))
    assert main(["build", "--corpus", str(corpus), "--index", str(tmp_path / "a"), "--json"]) == 0
    local = json.loads(capsys.readouterr().out)
    assert (
        main(
            [
                "build",
                "--engine",
                "ray",
                "--actors",
                "1",
                "--corpus",
                str(corpus),
                "--index",
                str(tmp_path / "b"),
                "--json",
            ]
        )
        == 0
    )
    remote = json.loads(capsys.readouterr().out)
    local.pop("seconds"), remote.pop("seconds")
    assert remote == local and remote["documents"] == 9
    assert_same_index(tmp_path / "a", tmp_path / "b")


def test_cli_rejects_ray_options_without_the_ray_engine(tmp_path, capsys):
    from qa.cli import main

    code = main(["build", "--corpus", str(CORPUS), "--index", str(tmp_path / "i"), "--address", "auto"])
    assert code == 2 and "--engine ray" in capsys.readouterr().err
    assert not (tmp_path / "i").exists()


def test_without_ray_installed_the_error_says_how_to_get_it(tmp_path, monkeypatch):
    from qa.ray_engine import RayEngineError, build_ray

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails as if it were not installed
    with pytest.raises(RayEngineError, match=r'pip install -e "\.\[ray\]"'):
        build_ray(CORPUS, tmp_path / "i", progress=False)
    assert not (tmp_path / "i" / "manifest.json").exists()


@pytest.mark.slow
def test_ray_build_on_300_news_articles_matches_local(tmp_path, ray_local, real_embedder):
    """The issue's check on a few hundred news articles (minutes of embedding on 2 cores)."""
    from qa.ray_engine import build_ray

    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    (corpus / "news.jsonl").write_text(news_lines(0, 300))
    local, remote = tmp_path / "local", tmp_path / "ray"
    expected = build(corpus, local, embedder=real_embedder, progress=False)
    got = build_ray(corpus, remote, progress=False)
    assert got.chunks == expected.chunks and got.documents == expected.documents == 305
    assert_same_index(local, remote, embedder=real_embedder, atol=1e-5)


@pytest.mark.slow
def test_a_relative_corpus_path_reaches_the_workers_as_an_absolute_one(tmp_path, ray_local, monkeypatch, capsys):
    """Workers on other nodes do not share the driver's working directory: shard specs carry absolute paths."""
    from qa import ray_engine
    from qa.cli import main

    monkeypatch.setenv("QA_EMBEDDER", FAKE_SPEC)
    shutil.copytree(CORPUS, tmp_path / "corpus")
    monkeypatch.chdir(tmp_path)
    specs = []
    real_plan = ray_engine.plan_shards

    def recording_plan(root, **kwargs):
        for got in real_plan(root, **kwargs):
            specs.append(got)
            yield got

    monkeypatch.setattr(ray_engine, "plan_shards", recording_plan)
    assert main(["build", "--engine", "ray", "--actors", "1", "--corpus", "corpus", "--index", "idx", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["documents"] == 5
    paths = [path for spec in specs if isinstance(spec, dict) for _, path in spec.get("files", [])]
    assert paths and all(Path(p).is_absolute() for p in paths), paths
