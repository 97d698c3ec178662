"""`cl2cm serve` before and around the server: checks, the socket, the index, the app (no printing).

The port is bound before the model loads, so a taken port fails in a second, not after the model; a
Ctrl-C during the imports or the load (swallowed by a `__del__`) stops here instead of serving.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cl2cm import interrupts
from cl2cm.config import check_fields
from cl2cm.config.query import ServeConfig
from cl2cm.errors import UserError
from cl2cm.serve.server import bind_socket, run_server, url_of

if TYPE_CHECKING:
    from cl2cm.serve.index import SearchIndex


@dataclass
class Served:
    """A loaded index behind a built app, on a bound socket: `serve_forever` runs it."""

    config: ServeConfig
    sock: socket.socket
    index: SearchIndex
    app: Any

    @property
    def url(self) -> str:
        return url_of(self.sock)

    def serve_forever(self, on_started: Callable[[], None] | None = None) -> None:
        """Serve until Ctrl-C or SIGTERM: uvicorn shuts down gracefully, then re-raises it, here the normal end."""
        c = self.config
        try:
            run_server(self.app, self.sock, log_level="info" if c.access_log else "warning",
                       access_log=c.access_log, on_started=on_started, limits=c.limits)
        except KeyboardInterrupt:
            interrupts.clear()


def load_served(config: ServeConfig, *, status: Callable[[str], AbstractContextManager[Any]] | None = None) -> Served:
    """Check the config, bind the socket, load the index and build the app (`status` wraps the load)."""
    c = config
    check_fields(c)
    if c.root is not None and not c.root.is_dir():
        raise UserError("--root: not a directory", path=c.root)
    try:
        from cl2cm.serve.app import create_app
    except ImportError as exc:
        raise UserError(f"cl2cm serve needs the 'serve' extra ({exc.name} is missing): "
                        "pip install 'cl2cm[serve]'") from None
    from cl2cm.retrieval.langcheck import languages_of
    from cl2cm.serve.captions import load_examples, load_item_captions
    from cl2cm.serve.index import SearchIndex  # torch: after the checks

    for path in c.captions:
        if not path.is_file():
            raise UserError("--captions: not a file", path=path)
    sock = bind_socket(c.host, c.port)
    try:
        with status("loading model and gallery") if status is not None else nullcontext():
            options = {"nlist": c.nlist, "nprobe": c.nprobe} if c.index == "ivf" else {}
            index = SearchIndex.load(c.model, c.features, device=c.device, index=c.index, **options)
        captions = load_item_captions(c.captions, index.gallery.ids)
        examples = load_examples(c.examples, captions, list(languages_of(index.gallery.model)), index.gallery.ids)
        app = create_app(index, root=c.root, workers=c.threads, max_pending=c.max_pending, max_k=c.max_k,
                         captions=captions, examples=examples, max_upload_bytes=int(c.max_upload_mb * 1024 * 1024),
                         reload_every=c.reload_every)
        interrupts.check()
    except BaseException:
        sock.close()
        raise
    return Served(c, sock, index, app)
