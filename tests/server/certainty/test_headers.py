"""The certainties repeated as response headers (``x-certainty`` and its companions), against a
fake vLLM: one value per choice in choice order, the body's own values, ``null`` where a choice
has none, the guard's outcome when one ran, and no certainty header where none can be known."""

import httpx
import pytest

from server.certainty.headers import certainty_headers
from server.certainty.options import Options

from ..apps import FALLBACK, UNCERTAINTY, make_client
from ..fake_vllm import FakeVLLM, adapter_output, completion

LOW, HIGH = {"2": 0.7, "3": 0.3}, {"8": 0.8, "9": 0.2}
Q = [{"role": "user", "content": "Capital of France?"}]


def by_answer(mapping):
    """Adapter outputs chosen by the answer being scored (the last assistant turn)."""

    def answer(body):
        out = mapping[[m for m in body["messages"] if m["role"] == "assistant"][-1]["content"]]
        return out if isinstance(out, Exception) else adapter_output(out)

    return answer


def ask(fake, **extra):
    with make_client(fake, adapters=UNCERTAINTY, certainty={"fallback": FALLBACK}) as client:
        return client.post("/v1/chat/completions", json={"model": "base", "messages": Q, **extra})


def values(header: str) -> list:
    """A per-choice header read back: numbers as floats, ``null`` as None, the rest as text."""
    read = {"null": None, "true": True, "false": False}
    out = []
    for v in header.split(","):
        if v in read:
            out.append(read[v])
        else:
            try:
                out.append(float(v))
            except ValueError:
                out.append(v)
    return out


def test_x_certainty_holds_each_choice_s_certainty_in_choice_order_equal_to_the_body():
    fake = FakeVLLM(base=completion("Paris.", "Lyon.", "Paris."), adapter=by_answer({"Paris.": HIGH, "Lyon.": LOW}))
    resp = ask(fake, n=3, certainty=True)
    body = resp.json()
    assert values(resp.headers["x-certainty"]) == [c["certainty"] for c in body["choices"]]
    assert body["choices"][0]["certainty"] != body["choices"][1]["certainty"]  # order matters, and is kept
    assert "x-certainty-error" not in resp.headers and "x-certainty-action" not in resp.headers


def test_a_choice_not_scored_shows_null_and_its_error_code_never_a_number():
    fake = FakeVLLM(
        base=completion("Paris.", "Lyon."), adapter=by_answer({"Paris.": HIGH, "Lyon.": httpx.ReadTimeout("slow")})
    )
    resp = ask(fake, n=2, certainty=True)
    body = resp.json()
    assert resp.headers["x-certainty"].split(",")[1] == "null"
    assert values(resp.headers["x-certainty"]) == [body["choices"][0]["certainty"], None]
    assert resp.headers["x-certainty-error"] == "null,upstream_timeout"
    assert body["choices"][1]["certainty_error"]["code"] == "upstream_timeout"


def test_an_unscorable_answer_alone_gives_null_and_its_reason():
    resp = ask(FakeVLLM(base=completion("Paris is", finish_reason="length")), certainty=True)
    assert resp.headers["x-certainty"] == "null" and resp.headers["x-certainty-error"] == "truncated"


def test_an_error_code_that_a_header_cannot_hold_is_made_safe():
    # Every code the gateway writes today is an identifier; a header must stay one line of ASCII
    # with one comma per choice whatever a future code holds.
    choice = {"certainty": None, "certainty_error": {"code": "bad code,\u00e9\r\n", "message": "m"}}
    headers = certainty_headers({"choices": [choice, {"certainty": 0.5}]}, Options(None, "flag"))
    assert headers == {"x-certainty": "null,0.5", "x-certainty-error": "bad_code____,null"}


def test_a_flag_guard_adds_its_action_threshold_and_each_choice_s_low_certainty():
    fake = FakeVLLM(base=completion("Lyon.", "Paris."), adapter=by_answer({"Paris.": HIGH, "Lyon.": LOW}))
    resp = ask(fake, n=2, certainty={"threshold": 0.5, "action": "flag"})
    choices = resp.json()["choices"]
    assert resp.headers["x-certainty-action"] == "flag" and float(resp.headers["x-certainty-threshold"]) == 0.5
    assert values(resp.headers["x-certainty-low"]) == [c["low_certainty"] for c in choices] == [True, False]
    assert "x-certainty-answered-by" not in resp.headers


def test_a_choice_the_guard_could_not_judge_shows_null_low_certainty():
    fake = FakeVLLM(
        base=completion("Lyon.", "Paris."), adapter=by_answer({"Paris.": HIGH, "Lyon.": httpx.ReadTimeout("slow")})
    )
    resp = ask(fake, n=2, certainty={"threshold": 0.5, "action": "flag"})
    assert "low_certainty" not in resp.json()["choices"][0]
    assert resp.headers["x-certainty-low"] == "null,false" and resp.headers["x-certainty"].startswith("null,")


def test_a_fallback_guard_says_who_answered_each_choice():
    fake = FakeVLLM(
        base=completion("Lyon.", "Paris."),
        adapter=by_answer({"Paris.": HIGH, "Lyon.": LOW}),
        fallback=completion("Paris, surely."),
    )
    resp = ask(fake, n=2, certainty={"threshold": 0.5, "action": "fallback"})
    assert resp.headers["x-certainty-answered-by"] == "fallback-model,base"
    assert resp.json()["choices"][0]["answered_by"] == "fallback-model"


@pytest.mark.parametrize("action", ["abstain", "fallback"])
def test_a_stream_generated_whole_for_its_guard_carries_the_headers(action):
    fake = FakeVLLM(base=completion("Lyon."), adapter=by_answer({"Lyon.": LOW}), fallback=completion("Paris."))
    resp = ask(fake, stream=True, certainty={"threshold": 0.5, "action": action})
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert resp.headers["x-certainty-action"] == action and resp.headers["x-certainty-low"] == "true"
    assert f'"certainty":{resp.headers["x-certainty"]}' in resp.text  # the same value as the chunk's


def test_a_relayed_stream_has_no_certainty_headers_it_cannot_know_yet():
    chunk = b'{"id":"c","choices":[{"index":0,"delta":{"content":"Paris."},"finish_reason":"stop"}]}'
    sse = b"data: " + chunk + b"\n\ndata: [DONE]\n\n"
    base = lambda body: httpx.Response(200, content=sse, headers={"content-type": "text/event-stream"})
    resp = ask(FakeVLLM(base=base, adapter=by_answer({"Paris.": HIGH})), stream=True, certainty=True)
    assert '"certainty":' in resp.text  # scored, in its own chunk
    assert not [h for h in resp.headers if h.startswith("x-certainty")]


def test_an_answer_without_certainty_has_no_certainty_headers():
    resp = ask(FakeVLLM(base=completion("Paris.")))
    assert resp.status_code == 200 and not [h for h in resp.headers if h.startswith("x-certainty")]
