"""Measure retrieval quality: `qa eval`.

Two kinds of data set:
- a BEIR folder (corpus, queries, qrels): the corpus is indexed (each document
  one article), chunk rankings are mapped to documents by their best chunk, and
  nDCG@10, Recall@10, Recall@100 and MRR@10 come from pytrec_eval (the standard
  trec_eval implementation), never from hand-written formulas;
- a questions file (`id`, `question`, `answers`; empty answers = no answer in the
  corpus) over an existing index: answer-string hits in the passages and in the
  highlighted sentences, and precision/recall of the no-answer flag.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import beir, settings
from .beir import DatasetError
from .config import Config
from .domain import Article
from .errors import QAError
from .passages import overlapping_pairs

BEIR_METRICS = ("nDCG@10", "Recall@10", "Recall@100", "MRR@10")
DOC_DEPTH = 100  # documents ranked per query: enough for Recall@100
CHUNKS_PER_DOC_DEPTH = 10  # chunk candidates fetched per ranked document wanted


@dataclass
class EvalResult:
    dataset: str
    mode: str
    queries: int
    metrics: dict[str, float | int | None]
    seconds: float
    details: list[dict] = field(default_factory=list)  # per query, for --details

    def to_dict(self) -> dict:
        """The `qa eval --json` object."""
        return {
            "dataset": self.dataset,
            "mode": self.mode,
            "queries": self.queries,
            "metrics": self.metrics,
            "seconds": round(self.seconds, 3),
        }


def default_index(folder: Path, config: Config) -> Path:
    """<cache>/<data set>-c<chunk tokens>[-int8]: one cached index per chunk budget and model.

    The model is in the name because a cached index keeps the model it was built
    with: the fp32 default has no suffix, the int8 model (QA_EMBED_BACKEND=onnx-int8)
    gets "-int8".
    """
    from .embed import INT8_MODEL_ID, default_model_id

    suffix = "-int8" if default_model_id() == INT8_MODEL_ID else ""
    return settings.bench_cache() / f"{folder.resolve().name}-c{config.chunk_tokens}{suffix}"


SPLITS = ("dev", "test")


def split_of(key: str) -> str:
    """ "dev" or "test", fixed by the sha256 of key (a question's id, or its group: SQuAD's article title).

    Every setting is chosen on dev and every published figure measured on test
    (tests/data/news_heldout_questions.README.md fixes the rule)."""
    return "dev" if int(hashlib.sha256(key.encode()).hexdigest(), 16) % 2 == 0 else "test"


def in_split(question: dict, split: str | None) -> bool:
    """Whether a loaded question belongs to split (None: every question)."""
    return split is None or split_of(question.get("group") or question["id"]) == split


def sample(ids: list[str], max_queries: int | None) -> list[str]:
    """A fixed, spread-out subset: the ids with the smallest sha256, in file order."""
    if not max_queries or max_queries >= len(ids):
        return ids
    keep = set(sorted(ids, key=lambda q: hashlib.sha256(q.encode()).hexdigest())[:max_queries])
    return [q for q in ids if q in keep]


def _bar(total: int, show: bool, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="q", disable=not show, file=sys.stderr, leave=False)


def _pytrec():
    try:
        import pytrec_eval
    except ImportError:
        raise QAError("metrics need pytrec_eval: pip install 'qa[eval]' (pytrec-eval-terrier)") from None
    return pytrec_eval


def chunk_pool(config: Config, depth: int = DOC_DEPTH) -> int:
    return max(config.candidates, depth * CHUNKS_PER_DOC_DEPTH)


def to_documents(index, ranked: list[tuple[int, float]], depth: int = DOC_DEPTH) -> list[str]:
    """Documents best first, each ranked by its best chunk."""
    docs: dict[str, None] = {}
    for row, _score in ranked:
        docs.setdefault(index.article_ids[int(index.chunk_article[row])])
        if len(docs) >= depth:
            break
    return list(docs)


def doc_ranking(retriever, question: str, mode: str, depth: int = DOC_DEPTH) -> list[str]:
    """Documents best first for one query."""
    ranked = retriever.rank(question, chunk_pool(retriever.config, depth), mode=mode)
    return to_documents(retriever.index, ranked, depth)


def fusion_grid(base: Config) -> list[tuple[str, Config]]:
    """The fusion settings `qa eval --grid` compares (recorded in docs/EVALUATION.md).

    `--grid` also reports "dense", "lexical" and "hybrid" (the configured fusion): the
    same rankings as `--mode dense|lexical|hybrid`, from one retrieval per query.
    """
    grid = [(f"rrf k={k}", replace(base, fusion="rrf", rrf_k=k)) for k in (10, 30, 60, 100)]
    for norm in ("minmax", "max", "raw"):
        for w in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
            grid.append((f"convex {norm} w={w}", replace(base, fusion="convex", dense_norm=norm, dense_weight=w)))
    return grid


def grid_beir(
    folder: Path,
    *,
    index_dir: Path | None = None,
    qrels_path: Path | None = None,
    max_queries: int | None = None,
    config: Config | None = None,
    embedder=None,
    progress: bool = False,
) -> EvalResult:
    """nDCG@10 etc. of every fusion setting of fusion_grid, from one retrieval per query."""
    from .retriever import fuse

    config = config or Config()
    started = time.perf_counter()
    retriever, ids, queries, qrels = _open_beir(folder, index_dir, qrels_path, max_queries, config, embedder, progress)
    grid = [("dense", config), ("lexical", config), ("hybrid", config)] + fusion_grid(config)
    runs: dict[str, dict[str, list[str]]] = {label: {} for label, _ in grid}
    with _bar(len(ids), progress, f"grid {Path(folder).name}") as bar:
        for qid in ids:
            cands = retriever.candidates(queries[qid]["text"], chunk_pool(config), mode="hybrid")
            for label, cfg in grid:
                mode = label if label in ("dense", "lexical") else "hybrid"
                runs[label][qid] = to_documents(retriever.index, fuse(cands, cfg, mode))
            bar.update(1)
    judged = {q: qrels[q] for q in ids}
    metrics = {label: beir_metrics(judged, runs[label]) for label, _ in grid}
    return EvalResult(Path(folder).name, "grid", len(ids), metrics, time.perf_counter() - started)


def beir_metrics(qrels: dict[str, dict[str, int]], runs: dict[str, list[str]]) -> dict[str, float]:
    """Mean nDCG@10, Recall@10, Recall@100 and MRR@10 over every judged query (missing runs count 0)."""
    pytrec_eval = _pytrec()
    # Scores from ranks, so trec_eval sees exactly our order (it breaks score ties by doc id).
    run = {q: {d: float(len(docs) - i) for i, d in enumerate(docs)} for q, docs in runs.items()}
    run10 = {q: {d: s for d, s in docs.items() if s > len(runs[q]) - 10} for q, docs in run.items()}
    judged = {q: rel for q, rel in qrels.items() if q in runs}
    full = pytrec_eval.RelevanceEvaluator(judged, {"ndcg_cut.10", "recall.10", "recall.100"}).evaluate(run)
    cut = pytrec_eval.RelevanceEvaluator(judged, {"recip_rank"}).evaluate(run10)
    names = {
        "nDCG@10": (full, "ndcg_cut_10"),
        "Recall@10": (full, "recall_10"),
        "Recall@100": (full, "recall_100"),
        "MRR@10": (cut, "recip_rank"),
    }
    n = max(1, len(judged))
    return {name: round(sum(res.get(q, {}).get(key, 0.0) for q in judged) / n, 4) for name, (res, key) in names.items()}


def evaluate_beir(
    folder: Path,
    *,
    index_dir: Path | None = None,
    qrels_path: Path | None = None,
    mode: str = "hybrid",
    max_queries: int | None = None,
    config: Config | None = None,
    embedder=None,
    progress: bool = False,
) -> EvalResult:
    """Index the BEIR corpus (reused if unchanged), rank documents for each judged query, score them."""
    started = time.perf_counter()
    config = config or Config()
    retriever, ids, queries, qrels = _open_beir(folder, index_dir, qrels_path, max_queries, config, embedder, progress)
    folder = Path(folder)
    runs: dict[str, list[str]] = {}
    details = []
    with _bar(len(ids), progress, f"eval {folder.name}") as bar:
        for qid in ids:
            runs[qid] = doc_ranking(retriever, queries[qid]["text"], mode)
            details.append({"id": qid, "ranked": runs[qid][:10], "relevant": sorted(qrels[qid])})
            bar.update(1)
    metrics = beir_metrics({q: qrels[q] for q in ids}, runs)
    return EvalResult(folder.name, mode, len(ids), metrics, time.perf_counter() - started, details)


def _open_beir(folder, index_dir, qrels_path, max_queries, config, embedder, progress):
    """Load the judged queries, bring the benchmark index up to date, and open a retriever on it."""
    from .builder import build_from
    from .retriever import Retriever

    folder = Path(folder)
    beir.find_file(folder, "corpus")  # not a BEIR folder: say so first
    qrels = beir.load_qrels(Path(qrels_path) if qrels_path else beir.default_qrels(folder))
    queries = beir.load_queries(folder)
    ids = sample([q for q in qrels if q in queries], max_queries)
    if not ids:
        raise DatasetError(f"no judged query of {folder} has a text in its queries file")
    index_dir = Path(index_dir) if index_dir else default_index(folder, config)
    build_from(
        beir.iter_corpus(folder),
        index_dir,
        corpus_label=str(folder.resolve()),
        config=config,
        embedder=embedder,
        progress=progress,
    )
    return Retriever.load(index_dir, embedder, config), ids, queries, qrels


def load_questions(path: Path) -> list[dict]:
    """`id`, `question`, `answers` per line (empty answers: the corpus has no answer); optional `group`."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"questions file {path} does not exist")
    out = []
    for number, row in enumerate(beir.read_jsonl(path), 1):
        text = row.get("question")
        if not isinstance(text, str) or not isinstance(row.get("answers", []), list):
            raise DatasetError(f"{path}:{number}: each line needs `question` (text) and `answers` (a list)")
        answers = [str(a) for a in row.get("answers") or []]
        question = {"id": str(row.get("id", number)), "question": text, "answers": answers}
        if row.get("group"):  # questions that must fall on one side of the split together (one SQuAD article)
            question["group"] = str(row["group"])
        out.append(question)
    if not out:
        raise DatasetError(f"questions file {path} is empty")
    return out


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def contains_answer(text: str, answers: Iterable[str]) -> bool:
    """Case- and whitespace-insensitive substring match of any answer string."""
    hay = _norm(text)
    return any(_norm(a) and _norm(a) in hay for a in answers)


