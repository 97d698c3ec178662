"""`cl2cm serve`: the search model behind a local HTTP API and a one-page search UI.

The library part: `SearchIndex` (a student + its gallery, ranked exactly as `cl2cm search` ranks),
`ThumbnailCache` (image ids → thumbnails, resolved only inside the image root), `create_app` (the FastAPI
app) and `run_server`. FastAPI and uvicorn come with the optional extra ``serve``; only `create_app` and
`run_server` import them.
"""

from cl2cm.serve.images import ThumbnailCache, resolve_in_root
from cl2cm.serve.index import SearchIndex
from cl2cm.serve.query import DEFAULT_K, MAX_K, MAX_QUERY_CHARS, BadRequest, parse_search_params

__all__ = [
    "DEFAULT_K", "MAX_K", "MAX_QUERY_CHARS", "BadRequest", "SearchIndex", "ThumbnailCache", "parse_search_params",
    "resolve_in_root",
]
