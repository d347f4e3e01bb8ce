"""The :class:`Intrinsic`: one io.yaml, ready to rewrite requests and process responses."""

from __future__ import annotations

import json
import pathlib
from typing import Any

from .config import IntrinsicConfig, parse_config, read_config
from .errors import OutputError
from .needs import judges_answer
from .process import ChoiceProcessor
from .rewrite import Rewriter
from .selfcheck import self_check
from .transforms import build_rules

__all__ = ["Intrinsic", "load", "from_dict", "served_choices"]

DEFAULT_TEMPERATURE = 0.0


class Intrinsic:
    """An intrinsic adapter's input and output processing, built from its io.yaml.

    Instances are immutable after construction and safe to share between threads.

    :ivar name: the intrinsic's name (registry key)
    :ivar model: the model name the rewrite puts in requests, or ``None`` to keep the
        client's (io.yaml ``model``, unless overridden)
    :ivar config: the validated io.yaml
    """

    def __init__(
        self,
        config: IntrinsicConfig,
        *,
        name: str,
        model: str | None = None,
        default_temperature: float | None = DEFAULT_TEMPERATURE,
    ):
        self.config = config
        self.name = name
        self.model = model if model is not None else config.model
        self.default_temperature = default_temperature
        self._rewriter = Rewriter(
            config, model=self.model, default_temperature=default_temperature, kind=config.name or name
        )
        self._processor = ChoiceProcessor(config, build_rules(config.transformations))

    def __repr__(self) -> str:
        return f"Intrinsic(name={self.name!r}, model={self.model!r}, file={self.config.file!r})"

    @property
    def kind(self) -> str:
        """Which intrinsic this is (the io.yaml ``name``, else ``name``): what it needs of a
        request (:mod:`intrinsics.needs`) is looked up by it."""
        return self.config.name or self.name

    @property
    def judges_answer(self) -> bool:
        """Whether it judges the conversation's last answer (else the question before one)."""
        return judges_answer(self.kind)

    @property
    def needs_logprobs(self) -> bool:
        """Whether processing needs logprobs (the io.yaml has a likelihood rule)."""
        return self._rewriter.needs_logprobs

    @property
    def instruction_fields(self) -> frozenset[str]:
        """Keyword arguments :meth:`rewrite` needs for the instruction template."""
        return self.config.instruction_fields - {"last_message"}

    def with_model(self, model: str | None) -> Intrinsic:
        """A copy of this intrinsic whose rewrite sends requests to ``model``."""
        return Intrinsic(self.config, name=self.name, model=model, default_temperature=self.default_temperature)

    def rewrite(self, request: dict, /, **instruction_kwargs: Any) -> dict:
        """Rewrite a client chat completion request into the adapter's request body.

        :param request: OpenAI chat completion request (``extra_body`` allowed); not modified
        :param instruction_kwargs: values for the io.yaml instruction's ``{placeholders}``
        :returns: the raw JSON body to POST to vLLM's ``/v1/chat/completions``
        :raises RequestError: the request is malformed or an instruction argument is missing
        """
        return self._rewriter.rewrite(request, instruction_kwargs)

    def process_choice(self, choice: dict, request: dict | None = None) -> Any:
        """Turn one response choice into the intrinsic's result, as a Python value.

        For the uncertainty intrinsic this is ``{"certainty": 0.4597...}``.

        :param choice: one element of the response's ``choices``
        :param request: the rewritten request (needed by ``decode_sentences`` rules)
        :raises OutputError: the adapter's output cannot be turned into a result
        """
        return self._processor.process_choice(choice, request)

    def results(self, response: dict, request: dict | None = None) -> list[Any]:
        """The intrinsic's result of each choice of the adapter's response, as Python values
        (structured: a caller serialises them once, where it answers).

        :param response: the OpenAI chat completion response from vLLM
        :param request: the rewritten request that produced it
        :raises OutputError: some choice's output cannot be turned into a result
            (``choice_index`` says which)
        """
        choices = response.get("choices") if isinstance(response, dict) else None
        if not isinstance(choices, list):
            raise OutputError("the response has no list of choices")
        shared: dict = {}
        out = []
        for position, choice in enumerate(choices):
            try:
                out.append(self._processor.process_choice(choice, request, shared))
            except OutputError as e:
                index = choice.get("index", position) if isinstance(choice, dict) else position
                raise e.at_choice(index) from None
        return out

    def process(self, response: dict, request: dict | None = None) -> dict:
        """Turn the adapter's chat completion response into the served response.

        Each choice's ``message.content`` becomes the JSON text of its result and its
        ``logprobs`` are dropped; every other field is kept.  The input is not modified.

        :param response: the OpenAI chat completion response from vLLM
        :param request: the rewritten request that produced it
        :raises OutputError: some choice's output cannot be turned into a result
            (``choice_index`` says which)
        """
        results = self.results(response, request)
        return {**response, "choices": served_choices(response["choices"], results)}


def served_choices(choices: list[dict], results: list[Any]) -> list[dict]:
    """``choices`` with each ``message.content`` the JSON text of its result (as granite-common
    writes it) and without ``logprobs``."""
    out = []
    for choice, result in zip(choices, results):
        new_choice = {k: v for k, v in choice.items() if k != "logprobs"}
        new_choice["message"] = {**choice.get("message", {}), "content": json.dumps(result)}
        out.append(new_choice)
    return out


def load(
    path: str | pathlib.Path,
    *,
    name: str | None = None,
    model: str | None = None,
    default_temperature: float | None = DEFAULT_TEMPERATURE,
) -> Intrinsic:
    """Load and validate an io.yaml.

    :param path: the io.yaml file, or a directory containing one (an adapter directory)
    :param name: the intrinsic's name; default: the io.yaml ``name`` key, else the name of
        the directory holding an ``io.yaml``, else the file's stem
    :param model: model name for rewritten requests, overriding the io.yaml ``model``
    :param default_temperature: temperature set when the io.yaml does not set one;
        ``None`` keeps the client's, as the reference does
    :raises ConfigError: the file is missing, unreadable or invalid, or its transformations
        cannot turn a sample of its own ``response_format`` into a result (``selfcheck``)
    """
    path = pathlib.Path(path)
    if path.is_dir():
        path = path / "io.yaml"
    config = read_config(path)
    if name is None:
        name = config.name or (path.parent.name if path.name == "io.yaml" else _stem(path.name))
    intrinsic = Intrinsic(config, name=name, model=model, default_temperature=default_temperature)
    self_check(intrinsic, str(path))
    return intrinsic


def _stem(filename: str) -> str:
    for suffix in (".io.yaml", ".io.yml", ".yaml", ".yml"):
        if filename.endswith(suffix):
            return filename[: -len(suffix)]
    return filename


def from_dict(
    data: dict,
    *,
    name: str,
    model: str | None = None,
    default_temperature: float | None = DEFAULT_TEMPERATURE,
) -> Intrinsic:
    """Build an intrinsic from an io.yaml already parsed into a dict (not modified)."""
    intrinsic = Intrinsic(parse_config(data), name=name, model=model, default_temperature=default_temperature)
    self_check(intrinsic, None)
    return intrinsic
