"""Run the app with uvicorn on a socket bound here, so a taken port or bad host is one clear error."""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable
from typing import Any

from cl2cm.errors import UserError

LOCALHOST = "127.0.0.1"


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: any free port); a user error when it cannot be bound."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UserError(f"--host {host!r}: not an address of this machine ({exc.strerror})") from None
    family, _, proto, _, addr = infos[0]
    # proto must say TCP: asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP, and without it
    # every keep-alive response whose headers and body go out in two writes stalls 40 ms (Nagle + delayed ACK).
    sock = socket.socket(family, socket.SOCK_STREAM, proto or socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(addr)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UserError(f"--port {port}: {host}:{port} is already in use (pick another --port)") from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise UserError(f"--port {port}: not allowed to listen there (ports below 1024 need root)") from None
        raise UserError(f"--host {host} --port {port}: cannot listen ({exc.strerror})") from None
    sock.set_inheritable(True)
    return sock


def make_server(app: object, *, log_level: str = "warning", access_log: bool = False,
                on_started: Callable[[], None] | None = None) -> Any:
    """A `uvicorn.Server` for `app` (call `.run(sockets=[sock])`; set `.should_exit` to stop it)."""
    import uvicorn

    class _Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started and on_started is not None:
                on_started()

    return _Server(uvicorn.Config(app, log_level=log_level, access_log=access_log, lifespan="on",
                                  timeout_keep_alive=5, server_header=False))


def run_server(app: object, sock: socket.socket, *, log_level: str = "warning", access_log: bool = False,
               on_started: Callable[[], None] | None = None) -> None:
    """Serve `app` on `sock` until SIGINT/SIGTERM (uvicorn's graceful shutdown); blocks."""
    make_server(app, log_level=log_level, access_log=access_log, on_started=on_started).run(sockets=[sock])


def url_of(sock: socket.socket) -> str:
    """http://host:port/ of a bound socket (IPv6 hosts in brackets)."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"
