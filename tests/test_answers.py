"""The answering sentence (qa/sentences.py) and the "no answer" decision (qa/no_answer.py), without the model."""

from __future__ import annotations

import re
from dataclasses import replace
from functools import partial

import numpy as np
import pytest

from qa import Article, Retriever
from qa.builder import build_from
from qa.config import Config, ConfigError
from qa.dates import date_words
from qa.highlight import Highlighter
from qa.lexical import terms
from qa.manifest import ArticleEntry
from qa.no_answer import (
    article_words,
    judge,
    missing_names,
    names_missing_share,
    question_names,
    specific_terms,
)
from qa.passages import Span
from qa.sentences import (
    FeatureScorer,
    SentenceFeatures,
    answer_type,
    local_coverage,
    make_scorer,
    rank_by_sentences,
    type_cue,
)

# --- answer types ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question, kind",
    [
        ("How many troops will stay in Afghanistan?", "number"),
        ("How much did the bank pay for the stake?", "number"),
        ("What percentage of the vote did she win?", "number"),
        ("When did the strike end?", "date"),
        ("In what year was the company founded?", "date"),
        ("Who replaced the fired defence secretary?", "person"),
        ("Where were the peace talks held?", "place"),
        ("Which country bought the jets?", "place"),
        ("Why did the shares fall?", None),
        # a quantity named by its noun, with up to two qualifiers before it
        ("What stake did the fund buy in the brewer?", "number"),
        ("What GDP growth rate did the OECD predict for 2005?", "number"),
        ("What per-share price is the bidder offering?", "number"),
        ("What was the population of Kenya in 2014?", "number"),
        # a verb, a preposition or a kind between "what" and the noun: not a quantity
        ("What causes the population to grow?", None),
        ("What type of growth do the policies support?", None),
        ("What decreased in number after the war?", None),
        ("What has the crime rate been linked to?", None),
    ],
)
def test_answer_type_of_a_question(question, kind):
    assert answer_type(question) == kind


def test_type_cue_needs_something_new_of_the_kind_asked():
    q = "How many troops will stay after 2021?"
    assert type_cue(q, "number", "About 2,500 soldiers will remain.") == 1.0
    assert type_cue(q, "number", "Troops will stay after 2021.") == 0.0  # only the question's own number
    assert type_cue(q, None, "About 2,500 soldiers will remain.") == 0.0
    who = "Who replaced Mark Esper?"
    assert type_cue(who, "person", "Christopher Miller took over from Mark Esper.") == 1.0
    assert type_cue(who, "person", "Mark Esper was fired on Monday.") == 0.0
    when = "When did the talks in Doha begin?"
    assert type_cue(when, "date", "The talks began on September 12 in Doha.") == 1.0
    assert type_cue(when, "date", "The talks in Doha began after long delays.") == 0.0
    where = "Where did the Taliban and Kabul negotiators meet?"
    assert type_cue(where, "place", "They met in Doha, the capital of Qatar.") == 1.0
    assert type_cue(where, "place", "They met in Kabul last year.") == 0.0  # Kabul is in the question


# --- the scorer seam ------------------------------------------------------------------------------


def _span(article_id: str, text: str, score: float, start: int = 0, title: str | None = None) -> Span:
    from qa.segment import sentence_spans

    sentences = [(start + a, start + b) for a, b in sentence_spans(text)]
    entry = ArticleEntry(hash=article_id, chunks=(0, 1), title=title)
    return Span(article_id, entry, start, start + len(text), text, score, 0, sentences)


def test_feature_scorer_is_the_weighted_sum():
    f = SentenceFeatures(
        coverage=np.array([1.0, 0.0]), cue=np.array([0.0, 1.0]), cosine=np.array([0.5, 0.2]), passage=np.ones(2)
    )
    s = FeatureScorer(cosine=2.0, coverage=0.5, cue=1.0, passage=0.25).score("q", ["a", "b"], f)
    assert np.allclose(s, [2 * 0.5 + 0.5 + 0.25, 2 * 0.2 + 1.0 + 0.25])


