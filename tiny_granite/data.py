"""Deterministic training data and tokenizer for the embedded tiny model (``tiny_granite.builder``).

The tiny model stands in for Granite 4.0 Micro in tests, so its data is built to exercise
the same behaviour on a scale a 2-layer model can learn in a minute on 2 CPU cores:

* **Base model**: answers simple questions from six topics (capitals, colours, animal
  sounds, arithmetic, opposites, small talk) with a short sentence, e.g.
  "What is the capital of France?" -> "The capital of France is Paris.".
  Asked "Reply in JSON with the key K. <question>" it writes ``{"K": "<value>"}`` (K one of
  ``JSON_KEYS``), so that every piece the adapter writes (``{"``, ``score``, ``":``, `` "``,
  ``"}``) is a token the base already writes, as it is for Granite. Without this the LoRA
  cannot lift ``score``: with tied embeddings a token never trained as an output keeps a
  tiny random embedding, and a frozen base caps its logit.
* **Uncertainty adapter**: after a conversation, a user turn ``<certainty>`` makes it write
  ``{"score": "N"}``. N is a fixed function of the last question and answer
  (``score_for``): a plain right answer scores by topic (capitals 9, colours 8, animals 7,
  opposites 6, arithmetic 5, small talk 4); a hedged one ("I think ...") 3 less; a wrong
  one (another value of the same topic, 1 in 4 answers) 1-2. In its training budget the
  adapter learns topic and hedging; right-vs-wrong it mostly does not, so wrong answers
  show up as extra weight on low digits of every topic (a calibrated mixture, not noise).
  The digit is trained against a soft target (``score_distribution``), so the digit's top
  logprobs spread over neighbouring scores like the real adapter's do, and a
  likelihood-weighted certainty is not a constant.

The tokenizer (``build_tokenizer``) is a byte-level BPE trained on rendered training chats,
with Granite 4.0's special tokens and chat template. ``templates/granite-4.0-chat-template.jinja``
is the Granite 4.0 chat template, ibm-granite/granite-4.0-micro, Apache-2.0, via
shared/reference. (It injects a fixed default system prompt, no date.)

Everything is driven by ``random.Random(seed)``: same seed, same examples, in the same order.
System prompts vary (none, so the template's default is injected; generic ones; ones with
assorted dates), so that behaviour does not hinge on the system turn.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from pathlib import Path

CERTAINTY_TURN = "<certainty>"
TEMPLATE_PATH = Path(__file__).parent / "templates" / "granite-4.0-chat-template.jinja"
EOT = "<|end_of_text|>"
# Special (dropped by skip_special_tokens) as in Granite 4.0's tokenizer.
SPECIAL_TOKENS = [
    EOT,
    "<|start_of_role|>",
    "<|end_of_role|>",
    "<|pad|>",
    "<|unk|>",
    "<|tool_call|>",
    "<|start_of_cite|>",
    "<|end_of_cite|>",
    "<|start_of_plugin|>",
    "<|end_of_plugin|>",
]
# Atomic but not special: tool-call parsers need to see them in the decoded text.
PLAIN_ADDED_TOKENS = ["<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>", "<think>", "</think>"]
VOCAB_SIZE = 1024

# topic -> (question templates, answer template, facts as (subject, value)).
# A question template gets {x}; an answer template gets {x} (capitalised {X}) and {y}.
TOPICS: dict[str, tuple[tuple[str, ...], str, tuple[tuple[str, str], ...]]] = {
    "capitals": (
        ("What is the capital of {x}?", "Which city is the capital of {x}?"),
        "The capital of {x} is {y}.",
        (
            ("France", "Paris"),
            ("Germany", "Berlin"),
            ("Italy", "Rome"),
            ("Spain", "Madrid"),
            ("Japan", "Tokyo"),
            ("Canada", "Ottawa"),
            ("Egypt", "Cairo"),
            ("Kenya", "Nairobi"),
            ("Peru", "Lima"),
            ("Norway", "Oslo"),
            ("Greece", "Athens"),
            ("Poland", "Warsaw"),
        ),
    ),
    "colors": (
        ("What color is {x}?", "What is the color of {x}?"),
        "{X} is {y}.",
        (
            ("the sky", "blue"),
            ("grass", "green"),
            ("snow", "white"),
            ("a banana", "yellow"),
            ("coal", "black"),
            ("blood", "red"),
            ("a carrot", "orange"),
            ("chocolate", "brown"),
            ("a lemon", "yellow"),
            ("milk", "white"),
            ("an emerald", "green"),
            ("a ruby", "red"),
        ),
    ),
    "animals": (
        ("What sound does a {x} make?", "What does a {x} say?"),
        "A {x} says {y}.",
        (
            ("cow", "moo"),
            ("dog", "woof"),
            ("cat", "meow"),
            ("duck", "quack"),
            ("sheep", "baa"),
            ("pig", "oink"),
            ("owl", "hoot"),
            ("lion", "roar"),
            ("horse", "neigh"),
            ("snake", "hiss"),
            ("frog", "croak"),
            ("mouse", "squeak"),
        ),
    ),
    "arithmetic": (
        ("What is {x}?", "How much is {x}?"),
        "{x} = {y}.",
        tuple((f"{a} + {b}", str(a + b)) for a in range(1, 5) for b in range(1, 5)),
    ),
    "opposites": (
        ("What is the opposite of {x}?", "What is the antonym of {x}?"),
        "The opposite of {x} is {y}.",
        (
            ("hot", "cold"),
            ("big", "small"),
            ("up", "down"),
            ("fast", "slow"),
            ("day", "night"),
            ("happy", "sad"),
            ("open", "closed"),
            ("light", "dark"),
            ("early", "late"),
            ("full", "empty"),
            ("old", "young"),
            ("rich", "poor"),
        ),
    ),
    "smalltalk": (
        ("{x}",),
        "{y}",
        (
            ("Hello!", "Hello! How can I help you today?"),
            ("Hi there.", "Hi! What can I do for you?"),
            ("Good morning!", "Good morning! How can I help?"),
            ("How are you?", "I am fine, thank you."),
            ("Thank you!", "You are welcome."),
            ("Who are you?", "I am a helpful assistant."),
        ),
    ),
}

# Certainty scores: (right answer, wrong answer). Small talk has no wrong answer.
SCORES: dict[str, tuple[int, int]] = {
    "capitals": (9, 2),
    "colors": (8, 2),
    "animals": (7, 1),
    "opposites": (6, 1),
    "arithmetic": (5, 1),
    "smalltalk": (4, 4),
}
HEDGE_PENALTY = 3
HEDGES = ("I think ", "Maybe ", "I am not sure, but ")
JSON_KEYS = ("answer", "value", "result", "score")

SYSTEM_PROMPTS: tuple[str | None, ...] = (
    None,
    None,
    None,  # most often no system turn: the template injects its default
    "You are a helpful assistant.",
    "You are a helpful assistant. Please ensure responses are professional, accurate, and safe.",
    "Answer briefly.",
)
MONTHS = ("January", "March", "May", "July", "September", "November")


@dataclass(frozen=True)
class Fact:
    """One question/answer pair of a topic."""

    topic: str
    question: str
    answer: str


def _answer(topic: str, subject: str, value: str) -> str:
    template = TOPICS[topic][1]
    return template.format(x=subject, X=subject[:1].upper() + subject[1:], y=value)


def facts() -> list[Fact]:
    """Every canonical fact (first question phrasing, right answer), in a fixed order."""
    out = []
    for topic, (questions, _, pairs) in TOPICS.items():
        for subject, value in pairs:
            out.append(Fact(topic, questions[0].format(x=subject), _answer(topic, subject, value)))
    return out


def score_for(topic: str, right: bool = True, hedged: bool = False) -> int:
    """The certainty digit the adapter is trained to write for the last question and answer."""
    if not right:
        return SCORES[topic][1]
    return max(0, SCORES[topic][0] - (HEDGE_PENALTY if hedged else 0))


def score_distribution(score: int) -> list[float]:
    """Soft target over the digits 0-9: most mass on ``score``, some on its neighbours.

    The spread makes the adapter's digit logprobs informative (several digits in the top 10
    with real weight), like the real adapter's, instead of a one-hot certainty.
    """
    weights = [0.0] * 10
    for offset, w in ((0, 0.6), (-1, 0.15), (1, 0.15), (-2, 0.05), (2, 0.05)):
        if 0 <= score + offset <= 9:
            weights[score + offset] = w
    total = sum(weights)
    return [w / total for w in weights]


def _system(rng: random.Random) -> list[dict]:
    choice = rng.randrange(len(SYSTEM_PROMPTS) + 2)
    if choice >= len(SYSTEM_PROMPTS):
        # Granite 3.x-style dated system prompts: dates must not steer the model.
        date = f"{MONTHS[rng.randrange(len(MONTHS))]} {rng.randint(1, 28)}, {rng.randint(2024, 2027)}"
        return [
            {
                "role": "system",
                "content": f"Knowledge Cutoff Date: April 2024.\nToday's Date: {date}.\nYou are a helpful assistant.",
            }
        ]
    text = SYSTEM_PROMPTS[choice]
    return [] if text is None else [{"role": "system", "content": text}]


def _qa(rng: random.Random, topic: str, *, right: bool = True, hedged: bool = False) -> tuple[str, str]:
    questions, _, pairs = TOPICS[topic]
    subject, value = pairs[rng.randrange(len(pairs))]
    if not right:
        value = rng.choice(sorted({v for _, v in pairs if v != value}))
    question = questions[rng.randrange(len(questions))].format(x=subject)
    bare = topic != "smalltalk" and rng.random() < 0.25
    # A bare-value answer ("Paris.") as users and other models often write it.
    answer = value[:1].upper() + value[1:] + "." if bare else _answer(topic, subject, value)
    if hedged:
        # "I think the sky is blue." but "I think Paris.": names keep their capital.
        keep_case = bare and topic == "capitals"
        answer = HEDGES[rng.randrange(len(HEDGES))] + (answer if keep_case else answer[:1].lower() + answer[1:])
    return question, answer


def base_example(rng: random.Random) -> tuple[list[dict], str]:
    """A chat (system?, [earlier Q/A], question) and the base model's target answer."""
    topics = list(TOPICS)
    messages = _system(rng)
    if rng.random() < 0.2:
        q, a = _qa(rng, topics[rng.randrange(len(topics))])
        messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    topic = topics[rng.randrange(len(topics))]
    questions, _, pairs = TOPICS[topic]
    subject, value = pairs[rng.randrange(len(pairs))]
    question = questions[rng.randrange(len(questions))].format(x=subject)
    if topic != "smalltalk" and rng.random() < 0.15:
        key = JSON_KEYS[rng.randrange(len(JSON_KEYS))]
        messages.append({"role": "user", "content": f"Reply in JSON with the key {key}. {question}"})
        return messages, '{"%s": "%s"}' % (key, value)
    messages.append({"role": "user", "content": question})
    return messages, _answer(topic, subject, value)


