"""Send every line of the input to the gateway, ``concurrency`` at a time, and write each answer as it comes.

One ``httpx.AsyncClient`` for the whole run (its pool holds ``concurrency`` connections). A 429 or 503
is retried after the ``Retry-After`` the gateway sent (else after an exponential backoff); so is a
request that got no answer at all (connection refused or broken, timeout), since scoring changes
nothing on the server. An answer of any other status, or a 429/503 still there after the last retry,
is written with its status and body, as the OpenAI Batch API writes a failed request. A request that
never got an answer is not written, so that the next run sends it again. A 401 stops the run: a
wrong key would otherwise fill the output with errors that a rerun would skip.
"""

from __future__ import annotations

import asyncio
import email.utils
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
from tqdm import tqdm

from evaluation.runner import base_url, error_message

from . import inputs
from .output import BatchError, Done, Writer, answer_line, certainties, error_line, failed, read_done

RETRY_STATUSES = {429, 503}


@dataclass
class ScoreConfig:
    """How to reach the gateway and how hard to try."""

    url: str
    api_key: str | None = None
    intrinsic: str = "uncertainty"  # the model plain lines are sent to
    concurrency: int = 8
    timeout_s: float = 300.0
    retries: int = 5
    backoff_s: float = 1.0
    max_wait_s: float = 60.0  # the longest single wait before a retry, Retry-After included
    #: Stop after this many requests in a row got no answer at all (the gateway is most likely down).
    max_unanswered: int = 10
    progress: bool = True


@dataclass
class Summary:
    """What the output holds for the input's lines (this run's and those an earlier run wrote)."""

    lines: int = 0
    scored: int = 0
    bad_lines: int = 0
    http_errors: int = 0
    unanswered: int = 0
    skipped: int = 0
    certainties: list[float] = field(default_factory=list)
    elapsed_s: float = 0.0

    def add(self, record: dict, *, skipped: bool = False) -> None:
        """Count one output line (``skipped``: written by an earlier run)."""
        self.lines += 1
        self.skipped += skipped
        if record.get("error") is not None:
            self.bad_lines += 1
        elif failed(record):
            self.http_errors += 1
        else:
            self.scored += 1
        self.certainties.extend(certainties(record))

    @property
    def failed(self) -> int:
        """Lines without a 200 answer: bad lines, HTTP errors and requests that got no answer."""
        return self.bad_lines + self.http_errors + self.unanswered

    def text(self, out: Path) -> str:
        """The summary in one paragraph."""
        mean = sum(self.certainties) / len(self.certainties) if self.certainties else None
        return (
            f"{plural(self.lines, 'line')}: {self.scored} scored, {self.failed} failed "
            f"({plural(self.bad_lines, 'bad line')}, {plural(self.http_errors, 'HTTP error')}, "
            f"{self.unanswered} without an answer); {self.skipped} skipped (already in {out}); "
            + (
                f"mean certainty {mean:.3f} over {plural(len(self.certainties), 'answer')}; "
                if mean is not None
                else ""
            )
            + f"{self.elapsed_s:.1f} s"
        )


def plural(n: int, noun: str) -> str:
    """``1 line``, ``2 lines``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


class NoAnswer(Exception):
    """A request that got no answer after every retry; the next run sends it again."""


def retry_after(resp: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds (delta-seconds or an HTTP date), if there is a usable one."""
    value = resp.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


async def send(client: httpx.AsyncClient, cfg: ScoreConfig, body: dict) -> httpx.Response:
    """POST one request, retrying 429, 503 and no answer; the last answer, or ``NoAnswer``."""
    content = orjson.dumps(body)
    for attempt in range(cfg.retries + 1):
        wait = cfg.backoff_s * 2**attempt
        try:
            resp = await client.post(inputs.URL, content=content, headers={"content-type": "application/json"})
        except httpx.TransportError as exc:
            problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        else:
            if resp.status_code == 401:
                raise BatchError(f"the gateway at {client.base_url} refused the API key: {error_message(resp)}")
            if resp.status_code not in RETRY_STATUSES or attempt == cfg.retries:
                return resp
            wait = after if (after := retry_after(resp)) is not None else wait
        if attempt < cfg.retries:
            await asyncio.sleep(min(wait, cfg.max_wait_s))
    raise NoAnswer(f"{problem} (after {cfg.retries + 1} attempts)")


