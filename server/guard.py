"""Answer and certainty in one call: score every choice of a base-model answer, then guard.

A chat request to the base model may carry ``"certainty": true`` or
``{"threshold": 0.6, "action": "flag" | "abstain" | "fallback"}`` (server defaults in the
``certainty`` settings). The gateway generates the answer, scores every choice with the
uncertainty intrinsic concurrently, and adds ``choices[i].certainty``. Below the threshold:

- ``flag``: ``low_certainty: true``;
- ``abstain``: the content becomes the configured message, the answer moves to ``original_content``;
- ``fallback``: the original request goes to the configured fallback model, whose answer
  replaces the choice's message; ``answered_by`` names the model that answered.

A choice that cannot be scored (tool calls, empty content, ``finish_reason: length``) or
whose scoring failed keeps its answer, with ``certainty: null`` and a ``certainty_error``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import intrinsics

from .deps import Gateway
from .errors import GatewayError, InvalidRequest
from .intrinsic_call import adapter_call, output_error
from .passthrough import CHAT_PATH
from .settings import CertaintySettings
from .upstream import Upstream

FIELD = "certainty"
USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")


@dataclass(frozen=True)
class Options:
    """What one request asked for: the guard threshold (or none) and its action."""

    threshold: float | None
    action: str


def options(value: Any, defaults: CertaintySettings, has_fallback: bool) -> Options | None:
    """The request's ``certainty`` field merged over the server defaults; ``None``: don't score."""
    if value is None:
        value = defaults.always
    if value is False:
        return None
    given = value if isinstance(value, dict) else {}
    opts = Options(given.get("threshold", defaults.threshold), given.get("action") or defaults.action)
    if opts.action == "fallback" and opts.threshold is not None and not has_fallback:
        raise InvalidRequest("certainty action 'fallback' needs a fallback model in the server's "
                             "certainty.fallback settings; none is configured.", param="certainty.action")  # fmt: skip
    return opts


def strip_extension(payload: dict) -> dict:
    """The request as the base model must see it: without the gateway's ``certainty`` field."""
    return {k: v for k, v in payload.items() if k != FIELD}


def unscorable(choice: dict) -> dict | None:
    """Why a finished choice cannot be scored, as a ``certainty_error``, or ``None`` if it can."""
    message = choice.get("message") or {}
    if message.get("tool_calls"):
        return {"code": "tool_calls", "message": "The answer is a tool call; only text answers are scored."}
    if choice.get("finish_reason") == "length":
        return {"code": "truncated", "message": "The answer was cut off (finish_reason 'length'); it is not scored."}
    if not (message.get("content") or "").strip():
        return {"code": "empty_content", "message": "The answer is empty; there is nothing to score."}
    return None


