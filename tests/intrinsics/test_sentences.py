"""The offline sentence splitter (untrained Punkt's rules) and sentence tagging."""

from __future__ import annotations

import random

import pytest

from intrinsics.sentences import delimiter, mark_sentences, split_sentences, unmark_sentences

from .helpers import GRANITE_COMMON, read_json


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "Purple bumble fish are yellow. Green bumble fish are also yellow.",
            ["Purple bumble fish are yellow.", "Green bumble fish are also yellow."],
        ),
        # No abbreviation list: "U.S." and "Mr." end sentences, as in the reference.
        ("The U.S. is big. Mr. Smith came.", ["The U.S.", "is big.", "Mr.", "Smith came."]),
        # Initials before a capital, and numbers or initials before a lower-case word, do not.
        ("J. Bach wrote it. It was 1723. the year after.", ["J. Bach wrote it.", "It was 1723. the year after."]),
        ("In 1723. Then more.", ["In 1723.", "Then more."]),
        # Ellipses never end a sentence; ? and ! always do, whatever follows.
        ("Wait... Then go. Really? yes! OK", ["Wait... Then go.", "Really?", "yes!", "OK"]),
        # Closing quotes and brackets join the sentence before the break.
        ('He said "Stop." Then left. (See below.) Done.', ['He said "Stop."', "Then left.", "(See below.)", "Done."]),
        ("“Curly.” Next one.", ["“Curly.”", "Next one."]),
        # Runs of marks are one candidate; whitespace between sentences is dropped.
        ("Very bad acting!!! I promise.\n\nNew paragraph.  ", ["Very bad acting!!!", "I promise.", "New paragraph."]),
        ("No mark at all", ["No mark at all"]),
        ("", []),
        ("   ", []),
    ],
)
def test_split_follows_untrained_punkt(text, expected):
    assert split_sentences(text) == expected


def test_split_of_the_citations_documents_matches_the_canned_tags():
    request = read_json(GRANITE_COMMON / "input_json/citations.json")
    canned = read_json(GRANITE_COMMON / "test_canned_input/citations.json")
    texts = [d["text"] for d in request["extra_body"]["documents"]]
    tagged, following = mark_sentences(texts, "c")
    assert tagged == [d["text"] for d in canned["extra_body"]["documents"]]
    assert following == 19


def test_agrees_with_nltk_punkt_on_random_text():
    """Differential check against the reference's splitter, where NLTK is installed."""
    punkt = pytest.importorskip("nltk.tokenize.punkt")
    tokenizer = punkt.PunktSentenceTokenizer()
    pieces = [
        "Hello",
        "world",
        "U.S.",
        "Mr.",
        "J.",
        "Bach",
        "1923.",
        "the",
        "The",
        "...",
        "?",
        "!",
        ".",
        '"',
        "'",
        ")",
        "(",
        "[",
        "]",
        "--",
        ",",
        ";",
        ":",
        "e.g.",
        "A",
        "b.",
        "3.14",
        "!!!",
        '?"',
        ".)",
        "“",
        "”",
        "«",
        "»",
        "wait...",
        "ok.",
        "Yes!",
        "no?",
        "é.",
        "Élan",
        "\n",
        "\n\n",
        "(1885-1952).",
        "1909-2012).",
    ]
    rng = random.Random(7)
    for _ in range(3000):
        text = "".join(rng.choice(pieces) + rng.choice([" ", " ", "", "\n", "  "]) for _ in range(rng.randint(1, 12)))
        assert split_sentences(text) == tokenizer.tokenize(text), repr(text)


def test_mark_numbers_across_texts_and_unmark_inverts_it():
    tagged, following = mark_sentences(["One. Two.", "", "Three."], "c", first=5)
    assert tagged == ["<c5> One. <c6> Two.", "", "<c7> Three."]
    assert following == 8
    assert unmark_sentences(tagged[0], "c", 5) == [(0, 5, "One. "), (5, 9, "Two.")]
    assert unmark_sentences(tagged[2], "c", 7) == [(0, 6, "Three.")]
    assert unmark_sentences(tagged[1], "c", 8) is None
    assert delimiter("r", 12) == "<r12> "


def test_unmark_ignores_text_before_the_first_marker_and_stops_at_a_gap():
    assert unmark_sentences("preamble <i0> A. <i1> B. <i3> C.", "i", 0) == [(0, 3, "A. "), (3, 13, "B. <i3> C.")]
