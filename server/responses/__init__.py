"""Certainty on the Responses API: ``POST /v1/responses`` with ``"certainty"`` (the same forms as
on chat) answers with the output message item's ``certainty`` and a top-level ``certainty``
object; streamed, a ``response.certainty.done`` event comes before the terminal event. Without
the field the endpoint stays the pass-through of ``server/endpoints``, whose Responses streams
end as ``ending`` says.

One request, in reading order::

    serving.resolve        the request's field over the server defaults (None: pass it through)
    serving.respond        the one entry: streamed or not
    call.ResponsesCall     the request for vLLM, and the certainty package's call that scores it
    convert                request -> chat conversation; response -> answer; fields -> response
    streaming.answer_sse   streamed: relay the events, score the finished response, then end it
    ending                 how a Responses stream ends, and the event that ends a broken one
"""

from .ending import ResponsesEnding
from .protocol import ResponsesCertainty
from .serving import request_body, resolve, respond

__all__ = ["ResponsesCertainty", "ResponsesEnding", "request_body", "resolve", "respond"]
