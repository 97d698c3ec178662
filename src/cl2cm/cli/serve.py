"""`cl2cm serve`: parse flags, load the search index once, serve it over HTTP until Ctrl-C."""

from __future__ import annotations

from contextlib import nullcontext

from cl2cm import interrupts
from cl2cm.cli.app import QuietOpt, app, console, err_console
from cl2cm.cli.options import configured
from cl2cm.config import check_fields
from cl2cm.config.query import ServeConfig
from cl2cm.errors import UserError


@app.command("serve")
@configured
def serve_cmd(*, config: ServeConfig, quiet: QuietOpt = False) -> None:
    """Search the gallery over HTTP: a search page at /, JSON at /api/search?q=TEXT&k=K, images at /image/ID.

    The ranking is exactly that of `cl2cm search` with the same --model and --features.

    Example:

        cl2cm serve --model runs/demo/student --features runs/demo/features/test --root runs/demo/world/images/test --port 8000
    """
    from cl2cm.serve.server import bind_socket, is_loopback, run_server, url_of

    c = config
    host, root, features = c.host, c.root, c.features
    check_fields(c)
    if root is not None and not root.is_dir():
        raise UserError("--root: not a directory", path=root)
    try:
        from cl2cm.serve.app import create_app
    except ImportError as exc:
        raise UserError(f"cl2cm serve needs the 'serve' extra ({exc.name} is missing): "
                        "pip install 'cl2cm[serve]'") from None
    from cl2cm.retrieval.langcheck import describe, languages_of
    from cl2cm.serve import SearchIndex
    from cl2cm.serve.captions import load_examples, load_item_captions

    for path in c.captions:
        if not path.is_file():
            raise UserError("--captions: not a file", path=path)

    sock = bind_socket(host, c.port)  # before loading: a taken port fails in a second, not after the model
    try:
        with console.status("loading model and gallery", spinner="dots") if not quiet else nullcontext():
            options = {"nlist": c.nlist, "nprobe": c.nprobe} if c.index == "ivf" else {}
            search_index = SearchIndex.load(c.model, features, device=c.device, index=c.index, **options)
        item_captions = load_item_captions(c.captions, search_index.gallery.ids)
        example_queries = load_examples(c.examples, item_captions, list(languages_of(search_index.gallery.model)),
                                        search_index.gallery.ids)
    except BaseException:
        sock.close()
        raise
    web_app = create_app(search_index, root=root, workers=c.threads, max_pending=c.max_pending, max_k=c.max_k,
                         captions=item_captions, examples=example_queries,
                         max_upload_bytes=int(c.max_upload_mb * 1024 * 1024), reload_every=c.reload_every)
    url = url_of(sock)
    try:
        interrupts.check()  # Ctrl-C during the imports or the load, swallowed by a __del__: do not start serving
    except KeyboardInterrupt:
        sock.close()
        raise

    def started() -> None:
        if not is_loopback(host):
            err_console.print(f"warning: listening on {host}: reachable from other machines", highlight=False)
        if not quiet:
            console.print(f"cl2cm serve: {len(search_index)} items from {features} on {search_index.device} "
                          f"({search_index.describe()}); model languages: "
                          f"{describe(languages_of(search_index.gallery.model))}; open {url} (Ctrl-C to stop)",
                          highlight=False,
                          soft_wrap=True)

    # uvicorn shuts down gracefully on Ctrl-C or SIGTERM, then re-raises it: here that is the normal end
    try:
        run_server(web_app, sock, log_level="info" if c.access_log else "warning", access_log=c.access_log,
                   on_started=started, limits=c.limits)
    except KeyboardInterrupt:
        interrupts.clear()
    if not quiet:
        console.print("cl2cm serve: stopped", highlight=False)

