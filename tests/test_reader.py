"""The shipped sentence reader: it loads, ranks answers first, handles odd input, and fails gracefully."""

from __future__ import annotations

import hashlib
import logging
import shutil

import numpy as np
import pytest

import qa.reader as reader_module
from qa.reader import WEIGHTS, ReaderError, SentenceReader, load_reader
from tests.conftest import SHARED, needs_shared

# Hand-written for these tests (not from SQuAD or the news data): (question, sentences, index of
# the answering sentence). The shipped 3-layer reader still leans on shared words: where the
# answer uses other words than a distractor (a pronoun, a synonym), it often picks the
# distractor. Those cases are strict xfails: they document the limit, and a reader that gets
# them right makes them fail, so the marks are removed with the retrained weights.
LEANS_ON_OVERLAP = pytest.mark.xfail(strict=True, reason="the reader prefers the sentence sharing more words")


def case(question: str, sentences: list[str], answer: int, *marks):
    return pytest.param(question, sentences, answer, marks=marks, id=question[:32])


EXAMPLES = [
    case(
        "What year was the Lindqvist Museum founded?",
        [
            "Its galleries show Nordic furniture and glass from four centuries.",
            "The Lindqvist Museum was founded in 1987 by a local collector.",
            "Entry is free on Sundays.",
        ],
        1,
    ),
    case(
        "How much did Norvik Bank earn in 2024?",
        [
            "Norvik Bank has 40 branches in Norway and Sweden.",
            "Its chief executive is Lena Berg.",
            "Norvik Bank earned a net profit of 2.1 billion crowns in 2024, up 8%.",
        ],
        2,
    ),
    case(
        "Who is the chief executive of Harlow Foods?",
        [
            "Harlow Foods makes frozen pizzas in three factories in the north of England.",
            "Its chief executive, Maria Okafor, said sales rose 4% last year.",
            "Harlow Foods was founded in 1952 by two brothers.",
        ],
        1,
    ),
    case(
        "Who won the Bramford marathon on Sunday?",
        [
            "Thousands of runners took part in the Bramford marathon on Sunday.",
            "The race was won by the Kenyan runner Joseph Kiprono in 2 hours 9 minutes.",
            "Organisers said the weather was cold but dry.",
        ],
        1,
        LEANS_ON_OVERLAP,
    ),
    case(
        "Where was the composer Ilse Varga born?",
        [
            "The composer Ilse Varga wrote four symphonies and an opera.",
            "She was born in Szeged, Hungary, in 1921.",
            "Her music is rarely performed today.",
        ],
        1,
        LEANS_ON_OVERLAP,
    ),
    case(
        "How many people live in Port Ellery?",
        [
            "Port Ellery is a fishing town on the west coast, and people like to visit it.",
            "Tourists come to Port Ellery for its lighthouse and its harbour.",
            "About 12,000 residents were counted there in the 2011 census.",
        ],
        2,
        LEANS_ON_OVERLAP,
    ),
    case(
        "What price did Delmont Mining shares close at on Friday?",
        [
            "Shares in Delmont Mining have been volatile this year as the copper price swung.",
            "Analysts expect the price of copper to fall in the second half.",
            "On Friday they ended the day at 312 pence, up 6%.",
        ],
        2,
        LEANS_ON_OVERLAP,
    ),
    case(
        "When did the new bridge over the Tamsk river open?",
        [
            "The new bridge over the Tamsk river is popular with walkers and cyclists.",
            "It was opened to traffic in March 1994 after six years of work.",
            "The Tamsk river floods most winters.",
        ],
        1,
        LEANS_ON_OVERLAP,
    ),
]


@pytest.fixture(scope="module")
def reader() -> SentenceReader:
    loaded = load_reader()
    assert loaded is not None, f"the reader's weights should ship in {reader_module.WEIGHTS}"
    return loaded


@pytest.fixture
def fresh_cache():
    load_reader.cache_clear()
    yield
    load_reader.cache_clear()


@pytest.mark.parametrize("question,sentences,answer", EXAMPLES)
def test_ranks_the_answering_sentence_first(reader, question, sentences, answer):
    scores = reader.score(question, sentences)
    assert int(np.argmax(scores)) == answer, scores


def test_scores_are_one_float32_per_sentence(reader):
    question, sentences, _ = EXAMPLES[0].values
    scores = reader.score(question, sentences)
    assert scores.shape == (3,) and scores.dtype == np.float32 and np.isfinite(scores).all()
    assert reader.model_id


def test_empty_input(reader):
    scores = reader.score("Who won?", [])
    assert scores.shape == (0,) and scores.dtype == np.float32
    assert np.isfinite(reader.score("", ["", "A sentence."])).all()


def test_long_pairs_are_truncated(reader):
    long = "The committee met again on Tuesday to discuss the budget. " * 200
    scores = reader.score("When did the committee meet? " * 50, [long, "It met on Tuesday."])
    assert scores.shape == (2,) and np.isfinite(scores).all()


