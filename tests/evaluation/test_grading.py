"""The prompt, the grading rules and the sequence probability, as docs/evaluation.md states them."""

import math

import pytest

from evaluation import grading
from evaluation.datasets import Item


def test_multiple_choice_prompt_is_the_documented_one():
    item = Item(
        id="0", question="What is 2 + 2? ", subject="elementary mathematics", choices=("3", "4", "5", "22"), gold="B"
    )
    assert grading.prompt(item) == (
        "The following is a multiple choice question about elementary mathematics. Reply with the letter of the "
        "correct option (A, B, C or D) only.\n\nWhat is 2 + 2?\n\nA. 3\nB. 4\nC. 5\nD. 22"
    )
    three = Item(id="1", question="Q", choices=("x", "y", "z"), gold="C")
    assert "question. Reply with the letter of the correct option (A, B or C) only." in grading.prompt(three)


def test_free_form_prompt_is_the_bare_question():
    assert (
        grading.prompt(Item(id="0", question="Who wrote Hamlet?", references=("Shakespeare",))) == "Who wrote Hamlet?"
    )


@pytest.mark.parametrize(
    "response,letter",
    [
        ("B", "B"),
        ("B.", "B"),
        ("(C)", "C"),
        ("**D**", "D"),
        ("The answer is C.", "C"),
        ("Answer: A) 4", "A"),
        ("b", None),
        ("E", None),
        ("BC", None),
        ("", None),
        ("I think D, not A", "D"),
        ("Option 4", None),
        ("A\nB", "A"),
        ("A1", None),
    ],
)
def test_chosen_letter_is_the_first_standalone_valid_capital(response, letter):
    assert grading.chosen_letter(response, 4) == letter


def test_mc_grading_uses_the_chosen_letter():
    item = Item(id="0", question="Q", choices=("a", "b", "c", "d"), gold="C")
    assert grading.grade(item, "C. c") == (True, "C")
    assert grading.grade(item, "B") == (False, "B")
    assert grading.grade(item, "no idea") == (False, None)


@pytest.mark.parametrize(
    "response,refs,ok",
    [
        ("The capital of France is Paris.", ("Paris",), True),
        ("PARIS!", ("paris",), True),
        ("It is Parisian.", ("Paris",), False),
        ("William Shakespeare wrote it.", ("Shakespeare", "W. Shakespeare"), True),
        ("The Beatles", ("Beatles",), True),
        ("Lyon", ("Paris",), False),
        ("", ("Paris",), False),
    ],
)
def test_free_form_rule(response, refs, ok):
    assert grading.grade(Item(id="0", question="Q", references=refs), response) == (ok, None)


def test_a_given_label_wins():
    item = Item(id="0", question="Q", choices=("a", "b"), gold="A", response="B", correct=True)
    assert grading.grade(item, "B") == (True, None)


def test_sequence_probability_is_the_joint_probability():
    choice = {"logprobs": {"content": [{"token": "B", "logprob": -0.1}, {"token": "<|end|>", "logprob": -0.2}]}}
    total, n = grading.sequence_logprob(choice)
    assert (total, n) == (pytest.approx(-0.3), 2)
    assert grading.sequence_probability(total) == pytest.approx(math.exp(-0.3))
    assert grading.geometric_mean_probability(total, n) == pytest.approx(math.exp(-0.15))
    assert grading.sequence_logprob({"logprobs": None}) is None
    assert grading.sequence_logprob({}) is None
