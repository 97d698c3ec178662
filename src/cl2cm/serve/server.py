"""Run the app with uvicorn on a socket bound here, guarded against idle, half-sent and too many connections.

uvicorn alone holds a connection that never completes its request line and headers for ever, so a few
thousand idle or half-open clients exhaust the open-file limit; every real query then waits, and asyncio
logs one traceback per failed `accept`. `GuardedH11Protocol` adds what a public server needs:

- a header-read timeout: a request's line and headers must arrive within `header_timeout` seconds of the
  connection (or, on a kept-alive connection, of the first byte of the next request); else 408 / close;
- a cap on open connections: beyond `max_connections`, the longest-waiting connection that has no request
  in progress is closed to make room, so idle and half-sent clients can never starve real queries; if
  every connection is busy with a request, the new one gets a one-line JSON 503 and is closed;
- rate-limited one-line logging of resource errors (EMFILE at `accept`, repeated protocol warnings).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import signal
import socket
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from cl2cm.config.query import ConnectionLimits  # noqa: F401  (the config's home)
from cl2cm.errors import UserError

LOCALHOST = "127.0.0.1"
MAX_HEAD_BYTES = 16 * 1024  # request line + headers (h11's own limit): beyond it a JSON 414/431
DRAIN_SECONDS = 2.0  # after a refusal, how long the rest of an over-long request is read and dropped
FD_RESERVE = 64  # file descriptors kept free for images, the model and the log beside the connections


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
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UserError(f"--port {port}: {host}:{port} is already in use (pick another --port)") from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise UserError(f"--port {port}: not allowed to listen there (ports below 1024 need root)") from None
        raise UserError(f"--host {host} --port {port}: cannot listen ({exc.strerror})") from None
    sock.set_inheritable(True)
    return sock


def is_loopback(host: str) -> bool:
    """Whether `host` names only this machine (127.0.0.0/8, ::1, localhost): others cannot connect to it."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def fit_connection_cap(wanted: int) -> int:
    """`wanted`, or fewer if the open-file limit cannot hold that many sockets (the soft limit is raised
    towards the hard one first)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = wanted + FD_RESERVE
    if soft != resource.RLIM_INFINITY and soft < need:
        new = need if hard == resource.RLIM_INFINITY else min(need, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
            soft = new
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - FD_RESERVE))


class RateLimitedLog:
    """One line per kind of message per `every` seconds; the repeats in between are counted, not printed."""

    def __init__(self, logger: logging.Logger, every: float = 10.0, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.logger, self.every, self.clock = logger, every, clock
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def __call__(self, key: str, line: str, level: int = logging.WARNING) -> bool:
        """Log `line` unless `key` was logged less than `every` seconds ago; True when it was logged."""
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.every:
            self._held[key] = self._held.get(key, 0) + 1
            return False
        held = self._held.pop(key, 0)
        self._last[key] = now
        self.logger.log(level, line + (f" ({held} more like it not shown)" if held else ""))
        return True


_RESOURCE_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


def loop_exception_handler(log: RateLimitedLog) -> Callable[[asyncio.AbstractEventLoop, dict[str, Any]], None]:
    """An asyncio exception handler: resource errors (a failed `accept` when files run out) become one
    rate-limited line instead of a traceback each; everything else goes to asyncio's default handler."""

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in _RESOURCE_ERRNOS:
            what = context.get("message", "socket error")
            log(f"resource-{exc.errno}", f"cl2cm serve: {what}: {exc.strerror}; connections wait until some "
                f"close (see --max-connections)")
            return
        loop.default_exception_handler(context)

    return handle


class _RateLimitFilter(logging.Filter):
    """Lets a repeated warning of uvicorn's (e.g. "Invalid HTTP request received.") through once per
    interval, so garbage sent in a loop cannot grow the log without bound."""

    def __init__(self, every: float = 10.0) -> None:
        super().__init__()
        self.every = every
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            return True
        key, now = record.getMessage(), time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.every:
            self._held[key] = self._held.get(key, 0) + 1
            return False
        self._last[key] = now
        held = self._held.pop(key, 0)
        if held:
            record.msg, record.args = f"{key} ({held} more like it not shown)", None
        return True