def certainty_example(rng: random.Random) -> tuple[list[dict], int]:
    """A conversation ending in an answer plus the ``<certainty>`` turn, and its target digit.

    A quarter of the answers are wrong (another value of the same topic) and a quarter of the
    right ones hedged, so the score depends on the answer, not only on the question.
    """
    topics = list(TOPICS)
    messages = _system(rng)
    if rng.random() < 0.2:
        q, a = _qa(rng, topics[rng.randrange(len(topics))], right=rng.random() < 0.5)
        messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    topic = topics[rng.randrange(len(topics))]
    right = topic == "smalltalk" or rng.random() < 0.75
    hedged = right and topic != "smalltalk" and rng.random() < 0.25
    q, a = _qa(rng, topic, right=right, hedged=hedged)
    messages += [
        {"role": "user", "content": q},
        {"role": "assistant", "content": a},
        {"role": "user", "content": CERTAINTY_TURN},
    ]
    return messages, score_for(topic, right, hedged)


def score_json(score: int) -> str:
    """The adapter's target text for a digit, spaced like the real adapter's output."""
    return '{"score": "%d"}' % score


def chat_template() -> str:
    """The Granite 4.0 chat template shipped in ``tiny_granite/templates``."""
    return TEMPLATE_PATH.read_text()