def test_sentences_reorder_passages_and_pick_the_highlight():
    """The topical lead passage restates the question; the second holds the number asked for."""
    lead = "The harbour strike closed the port of Santos. Dockers walked out over pay."
    fact = "Talks went on all week. The union said 4,000 dockers joined the strike at the harbour."
    spans = [_span("lead", lead, 1.0), _span("fact", fact, 0.9, start=500)]
    question = "How many dockers joined the harbour strike?"
    idf = {"harbour": 2.0, "strike": 2.0, "docker": 3.0, "join": 1.0}
    config = Config(
        sentence_scorer="features", sentence_cosine_weight=0.0, sentence_coverage_weight=1.0, sentence_cue_weight=1.0
    )
    ranked = rank_by_sentences(question, spans, Highlighter(question, idf), make_scorer(config), config)
    assert [s.article_id for s in ranked.spans] == ["fact", "lead"]
    a, b = ranked.highlights[0]
    assert fact[a - 500 : b - 500] == "The union said 4,000 dockers joined the strike at the harbour."
    # Without the answer-type cue and with the passage score weighing most, the chunk order stays.
    plain = replace(config, sentence_cue_weight=0.0, sentence_passage_weight=5.0)
    kept = rank_by_sentences(question, spans, Highlighter(question, idf), make_scorer(plain), plain)
    assert [s.article_id for s in kept.spans] == ["lead", "fact"]


def test_the_title_terms_do_not_choose_among_an_articles_sentences():
    """The lead restates the title's topic; the fact asked for sits in a sentence with the question's other words."""
    title = "ABN Amro to cut 2,850 jobs"
    text = (
        "ABN Amro, the Dutch bank, is to cut 2,850 jobs after profits fell. "
        "About 1,100 of the losses will be in the investment banking arm, it said."
    )
    other = _span("other", "Banks in Europe cut costs as profits fell.", 0.5, start=900, title="Banks cut costs")
    spans = [_span("abn", text, 1.0, title=title), other]
    question = "How many of ABN Amro's job cuts will fall on its investment banking arm?"
    idf = {"abn": 5.0, "amro": 5.0, "job": 2.0, "cut": 2.0, "fall": 1.5, "invest": 3.0, "bank": 1.0, "arm": 2.0}
    shown = {}
    for weight in (1.0, 0.1, 0.0):
        config = Config(sentence_title_weight=weight)
        ranked = rank_by_sentences(question, spans, Highlighter(question, idf), make_scorer(config), config)
        assert [s.article_id for s in ranked.spans] == ["abn", "other"]  # passage order does not use the weight
        a, b = ranked.highlights[0]
        shown[weight] = text[a:b]
    assert shown[1.0].startswith("ABN Amro, the Dutch bank")  # the title's words win when they count in full
    assert shown[0.1] == shown[0.0] == "About 1,100 of the losses will be in the investment banking arm, it said."


def test_a_term_in_every_sentence_of_an_article_counts_less_among_its_sentences():
    """Plain coverage weighs "chester" and "director" by corpus IDF alone; among one article's
    sentences, the term every sentence holds (the topic) counts less than one a single sentence holds."""
    question = "Which Chester director spoke?"
    idf = {"which": 0.1, "chester": 3.0, "director": 3.0, "spoke": 1.0}
    h = Highlighter(question, idf)
    texts = ["Chester lost again.", "The director was angry.", "Chester fans left early."]
    plain = h.scores(texts)
    assert plain[0] == pytest.approx(plain[1])
    local = local_coverage(h, ["a", "a", "a"], texts)
    assert local[1] > 2 * local[0]
    # Counted per article: a sentence of another article changes nothing for these two.
    apart = local_coverage(h, ["b", "a", "a"], texts)
    assert np.allclose(apart[1:], local_coverage(h, ["a", "a"], texts[1:]))
    assert not np.allclose(apart[1:], local[1:])


