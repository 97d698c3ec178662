"""The FastAPI app of `cl2cm serve`: `/`, `/api/search`, `/image/<id>`, `/health`.

Every error is a one-line JSON object `{"error": "..."}` with a 4xx status (5xx only for a bug or a full
queue), and nothing about the machine leaks into it: no paths, no tracebacks. The interactive OpenAPI
pages are off (they load scripts from a CDN).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from cl2cm.serve.images import ThumbnailCache
from cl2cm.serve.index import SearchIndex
from cl2cm.serve.pool import BoundedPool
from cl2cm.serve.query import MAX_K, MAX_QUERY_CHARS, BadRequest, parse_search_params

log = logging.getLogger("cl2cm.serve")

PAGE = resources.files("cl2cm.serve").joinpath("page.html").read_text(encoding="utf-8")
_SCRIPT = re.search(r"<script>(.*?)</script>", PAGE, re.S)
assert _SCRIPT is not None, "page.html has one inline <script>"
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.group(1).encode("utf-8")).digest()).decode("ascii")
# The page may only run its own inline script, talk to this server and show its images.
PAGE_CSP = (f"default-src 'none'; script-src 'sha256-{_SCRIPT_HASH}'; style-src 'unsafe-inline'; "
            "img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": " ".join(message.split())}, status_code=status, headers=headers)


def create_app(index: SearchIndex, *, root: Path | None = None, workers: int = 2, max_pending: int = 256,
               max_k: int = MAX_K, thumbnails: ThumbnailCache | None = None) -> FastAPI:
    """The app serving `index`; images come from `root` (none served without it)."""
    pool = BoundedPool(workers, max_pending)
    thumbs = thumbnails or (ThumbnailCache(root) if root is not None else None)
    k_cap = min(max_k, len(index))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        pool.shutdown()

    app = FastAPI(title="cl2cm search", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.index, app.state.pool, app.state.k_cap = index, pool, k_cap

    @app.exception_handler(BadRequest)
    async def bad_request(_: Request, exc: BadRequest) -> JSONResponse:
        return _error(exc.status, str(exc), {"Retry-After": "1"} if exc.status == 503 else None)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def internal_error(_: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error")  # the traceback goes to the server's log, never to the client
        return _error(500, "internal error")

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    @app.get("/", response_class=HTMLResponse)
    async def page() -> HTMLResponse:
        return HTMLResponse(PAGE, headers={"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-cache"})

    @app.get("/health")
    async def health() -> dict[str, object]:
        return {"status": "ok", "model": str(index.model_dir), "store": str(index.features), "rows": len(index),
                "dim": int(index.gallery.emb.shape[1]), "device": str(index.device), "index": index.describe(),
                "max_k": k_cap,
                "images": thumbs is not None, "workers": pool.workers}

    @app.get("/api/search")
    async def api_search(request: Request) -> dict[str, object]:
        text, k = parse_search_params(request.scope.get("query_string", b""), max_k=k_cap,
                                      max_chars=MAX_QUERY_CHARS)
        hits = await pool.run(index.search, text, k)
        return {"query": text, "k": k, "results": [
            {"id": item, "score": score, "thumbnail": f"/image/{quote(item, safe='')}" if thumbs else None}
            for item, score in hits]}

    @app.get("/image/{item:path}")
    async def image(item: str) -> Response:
        if thumbs is None:
            raise BadRequest("no image root: the server was started without --root", 404)
        if item not in index.row_of:
            raise BadRequest("unknown image id", 404)
        data, media_type = await pool.run(thumbs.get, item)
        return Response(data, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})

    return app
