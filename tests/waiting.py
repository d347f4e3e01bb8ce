"""One way for a test to wait for something that happens in another thread or process."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T], timeout_s: float, what: str | Callable[[], str], *, poll_s: float = 0.02
) -> T:
    """Poll ``condition`` every ``poll_s`` seconds until it holds, and return its (true) value.

    Still false after ``timeout_s`` seconds (checked once more at the end): the test fails with
    ``what`` awaited, the thing that did not happen (a function: called then, e.g. for a log's tail)."""
    deadline = time.monotonic() + timeout_s
    while not (held := condition()):
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout_s} s: {what() if callable(what) else what}")
        time.sleep(poll_s)
    return held