def test_the_answering_sentence_holds_the_terms_its_article_rarely_uses():
    """Every sentence but one names Rush and Chester; the one that answers holds the question's other words."""
    text = (
        "Rush's future as Chester manager is in doubt after a 5-0 defeat at Shrewsbury. "
        "Director Steve Vaughan offered him a deal to leave. "
        "Rush took over at Chester in August. "
        "Chester have won two of their last ten games under Rush. "
        "Rush and Chester face Bristol on Saturday."
    )
    question = "Which Chester director offered Rush a severance deal?"
    idf = {"which": 0.1, "chester": 6.0, "rush": 6.0, "director": 3.0, "offer": 2.0, "sever": 4.0, "deal": 2.0}
    spans = [_span("rush", text, 1.0)]
    shown = {}
    for weight in (0.0, Config().sentence_local_weight):
        config = Config(sentence_local_weight=weight)
        ranked = rank_by_sentences(question, spans, Highlighter(question, idf), make_scorer(config), config)
        a, b = ranked.highlights[0]
        shown[weight] = text[a:b]
    assert shown[0.0].startswith("Rush's future")  # corpus IDF alone: the topical sentence
    assert shown[Config().sentence_local_weight] == "Director Steve Vaughan offered him a deal to leave."
    with pytest.raises(ConfigError, match="sentence_local_weight"):
        Config(sentence_local_weight=-0.1)


def test_title_weight_is_checked():
    with pytest.raises(ConfigError, match="sentence_title_weight"):
        Config(sentence_title_weight=1.5)


def test_only_the_best_lexical_sentences_are_embedded_in_one_call(fake_embedder):
    texts = [f"Sentence number {i} about cargo ships and cranes." for i in range(10)]
    spans = [_span(f"a{i}", " ".join(texts[i * 5 : i * 5 + 5]), 1.0 - i / 10, start=1000 * i) for i in range(2)]
    question = "Which cargo ships used the cranes?"
    calls = []

    def embed(batch):
        calls.append(list(batch))
        return fake_embedder.embed(batch)

    config = Config(rerank_embed_sentences=3, sentence_cosine_weight=1.0)
    qvec = fake_embedder.embed([question])[0]
    rank_by_sentences(question, spans, Highlighter(question, {}), make_scorer(config), config, embed, qvec)
    assert len(calls) == 1 and len(calls[0]) == 3


def test_without_a_reader_the_features_answer_and_the_log_says_so(monkeypatch, caplog):
    import qa.reader

    monkeypatch.setattr(qa.reader, "load_reader", lambda: None)  # an installation without the weights
    monkeypatch.setattr(qa.reader, "_warned", set())  # what this process has already said
    monkeypatch.setattr(qa.reader, "_failure", None)  # the failed load below is remembered in this one
    with caplog.at_level("WARNING", logger="qa.sentences"):
        scorer = make_scorer(Config(sentence_scorer="reader"))
    assert isinstance(scorer, FeatureScorer)
    assert "no sentence reader" in caplog.text

    def broken():
        raise qa.reader.ReaderError("the reader in /x lacks model.onnx")

    monkeypatch.setattr(qa.reader, "load_reader", broken)
    caplog.clear()
    with caplog.at_level("WARNING", logger="qa.sentences"):
        assert isinstance(make_scorer(Config(sentence_scorer="reader")), FeatureScorer)
    assert "lacks model.onnx" in caplog.text
    with pytest.raises(ConfigError, match="sentence_scorer"):
        Config(sentence_scorer="magic")


def test_reordered_passages_keep_exact_citations(tmp_path, fake_embedder):
    arts = [
        Article("a", "Port strike", "The port strike closed Santos. Dockers walked out over pay. Ships waited."),
        Article("b", "Strike figures", "The union counted 4,000 dockers on strike at the port on Monday."),
    ]
    build_from(arts, tmp_path / "i", embedder=fake_embedder, progress=False)
    r = Retriever.load(tmp_path / "i", fake_embedder)
    answer = r.ask("How many dockers were on strike at the port?", k=2)
    assert [p.rank for p in answer.passages] == [1, 2]
    for p in answer.passages:
        article = r.index.article(p.article_id)
        assert article.text[p.start : p.end] == p.text
        assert p.start <= p.highlight[0] < p.highlight[1] <= p.end
    assert "4,000" in answer.passages[0].highlight_text


# --- "no answer" on near misses -------------------------------------------------------------------