async def run(inp: Path, out: Path, cfg: ScoreConfig, summary: Summary, *, transport=None) -> Summary:
    """Score every line of ``inp`` that ``out`` does not hold yet, appending each answer to ``out``."""
    started = time.monotonic()
    done = read_done(out)
    try:
        total = inputs.count_lines(inp)
    except OSError as exc:
        raise BatchError(f"cannot read {inp}: {exc.strerror}") from None
    bar = tqdm(total=total, disable=not cfg.progress, unit="line", desc="score", file=sys.stderr, dynamic_ncols=True)
    headers = {"authorization": f"Bearer {cfg.api_key}"} if cfg.api_key else {}
    limits = httpx.Limits(max_connections=cfg.concurrency, max_keepalive_connections=cfg.concurrency)
    writer = Writer(out)
    try:
        async with httpx.AsyncClient(
            base_url=base_url(cfg.url), headers=headers, timeout=cfg.timeout_s, limits=limits, transport=transport
        ) as client:
            await Run(client, cfg, summary, done, writer, bar).go(inp)
    finally:
        writer.close()
        bar.close()
        summary.elapsed_s = time.monotonic() - started
    return summary


@dataclass
class Run:
    """One run's moving parts: a reader that feeds a bounded queue, and ``concurrency`` senders."""

    client: httpx.AsyncClient
    cfg: ScoreConfig
    summary: Summary
    done: Done
    writer: Writer
    bar: tqdm
    streak: int = 0  # requests in a row that got no answer

    async def go(self, inp: Path) -> None:
        """Read and send until every line is written, or until one task fails (then stop the others)."""
        queue: asyncio.Queue = asyncio.Queue(maxsize=2 * self.cfg.concurrency)  # the file is read as it is sent
        tasks = [asyncio.ensure_future(self.read(inp, queue))]
        tasks += [asyncio.ensure_future(self.sender(queue)) for _ in range(self.cfg.concurrency)]
        try:
            finished, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in finished:
                task.result()  # the first failure, raised
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def read(self, inp: Path, queue: asyncio.Queue) -> None:
        """Queue each good line not yet in the output; write each bad one's error line at once."""
        for item in inputs.read(inp, self.cfg.intrinsic):
            bad = isinstance(item, inputs.BadLine)
            before = self.done.get(item.custom_id, item.line if bad else None)
            if before is not None:
                self.finish(before, skipped=True)
            elif bad:
                record = error_line(item)
                self.writer.write(record)
                self.finish(record)
            else:
                await queue.put(item)
        for _ in range(self.cfg.concurrency):
            await queue.put(None)  # one end marker per sender

    async def sender(self, queue: asyncio.Queue) -> None:
        """Send queued requests one at a time until the end marker."""
        while (req := await queue.get()) is not None:
            try:
                resp = await send(self.client, self.cfg, req.body)
            except NoAnswer as exc:
                self.streak += 1
                self.summary.lines += 1
                self.summary.unanswered += 1
                self.bar.write(
                    f"line {req.line} ({req.custom_id}): no answer, {exc}; a rerun sends it again", file=sys.stderr
                )
                self.bar.update(1)
                if self.streak >= self.cfg.max_unanswered:
                    raise BatchError(
                        f"{self.streak} requests in a row got no answer from {self.client.base_url}; last: {exc}"
                    ) from None
                continue
            self.streak = 0
            record = answer_line(req.custom_id, resp)
            self.writer.write(record)
            self.finish(record)

    def finish(self, record: dict, *, skipped: bool = False) -> None:
        """Count a line that is in the output now, and move the bar."""
        self.summary.add(record, skipped=skipped)
        self.bar.update(1)
        if self.summary.failed:
            self.bar.set_postfix_str(f"failed {self.summary.failed}", refresh=False)
