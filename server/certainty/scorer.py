"""One choice's certainty: a call to the uncertainty adapter on the conversation and its answer."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import intrinsics

from ..deps import Gateway
from ..errors import AdapterOutputError, GatewayError, InvalidRequest, from_intrinsics
from ..intrinsic import adapter_request
from .cache import cache_key
from .options import FIELD
from .protocol import CertaintyError
from .usage import Usage

log = logging.getLogger("granite_certainty")


def unscorable(choice: dict) -> CertaintyError | None:
    """Why a finished choice cannot be scored, or ``None`` if it can."""
    message = choice.get("message") or {}
    if message.get("tool_calls"):
        return CertaintyError(code="tool_calls", message="The answer is a tool call; only text answers are scored.")
    if choice.get("finish_reason") == "length":
        return CertaintyError(
            code="truncated", message="The answer was cut off (finish_reason 'length'); it is not scored."
        )
    content = message.get("content")
    if not isinstance(content, str) or not content.strip():
        return CertaintyError(code="empty_content", message="The answer has no text; there is nothing to score.")
    return None


class SlotsBusy(Exception):
    """No scoring slot came free in time (``limits.scoring_wait_s``)."""


@contextlib.asynccontextmanager
async def scoring_slot(gw: Gateway, mine: asyncio.Semaphore):
    """Hold one scoring slot for an adapter call; ``SlotsBusy`` when none comes free in time.

    Two bounds: the request's own calls (``mine``), then a slot among the whole gateway's; a
    call that cannot get one in time is not made (its answer is kept), not queued for ever."""
    async with mine:
        try:
            await asyncio.wait_for(gw.scoring_slots.acquire(), gw.settings.limits.scoring_wait_s)
        except TimeoutError:
            raise SlotsBusy from None
        try:
            yield
        finally:
            gw.scoring_slots.release()


async def call_adapter(gw: Gateway, intrinsic: intrinsics.Intrinsic, rewritten: dict, usage: Usage, part: str):
    """The intrinsic's result of its adapter's first choice for ``rewritten`` (the call's usage
    counted under ``part``); a ``GatewayError`` for a failed call or an unusable answer."""
    response = await gw.upstream.post_json(gw.upstream.chat_path, rewritten)
    if not isinstance(response, dict):
        raise AdapterOutputError(f"The '{intrinsic.name}' adapter's answer is not a JSON object.")
    usage.add(part, response.get("usage"))
    choices = response.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise AdapterOutputError(f"The '{intrinsic.name}' adapter's answer has no choices.")
    try:
        return intrinsic.process_choice(choices[0], rewritten)
    except intrinsics.IntrinsicError as exc:
        raise from_intrinsics(intrinsic.name, exc) from None


def not_scored(error: CertaintyError) -> dict:
    """The fields of a choice that has no certainty."""
    return {FIELD: None, "certainty_error": error.model_dump()}


class Scorer:
    """Scores the answers to one request (``payload``, without the extension) with the
    configured certainty intrinsic; the scoring calls' usage goes into ``usage``."""

    def __init__(self, gw: Gateway, payload: dict, usage: Usage, mine: asyncio.Semaphore | None = None):
        self.gw, self.payload, self.usage = gw, payload, usage
        self.name = gw.settings.certainty.intrinsic
        self.intrinsic = gw.scoring_intrinsic
        if self.intrinsic is None:
            raise InvalidRequest(
                f"certainty scoring needs the '{self.name}' intrinsic, which this server does not serve.", param=FIELD
            )
        self._scoring: dict[str, asyncio.Future] = {}  # answer text -> its one scoring call
        self._mine = mine or asyncio.Semaphore(gw.settings.limits.scoring_per_request)

    async def score(self, choice: dict) -> dict:
        """The certainty fields of one finished choice (``message`` with its final content).

        Choices with the same text share one scoring call: the adapter decodes greedily, so
        the same conversation always gets the same certainty (common with ``n`` > 1)."""
        error = unscorable(choice)
        if error is not None:
            return not_scored(error)
        text = choice["message"]["content"]
        if text not in self._scoring:
            self._scoring[text] = asyncio.ensure_future(self._score_text(text))
        fields = dict(await self._scoring[text])
        if fields[FIELD] is not None:
            self.gw.metrics.certainty.labels(self.name).observe(fields[FIELD])
        return fields

    async def _score_text(self, text: str) -> dict:
        try:
            rewritten = adapter_request(self.intrinsic, self._scoring_request(text))
        except GatewayError as exc:
            return self._failed(exc.code or "scoring_failed", exc.message)
        cache, key = self.gw.certainty_cache, None
        if cache is not None:
            key = cache_key(self.name, rewritten)
            kept = cache.get(key)
            self.gw.metrics.certainty_cache.labels("miss" if kept is None else "hit").inc()
            if kept is not None:
                return {FIELD: kept}  # no adapter call, so no certainty tokens in the usage
        try:
            async with scoring_slot(self.gw, self._mine):
                fields = await self._call_adapter(rewritten)
        except SlotsBusy:
            return self._failed("scoring_busy", "Every scoring slot of the server is busy; the answer is not scored.")
        if key is not None and fields[FIELD] is not None:
            cache.put(key, fields[FIELD])
        return fields

    def _scoring_request(self, text: str) -> dict:
        messages = [*self.payload["messages"], {"role": "assistant", "content": text}]
        scoring = {"model": self.name, "messages": messages}
        if self.payload.get("documents"):
            scoring["documents"] = self.payload["documents"]  # RAG answers are scored against their documents
        return scoring

    async def _call_adapter(self, rewritten: dict) -> dict:
        try:
            return {FIELD: (await call_adapter(self.gw, self.intrinsic, rewritten, self.usage, "certainty"))[FIELD]}
        except GatewayError as exc:
            return self._failed(exc.code or "scoring_failed", exc.message)
        except Exception as exc:  # any failure of scoring must keep the answer, never lose it
            log.warning("scoring with %s failed: %s: %s", self.name, type(exc).__name__, exc)
            return self._failed("scoring_failed", f"Scoring failed: {type(exc).__name__}.")

    def _failed(self, code: str, message: str) -> dict:
        self.gw.metrics.upstream_errors.labels(code).inc()
        return not_scored(CertaintyError(code=code, message=message))