WORDS = {"Qantas": 5.0, "order": 1.5, "Airbus": 4.0, "A340": 9.0, "jets": 2.0, "buy": 1.0, "delivered": 1.0, "won": 2.0}
IDF = {terms(w)[0]: v for w, v in WORDS.items()}  # as the index keys them: stemmed
PASSAGES = ["Qantas said it would buy more Airbus jets this year.", "Airbus delivered jets to Qantas."]


def test_specific_terms_are_names_figures_and_rare_words():
    found = {t.word for t in specific_terms("How many A340 jets did Qantas order from Airbus?", IDF, 6.0)}
    assert found == {"A340", "Qantas", "Airbus"}  # "jets" and "order" are common, "How" opens the question
    assert {t.word for t in specific_terms("how many a340 jets did qantas order?", IDF, 6.0)} == {"a340"}  # digit
    assert {t.word for t in specific_terms("how many a340 jets did qantas order?", IDF, 4.5)} == {"a340", "qantas"}


def test_near_miss_flagged_when_enough_specific_weight_is_missing():
    question = "How many A340 jets did Qantas order from Airbus?"  # A340: 9 of 18 IDF mass (50 %)
    at = Config(max_missing_specific=0.5)
    above = Config(max_missing_specific=0.51)
    flagged = judge(question, IDF, PASSAGES, 0.8, 0.6, at)
    assert flagged.no_answer and flagged.missing == ("A340",) and "A340" in flagged.reason
    assert not judge(question, IDF, PASSAGES, 0.8, 0.6, above).no_answer
    # Present in a passage (or its title): nothing is missing, nothing flagged.
    assert not judge(question, IDF, PASSAGES + ["Qantas A340 order"], 0.8, 0.6, at).no_answer


def test_rarity_threshold_decides_which_lowercase_words_count():
    question = "how many jets did qantas order?"  # no capital, no digit: only rarity makes "qantas" specific
    texts = ["Airbus delivered jets."]
    assert judge(question, IDF, texts, 0.8, 0.6, Config(specific_min_idf=5.0, max_missing_specific=0.5)).no_answer
    assert not judge(question, IDF, texts, 0.8, 0.6, Config(specific_min_idf=5.1, max_missing_specific=0.5)).no_answer


def test_weak_meaning_and_weak_words_still_flag():
    c = Config(min_dense_score=0.3, min_lexical_overlap=0.1)
    assert judge("Who won?", IDF, PASSAGES, 0.29, 0.5, c).no_answer
    assert not judge("Who won?", IDF, PASSAGES, 0.30, 0.5, c).no_answer
    assert judge("Who won?", IDF, PASSAGES, 0.5, 0.09, c).no_answer
    assert not judge("Who won?", IDF, PASSAGES, 0.5, 0.10, c).no_answer
    assert judge("Who won?", IDF, [], 0.5, 0.5, c).reason == "no passage matches the question"


def fed_logits(read: list[float], *values: float):
    """The reader's logits as judge takes them (lazily), each noted in read once it is read."""
    for value in values:
        read.append(value)
        yield value


def test_the_reader_flags_below_its_threshold_and_only_after_the_cheap_signals_pass():
    question = "Who won?"
    read: list[float] = []
    logits = partial(fed_logits, read)

    c = Config(min_reader_logit=-0.6)
    below = judge(question, IDF, PASSAGES, 0.8, 0.6, c, reader_logits=logits(-0.9, -0.61))
    assert below.no_answer and "-0.61" in below.reason and "-0.6" in below.reason and read == [-0.9, -0.61]
    read.clear()
    assert not judge(question, IDF, PASSAGES, 0.8, 0.6, c, reader_logits=logits(-0.6, -5.0)).no_answer
    assert read == [-0.6]  # the first sentence at the threshold decides: the second is never read
    assert not judge(question, IDF, PASSAGES, 0.8, 0.6, c, reader_logits=logits()).no_answer  # nothing to read
    read.clear()
    assert not judge(
        question, IDF, PASSAGES, 0.8, 0.6, Config(min_reader_logit=None), reader_logits=logits(-9)
    ).no_answer
    weak = judge(question, IDF, PASSAGES, 0.1, 0.6, c, reader_logits=logits(-9))  # meaning already decides
    assert weak.no_answer and "similar" in weak.reason
    assert not read  # off, or decided before it: the model is never called
    with pytest.raises(ConfigError, match="reader_check_passages"):
        Config(reader_check_passages=0)
    with pytest.raises(ConfigError, match="min_reader_logit"):
        Config(min_reader_logit="low")