class Scorer:
    """Scores answers to one request with the uncertainty intrinsic and applies the guard."""

    def __init__(self, gw: Gateway, payload: dict, opts: Options):
        self.gw, self.opts = gw, opts
        self.settings = gw.settings.certainty
        self.name = self.settings.intrinsic
        self.intrinsic = gw.intrinsics.get(self.name)
        if self.intrinsic is None:
            raise InvalidRequest(f"certainty scoring needs the '{self.name}' intrinsic, which this server does not serve.",
                                 param=FIELD)  # fmt: skip
        self.payload = strip_extension(payload)
        self.usage = {"certainty": _zero_usage(), "fallback": _zero_usage()}
        self._scoring: dict[str, asyncio.Future] = {}  # answer text -> its one scoring call

    async def score(self, choice: dict) -> dict:
        """The certainty fields for one finished choice (``message`` with its final content).

        Choices with the same text share one scoring call: the adapter decodes greedily, so
        the same conversation always gets the same certainty (common with ``n`` > 1)."""
        error = unscorable(choice)
        if error is not None:
            return {FIELD: None, "certainty_error": error}
        text = choice["message"]["content"]
        if text not in self._scoring:
            self._scoring[text] = asyncio.ensure_future(self._score_text(text))
        fields = dict(await self._scoring[text])
        if fields[FIELD] is not None:
            self.gw.metrics.certainty.labels(self.name).observe(fields[FIELD])
            if self.opts.threshold is not None:
                fields["low_certainty"] = fields[FIELD] < self.opts.threshold
        return fields

    async def _score_text(self, text: str) -> dict:
        scoring = {"model": self.name, "messages": [*self.payload["messages"], {"role": "assistant", "content": text}]}
        if self.payload.get("documents"):
            scoring["documents"] = self.payload["documents"]  # RAG answers are scored against their documents
        try:
            rewritten, response = await adapter_call(self.gw, self.intrinsic, scoring)
            _add_usage(self.usage["certainty"], response.get("usage"))
            try:
                return {FIELD: self.intrinsic.process_choice((response.get("choices") or [{}])[0], rewritten)[FIELD]}
            except intrinsics.OutputError as exc:
                raise output_error(self.name, exc) from None
        except GatewayError as exc:
            self.gw.metrics.upstream_errors.labels(exc.code or "scoring_failed").inc()
            return {FIELD: None, "certainty_error": {"code": exc.code or "scoring_failed", "message": exc.message}}

    async def guard(self, choice: dict, fields: dict) -> None:
        """Apply the guard action to a scored choice in place (``fields`` from ``score``)."""
        choice.update(fields)
        if not fields.get("low_certainty"):
            if self.opts.action == "fallback" and fields.get(FIELD) is not None:
                choice["answered_by"] = self.gw.served_name
            return
        self.gw.metrics.guard_actions.labels(self.opts.action).inc()
        message = choice["message"]
        if self.opts.action == "abstain":
            choice.update(original_content=message.get("content"), abstained=True)
            message["content"] = self.settings.abstain_message
        elif self.opts.action == "fallback":
            await self._fallback(choice)

    async def _fallback(self, choice: dict) -> None:
        fb = self.settings.fallback
        body = {**self.payload, "model": fb.model, "n": 1, "stream": False}
        body.pop("stream_options", None)
        try:
            answer = await self.gw.fallback.post_json("/chat/completions", body)
            new = answer["choices"][0]
        except (GatewayError, KeyError, IndexError, TypeError) as exc:
            message = exc.message if isinstance(exc, GatewayError) else f"malformed answer ({exc!r})"
            choice.update(answered_by=self.gw.served_name, fallback_error={"message": f"fallback {fb.model}: {message}"})
            return
        _add_usage(self.usage["fallback"], answer.get("usage"))
        choice.update(original_content=choice["message"].get("content"), message=new.get("message"),
                      finish_reason=new.get("finish_reason"), answered_by=fb.model)  # fmt: skip

    def total_usage(self, answer_usage: dict | None) -> dict | None:
        """Usage of the answer plus every scoring and fallback call, with the breakdown."""
        if answer_usage is None:
            return None
        total = _zero_usage()
        for part in (answer_usage, self.usage["certainty"], self.usage["fallback"]):
            _add_usage(total, part)
        total["breakdown"] = {"answer": {k: answer_usage.get(k, 0) for k in USAGE_KEYS}, **self.usage}
        return total


async def answer_with_certainty(gw: Gateway, payload: dict, opts: Options) -> dict:
    """Generate the answer (non-streamed), score and guard every choice; the completion dict."""
    scorer = Scorer(gw, payload, opts)
    body = {**scorer.payload, "stream": False}
    body.pop("stream_options", None)
    completion = await gw.upstream.post_json(CHAT_PATH, body)
    choices = completion.get("choices") or []
    scored = await asyncio.gather(*(scorer.score(c) for c in choices))
    await asyncio.gather(*(scorer.guard(c, f) for c, f in zip(choices, scored)))
    completion["usage"] = scorer.total_usage(completion.get("usage"))
    return completion


def _zero_usage() -> dict:
    return dict.fromkeys(USAGE_KEYS, 0)


def _add_usage(into: dict, usage: dict | None) -> None:
    for key in USAGE_KEYS:
        into[key] += (usage or {}).get(key) or 0


def fallback_client(settings: CertaintySettings, connect_timeout_s: float, transport=None) -> Upstream | None:
    """The client to the fallback model's OpenAI-compatible server, if one is configured."""
    fb = settings.fallback
    if fb is None:
        return None
    headers = {"authorization": f"Bearer {fb.api_key}"} if fb.api_key else None
    return Upstream(fb.url, timeout_s=fb.timeout_s, connect_timeout_s=connect_timeout_s, headers=headers,
                    transport=transport)  # fmt: skip
