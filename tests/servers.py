"""A raw HTTP/1.1 server on 127.0.0.1 for scrape tests.

It writes responses byte for byte, so tests can send what real exporters and proxies
send when things go wrong: short bodies, cut chunked streams, HTML login pages.
"""

from __future__ import annotations

import gzip
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Responder = Callable[[socket.socket], None]


def response(
    status: str,
    body: bytes,
    headers: dict[str, str] | None = None,
    *,
    length: int | None = None,
) -> Responder:
    """A complete response, or one whose Content-Length lies (``length``)."""

    def send(conn: socket.socket) -> None:
        head = {
            "Content-Type": "text/plain; version=0.0.4; charset=utf-8",
            "Content-Length": str(len(body) if length is None else length),
            "Connection": "close",
        }
        head.update(headers or {})
        lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in head.items() if v]
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    return send


def gzipped(body: bytes) -> Responder:
    return response("200 OK", gzip.compress(body), {"Content-Encoding": "gzip"})


def chunked_cut(parts: list[bytes]) -> Responder:
    """A chunked body whose terminating zero-length chunk never comes."""

    def send(conn: socket.socket) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        for part in parts:
            conn.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")

    return send


def sequence(*responders: Responder) -> Responder:
    """Each request gets the next responder; the last one repeats."""
    served = [0]
    lock = threading.Lock()

    def send(conn: socket.socket) -> None:
        with lock:
            chosen = responders[min(served[0], len(responders) - 1)]
            served[0] += 1
        chosen(conn)

    return send


def slow(seconds: float, then: Responder) -> Responder:
    def send(conn: socket.socket) -> None:
        time.sleep(seconds)
        then(conn)

    return send


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        conn: socket.socket = self.request
        conn.settimeout(5)
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        request_line, _, rest = data.partition(b"\r\n")
        path = request_line.split(b" ")[1].decode()
        self.server.requests.append((path, rest.split(b"\r\n\r\n")[0].decode()))
        responder = self.server.routes.get(path, response("404 Not Found", b"no\n"))
        responder(conn)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, routes: dict[str, Responder]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes = routes
        self.requests: list[tuple[str, str]] = []


@contextmanager
def serve(routes: dict[str, Responder]) -> Iterator[_Server]:
    """Serve ``routes`` (path to responder) on 127.0.0.1 until the block ends."""
    server = _Server(routes)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def base_url(server: _Server) -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}"


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (a small race, fine for tests)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