def test_the_retriever_has_the_reader_read_the_first_answering_sentences_one_at_a_time(
    tmp_path, fake_embedder, monkeypatch
):
    import qa.reader

    read: list[list[str]] = []
    logit = {"value": -0.5}

    class FakeReader:
        def score(self, question: str, sentences: list[str]) -> np.ndarray:
            read.append(list(sentences))
            return np.full(len(sentences), logit["value"], dtype=np.float32)

    monkeypatch.setattr(qa.reader, "load_reader", FakeReader)
    arts = [
        Article("a", "Port strike", "The port strike closed Santos. About 4,000 dockers walked out over pay."),
        Article("b", "Port talks", "Dockers and the port met again. The talks on pay went on late."),
    ]
    build_from(arts, tmp_path / "i", embedder=fake_embedder, progress=False)
    config = Config(min_reader_logit=-0.6, reader_check_passages=2)
    retriever = Retriever.load(tmp_path / "i", fake_embedder, config)
    question = "How many dockers walked out at the port?"

    answer = retriever.ask(question, k=2)
    assert not answer.no_answer, answer.reason  # -0.5 is not below -0.6
    assert read == [[answer.passages[0].highlight_text]]  # the first sentence decided: no second call

    read.clear()
    logit["value"] = -0.7
    flagged = retriever.ask(question, k=2)
    assert flagged.no_answer and "reader" in flagged.reason and "-0.70" in flagged.reason
    assert read == [[p.highlight_text] for p in flagged.passages[:2]]  # one sentence a call, as the answer shows
    assert [p.article_id for p in flagged.passages] == [p.article_id for p in answer.passages]  # still returned

    read.clear()
    Retriever.load(tmp_path / "i", fake_embedder, replace(config, min_reader_logit=None)).ask(question, k=2)
    assert not read


def test_question_names_are_capitalised_words_but_not_dates_figures_or_abbreviations():
    question = "Which Argentine seed did Nadal beat in Acapulco in February 2005 for the ATP title?"
    assert [t.word for t in question_names(question, IDF)] == ["Argentine", "Nadal", "Acapulco"]
    assert question_names("who won the race on monday?", IDF) == []


def test_an_article_names_a_name_by_its_term_or_its_first_letters():
    names = question_names("Which Japanese network did Goldenson's ABC buy into?", IDF)
    assert [t.word for t in names] == ["Japanese", "Goldenson's"]
    article = article_words("ABC history", "In 1951 ABC bought a stake in a network in Japan.")
    share, missing = names_missing_share(names, article)
    assert [t.word for t in missing] == ["Goldenson's"] and 0 < share < 1  # Japan: the first 5 letters of Japanese
    assert names_missing_share(names, article_words("Leonard Goldenson", "He ran ABC in Japan."))[0] == 0.0
    assert names_missing_share([], article)[0] == 0.0  # no names: nothing lacking


def test_names_found_as_written_are_found_as_stemming_the_whole_article_finds_them():
    """missing_names looks a name up among the article's words first and stems the article only when it is
    not there: the answer must be the one the stems and first letters give."""

    def by_stems(names, text: str) -> list[str]:
        stems = set(terms(text))
        prefixes = {w[:5] for w in re.findall(r"[^\W\d_]{5,}", text.casefold())}

        def found(t) -> bool:
            word = t.word.casefold().removesuffix("'s").removesuffix("\u2019s")
            return t.stem in stems or (len(word) >= 5 and word[:5] in prefixes)

        return [t.word for t in names if not found(t)]

    questions = [
        "Which Japanese network did Goldenson's ABC buy into?",
        "Did Rafael Nadal beat the Argentines in Acapulco's Mexican Open?",
        "What did Land-Rover's American unit say about Range Rovers in Québec and Zürich?",
        "How did the Taliban's talks with Stoltenberg go in Doha, Qatar?",
    ]
    articles = [
        "Rafael Nadal won in Acapulco, Mexico, beating an Argentine. Japan's networks; Goldenson ran ABC.",
        "Range Rover of North America, a unit of the British Land Rover group, sells in quebec and ZÜRICH.",
        "Stoltenberg said talks in Doha between the Taliban and Kabul offer a chance; Qatari officials agreed.",
    ]
    checked = 0
    for question in questions:
        names = question_names(question, IDF)
        for text in articles:
            assert [t.word for t in missing_names(names, article_words(text))] == by_stems(names, text)
            checked += len(names)
    assert checked > 20


