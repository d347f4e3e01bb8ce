"""The certainty guard: what happens to a scored choice whose certainty is below the threshold.

- ``flag``: ``low_certainty: true`` (and ``false`` on the choices above it);
- ``abstain``: the content becomes the configured message, the answer moves to ``original_content``;
- ``fallback``: the original request goes to the configured fallback model, whose answer
  replaces the choice's message; ``answered_by`` names the model that answered.
"""

from __future__ import annotations

import logging

from ..deps import Gateway
from ..errors import GatewayError, UpstreamTimeout, UpstreamUnavailable
from ..metrics import Metrics
from ..settings import Settings
from ..upstream import Upstream
from .options import FIELD, Options
from .protocol import FallbackError
from .usage import Usage

log = logging.getLogger("granite_certainty")

#: The request fields a fallback model gets: OpenAI's chat parameters, nothing gateway- or
#: vLLM-specific (``documents``, guided decoding, ``chat_template_kwargs``) and nothing unknown.
FALLBACK_FIELDS = frozenset(
    {
        "messages",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "stop",
        "seed",
        "frequency_penalty",
        "presence_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "response_format",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "user",
    }
)


class Guard:
    """Applies one request's guard ``opts`` to its scored choices."""

    def __init__(self, gw: Gateway, payload: dict, opts: Options, usage: Usage):
        self.gw, self.payload, self.opts, self.usage = gw, payload, opts, usage
        self.settings = gw.settings.certainty

    async def apply(self, choice: dict, fields: dict) -> None:
        """Add the certainty ``fields`` to ``choice`` and act on it, in place."""
        choice.update(fields)
        certainty = fields.get(FIELD)
        if self.opts.threshold is None or certainty is None:
            return
        choice["low_certainty"] = low = certainty < self.opts.threshold
        if not low:
            if self.opts.action == "fallback":
                choice["answered_by"] = self.gw.served_name
            return
        self.gw.metrics.guard_actions.labels(self.opts.action).inc()
        if self.opts.action == "abstain":
            message = choice["message"]
            choice.update(original_content=message.get("content"), abstained=True)
            message["content"] = self.settings.abstain_message
        elif self.opts.action == "fallback":
            await self._fallback(choice)

    async def _fallback(self, choice: dict) -> None:
        fb, client = self.settings.fallback, self.gw.fallback
        body = {k: v for k, v in self.payload.items() if k in FALLBACK_FIELDS}
        body.update(model=fb.model, n=1, stream=False)
        try:
            answer = await client.post_json(client.chat_path, body)
            new = answer["choices"][0]
            message = new.get("message") if isinstance(new, dict) else None
            if not isinstance(message, dict) or not isinstance(message.get("content"), str | None):
                raise TypeError("its choice has no message")
        except (GatewayError, KeyError, IndexError, TypeError) as exc:
            # The fallback's own words are not passed on: a remote server's error text can hold
            # what the client must not see (its key, its internals). Status and code say enough.
            why = f"{exc.code or 'error'}, status {exc.status}" if isinstance(exc, GatewayError) else "malformed answer"
            if not isinstance(exc, UpstreamUnavailable | UpstreamTimeout):  # those, the client logged
                log.warning("certainty fallback %s failed: %s", fb.model, why)
            error = FallbackError(message=f"The fallback model {fb.model} failed ({why}); the first answer is kept.")
            choice.update(answered_by=self.gw.served_name, fallback_error=error.model_dump())
            return
        self.usage.add("fallback", answer.get("usage"))
        choice.update(
            original_content=choice["message"].get("content"),
            message=new.get("message"),
            finish_reason=new.get("finish_reason"),
            answered_by=fb.model,
        )


def fallback_client(settings: Settings, transport=None, metrics: Metrics | None = None) -> Upstream | None:
    """The client to the fallback model's OpenAI-compatible server, if one is configured
    (its URL is an OpenAI base URL, so its chat path is ``/chat/completions`` below it)."""
    fb = settings.certainty.fallback
    if fb is None:
        return None
    headers = {"authorization": f"Bearer {fb.api_key}"} if fb.api_key else None
    return Upstream(
        fb.url,
        name="fallback",
        api_prefix="",
        timeout_s=fb.timeout_s,
        connect_timeout_s=settings.upstream_connect_timeout_s,
        keepalive_s=settings.upstream_keepalive_s,
        headers=headers,
        transport=transport,
        metrics=metrics,
    )
