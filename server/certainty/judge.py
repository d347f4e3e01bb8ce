"""Other intrinsics on the same answer: the ``intrinsics`` field of a base-model chat request.

``"intrinsics": ["certainty", "citations", {"name": "requirement-check", "kwargs": {...}}]``
asks, with the answer, for each named intrinsic's result: ``choices[i].intrinsics.<name>`` is
the result exactly as the intrinsic's own model answers it (``citations``: its span records;
``answerability``: ``{"answerability": "answerable"}``), and ``certainty`` is the choice's
certainty (the ``certainty`` extension, turned on by naming it). A result that cannot be had is
``null`` with ``choices[i].intrinsic_errors.<name>`` saying why; the answer is always kept.

Intrinsics that judge an answer (citations, hallucination_detection, uncertainty, ...) run per
distinct answer text once it is complete; those that judge the question (answerability,
query_rewrite, ...) run once per request, from its start, concurrently with the answer. Every
call takes a scoring slot as certainty's do. A request the intrinsics cannot take (an unknown
name, missing documents or arguments, a conversation of the wrong shape) is refused with a 400
before anything is generated.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..deps import Gateway
from ..errors import GatewayError, InvalidRequest, UpstreamTimeout, UpstreamUnavailable
from ..intrinsic import adapter_request
from .asked import Ask, Asked
from .protocol import CertaintyError, IntrinsicAsk
from .scorer import SlotsBusy, call_adapter, scoring_slot, unscorable
from .usage import Usage

log = logging.getLogger("granite_certainty")

#: The request field, and the per-choice fields it adds.
FIELD = "intrinsics"
ERRORS = "intrinsic_errors"
#: The name in ``intrinsics`` that turns on the certainty extension.
CERTAINTY = "certainty"
#: Usage part of every intrinsic call (``usage.breakdown.intrinsics``).
USAGE_PART = "intrinsics"
#: An answer stands in for the real one when a request is checked before it is generated.
_SAMPLE_ANSWER = "This is the answer."


def asked(gw: Gateway, items: list[str | IntrinsicAsk] | None, payload: dict) -> Asked:
    """Check the request's ``intrinsics`` against what is served and against the request itself
    (each intrinsic's rewrite of it), so that a request no intrinsic can take costs no call."""
    names, asks, certainty = [], [], False
    for i, item in enumerate(items or ()):
        name, kwargs = (item, None) if isinstance(item, str) else (item.name, item.kwargs)
        param = f"{FIELD}.{i}"
        if name in names:
            raise InvalidRequest(f"{FIELD}: '{name}' is asked for twice.", param=param)
        names.append(name)
        if name == CERTAINTY:
            if kwargs:
                raise InvalidRequest(f"{FIELD}: 'certainty' takes no kwargs.", param=f"{param}.kwargs")
            certainty = True
            continue
        intrinsic = gw.intrinsics.get(name)
        if intrinsic is None:
            served = ", ".join(sorted([CERTAINTY, *gw.intrinsics])) or "none"
            raise InvalidRequest(
                f"{FIELD}: this server serves no intrinsic '{name}' (served: {served}).",
                param=param,
                code="intrinsic_not_found",
            )
        ask = Ask(name, intrinsic, kwargs or {}, param)
        adapter_request(intrinsic, judged_request(ask, payload, _SAMPLE_ANSWER), ask.kwargs, f"{param}.kwargs")
        asks.append(ask)
    return Asked(tuple(names), certainty, tuple(asks))


def judged_request(ask: Ask, payload: dict, answer: str | None) -> dict:
    """The chat request an intrinsic judges: the conversation (and its documents), with the
    answer after it when the intrinsic judges answers."""
    messages = payload["messages"]
    if ask.intrinsic.judges_answer:
        messages = [*messages, {"role": "assistant", "content": answer}]
    request = {"model": ask.name, "messages": messages}
    if payload.get("documents"):
        request["documents"] = payload["documents"]
    return request


def choice_fields(judged: dict, scored: dict | None) -> dict:
    """A choice's fields from ``Judge.judge``'s, with its certainty fields (``scored``, when
    certainty was asked for) under ``certainty``; ``intrinsic_errors`` only when some result has one."""
    results, errors = judged[FIELD], judged[ERRORS]
    if scored is not None:
        results[CERTAINTY] = scored.get(CERTAINTY)
        errors.pop(CERTAINTY, None)
        if results[CERTAINTY] is None and scored.get("certainty_error"):
            errors[CERTAINTY] = scored["certainty_error"]
    if not errors:
        return {FIELD: results}
    return {FIELD: results, ERRORS: {name: errors[name] for name in results if name in errors}}


class Judge:
    """Runs one request's intrinsics (``asked``) on its question and on each of its answers."""

    def __init__(self, gw: Gateway, payload: dict, asked: Asked, usage: Usage, mine: asyncio.Semaphore):
        self.gw, self.payload, self.asked, self.usage, self.mine = gw, payload, asked, usage, mine
        self._calls: dict[tuple[str, str | None], asyncio.Future] = {}  # (name, answer) -> its one call

    def start(self) -> None:
        """Start the intrinsics that judge the question: they need no answer to wait for."""
        for ask in self.asked.asks:
            if not ask.intrinsic.judges_answer:
                self._call(ask, None)

    async def judge(self, choice: dict) -> dict:
        """The ``intrinsics`` (and ``intrinsic_errors``) fields of one finished choice, in the
        order asked (``certainty``, if asked, is filled in by ``with_certainty``)."""
        error = unscorable(choice)
        text = None if error else choice["message"]["content"]
        pending = {}
        for ask in self.asked.asks:
            if ask.intrinsic.judges_answer and error is not None:
                continue
            pending[ask.name] = self._call(ask, text if ask.intrinsic.judges_answer else None)
        done = dict(zip(pending, await asyncio.gather(*pending.values())))
        results, errors = {}, {}
        for name in self.asked.names:
            value, why = done.get(name, (None, error.model_dump() if error else None))
            results[name] = value
            if why is not None:
                errors[name] = why
        return {FIELD: results, ERRORS: errors}

    def cancel(self) -> None:
        """Stop every call still running (the answer failed, or the client is gone)."""
        for call in self._calls.values():
            call.cancel()

    def _call(self, ask: Ask, text: str | None) -> asyncio.Future:
        key = (ask.name, text)
        if key not in self._calls:  # the same answer (n > 1) or the question: one call
            self._calls[key] = asyncio.ensure_future(self._run(ask, text))
        return self._calls[key]

    async def _run(self, ask: Ask, text: str | None) -> tuple[Any, dict | None]:
        """(the result, None) or (None, the error object) of one intrinsic call."""
        try:
            rewritten = adapter_request(
                ask.intrinsic, judged_request(ask, self.payload, text), ask.kwargs, f"{ask.param}.kwargs"
            )
            async with scoring_slot(self.gw, self.mine):
                return await call_adapter(self.gw, ask.intrinsic, rewritten, self.usage, USAGE_PART), None
        except SlotsBusy:
            return self._failed(ask, "scoring_busy", "Every scoring slot of the server is busy; not judged.")
        except GatewayError as exc:
            if not isinstance(exc, UpstreamUnavailable | UpstreamTimeout):  # those, the upstream client logged
                log.warning("intrinsic %s failed: %s", ask.name, exc.message)
            return self._failed(ask, exc.code or "intrinsic_failed", exc.message)
        except Exception as exc:  # any failure must keep the answer, never lose it
            log.warning("intrinsic %s failed: %s: %s", ask.name, type(exc).__name__, exc)
            return self._failed(ask, "intrinsic_failed", f"The '{ask.name}' intrinsic failed: {type(exc).__name__}.")

    def _failed(self, ask: Ask, code: str, message: str) -> tuple[None, dict]:
        self.gw.metrics.upstream_errors.labels(code).inc()
        return None, CertaintyError(code=code, message=message).model_dump()
