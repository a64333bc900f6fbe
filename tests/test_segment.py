from hypothesis import given
from hypothesis import strategies as st

from qa.segment import sentence_spans


def test_splits_sentences_with_exact_offsets():
    text = "NATO has 12,000 troops. Mr. Stoltenberg said so.\nA new line starts here"
    spans = sentence_spans(text)
    assert [text[a:b] for a, b in spans] == [
        "NATO has 12,000 troops.",
        "Mr. Stoltenberg said so.",
        "A new line starts here",
    ]


def test_line_breaks_end_sentences_and_blank_lines_vanish():
    text = "Headline without period\n\n  Body sentence one.  \n"
    assert [text[a:b] for a, b in sentence_spans(text)] == ["Headline without period", "Body sentence one."]


def test_range_arguments_use_text_coordinates():
    text = "Skip this. Keep this one. And this."
    start = text.index("Keep")
    assert [text[a:b] for a, b in sentence_spans(text, start)] == ["Keep this one.", "And this."]


@given(st.text(alphabet=st.sampled_from(list("abc .?!\n\t—“”é12")), max_size=300))
def test_spans_are_ordered_trimmed_and_cover_every_word(text):
    spans = sentence_spans(text)
    covered = set()
    last = 0
    for a, b in spans:
        assert last <= a < b <= len(text)
        assert not text[a].isspace() and not text[b - 1].isspace()
        assert "\n" not in text[a:b]
        covered.update(range(a, b))
        last = b
    for i, ch in enumerate(text):
        if not ch.isspace():
            assert i in covered, f"character {i} ({ch!r}) lost"