def question_metrics(rows: list[dict], ks: tuple[int, ...] = (1, 3, 5)) -> dict[str, float | int | None]:
    """Hit rates over answerable questions and the no-answer flag's precision/recall.

    Each row: answers, no_answer (bool), hits / highlight_hits (bool per returned passage),
    optionally overlaps (pairs of passages of one article in the top 5 that share text).
    """
    answerable = [r for r in rows if r["answers"]]
    unanswerable = [r for r in rows if not r["answers"]]
    m: dict[str, float | int | None] = {"answerable": len(answerable), "unanswerable": len(unanswerable)}
    for prefix, key in (("hit", "hits"), ("highlight_hit", "highlight_hits")):
        for k in ks:
            m[f"{prefix}@{k}"] = (
                round(sum(any(r[key][:k]) for r in answerable) / len(answerable), 4) if answerable else None
            )
    flagged_ok = sum(r["no_answer"] for r in unanswerable)
    flagged_bad = sum(r["no_answer"] for r in answerable)
    m["unanswerable_flagged"] = flagged_ok
    m["no_answer_flagged"] = flagged_ok + flagged_bad
    m["answerable_flagged"] = flagged_bad
    m["no_answer_precision"] = round(flagged_ok / (flagged_ok + flagged_bad), 4) if flagged_ok + flagged_bad else None
    m["no_answer_recall"] = round(flagged_ok / len(unanswerable), 4) if unanswerable else None
    m["answerable_flagged_rate"] = round(flagged_bad / len(answerable), 4) if answerable else None
    m["overlapping_pairs@5"] = sum(r.get("overlaps", 0) for r in rows)
    return m


