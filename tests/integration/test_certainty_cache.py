"""The certainty cache on the real stack: a gateway with ``certainty.cache_entries`` answers a
repeated conversation with the certainty the adapter gave the first time — equal to the
uncached ``uncertainty`` route's — without a second scoring call."""

import json
import re

import httpx
import openai
import pytest

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def cached(attach):
    """A gateway attached to the session's vLLM with the certainty cache on."""
    return attach(certainty__cache_entries="64")


def cache_count(url: str, result: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=30).text
    found = re.search(rf'granite_certainty_certainty_cache_total{{result="{result}"}} (\S+)', text)
    return float(found.group(1)) if found else 0.0


def test_a_repeated_conversation_gets_the_route_s_certainty_from_the_cache(cached, sdk, tiny_settings):
    with openai.OpenAI(base_url=f"{cached.url}/v1", api_key="unused", max_retries=0, timeout=120) as client:
        answers = [
            client.chat.completions.create(
                model=tiny_settings.served_name,
                messages=QUESTION,
                max_tokens=32,
                temperature=0,  # greedy: the same answer twice, so the same scoring request
                extra_body={"certainty": True},
            )
            for _ in range(2)
        ]
    first, second = (a.choices[0] for a in answers)
    assert first.message.content == second.message.content
    assert first.model_extra["certainty"] == second.model_extra["certainty"]
    assert (cache_count(cached.url, "miss"), cache_count(cached.url, "hit")) == (1, 1)
    # The cached value is the adapter's: the session gateway (no cache) scores the same pair alike.
    messages = [*QUESTION, {"role": "assistant", "content": first.message.content}]
    route = sdk.chat.completions.create(model="uncertainty", messages=messages)
    assert first.model_extra["certainty"] == pytest.approx(
        json.loads(route.choices[0].message.content)["certainty"], abs=1e-9
    )
    breakdowns = [a.usage.model_extra["breakdown"]["certainty"]["total_tokens"] for a in answers]
    assert breakdowns[0] > 0 and breakdowns[1] == 0
