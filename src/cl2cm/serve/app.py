"""The FastAPI app of `cl2cm serve`: the page `/`, the JSON API under `/api/`, `/image/<id>`, `/health`.

Every error is a one-line JSON object `{"error": "..."}` with a 4xx status (5xx only for a bug or a full
queue), and nothing about the machine leaks into it: no paths, no tracebacks. The interactive OpenAPI
pages are off (they load scripts from a CDN).
"""

from __future__ import annotations

import asyncio
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
from starlette.requests import ClientDisconnect

from cl2cm.features import DEFAULT_MAX_PIXELS
from cl2cm.langid import query_language, warm_up
from cl2cm.retrieval.langcheck import languages_of
from cl2cm.serve.images import ThumbnailCache
from cl2cm.serve.index import GalleryState, SearchIndex
from cl2cm.serve.pool import BoundedPool
from cl2cm.serve.query import (
    MAX_K,
    MAX_QUERY_CHARS,
    BadRequest,
    parse_item_params,
    parse_k,
    parse_search_params,
    query_params,
)

log = logging.getLogger("cl2cm.serve")

PAGE = resources.files("cl2cm.serve").joinpath("page.html").read_text(encoding="utf-8")
_SCRIPT = re.search(r"<script>(.*?)</script>", PAGE, re.S)
assert _SCRIPT is not None, "page.html has one inline <script>"
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.group(1).encode("utf-8")).digest()).decode("ascii")
# The page may only run its own inline script, talk to this server and show its images.
PAGE_CSP = (f"default-src 'none'; script-src 'sha256-{_SCRIPT_HASH}'; style-src 'unsafe-inline'; "
            "img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def _name(path: Path | None) -> str | None:
    """A directory's own name: /health must not tell clients where the server's files live."""
    return None if path is None else Path(path).name


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": " ".join(message.split())}, status_code=status, headers=headers)


LARGE_SIDE = 768  # the result view's image, longest side in pixels
MAX_UPLOAD_BYTES = 10 * 1024 * 1024


def create_app(index: SearchIndex, *, root: Path | None = None, workers: int = 2, max_pending: int = 256,
               max_k: int = MAX_K, thumbnails: ThumbnailCache | None = None,
               captions: dict[str, list[dict[str, str]]] | None = None, examples: list[str] | None = None,
               max_upload_bytes: int = MAX_UPLOAD_BYTES, reload_every: float = 0.0) -> FastAPI:
    """The app serving `index`; images come from `root` (none served without it).

    `captions` (gallery id → [{"lang", "text"}]) feed the result view, `examples` the page's example
    queries; `reload_every` > 0 checks the store's manifest that often (seconds) and swaps in a grown
    gallery (`SearchIndex.reload_if_changed`)."""
    pool = BoundedPool(workers, max_pending)
    videos = index.snapshot().kind == "videos"
    thumbs = thumbnails or (ThumbnailCache(root, videos=videos) if root is not None else None)
    large = ThumbnailCache(root, side=LARGE_SIDE, size=256, videos=videos) if root is not None else None
    captions = captions or {}
    languages = list(languages_of(index.gallery.model))
    rec = getattr(getattr(index.gallery.model, "config", None), "visual_encoder", None) or {}
    max_pixels = int(rec.get("max_pixels") or DEFAULT_MAX_PIXELS)

    def k_cap(state: GalleryState) -> int:
        return min(max_k, len(state))

    async def reload_loop() -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(reload_every)
            try:  # in the loop's default executor, never in the request pool: queries keep their workers
                if await loop.run_in_executor(None, index.reload_if_changed):
                    for cache in (thumbs, large):
                        if cache is not None:
                            cache.clear()
            except Exception:  # noqa: BLE001 - a failed reload keeps the old gallery; the log says why
                log.exception("gallery reload failed")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        warm_up()
        task = asyncio.create_task(reload_loop()) if reload_every > 0 else None
        yield
        if task is not None:
            task.cancel()
        pool.shutdown()

    app = FastAPI(title="cl2cm search", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.index, app.state.pool, app.state.k_cap = index, pool, k_cap(index.snapshot())
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

    def results(state: GalleryState, hits: list[tuple[str, float]], **fields: object) -> dict[str, object]:
        cap = k_cap(state)
        return {**fields, "version": state.version, "kind": state.kind, "max_k": cap, "results": [
            {"id": item, "score": score, "thumbnail": f"/image/{quote(item, safe='')}" if thumbs else None}
            for item, score in hits]}

    @app.get("/health")
    async def health() -> dict[str, object]:
        state = index.snapshot()
        return {"status": "ok", "model": _name(index.model_dir), "store": _name(index.features), "rows": len(state),
                "dim": int(state.gallery.emb.shape[1]), "device": str(index.device), "index": index.describe(),
                "max_k": k_cap(state), "images": thumbs is not None, "workers": pool.workers,
                "version": state.version}

    @app.get("/api/info")
    async def info() -> dict[str, object]:
        """What the page needs to draw itself: the model's languages, examples, what the gallery offers."""
        state = index.snapshot()
        reason = index.image_search_unavailable()
        return {"rows": len(state), "max_k": k_cap(state), "kind": state.kind, "version": state.version,
                "languages": languages, "examples": examples or [], "captions": bool(captions),
                "images": thumbs is not None, "image_search": reason is None, "image_search_reason": reason,
                "max_upload_bytes": max_upload_bytes}

    @app.get("/api/search")
    async def api_search(request: Request) -> dict[str, object]:
        state = index.snapshot()
        text, k = parse_search_params(request.scope.get("query_string", b""), max_k=k_cap(state),
                                      max_chars=MAX_QUERY_CHARS)
        hits = await pool.run(index.search, text, k, state)
        return results(state, hits, query=text, k=k, language=query_language(text, languages).as_dict())

    @app.get("/api/similar")
    async def api_similar(request: Request) -> dict[str, object]:
        state = index.snapshot()
        item, k = parse_item_params(request.scope.get("query_string", b""), max_k=k_cap(state))
        hits = await pool.run(index.similar, item, k, state)
        return results(state, hits, like=item, k=k)

    @app.get("/api/item")
    async def api_item(request: Request) -> dict[str, object]:
        state = index.snapshot()
        item, _ = parse_item_params(request.scope.get("query_string", b""))
        if item not in state.row_of:
            raise BadRequest("unknown id: not an item of the gallery", 404)
        ref = quote(item, safe="")
        return {"id": item, "kind": state.kind, "captions": captions.get(item, []),
                "thumbnail": f"/image/{ref}" if thumbs else None,
                "image": f"/image/{ref}?size=large" if large else None}

    @app.post("/api/search-image")
    async def api_search_image(request: Request) -> dict[str, object]:
        """The raw image file as the request body (any image Content-Type); `?k=K` as for /api/search."""
        state = index.snapshot()
        k = parse_k(query_params(request.scope.get("query_string", b""), ("k",)), max_k=k_cap(state))
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_upload_bytes:
            raise BadRequest(f"upload too large: at most {max_upload_bytes} bytes", 413)
        body = bytearray()
        try:
            async for chunk in request.stream():
                body += chunk
                if len(body) > max_upload_bytes:
                    raise BadRequest(f"upload too large: at most {max_upload_bytes} bytes", 413)
        except ClientDisconnect:  # the client went away mid-upload: a client mistake, not a traceback in the log
            raise BadRequest("the upload was cut off (the client disconnected)", 400) from None
        hits = await pool.run(lambda: index.search_image(bytes(body), k, max_pixels=max_pixels, state=state))
        return results(state, hits, image=True, k=k)

    @app.get("/image/{item:path}")
    async def image(item: str, request: Request) -> Response:
        if thumbs is None or large is None:
            raise BadRequest("no image root: the server was started without --root", 404)
        if item not in index.snapshot().row_of:
            raise BadRequest("unknown image id", 404)
        size = query_params(request.scope.get("query_string", b""), ("size",)).get("size", "thumb")
        if size not in ("thumb", "large"):
            raise BadRequest("size: expected thumb or large")
        data, media_type = await pool.run((large if size == "large" else thumbs).get, item)
        return Response(data, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})

    return app
