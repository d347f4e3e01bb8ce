"""The certainty cache (``certainty.cache_entries``), against a fake vLLM: off by default; on, an
identical scoring request is answered from it with the same certainty and no adapter call, a
different one is not, failures are never kept, the least recently used goes first, and
``/metrics`` counts hits and misses."""

import re

import httpx
import pytest

from server.certainty.cache import CertaintyCache, cache_key

from ..apps import UNCERTAINTY, make_client
from ..fake_vllm import FakeVLLM, adapter_output, completion, expected_certainty

PROBS = {"8": 0.8, "9": 0.2}
PARIS = [{"role": "user", "content": "Capital of France?"}]
ROME = [{"role": "user", "content": "Capital of Italy?"}]


def client(fake, entries):
    return make_client(fake, adapters=UNCERTAINTY, certainty={"cache_entries": entries})


def ask(c, messages):
    resp = c.post("/v1/chat/completions", json={"model": "base", "messages": messages, "certainty": True})
    assert resp.status_code == 200, resp.text
    return resp.json()


def cache_count(c, result: str) -> float:
    text = c.get("/metrics").text
    found = re.search(rf'granite_certainty_certainty_cache_total{{result="{result}"}} (\S+)', text)
    return float(found.group(1)) if found else 0.0


def test_without_cache_entries_every_request_is_scored_by_the_adapter():
    fake = FakeVLLM(base=completion("Paris."), adapter=adapter_output(PROBS))
    with client(fake, 0) as c:
        ask(c, PARIS)
        ask(c, PARIS)
        assert cache_count(c, "hit") == cache_count(c, "miss") == 0
    assert len(fake.bodies("uncertainty")) == 2


def test_an_identical_request_gets_the_same_certainty_from_the_cache_without_an_adapter_call():
    fake = FakeVLLM(base=completion("Paris."), adapter=adapter_output(PROBS))
    with client(fake, 8) as c:
        first, second = ask(c, PARIS), ask(c, PARIS)
        assert (cache_count(c, "miss"), cache_count(c, "hit")) == (1, 1)
    assert len(fake.bodies("uncertainty")) == 1
    certainty = first["choices"][0]["certainty"]
    assert certainty == pytest.approx(expected_certainty(PROBS))
    assert second["choices"][0]["certainty"] == certainty
    # No adapter call, no certainty tokens: the usage says what was spent.
    assert first["usage"]["breakdown"]["certainty"]["total_tokens"] > 0
    assert second["usage"]["breakdown"]["certainty"]["total_tokens"] == 0
    assert second["usage"]["total_tokens"] == second["usage"]["breakdown"]["answer"]["total_tokens"]


def test_another_conversation_or_answer_is_a_miss():
    fake = FakeVLLM(
        base=lambda body: completion("Rome." if "Italy" in str(body) else "Paris."), adapter=adapter_output(PROBS)
    )
    with client(fake, 8) as c:
        ask(c, PARIS)
        ask(c, ROME)
        assert (cache_count(c, "miss"), cache_count(c, "hit")) == (2, 0)
    assert len(fake.bodies("uncertainty")) == 2


def test_a_failed_scoring_is_not_kept_and_the_next_request_is_scored():
    answers = iter([httpx.Response(500, json={"error": {"message": "boom"}}), adapter_output(PROBS)])
    fake = FakeVLLM(base=completion("Paris."), adapter=lambda body: next(answers))
    with client(fake, 8) as c:
        failed, scored = ask(c, PARIS), ask(c, PARIS)
    assert failed["choices"][0]["certainty"] is None
    assert scored["choices"][0]["certainty"] == pytest.approx(expected_certainty(PROBS))
    assert len(fake.bodies("uncertainty")) == 2


def test_the_least_recently_used_certainty_goes_first():
    fake = FakeVLLM(
        base=lambda body: completion("Rome." if "Italy" in str(body) else "Paris."), adapter=adapter_output(PROBS)
    )
    with client(fake, 1) as c:
        for messages in (PARIS, ROME, PARIS):  # one entry: Rome pushes Paris out
            ask(c, messages)
    assert len(fake.bodies("uncertainty")) == 3


def test_the_cache_keeps_at_most_its_entries_and_refreshes_what_it_reads():
    cache = CertaintyCache(2)
    a, b, c = (cache_key("uncertainty", {"messages": [x]}) for x in "abc")
    cache.put(a, 0.1)
    cache.put(b, 0.2)
    assert cache.get(a) == 0.1  # a is now the most recently used
    cache.put(c, 0.3)
    assert (cache.get(a), cache.get(b), cache.get(c), len(cache)) == (0.1, None, 0.3, 2)


def test_the_key_is_the_same_whatever_the_order_of_the_request_s_fields_and_differs_by_adapter():
    one = {"model": "uncertainty", "messages": [{"role": "user", "content": "x"}], "temperature": 0}
    other = dict(reversed(list(one.items())))
    assert cache_key("uncertainty", one) == cache_key("uncertainty", other)
    assert cache_key("uncertainty", one) != cache_key("other-adapter", one)