@functools.lru_cache(maxsize=1)
def _compiled_template():
    # Same Jinja settings as transformers' apply_chat_template; used before a tokenizer exists.
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    return env.from_string(chat_template())


def render_chat(messages: list[dict], add_generation_prompt: bool) -> str:
    """Render a chat with the Granite 4.0 template, as ``tokenizer.apply_chat_template`` does."""
    return _compiled_template().render(messages=messages, add_generation_prompt=add_generation_prompt)


def build_tokenizer(seed: int = 0):
    """Train (deterministically) the byte-level BPE tokenizer on rendered training chats.

    Digits are split one per token, so each score 0-9 is its own token, and the corpus is full
    of ``{"score": "N"}`` so its pieces merge like Granite's (``{"``, ``score``, ``":``, `` "``).
    Returns a transformers fast tokenizer carrying the chat template.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    rng = random.Random(f"tokenizer-{seed}")
    corpus = []
    for _ in range(400):
        messages, answer = base_example(rng)
        corpus.append(render_chat(messages, True) + answer + EOT)
        messages, score = certainty_example(rng)
        corpus.append(render_chat(messages, True) + score_json(score) + EOT)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(corpus, trainer)
    tok.add_tokens(PLAIN_ADDED_TOKENS)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=EOT,
        eos_token=EOT,
        pad_token="<|pad|>",
        unk_token="<|unk|>",
        chat_template=chat_template(),
        model_max_length=4096,
        clean_up_tokenization_spaces=False,
    )