def test_load_reader_caches(reader):
    assert load_reader() is reader


def test_missing_weights_give_none_and_say_why(monkeypatch, tmp_path, caplog, fresh_cache):
    monkeypatch.setattr(reader_module, "WEIGHTS", tmp_path / "absent")
    with caplog.at_level(logging.WARNING, logger="qa.reader"):
        assert load_reader() is None
    assert str(tmp_path / "absent") in caplog.text


def test_incomplete_weights_raise_an_actionable_error(tmp_path):
    folder = tmp_path / "reader"
    shutil.copytree(reader_module.WEIGHTS, folder)
    (folder / "model.onnx").unlink()
    with pytest.raises(ReaderError, match="model.onnx.*reinstall"):
        SentenceReader(folder)


def test_corrupt_weights_raise_an_actionable_error(tmp_path):
    folder = tmp_path / "reader"
    shutil.copytree(reader_module.WEIGHTS, folder)
    (folder / "model.onnx").write_bytes(b"not a graph")
    with pytest.raises(ReaderError, match="reinstall"):
        SentenceReader(folder)


def test_broken_weights_are_not_reread_at_every_question_until_their_files_change(
    monkeypatch, tmp_path, caplog, fresh_cache
):
    # The web app answers each question through a new Retriever view, each asking reader_or_none.
    folder = tmp_path / "reader"
    shutil.copytree(reader_module.WEIGHTS, folder)
    (folder / "model.onnx").write_bytes(b"not a graph")
    monkeypatch.setattr(reader_module, "WEIGHTS", folder)
    monkeypatch.setattr(reader_module, "_failure", None)
    monkeypatch.setattr(reader_module, "_warned", set())
    loads = []

    def counting(path):
        loads.append(path)
        return SentenceReader(path)

    monkeypatch.setattr(reader_module, "SentenceReader", counting)
    with caplog.at_level(logging.WARNING, logger="qa.reader"):
        assert [reader_module.reader_or_none("answering") for _ in range(3)] == [None, None, None]
    assert len(loads) == 1
    assert len([r for r in caplog.records if "reinstall qa" in r.getMessage()]) == 1

    shutil.copy(WEIGHTS / "model.onnx", folder / "model.onnx")  # repaired: a reinstall rewrites the files
    repaired = reader_module.reader_or_none("answering")
    assert isinstance(repaired, SentenceReader) and len(loads) == 2
    assert np.isfinite(repaired.score("Who won?", ["Ann won the race."])).all()


# Measured: 0.838 on 1,499 SQuAD test-split questions (qa/models/reader/README.md), 0.820 on
# this fixed 400 (smallest sha256 of the id); the floor leaves a margin for other runtime builds.
SQUAD_SAMPLE = 400
SQUAD_FLOOR = 0.78


@pytest.mark.slow
def test_squad_test_split_accuracy(reader):
    needs_shared(SHARED / "data" / "squad" / "corpus.jsonl.gz")
    from bench.reader_data import squad_examples

    examples = [e for e in squad_examples("test") if e.answerable]
    examples = sorted(examples, key=lambda e: hashlib.sha256(e.qid.encode()).hexdigest())[:SQUAD_SAMPLE]
    hits = [e.labels[int(np.argmax(reader.score(e.question, list(e.sentences))))] for e in examples]
    assert np.mean(hits) >= SQUAD_FLOOR


def test_the_near_miss_verifier_experiment_makes_fact_free_negatives_and_budgeted_thresholds():
    """bench.train_verifier (a negative result, kept reproducible): a gap negative keeps the topic but not
    the answer, and a threshold never flags more answerable questions than its budget allows."""
    import argparse
    import random

    from bench import train_verifier as tv
    from bench.reader_data import Example
    from qa.evaluate import contains_answer

    sents = ("Qantas ordered four Boeing 747-400s.", "It also took two Airbus A340s.", "Deliveries start in 1989.")
    ex = Example("q1", "How many A340s did Qantas take?", ("two",), sents, (False, True, False), "Qantas")
    articles = {"Qantas": [list(sents), ["Qantas is based in Sydney.", "It flies to London."]]}
    random.seed(3)
    args = argparse.Namespace(negatives="gap,article", positive="window", window=2)
    pairs = tv.verifier_pairs([ex] * 20, articles, args)
    positives = [p for _, p, y in pairs if y == 1.0]
    negatives = [p for _, p, y in pairs if y == 0.0]
    assert len(positives) == 20 and all(contains_answer(p, ex.answers) for p in positives)
    assert negatives and not any(contains_answer(p, ex.answers) for p in negatives)
    assert any("Qantas ordered" in p for p in negatives)  # a gap: the same story, the fact cut out
    answerable = np.array([0.1 * i for i in range(100)])
    for row in tv.flag_table(answerable, np.array([-1.0, 0.05, 5.0])):
        assert row["answerable_flagged"] <= row["budget"] * 100
    assert tv.auc(np.array([2.0, 3.0]), np.array([1.0, 2.0])) == 0.875