def test_passages_whose_articles_lack_the_names_are_not_read_and_flag_when_none_is_left():
    question = "Who won?"
    read: list[float] = []
    logits = partial(fed_logits, read)

    c = Config(min_reader_logit=-0.6)
    none_left = judge(question, IDF, PASSAGES, 0.8, 0.6, c, reader_logits=logits(), unnamed=("Nadal",))
    assert none_left.no_answer and "do not name “Nadal”" in none_left.reason and none_left.missing == ("Nadal",)
    low = judge(question, IDF, PASSAGES, 0.8, 0.6, c, reader_logits=logits(-0.9), unnamed=("Nadal",))
    assert low.no_answer and "-0.90" in low.reason and "“Nadal”" in low.reason
    assert not judge(question, IDF, PASSAGES, 0.8, 0.6, c, reader_logits=logits(0.2), unnamed=("Nadal",)).no_answer
    with pytest.raises(ConfigError, match="max_missing_names"):
        Config(max_missing_names=0.0)


def test_the_retriever_skips_the_passages_whose_articles_lack_the_questions_names(tmp_path, fake_embedder, monkeypatch):
    import qa.reader

    read: list[str] = []

    class FakeReader:  # reads everything as an answer: only the names can flag
        def score(self, question: str, sentences: list[str]) -> np.ndarray:
            read.extend(sentences)
            return np.full(len(sentences), 3.0, dtype=np.float32)

    monkeypatch.setattr(qa.reader, "load_reader", FakeReader)
    arts = [
        Article("a", "Acapulco", "Rafael Nadal reached the semi-finals in Acapulco, beating Potito Starace 6-1 6-3."),
        Article("b", "Madrid", "Rafael Nadal won in Madrid on Sunday, beating a qualifier in two sets."),
    ]
    build_from(arts, tmp_path / "i", embedder=fake_embedder, progress=False)
    # Only the reader's part decides here: the cheap signals are set to pass (the fake embedder's cosines are
    # low, and "Acapulco" is in a top passage, so no specific term is missing from all of them).
    cheap_pass = Config(min_dense_score=0.0, min_lexical_overlap=0.0)
    config = replace(
        cheap_pass, min_reader_logit=-0.6, reader_check_passages=2, max_missing_names=0.5, names_min_article_words=0
    )
    retriever = Retriever.load(tmp_path / "i", fake_embedder, config)

    answered = retriever.ask("Whom did Nadal beat in Acapulco?", k=2)
    assert not answered.no_answer, answered.reason
    assert read and all("Acapulco" in s for s in read)  # the Madrid article lacks half the names: not read

    read.clear()
    gone = retriever.ask("Whom did Federer beat in Acapulco?", k=2)  # no article names Federer
    assert gone.no_answer and "do not name" in gone.reason and "“Federer”" in gone.reason and not read
    assert gone.passages  # still returned

    off = Retriever.load(tmp_path / "i", fake_embedder, replace(config, max_missing_names=None))
    assert not off.ask("Whom did Federer beat in Acapulco?", k=2).no_answer and read  # off: read, taken as an answer

    # Articles under names_min_article_words are read whatever they name: Acapulco's has 12 words, Madrid's 13.
    read.clear()
    gated = Retriever.load(tmp_path / "i", fake_embedder, replace(config, names_min_article_words=13))
    assert not gated.ask("Whom did Federer beat in Acapulco?", k=2).no_answer
    assert read and all("Acapulco" in s for s in read)  # the 12-word article read, the 13-word one still skipped
    with pytest.raises(ConfigError, match="names_min_article_words"):
        Config(names_min_article_words=-1)


