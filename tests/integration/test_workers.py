"""``serve --workers 2`` against the real vLLM: requests are answered by two gateway processes,
and ``/metrics`` (answered by either) counts every one of them."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from prometheus_client.mmap_dict import MmapedDict

from devstack import Stack

from .conftest import TINY_CONFIG

REQUESTS = 40


def requests_by_process(metrics_dir: Path) -> dict[str, float]:
    """Per worker process (its own counter file, named by its pid): requests it counted."""
    counts = {}
    for path in metrics_dir.glob("counter_*.db"):
        total = 0.0
        for key, value, _, _ in MmapedDict.read_all_values_from_file(str(path)):
            if json.loads(key)[1] == "granite_certainty_requests_total":
                total += value
        counts[path.stem] = total
    return {pid: n for pid, n in counts.items() if n}


def test_two_workers_answer_and_metrics_sum_them(stack, tiny_settings, tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {
        "GRANITE_CERTAINTY_VLLM__URL": stack.vllm_url,
        "GRANITE_CERTAINTY_VLLM__API_KEY": stack.vllm_key,
        "GRANITE_CERTAINTY_WORKERS": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    gw = Stack(TINY_CONFIG, log_path=tmp_path / "workers.log", env=env, timeout_s=120)
    with gw:
        body = {"model": tiny_settings.served_name, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}

        def call(_):
            # A new connection each time, so that the kernel hands them to both workers.
            return httpx.post(f"{gw.url}/v1/chat/completions", json=body, timeout=60).status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(call, range(REQUESTS)))
        metrics = httpx.get(f"{gw.url}/metrics", timeout=10).text
    assert statuses == [200] * REQUESTS
    per_process = requests_by_process(metrics_dir)
    assert len(per_process) == 2, per_process  # both workers answered
    route = 'route="/v1/chat/completions"'
    line = f'granite_certainty_requests_total{{model="{tiny_settings.served_name}",{route},status="200"}}'
    assert f"{line} {float(REQUESTS)}" in metrics  # summed over the workers
