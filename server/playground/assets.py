"""The playground's files, shipped inside the package (``static/``): plain HTML, CSS and JS
modules, no build step and nothing fetched from elsewhere at run time.

Only the files of ``static/`` with a known type are served, looked up by name (never as a path):
nothing outside the folder can be asked for, and a request names a file or gets 404.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi.responses import FileResponse
from starlette.exceptions import HTTPException

STATIC = Path(__file__).resolve().parent / "static"
PAGE = "index.html"

#: The types the page's files are sent with (JS modules need a JavaScript type to run at all).
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}

#: The page may load and call only its own origin: the guarantee that it needs no network
#: beyond the gateway, kept by the browser (the favicon is an inline ``data:`` image).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # Revalidated on every load (ETag), so a new gateway version's page is never mixed with old modules.
    "Cache-Control": "no-cache",
}


@cache
def served_files() -> dict[str, Path]:
    """Name → file, for every file of ``static/`` that has a known type (read once: the package does not change)."""
    return {p.name: p for p in sorted(STATIC.iterdir()) if p.is_file() and p.suffix in MEDIA_TYPES}


def file_response(name: str) -> FileResponse:
    """The file called ``name`` in ``static/`` with its type and the page's headers; 404 for any other name."""
    path = served_files().get(name)
    if path is None:
        raise HTTPException(404, f"The playground has no file named {name!r}.")
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=HEADERS)


def page() -> FileResponse:
    """The playground's page itself."""
    return file_response(PAGE)
