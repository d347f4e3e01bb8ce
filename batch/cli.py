"""``granite-certainty score``: score many (conversation, answer) pairs through a running gateway.

granite-certainty score IN.jsonl --out OUT.jsonl --url URL [--concurrency C] [--api-key KEY]

Exit status: 0 when every line of IN has a 200 answer in OUT; 1 when some line failed (a bad line,
an HTTP error, no answer) or the run stopped (key refused, gateway unreachable); 2 for a usage
error; 130 when interrupted. Run the same command again to resume.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

PROG = "granite-certainty score"


def default_api_key() -> str | None:
    """``$GRANITE_CERTAINTY_API_KEY``, else ``$OPENAI_API_KEY`` (what an OpenAI client of the gateway has set)."""
    return os.environ.get("GRANITE_CERTAINTY_API_KEY") or os.environ.get("OPENAI_API_KEY") or None


def add_score_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``score`` command to the CLI's subparsers."""
    s = sub.add_parser(
        "score",
        help="score a JSONL file of conversations (or OpenAI Batch API lines) through a running gateway",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("input", metavar="IN.jsonl", help='plain {"messages": [...]} lines or OpenAI Batch API lines')
    s.add_argument("--out", required=True, help="OpenAI Batch output lines, appended; an existing file is resumed")
    s.add_argument("--url", required=True, help="the gateway, e.g. http://127.0.0.1:8000")
    s.add_argument("--concurrency", type=int, default=8, help="requests in flight at once (default 8)")
    s.add_argument(
        "--api-key",
        default=default_api_key(),
        help="bearer token (default: $GRANITE_CERTAINTY_API_KEY, else $OPENAI_API_KEY)",
    )
    s.add_argument("--intrinsic", default="uncertainty", help="the model plain lines are sent to (default uncertainty)")
    s.add_argument("--timeout", type=float, default=300.0, help="seconds per request (default 300)")
    s.add_argument("--retries", type=int, default=5, help="retries of a 429, a 503 or no answer (default 5)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.set_defaults(func=score)
    return s


def fail(message: str, status: int) -> int:
    """Print a user error on one line (no traceback); the exit status."""
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return status


def score(args: argparse.Namespace) -> int:
    """Run the batch and print its summary; the exit status above."""
    from .output import BatchError
    from .runner import ScoreConfig, Summary, run

    if args.concurrency < 1:
        return fail(f"--concurrency must be at least 1, not {args.concurrency}", 2)
    if args.retries < 0 or args.timeout <= 0:
        return fail("--retries must be at least 0 and --timeout more than 0", 2)
    inp, out = Path(args.input), Path(args.out)
    if not inp.is_file():
        return fail(f"{inp}: no such file", 2)
    if out.exists() and inp.resolve() == out.resolve():
        return fail("--out must not be the input file", 2)
    cfg = ScoreConfig(
        url=args.url,
        api_key=args.api_key,
        intrinsic=args.intrinsic,
        concurrency=args.concurrency,
        timeout_s=args.timeout,
        retries=args.retries,
        progress=not args.no_progress,
    )
    summary = Summary()
    try:
        asyncio.run(run(inp, out, cfg, summary))
    except BatchError as exc:
        print(f"{PROG}: {summary.text(out)}")
        return fail(str(exc), 1)
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    print(f"{PROG}: {summary.text(out)}")
    return 1 if summary.failed else 0
