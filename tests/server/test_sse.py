"""SSE framing: every stream the gateway writes parses as OpenAI's, and a failed one still ends with [DONE]."""

import json

import httpx
import pytest
from httpx_sse import EventSource, ServerSentEvent

from server import sse


def parse(events: list[bytes]) -> list[str]:
    """The data of each event, as an SSE client reads them."""
    resp = httpx.Response(200, content=b"".join(events), headers={"content-type": sse.MEDIA_TYPE})
    return [e.data for e in EventSource(resp).iter_sse()]


COMPLETION = {
    "id": "c1",
    "created": 7,
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}


def test_a_finished_completion_streams_as_one_chunk_then_done():
    data = parse(sse.completion_events(COMPLETION))
    assert data[-1] == "[DONE]" and len(data) == 2
    chunk = json.loads(data[0])
    assert chunk["object"] == "chat.completion.chunk" and chunk["id"] == "c1" and chunk["created"] == 7
    assert chunk["choices"] == [
        {"index": 0, "finish_reason": "stop", "logprobs": None, "delta": {"role": "assistant", "content": "Paris"}}
    ]


def test_the_usage_chunk_comes_only_when_asked_for():
    data = parse(sse.completion_events(COMPLETION, with_usage=True))
    usage = json.loads(data[1])
    assert usage["choices"] == [] and usage["usage"]["total_tokens"] == 4 and data[2] == "[DONE]"
    assert sse.include_usage({"stream_options": {"include_usage": True}})
    assert not sse.include_usage({"stream_options": None}) and not sse.include_usage({"stream_options": "yes"})


def test_a_lost_upstream_ends_the_stream_with_an_openai_error_and_done():
    data = parse(sse.upstream_lost(httpx.ReadError("reset")))
    assert data[-1] == "[DONE]"
    error = json.loads(data[0])["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == "upstream_unavailable" and "ReadError" in error["message"]


@pytest.mark.parametrize("data", ['{"a": 1}', "line one\nline two"])
def test_a_relayed_event_reads_back_as_it_came(data):
    assert parse([sse.encode(ServerSentEvent(data=data))]) == [data]
