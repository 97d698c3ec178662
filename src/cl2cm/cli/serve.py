"""`cl2cm serve`: parse flags, load the search index once, serve it over HTTP until Ctrl-C."""

from __future__ import annotations

from cl2cm.cli.app import QuietOpt, app, console, err_console
from cl2cm.cli.options import configured
from cl2cm.config.query import ServeConfig


@app.command("serve")
@configured
def serve_cmd(*, config: ServeConfig, quiet: QuietOpt = False) -> None:
    """Search the gallery over HTTP: a search page at /, JSON at /api/search?q=TEXT&k=K, images at /image/ID.

    The ranking is exactly that of `cl2cm search` with the same --model and --features.

    Example:

        cl2cm serve --model runs/demo/student --features runs/demo/features/test --root runs/demo/world/images/test --port 8000
    """
    from cl2cm.serve.launch import load_served

    served = load_served(config, status=None if quiet else lambda text: console.status(text, spinner="dots"))

    def started() -> None:
        from cl2cm.retrieval.langcheck import describe, languages_of
        from cl2cm.serve.server import is_loopback

        if not is_loopback(config.host):
            err_console.print(f"warning: listening on {config.host}: reachable from other machines", highlight=False)
        if not quiet:
            index = served.index
            console.print(f"cl2cm serve: {len(index)} items from {config.features} on {index.device} "
                          f"({index.describe()}); model languages: "
                          f"{describe(languages_of(index.gallery.model))}; open {served.url} (Ctrl-C to stop)",
                          highlight=False, soft_wrap=True)

    served.serve_forever(on_started=started)
    if not quiet:
        console.print("cl2cm serve: stopped", highlight=False)