def evaluate_questions(
    path: Path,
    index_dir: Path,
    *,
    mode: str = "hybrid",
    k: int = 5,
    max_queries: int | None = None,
    split: str | None = None,
    config: Config | None = None,
    embedder=None,
    progress: bool = False,
) -> EvalResult:
    """Ask every question of a questions file (of one split, if given) against an existing index."""
    from .retriever import Retriever

    started = time.perf_counter()
    questions = [q for q in load_questions(path) if in_split(q, split)]
    keep = set(sample([q["id"] for q in questions], max_queries))
    questions = [q for q in questions if q["id"] in keep]
    retriever = Retriever.load(index_dir, embedder, config or Config())
    with _bar(len(questions), progress, f"eval {Path(path).name}") as bar:
        rows = _ask_all(retriever, questions, mode, k, bar)
    ks = tuple(sorted({1, 3, 5, k}))
    return EvalResult(Path(path).name, mode, len(rows), question_metrics(rows, ks), time.perf_counter() - started, rows)


def _ask_all(retriever, questions: list[dict], mode: str, k: int, bar=None) -> list[dict]:
    rows = []
    for q in questions:
        answer = retriever.ask(q["question"], k=max(k, 5), mode=mode, auto_refresh=False)
        p0 = answer.passages[0] if answer.passages else None
        rows.append(
            {
                "id": q["id"],
                "question": q["question"],
                "answers": q["answers"],
                "no_answer": answer.no_answer,
                "reason": answer.reason,
                "hits": [contains_answer(p.text, q["answers"]) for p in answer.passages],
                "highlight_hits": [contains_answer(p.highlight_text, q["answers"]) for p in answer.passages],
                "overlaps": overlapping_pairs(answer.passages[:5]),
                "top": p0.article_id if p0 else None,
                "top_highlight": p0.highlight_text if p0 else None,
                "top_chars": len(p0.text) if p0 else 0,
            }
        )
        if bar is not None:
            bar.update(1)
    return rows


