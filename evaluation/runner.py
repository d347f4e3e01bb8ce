"""Run an evaluation against a live gateway: answer, grade, score, write each item as it goes.

Per item, two requests through the gateway's OpenAI API: the base model answers the zero-shot
prompt greedily with ``logprobs: true`` (its answer's sequence probability is the baseline),
then the ``uncertainty`` intrinsic scores the (question, answer) conversation. Items run
``concurrency`` at a time. Each finished item is appended to ``predictions.jsonl`` at once, so
an interrupted run resumes where it stopped: items already there are not asked again.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from . import grading
from .datasets import Dataset, Item

PREDICTIONS = "predictions.jsonl"
RUN_FILE = "run.json"
#: Statuses that say the whole run is misconfigured (key, model name): stop instead of going on.
FATAL_STATUSES = {401, 403, 404}
RETRY_STATUSES = {408, 409, 429, 500, 502, 503, 504}


class EvalError(Exception):
    """A run that cannot go on (bad URL, key or model, an output dir of another run); says why."""


class ItemFailed(Exception):
    """One item could not be evaluated; the run goes on and a rerun tries it again."""


@dataclass
class RunConfig:
    """How to reach the gateway and how to ask it."""

    url: str
    api_key: str | None = None
    model: str | None = None  # the base model's served name; None: the first "base" in /v1/models
    intrinsic: str = "uncertainty"
    concurrency: int = 8
    max_tokens: int = 128
    timeout_s: float = 300.0
    retries: int = 3
    backoff_s: float = 1.0
    #: Stop after this many items in a row failed (the server is most likely down).
    max_consecutive_failures: int = 20
    progress: bool = True


@dataclass
class RunResult:
    """What a run did: every record now in predictions.jsonl, and the items that failed this time."""

    records: list[dict]
    new: int
    resumed: int
    failures: list[dict] = field(default_factory=list)
    model: str = ""


def select(items: list[Item], limit: int | None, seed: int = 0) -> list[Item]:
    """All items, or ``limit`` of them: the first ``limit`` of a shuffle seeded with ``seed``.

    A seeded shuffle rather than the file's head, because MMLU's file is sorted by subject;
    a larger limit with the same seed takes a superset, so it resumes a smaller run."""
    if limit is None or limit >= len(items):
        return list(items)
    order = list(items)
    random.Random(seed).shuffle(order)
    return order[:limit]


def base_url(url: str) -> str:
    """The gateway root: ``http://host:8000``, ``.../`` and ``.../v1`` all mean the same."""
    url = url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def read_predictions(path: Path) -> list[dict]:
    """The records of a predictions file; a torn last line (an interrupted write) is dropped from the file."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    records = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if i != len(lines) - 1:
                raise EvalError(f"{path}, line {i + 1}: not valid JSON; fix or remove the file") from None
            path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return records


def check_run_file(out: Path, identity: dict) -> None:
    """Record what this run is (dataset, prompt, models, answer length); refuse to mix two different runs in ``out``.

    ``--limit`` and ``--seed`` are not part of it: they choose items, and an item's record does not
    depend on which others were chosen, so a larger (or another) selection reuses what is there."""
    run_file = out / RUN_FILE
    if run_file.exists():
        before = json.loads(run_file.read_text())
        diff = {k: (before.get(k), v) for k, v in identity.items() if before.get(k) != v}
        if diff:
            detail = ", ".join(f"{k}: {a!r} then, {b!r} now" for k, (a, b) in diff.items())
            raise EvalError(f"{out} holds another run ({detail}); use a new --out directory")
    run_file.write_text(json.dumps(identity, indent=2) + "\n")


async def post(client: httpx.AsyncClient, cfg: RunConfig, body: dict) -> dict:
    """POST a chat completion, retrying transient failures; ``EvalError`` for fatal ones, ``ItemFailed`` else."""
    for attempt in range(cfg.retries + 1):
        try:
            resp = await client.post("/v1/chat/completions", json=body)
        except httpx.TransportError as exc:
            problem = f"{type(exc).__name__}: {exc}"
        else:
            if resp.status_code == 200:
                return resp.json()
            problem = f"HTTP {resp.status_code}: {error_message(resp)}"
            if resp.status_code in FATAL_STATUSES:
                raise EvalError(f"{body['model']!r} at {client.base_url}: {problem}")
            if resp.status_code not in RETRY_STATUSES:
                raise ItemFailed(problem)
        if attempt < cfg.retries:
            await asyncio.sleep(cfg.backoff_s * 2**attempt)
    raise ItemFailed(f"{problem} (after {cfg.retries + 1} attempts)")


def error_message(resp: httpx.Response) -> str:
    """The ``error.message`` of an OpenAI error body, or the start of the body."""
    try:
        return str(resp.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return resp.text[:300]


async def discover(client: httpx.AsyncClient, cfg: RunConfig) -> str:
    """The base model's served name (``cfg.model`` or the first ``kind: base`` entry); checks that
    the intrinsic is served."""
    try:
        resp = await client.get("/v1/models")
    except httpx.TransportError as exc:
        raise EvalError(f"cannot reach the gateway at {client.base_url}: {exc}") from None
    if resp.status_code != 200:
        raise EvalError(f"GET {client.base_url}/v1/models: HTTP {resp.status_code}: {error_message(resp)}")
    try:
        entries = resp.json()["data"]
        ids = [m["id"] for m in entries]
    except (ValueError, KeyError, TypeError):
        raise EvalError(f"GET {client.base_url}/v1/models did not answer an OpenAI model list") from None
    if cfg.intrinsic not in ids:
        raise EvalError(f"the gateway at {client.base_url} does not serve {cfg.intrinsic!r} (it serves {ids})")
    if cfg.model:
        if cfg.model not in ids:
            raise EvalError(f"the gateway at {client.base_url} does not serve {cfg.model!r} (it serves {ids})")
        return cfg.model
    bases = [m["id"] for m in entries if m.get("kind") == "base"] or [i for i in ids if i != cfg.intrinsic]
    if not bases:
        raise EvalError(f"no base model among {ids}; name it with --model")
    return bases[0]


async def evaluate_item(client: httpx.AsyncClient, cfg: RunConfig, model: str, item: Item) -> dict:
    """Answer (unless the item gives its answer), grade and score one item; its predictions.jsonl record."""
    user = {"role": "user", "content": grading.prompt(item)}
    record = {"id": item.id, "subject": item.subject, "kind": item.kind}
    if item.response is None:
        out = await post(
            client,
            cfg,
            {"model": model, "messages": [user], "max_tokens": cfg.max_tokens, "temperature": 0, "logprobs": True},
        )
        try:
            choice = out["choices"][0]
            response = choice["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise ItemFailed(f"the base model's answer has no choices[0].message: {str(out)[:300]}") from None
        seq = grading.sequence_logprob(choice)
        record["finish_reason"] = choice.get("finish_reason")
    else:
        response, seq = item.response, None  # a given answer: not the model's own, so no sequence probability
    correct, chosen = grading.grade(item, response)
    scored = await post(
        client, cfg, {"model": cfg.intrinsic, "messages": [user, {"role": "assistant", "content": response}]}
    )
    try:
        confidence = float(json.loads(scored["choices"][0]["message"]["content"])["certainty"])
    except (KeyError, IndexError, TypeError, ValueError):
        raise ItemFailed(f"the {cfg.intrinsic!r} answer has no certainty: {str(scored)[:300]}") from None
    if not 0.0 <= confidence <= 1.0:
        raise ItemFailed(f"the {cfg.intrinsic!r} certainty {confidence!r} is not a probability")
    record.update(
        {
            "question": item.question,
            "response": response,
            "gold": item.gold,
            "chosen": chosen,
            "correct": correct,
            "confidence": confidence,
            "base_confidence": grading.sequence_probability(seq[0]) if seq else None,
            "base_confidence_geomean": grading.geometric_mean_probability(*seq) if seq else None,
            "base_logprob": seq[0] if seq else None,
            "n_tokens": seq[1] if seq else None,
        }
    )
    return record


async def run(
    dataset: Dataset, items: list[Item], out: Path, cfg: RunConfig, *, transport: httpx.AsyncBaseTransport | None = None
) -> RunResult:
    """Evaluate ``items`` not yet in ``out/predictions.jsonl``, appending each as it finishes."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / PREDICTIONS
    headers = {"authorization": f"Bearer {cfg.api_key}"} if cfg.api_key else {}
    limits = httpx.Limits(max_connections=cfg.concurrency, max_keepalive_connections=cfg.concurrency)
    async with httpx.AsyncClient(
        base_url=base_url(cfg.url), headers=headers, timeout=cfg.timeout_s, limits=limits, transport=transport
    ) as client:
        model = await discover(client, cfg)
        check_run_file(
            out,
            {
                "model": model,
                "intrinsic": cfg.intrinsic,
                "max_tokens": cfg.max_tokens,
                "prompt_version": grading.PROMPT_VERSION,
                "dataset": dataset.name,
                "sha256": dataset.sha256,
            },
        )
        records = read_predictions(path)
        done = {r.get("id") for r in records}
        todo = [it for it in items if it.id not in done]
        result = RunResult(records, new=0, resumed=len(items) - len(todo), model=model)
        queue: asyncio.Queue[Item] = asyncio.Queue()
        for it in todo:
            queue.put_nowait(it)
        bar = progress_bar(len(items), initial=result.resumed, enabled=cfg.progress)
        streak = [0]  # consecutive failures

        async def worker(fh) -> None:
            while not queue.empty():
                item = queue.get_nowait()
                try:
                    record = await evaluate_item(client, cfg, model, item)
                except ItemFailed as exc:
                    result.failures.append({"id": item.id, "error": str(exc)})
                    streak[0] += 1
                    if streak[0] >= cfg.max_consecutive_failures:
                        raise EvalError(f"{streak[0]} items in a row failed; last: {exc}") from None
                else:
                    streak[0] = 0
                    fh.write(json.dumps(record) + "\n")
                    fh.flush()  # written as it goes: a killed run loses at most the items in flight
                    records.append(record)
                    result.new += 1
                bar.update(1)
                bar.set_postfix_str(f"failed {len(result.failures)}" if result.failures else "")

        with open(path, "a", encoding="utf-8") as fh:
            workers = [asyncio.create_task(worker(fh)) for _ in range(max(1, cfg.concurrency))]
            try:
                await asyncio.gather(*workers)
            finally:
                for w in workers:
                    w.cancel()
                bar.close()
    return result


def progress_bar(total: int, *, initial: int, enabled: bool):
    """A tqdm bar on stderr (the ``eval`` extra), or a plain one-line counter without tqdm."""
    try:
        from tqdm import tqdm
    except ImportError:
        return _PlainBar(total, initial, enabled)
    return tqdm(
        total=total, initial=initial, disable=not enabled, unit="item", desc="eval", file=sys.stderr, dynamic_ncols=True
    )


class _PlainBar:
    """Enough of tqdm's interface for ``run``: ``update``, ``set_postfix_str``, ``close``."""

    def __init__(self, total: int, initial: int, enabled: bool):
        self.total, self.n, self.enabled, self.postfix = total, initial, enabled, ""

    def update(self, k: int) -> None:
        self.n += k
        if self.enabled:
            print(f"\reval: {self.n}/{self.total} {self.postfix}", end="", file=sys.stderr, flush=True)

    def set_postfix_str(self, s: str) -> None:
        self.postfix = s

    def close(self) -> None:
        if self.enabled:
            print(file=sys.stderr)