def test_without_a_reader_no_answer_is_decided_by_the_cheap_signals(tmp_path, fake_embedder, monkeypatch, caplog):
    import qa.reader

    monkeypatch.setattr(qa.reader, "load_reader", lambda: None)
    monkeypatch.setattr(qa.reader, "_warned", set())
    build_from(
        [Article("a", "Port", "About 4,000 dockers walked out.")],
        tmp_path / "i",
        embedder=fake_embedder,
        progress=False,
    )
    with caplog.at_level("WARNING"):
        for _ in range(2):  # a new retriever per question, as the web app's views are
            answer = Retriever.load(tmp_path / "i", fake_embedder).ask("How many dockers walked out?")
            assert answer.passages and not answer.no_answer
    said = [r.getMessage() for r in caplog.records if "no sentence reader" in r.getMessage()]
    assert said == ["no sentence reader installed: 'no answer' is decided without it"]  # once, not per question


def test_cli_answer_line_is_the_first_ranked_passages_sentence_in_any_order():
    from qa.cli import format_answer
    from qa.domain import Answer, Passage

    def passage(rank: int, text: str, date: str) -> Passage:
        return Passage(rank, 1.0 / rank, text, f"a{rank}", f"T{rank}", None, date, 0, len(text), (0, len(text)))

    newest_first = [passage(2, "Later report.", "2021-05-01"), passage(1, "The answer is 42.", "2020-01-01")]
    assert format_answer(Answer("q?", newest_first)).splitlines()[0] == "The answer is 42. [1]"


def test_a_question_naming_the_articles_date_or_newspaper_is_not_a_near_miss(tmp_path, fake_embedder):
    # The date and the newspaper are kept as the article's metadata (its citation shows them), not in its text.
    said = "Mr. Stoltenberg told reporters in {} that NATO would stay."
    arts = [Article(f"a{i}", "NATO", said.format(place)) for i, place in enumerate(("Riga", "Kabul", "Oslo"))]
    ceasefire = "Mr. Stoltenberg told reporters the Taliban must agree a ceasefire."
    arts.append(Article("wt", "NATO", ceasefire, source="The Washington Times", date="2020-10-21"))
    build_from(arts, tmp_path / "i", embedder=fake_embedder, progress=False)
    r = Retriever.load(tmp_path / "i", fake_embedder)
    for question in (
        "What ceasefire had Stoltenberg told reporters about in October 2020?",
        "What ceasefire had Stoltenberg told the Washington Times about?",
    ):
        answer = r.ask(question, k=4)
        assert answer.passages[0].article_id == "wt" and not answer.no_answer, answer.reason
    answer = r.ask("What ceasefire had Stoltenberg told reporters about in March 2023?", k=4)  # a date it lacks
    assert answer.no_answer and "2023" in answer.reason, answer.reason


def test_date_words_name_the_day_in_english():
    assert date_words("2020-10-21") == "Wednesday 21 October 2020"
    assert date_words(None) == date_words("") == date_words("October 2020") == ""


def test_typed_question_without_a_matching_sentence_of_its_kind_is_flagged():
    question = "How many jets did Qantas order from Airbus?"
    c = Config(min_typed_coverage=0.2, max_missing_specific=1.0)
    assert judge(question, IDF, PASSAGES, 0.8, 0.6, c, typed_coverage=0.19).no_answer
    assert not judge(question, IDF, PASSAGES, 0.8, 0.6, c, typed_coverage=0.2).no_answer
    assert not judge(question, IDF, PASSAGES, 0.8, 0.6, c, typed_coverage=None).no_answer  # no answer type
    spans = [_span("a", "Qantas bought jets. It ordered 12 Airbus jets in May.", 1.0)]
    config = Config(sentence_cosine_weight=0.0)
    ranked = rank_by_sentences(question, spans, Highlighter(question, IDF), make_scorer(config), config)
    assert ranked.typed_coverage == pytest.approx(
        Highlighter(question, IDF).coverage("It ordered 12 Airbus jets in May.")
    )
    why = rank_by_sentences(
        "Why did Qantas order jets?", spans, Highlighter(question, IDF), make_scorer(config), config
    )
    assert why.typed_coverage is None