def _raw_response(status: str, message: str, retry_after: bool = False) -> bytes:
    import json

    body = json.dumps({"error": message}).encode()
    head = (f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            f"connection: close\r\n" + ("retry-after: 1\r\n" if retry_after else "") + "\r\n")
    return head.encode("ascii") + body


class ConnectionGuard:
    """The server-wide state of the guard: the connections waiting for a request, oldest first."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self.cap = fit_connection_cap(limits.max_connections)
        self.waiting: OrderedDict[Any, None] = OrderedDict()
        self.refused = self.evicted = self.timed_out = 0


def _guarded_protocol_class() -> type:
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(H11Protocol):
        """uvicorn's h11 protocol plus a header-read deadline and the connection cap (`ConnectionGuard`)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.guard: ConnectionGuard = kwargs["config"].guard
            self._deadline: asyncio.TimerHandle | None = None
            self._partial = False
            self._line_done = False  # the request line has ended (later bytes are headers)
            self._discarding = False  # answered and half-closed: what the client still sends is drained
            self._in_body = False  # the request's headers are in, its body is still arriving

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            guard = self.guard
            if len(self.connections) > guard.cap:
                victim = next((p for p in guard.waiting if p is not self), None)
                if victim is None:
                    guard.refused += 1
                    self.transport.write(_raw_response("503 Service Unavailable", "too many open connections; "
                                                       "retry in a moment", retry_after=True))
                    self.transport.close()
                    self.connections.discard(self)
                    return
                guard.evicted += 1
                victim._drop()
                self.connections.discard(victim)  # closing now: it no longer counts against the cap
            self._wait(self.guard.limits.header_timeout)

        def _wait(self, seconds: float | None) -> None:
            """Enter the waiting state (no request in progress); `seconds`: the header-read deadline."""
            self.guard.waiting[self] = None
            self.guard.waiting.move_to_end(self)
            self._partial = self._line_done = False
            self._cancel_deadline()
            if seconds is not None:
                self._deadline = self.loop.call_later(seconds, self._timed_out)

        def _cancel_deadline(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _timed_out(self) -> None:
            self._deadline = None
            self.guard.timed_out += 1
            self._drop()

        def _drop(self) -> None:
            """Close a connection that has no request in progress (408 if it had started sending one)."""
            self.guard.waiting.pop(self, None)
            self._cancel_deadline()
            if not self.transport.is_closing():
                if self._partial:
                    self.transport.write(_raw_response("408 Request Timeout", f"request {'body' if self._in_body else 'headers'} "
                                                       "not received in time"))
                self.transport.close()

        def data_received(self, data: bytes) -> None:
            if self._discarding:
                return
            if self in self.guard.waiting and data:
                if not self._partial:
                    self._partial = True
                    if self._deadline is None:  # kept alive: the next request's headers have a deadline too
                        self._deadline = self.loop.call_later(self.guard.limits.header_timeout, self._timed_out)
                self._line_done = self._line_done or b"\n" in data
            super().data_received(data)

        def send_400_response(self, msg: str) -> None:
            """uvicorn's plain-text answer to what h11 cannot parse, as this server's one-line JSON; a request
            line or headers beyond h11's 16 KB limit get 414 / 431."""
            try:
                buffered = len(self.conn.trailing_data[0])
            except Exception:  # noqa: BLE001 (h11 internals: fall back to the plain 400)
                buffered = 0
            if buffered >= MAX_HEAD_BYTES and not self._line_done:
                self._refuse("414 URI Too Long", "request line over 16 KB (q holds at most 500 characters)")
            elif buffered >= MAX_HEAD_BYTES:
                self._refuse("431 Request Header Fields Too Large", "request headers over 16 KB")
            else:
                self._refuse("400 Bad Request", "invalid HTTP request (malformed, or a request line that is not "
                             "ASCII: percent-encode the query)")

        def _refuse(self, status: str, message: str) -> None:
            """Answer, half-close, and drain what the client is still sending for a moment before closing, so
            it reads the answer instead of a connection reset (closing with unread bytes sends RST)."""
            self.guard.waiting.pop(self, None)
            self._cancel_deadline()
            self._discarding = True
            self.transport.write(_raw_response(status, message))
            if self.transport.can_write_eof():
                self.transport.write_eof()
            self.loop.call_later(DRAIN_SECONDS, self.transport.close)

        def handle_events(self) -> None:
            super().handle_events()
            if self.conn.their_state is h11.SEND_BODY and not self.transport.is_closing():
                # headers in, body still arriving (an upload): nothing to work on yet, so it stays evictable,
                # and a pause of `header_timeout` seconds between its bytes ends it (a 1-byte trickle held
                # --max-connections uploads open and every real query got 503)
                if self not in self.guard.waiting:
                    self.guard.waiting[self] = None
                self._partial = self._in_body = True
                self._cancel_deadline()
                self._deadline = self.loop.call_later(self.guard.limits.header_timeout, self._timed_out)
            elif self.conn.their_state is not h11.IDLE:  # the whole request is in: not waiting
                self.guard.waiting.pop(self, None)
                self._cancel_deadline()
                self._in_body = False

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                # idle keep-alive: uvicorn's keep-alive timer closes it; a request body still unsent after
                # the answer (a client holding the connection busy) gets the header deadline
                self._wait(None if self.conn.their_state is h11.IDLE else self.guard.limits.header_timeout)

        def connection_lost(self, exc: Exception | None) -> None:
            self.guard.waiting.pop(self, None)
            self._cancel_deadline()
            super().connection_lost(exc)

    return GuardedH11Protocol


class HeadAsGet:
    """ASGI wrapper: a HEAD request is answered like the GET of the same URL, headers only (FastAPI routes
    declared with GET answer HEAD with 405 otherwise)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or scope.get("method") != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


def make_server(app: object, *, log_level: str = "warning", access_log: bool = False,
                on_started: Callable[[], None] | None = None, limits: ConnectionLimits | None = None) -> Any:
    """A `uvicorn.Server` for `app` (call `.run(sockets=[sock])`; set `.should_exit` to stop it)."""
    import uvicorn

    limits = limits or ConnectionLimits()
    guard = ConnectionGuard(limits)
    protocol = _guarded_protocol_class()

    class _Config(uvicorn.Config):
        def load(self) -> None:
            super().load()
            self.http_protocol_class = protocol

    class _Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            asyncio.get_running_loop().set_exception_handler(
                loop_exception_handler(RateLimitedLog(logging.getLogger("cl2cm.serve"))))
            await super().startup(sockets=sockets)
            if self.started and on_started is not None:
                on_started()

    config = _Config(HeadAsGet(app), log_level=log_level, access_log=access_log, lifespan="on", loop="asyncio", http="h11",
                     timeout_keep_alive=limits.keep_alive, server_header=False, backlog=1024)  # type: ignore[arg-type]
    config.guard = guard  # type: ignore[attr-defined]
    logging.getLogger("uvicorn.error").addFilter(_RateLimitFilter())
    server = _Server(config)
    server.guard = guard  # type: ignore[attr-defined]
    return server


class _Terminated(KeyboardInterrupt):
    """SIGTERM, re-raised by uvicorn after its graceful shutdown: ends the server like Ctrl-C does."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated()


def run_server(app: object, sock: socket.socket, *, log_level: str = "warning", access_log: bool = False,
               on_started: Callable[[], None] | None = None, limits: ConnectionLimits | None = None) -> None:
    """Serve `app` on `sock` until SIGINT/SIGTERM (uvicorn's graceful shutdown); blocks.

    Both signals end in KeyboardInterrupt once the server has shut down (the caller's normal end)."""
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        make_server(app, log_level=log_level, access_log=access_log, on_started=on_started,
                    limits=limits).run(sockets=[sock])
    finally:
        signal.signal(signal.SIGTERM, previous)


def url_of(sock: socket.socket) -> str:
    """http://host:port/ of a bound socket (IPv6 hosts in brackets)."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"
