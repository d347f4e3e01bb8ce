"""The zero-shot prompt, the grading rules, and the base model's sequence probability.

All three are written down in ``docs/evaluation.md``; change them there too.
"""

from __future__ import annotations

import math
import re
import string

from .datasets import LETTERS, Item

#: Bumped whenever the prompt or a grading rule changes, so that a resumed run never mixes the two.
PROMPT_VERSION = 1

MC_PROMPT = (
    "The following is a multiple choice question{about}. Reply with the letter of the correct option "
    "({letters}) only.\n\n{question}\n\n{options}"
)


def prompt(item: Item) -> str:
    """The user turn sent to the base model: the lettered options for multiple choice, else the bare question."""
    if not item.choices:
        return item.question
    letters = LETTERS[: len(item.choices)]
    return MC_PROMPT.format(
        about=f" about {item.subject}" if item.subject else "",
        letters=", ".join(letters[:-1]) + " or " + letters[-1],
        question=item.question.strip(),
        options="\n".join(f"{letter}. {text}" for letter, text in zip(letters, item.choices)),
    )


def chosen_letter(response: str, n_choices: int) -> str | None:
    """The first standalone option letter in ``response`` (``A`` in "A.", "(A)", "**A**", "answer is A").

    Only capital letters of the valid options count, and only where no letter or digit touches
    them on either side; ``None`` when there is none (the answer is then graded wrong)."""
    valid = LETTERS[:n_choices]
    m = re.search(rf"(?<![A-Za-z0-9])([{valid}])(?![A-Za-z0-9])", response)
    return m.group(1) if m else None


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans(string.punctuation, " " * len(string.punctuation))


def normalize(text: str) -> str:
    """SQuAD-style normalisation: lower case, punctuation and the articles a/an/the removed, spaces collapsed."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCT)).split())


def grade_free_form(response: str, references: tuple[str, ...]) -> bool:
    """Correct when some normalised reference occurs in the normalised response as whole words.

    "The capital of France is Paris." is right for the reference "Paris"; "Parisian" is not.
    A response that names the reference only to reject it still counts as right: the rule is
    lenient on purpose, since a chat model's answer is a sentence, not the bare reference."""
    resp = f" {normalize(response)} "
    return any(ref and f" {ref} " in resp for ref in map(normalize, references))


def grade(item: Item, response: str) -> tuple[bool, str | None]:
    """Whether ``response`` answers ``item`` correctly, and the letter chosen (multiple choice only)."""
    if item.correct is not None:
        return item.correct, None
    if item.choices:
        letter = chosen_letter(response, len(item.choices))
        return letter == item.gold, letter
    return grade_free_form(response, item.references or ()), None


def sequence_logprob(choice: dict) -> tuple[float, int] | None:
    """The sum of the generated tokens' logprobs and their number, from an OpenAI chat choice.

    Every entry of ``choice["logprobs"]["content"]`` counts, as the server listed it (vLLM lists
    each sampled token; whether the end-of-turn token is among them is the server's choice).
    ``None`` when the choice carries no token logprobs."""
    content = (choice.get("logprobs") or {}).get("content")
    if not content:
        return None
    total = math.fsum(float(t["logprob"]) for t in content)
    return total, len(content)


def sequence_probability(logprob_sum: float) -> float:
    """The joint probability of the answer, exp(sum of logprobs): the model card's baseline."""
    return math.exp(logprob_sum)


def geometric_mean_probability(logprob_sum: float, n_tokens: int) -> float:
    """The length-normalised variant, exp(mean logprob), reported alongside for comparison."""
    return math.exp(logprob_sum / n_tokens) if n_tokens else float("nan")