def test_a_reader_plugs_in_by_config_and_reads_only_its_budget(monkeypatch):
    import qa.reader

    read: list[list[str]] = []

    class FakeReader:
        def score(self, question: str, sentences: list[str]) -> np.ndarray:
            read.append(list(sentences))
            return np.array([len(s) for s in sentences], dtype=np.float32)

    monkeypatch.setattr(qa.reader, "load_reader", FakeReader)
    config = Config(sentence_scorer="reader", sentence_reader_weight=2.0, sentence_coverage_weight=1.0)
    f = SentenceFeatures(np.array([0.5, 0.0]), np.zeros(2), np.zeros(2), np.zeros(2))

    def sig(x):
        return 1 / (1 + np.exp(-x))

    assert np.allclose(make_scorer(config).score("q", ["ab", "abcd"], f), [0.5 + 2 * sig(2), 2 * sig(4)])
    # A budget of one: only the features' best sentence is read; the other keeps its feature score.
    read.clear()
    one = make_scorer(replace(config, reader_sentences=1)).score("q", ["ab", "abcd"], f)
    assert read == [["ab"]]
    assert np.allclose(one, [0.5 + 2 * sig(2), 0.0])


def test_a_question_is_embedded_once_for_its_answer_its_timeline_and_its_bars(tmp_path, fake_embedder):
    """The page asks, then looks for the matching articles and the passages' cosines: one model call."""
    calls: list[list[str]] = []

    class Counting:
        model_id, dim = fake_embedder.model_id, fake_embedder.dim

        def embed(self, texts: list[str]) -> np.ndarray:
            calls.append(list(texts))
            return fake_embedder.embed(texts)

        def count(self, texts: list[str]) -> list[int]:
            return fake_embedder.count(texts)

    arts = [
        Article("a", "Port strike", "The port strike closed Santos. Dockers walked out over pay. Ships waited."),
        Article("b", "Strike figures", "The union counted 4,000 dockers on strike at the port on Monday."),
    ]
    build_from(arts, tmp_path / "i", embedder=fake_embedder, progress=False)
    r = Retriever.load(tmp_path / "i", Counting(), Config(sentence_scorer="features"))
    question = "How many dockers were on strike at the port?"
    answer = r.ask(question, k=2)
    assert set(r.matching_articles(question)) == {"a", "b"}
    assert np.array_equal(r.question_vector(answer.question), fake_embedder.embed([question])[0])
    assert calls.count([question]) == 1
    r.ask("Which ships waited?", k=1)
    assert calls.count(["Which ships waited?"]) == 1 and calls.count([question]) == 1


def test_the_timeline_reuses_the_rankings_of_the_answer_to_the_same_question(tmp_path, fake_embedder, monkeypatch):
    """The page asks, then counts the articles about the question: one search, unless the filters differ."""
    arts = [
        Article("a", "Port strike", "The port strike closed Santos. Dockers walked out over pay.", source="Reuters"),
        Article("b", "Strike figures", "The union counted 4,000 dockers on strike at the port.", source="BBC"),
    ]
    build_from(arts, tmp_path / "i", embedder=fake_embedder, progress=False)
    r = Retriever.load(tmp_path / "i", fake_embedder, Config(sentence_scorer="features"))
    fresh = Retriever.load(tmp_path / "i", fake_embedder, Config(sentence_scorer="features"))
    searches: list[str] = []
    real = r.index.lexical.search

    def counting(question, *args, **kwargs):
        searches.append(question)
        return real(question, *args, **kwargs)

    monkeypatch.setattr(r.index.lexical, "search", counting)
    question = "How many dockers were on strike at the port?"
    r.ask(question, k=2)
    assert r.matching_articles(question) == fresh.matching_articles(question)
    assert len(searches) == 1
    assert r.matching_articles(question, sources=["BBC"]) == ["b"] == fresh.matching_articles(question, sources=["BBC"])
    assert len(searches) == 2  # another filter is another search
    r.ask("Which ships waited?", k=1)
    assert r.matching_articles(question) == fresh.matching_articles(question) and len(searches) == 4
