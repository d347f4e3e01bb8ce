"""``granite-certainty switch-layout DIR [--url GATEWAY]``: write the Granite Switch folder a client
such as mellea reads (``adapter_index.json``, ``io_configs/<adapter>/io.yaml``), fetched from a
running gateway's ``GET /switch-layout/...``. The gateway is not trusted with the local disk: an
entry whose io.yaml path is not its own ``io_configs/<adapter>/io.yaml`` inside DIR is refused."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import httpx
import orjson

from .layout import INDEX, io_config_path

#: Where ``switch-layout`` looks for a gateway when given no ``--url``.
DEFAULT_URL = "http://127.0.0.1:8000"


class LayoutError(Exception):
    """The gateway's layout cannot be fetched or written; the message says why."""


def fetch_layout(url: str, api_key: str | None, *, transport: httpx.BaseTransport | None = None) -> dict[str, bytes]:
    """The layout's files (path relative to the folder → bytes) from the gateway at ``url``."""
    headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
    base = url.rstrip("/").removesuffix("/v1") + "/switch-layout/"
    with httpx.Client(base_url=base, headers=headers, timeout=30, transport=transport) as client:
        index = get(client, INDEX)
        files = {INDEX: index}
        for path in io_config_paths(index):
            files[path] = get(client, path)
    return files


def get(client: httpx.Client, path: str) -> bytes:
    """One file of the layout; ``LayoutError`` for an answer that is not one."""
    try:
        resp = client.get(path)
    except httpx.HTTPError as exc:
        raise LayoutError(f"cannot reach {client.base_url}{path}: {exc}") from None
    if resp.status_code != 200:
        raise LayoutError(f"GET {resp.request.url} answered {resp.status_code}: {resp.text[:300]}")
    return resp.content


def io_config_paths(index: bytes) -> list[str]:
    """The io.yaml paths ``adapter_index.json`` lists, each checked to be its adapter's own."""
    try:
        entries = orjson.loads(index)["adapters"]
        pairs = [(e["adapter_name"], e["io_config"]) for e in entries]
    except (orjson.JSONDecodeError, TypeError, KeyError) as exc:
        raise LayoutError(f"{INDEX} is not an adapter index ({type(exc).__name__}: {exc})") from None
    for name, path in pairs:
        if not isinstance(name, str) or path != io_config_path(name) or ".." in Path(path).parts:
            raise LayoutError(f"{INDEX}: the entry of {name!r} names the io.yaml {path!r}, not its own")
    return [path for _, path in pairs]


def write_layout(folder: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` under ``folder`` (created), each inside it."""
    root = folder.resolve()
    for rel, content in files.items():
        target = (root / rel).resolve()
        if not target.is_relative_to(root):
            raise LayoutError(f"{rel!r} lies outside {folder}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def run(args: argparse.Namespace) -> int:
    """Fetch the layout from the gateway and write it; 1 with the reason when that fails."""
    try:
        files = fetch_layout(args.url, args.api_key)
        write_layout(Path(args.dir), files)
    except (LayoutError, OSError) as exc:
        print(f"granite-certainty switch-layout: {exc}", file=sys.stderr)
        return 1
    print(
        f"wrote {len(files) - 1} adapter(s) to {args.dir} ({INDEX}, io_configs/); mellea: adapter_source={args.dir!r}"
    )
    return 0


def add_switch_layout_parser(sub) -> None:
    """Add ``switch-layout`` to the ``granite-certainty`` subcommands ``sub``."""
    p = sub.add_parser("switch-layout", help="write the Granite Switch folder (for mellea) of a gateway's adapters")
    p.add_argument("dir", help="the folder to write (created if missing)")
    p.add_argument("--url", default=DEFAULT_URL, help=f"the gateway (default {DEFAULT_URL})")
    p.add_argument(
        "--api-key",
        default=os.environ.get("GRANITE_CERTAINTY_API_KEY") or os.environ.get("OPENAI_API_KEY"),
        help="bearer token (default: $GRANITE_CERTAINTY_API_KEY, else $OPENAI_API_KEY)",
    )
    p.set_defaults(func=run)
