"""`cl2cm serve`: parse flags, load the search index once, serve it over HTTP until Ctrl-C."""

from __future__ import annotations

from contextlib import nullcontext, suppress
from pathlib import Path
from typing import Annotated

import typer

from cl2cm.cli.app import AT_LEAST_1, NON_NEGATIVE, DeviceOpt, QuietOpt, Range, app, console, err_console
from cl2cm.errors import UserError


@app.command("serve")
def serve_cmd(
    model: Annotated[Path, typer.Option("--model", help="Student model directory.")],
    features: Annotated[Path, typer.Option("--features", help="Feature store of the visual items.")],
    root: Annotated[Path | None, typer.Option("--root", help="Image folder (ids are paths under it); "
                                              "without it no thumbnails are served.")] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on; 0.0.0.0 exposes the server to "
                                      "other machines.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", callback=Range(0, 65535),
                                      help="TCP port (0: any free port, printed at start).")] = 8000,
    workers: Annotated[int, typer.Option("--workers", callback=Range(1, 64),
                                         help="Threads that encode, score and make thumbnails.")] = 2,
    max_k: Annotated[int, typer.Option("--max-k", callback=Range(1, 10000),
                                       help="Largest k a request may ask for.")] = 100,
    max_pending: Annotated[int, typer.Option("--max-pending", callback=AT_LEAST_1,
                                             help="Requests that may wait for a worker; more are answered 503.")
                           ] = 256,
    index: Annotated[str, typer.Option("--index", help="exact (cl2cm search's ranking) or ivf (approximate, "
                                       "faiss IVF-Flat; needs the 'ann' extra).")] = "exact",
    nlist: Annotated[int, typer.Option("--nlist", callback=NON_NEGATIVE,
                                       help="--index ivf: number of lists (0: about √rows).")] = 0,
    nprobe: Annotated[int, typer.Option("--nprobe", callback=AT_LEAST_1,
                                        help="--index ivf: lists scored per query (recall vs speed).")] = 32,
    access_log: Annotated[bool, typer.Option("--access-log", help="Log every request to stderr.")] = False,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
) -> None:
    """Search the gallery over HTTP: a search page at /, JSON at /api/search?q=TEXT&k=K, images at /image/ID.

    The ranking is exactly that of `cl2cm search` with the same --model and --features.

    Example:

        cl2cm serve --model runs/demo/student --features runs/demo/features/test \\
            --root runs/demo/world/images/test --port 8000
    """
    from cl2cm.serve.index import INDEX_KINDS
    from cl2cm.serve.server import bind_socket, run_server, url_of

    if index not in INDEX_KINDS:
        raise UserError(f"--index {index!r}: expected one of {', '.join(INDEX_KINDS)}")
    if root is not None and not root.is_dir():
        raise UserError("--root: not a directory", path=root)
    try:
        from cl2cm.serve.app import create_app
    except ImportError as exc:
        raise UserError(f"cl2cm serve needs the 'serve' extra ({exc.name} is missing): "
                        "pip install 'cl2cm[serve]'") from None
    from cl2cm.serve import SearchIndex

    sock = bind_socket(host, port)  # before loading: a taken port fails in a second, not after the model
    try:
        with console.status("loading model and gallery", spinner="dots") if not quiet else nullcontext():
            options = {"nlist": nlist, "nprobe": nprobe} if index == "ivf" else {}
            search_index = SearchIndex.load(model, features, device=device, index=index, **options)
    except BaseException:
        sock.close()
        raise
    web_app = create_app(search_index, root=root, workers=workers, max_pending=max_pending, max_k=max_k)
    url = url_of(sock)

    def started() -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            err_console.print(f"warning: listening on {host}: reachable from other machines", highlight=False)
        if not quiet:
            console.print(f"cl2cm serve: {len(search_index)} items from {features} on {search_index.device} "
                          f"({search_index.describe()}); open {url} (Ctrl-C to stop)", highlight=False,
                          soft_wrap=True)

    # uvicorn shuts down gracefully on Ctrl-C, then re-raises it: here that is the normal end
    with suppress(KeyboardInterrupt):
        run_server(web_app, sock, log_level="info" if access_log else "warning", access_log=access_log,
                   on_started=started)
    if not quiet:
        console.print("cl2cm serve: stopped", highlight=False)