def grid_questions(
    path: Path,
    index_dir: Path,
    *,
    k: int = 5,
    split: str | None = None,
    config: Config | None = None,
    embedder=None,
    progress: bool = False,
) -> EvalResult:
    """Answer-hit metrics of single modes and of every fusion setting of fusion_grid."""
    from .embed import load_embedder
    from .index import Index
    from .retriever import Retriever

    config = config or Config()
    started = time.perf_counter()
    questions = [q for q in load_questions(path) if in_split(q, split)]
    index = Index.open(index_dir)
    model = embedder or load_embedder(index.model_id)
    grid = [("dense", config), ("lexical", config), ("hybrid", config)] + fusion_grid(config)
    metrics = {}
    with _bar(len(grid) * len(questions), progress, f"grid {Path(path).name}") as bar:
        for label, cfg in grid:
            mode = label if label in ("dense", "lexical") else "hybrid"
            rows = _ask_all(Retriever(index, model, cfg), questions, mode, k, bar)
            metrics[label] = question_metrics(rows)
    return EvalResult(Path(path).name, "grid", len(questions), metrics, time.perf_counter() - started)


def read_articles(path: Path) -> list[Article]:
    """Articles from a `.jsonl[.gz]` file (`id` or `_id`, title, text, source, date), taken as they are."""
    out = []
    for number, row in enumerate(beir.read_jsonl(Path(path)), 1):
        aid = row.get("id", row.get("_id"))
        if aid is None or not isinstance(row.get("text"), str):
            raise DatasetError(f"{path}:{number}: an article line needs `id` and `text`")
        date = row.get("date")
        out.append(
            Article(
                id=str(aid),
                title=str(row.get("title") or "").strip(),
                text=row["text"],
                source=row.get("source"),
                date=str(date)[:10] if date else None,
            )
        )
    return out


def build_corpus(corpus: Path, index_dir: Path, *, config: Config | None = None, progress: bool = False):
    """Build or update index_dir from a corpus folder (cleaned as `qa build` does) or an articles
    `.jsonl[.gz]` file (taken as it is)."""
    from .builder import build, build_from

    corpus = Path(corpus)
    if corpus.is_dir():
        return build(corpus, index_dir, config=config, progress=progress)
    articles = read_articles(corpus)
    return build_from(articles, index_dir, corpus_label=str(corpus.resolve()), config=config, progress=progress)


def config_with(**overrides) -> Config:
    """The default Config with the given (non-None) settings replaced."""
    return replace(Config(), **{k: v for k, v in overrides.items() if v is not None})


def write_details(result: EvalResult, path: Path) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in result.details:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
