"""The ThreatStream page: a static shell (HTML, CSS, JS, icons) served by the plugin's app.

The shell holds no data: the page's script reads everything from the authenticated API with
``fetch()`` and relative URLs, so it works under any prefix (a reverse proxy, Airflow's
``base_url``). On Airflow 3.1+ the plugin's ``external_views`` entry shows it in the
navigation (in a frame); on 3.0 it is reachable at ``<api-server>/threatstream/ui/``.

Files are read once, at app creation, from the package's ``ui/`` folder (with
:mod:`importlib.resources`, so also from a zipped plugins folder); each is answered with its
content type, a strong ETag (304 when unchanged) and a Content-Security-Policy that allows
only the page's own origin.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import RedirectResponse

log = logging.getLogger(__name__)

#: Where the page's files live in the package.
UI_DIR: Traversable = files("threatstream.api").joinpath("ui")
#: The page's path inside the app (under the plugin's ``URL_PREFIX``).
PAGE_PATH = "/ui/"
#: Content types of the files the page is made of.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
#: Same origin only: no inline script, no third-party host; framed only by Airflow's own UI.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)


@dataclass(frozen=True)
class PageFile:
    """One file of the page, as answered."""

    body: bytes
    content_type: str
    etag: str


def _suffix(name: str) -> str:
    return "." + name.rsplit(".", 1)[-1] if "." in name else ""


def page_files(directory: Traversable = UI_DIR) -> dict[str, PageFile]:
    """Every file of the page by name (``index.html`` is the page itself).

    :raises FileNotFoundError: ``index.html`` is not in ``directory``.
    """
    found: dict[str, PageFile] = {}
    if directory.is_dir():
        for path in sorted(directory.iterdir(), key=lambda item: item.name):
            if path.is_file() and _suffix(path.name) in CONTENT_TYPES:
                body = path.read_bytes()
                etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
                found[path.name] = PageFile(body, CONTENT_TYPES[_suffix(path.name)], etag)
    if "index.html" not in found:
        raise FileNotFoundError(f"the ThreatStream page is missing from {directory}")
    return found


def add_page(app: FastAPI, directory: Traversable = UI_DIR) -> None:
    """Serve the page at :data:`PAGE_PATH` (and its files next to it) without authentication:
    the shell holds no data, and its script shows a login link when the API answers 401.

    A deployment that lost the page's files keeps its API: the page's URLs answer 404 with
    the reason, and a warning is logged once.
    """
    try:
        served = page_files(directory)
    except FileNotFoundError as err:
        log.warning("ThreatStream page not served: %s", err)
        served = {}

    def answer(request: Request, name: str) -> Response:
        page_file = served.get(name)
        if page_file is None:
            detail = "no such file" if served else "the ThreatStream page's files are not deployed"
            raise HTTPException(404, detail)
        headers = {
            "ETag": page_file.etag,
            "Cache-Control": "no-cache",  # revalidated on each load: a 304 unless the plugin changed
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "Referrer-Policy": "same-origin",
        }
        if page_file.etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(page_file.body, media_type=page_file.content_type, headers=headers)

    @app.get(PAGE_PATH.rstrip("/"), include_in_schema=False)
    def page_without_slash() -> RedirectResponse:
        # Relative, so that it also holds behind a proxy that mounts Airflow under a prefix.
        return RedirectResponse(PAGE_PATH.strip("/").rsplit("/", 1)[-1] + "/", status_code=307)

    @app.get(PAGE_PATH, include_in_schema=False)
    def page(request: Request) -> Response:
        return answer(request, "index.html")

    @app.get(PAGE_PATH + "{name}", include_in_schema=False)
    def page_file(request: Request, name: str) -> Response:
        return answer(request, name)
