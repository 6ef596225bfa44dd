"""A stand-in Kepler exporter on 127.0.0.1 that serves saved scrapes in turn.

:class:`ReplayExporter` answers ``GET /metrics`` with one body after another (the last
one repeats, or the list starts over with ``loop=True``), and can misbehave the ways a
real endpoint does: require a bearer token, serve TLS and require client certificates,
answer slowly, fail with HTTP 500, cut a body short under a lying ``Content-Length``,
or gzip. A failed or refused request does not use up a body, so the next good answer
is the body that was due. ``kepler-reader replay DUMP...`` runs one from the command
line until SIGTERM or SIGINT, for testing dashboards and scripts against known data.

It only ever binds 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip as gzip_module
import hmac
import http.server
import logging
import signal
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import attrs

from .dumps import read_header
from .exceptions import DumpError

__all__ = [
    "ReplayExporter",
    "ReplayTLS",
    "add_replay_command",
    "load_dump_body",
    "run_replay",
]

log = logging.getLogger(__name__)

_HOST = "127.0.0.1"
_TEXT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_OPENMETRICS_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
# promhttp's words when a collector fails, so clients see what Kepler sends.
_FAILURE = b"An error has occurred while serving metrics:\n\nreplay: request %d fails\n"


@attrs.frozen(slots=True)
class ReplayTLS:
    """The files a replay exporter serves HTTPS with.

    Attributes:
        cert_file: PEM certificate chain of the server.
        key_file: PEM private key of ``cert_file``.
        client_ca_file: PEM bundle of the CAs that sign client certificates; when
            given, a client without a certificate from one of them is refused.
    """

    cert_file: str
    key_file: str
    client_ca_file: str | None = None

    def context(self) -> ssl.SSLContext:
        """The server-side SSL context.

        Raises:
            OSError: A file cannot be read.
            ssl.SSLError: A file is not a valid certificate or key.
        """
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        if self.client_ca_file is not None:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(self.client_ca_file)
        return context


def load_dump_body(path: str | Path) -> bytes:
    """The exposition body of a saved dump: gzip undone, kepler-reader header removed.

    Raises:
        DumpError: The file cannot be read or its gzip stream is corrupt.
    """
    name = str(path)
    try:
        data = Path(name).read_bytes()
        if data.startswith(b"\x1f\x8b"):
            data = gzip_module.decompress(data)
    except (OSError, EOFError, gzip_module.BadGzipFile) as error:
        reason = getattr(error, "strerror", None) or error
        raise DumpError(
            f"{name}: cannot read the dump ({reason}).", path=name
        ) from None
    if read_header(data) is not None:
        data = data.split(b"\n", 1)[1] if b"\n" in data else b""
    return data


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        # A socket timeout makes http.server close a connection that sends nothing,
        # or half a request, for this long, so it does not keep a thread forever.
        super().setup()
        self.connection.settimeout(self.server.request_timeout)
        if isinstance(self.connection, ssl.SSLSocket):
            # The handshake runs here, on this request's thread, not in the
            # accepting loop where a silent client would block everyone.
            self.connection.do_handshake()

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != "/metrics":
            self._send(404, b"Only /metrics is served here.\n", "text/plain")
            return
        exporter = self.server.exporter
        number = exporter._count()
        if not exporter._authorized(self.headers.get("Authorization", "")):
            self._send(
                401,
                b"Unauthorized\n",
                "text/plain; charset=utf-8",
                {"WWW-Authenticate": 'Bearer realm="kepler-reader replay"'},
            )
            return
        if exporter.delay > 0:
            time.sleep(exporter.delay)
        if exporter._fails(number):
            self._send(500, _FAILURE % number, "text/plain; charset=utf-8")
            return
        body = exporter._next_body()
        kind = _OPENMETRICS_TYPE if body.rstrip().endswith(b"# EOF") else _TEXT_TYPE
        extra = {}
        accepted = self.headers.get("Accept-Encoding", "")
        if exporter.gzip and "gzip" in accepted:
            body = gzip_module.compress(body, mtime=0)
            extra["Content-Encoding"] = "gzip"
        self._send(200, body, kind, extra, cut_at=exporter.cut_at)

    def _send(
        self,
        status: int,
        body: bytes,
        kind: str,
        extra: dict[str, str] | None = None,
        *,
        cut_at: int | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        if cut_at is not None and cut_at < len(body):
            # Announce the whole body, send the start, hang up.
            self.send_header("Connection", "close")
            self.close_connection = True
            body = body[:cut_at]
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("replay %s: %s", self.address_string(), format % args)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        exporter: ReplayExporter,
        port: int,
        context: ssl.SSLContext | None,
        request_timeout: float,
    ) -> None:
        self.exporter = exporter
        self.request_timeout = request_timeout
        self._context = context
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__((_HOST, port), _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, address = self.socket.accept()
        if self._context is not None:
            conn = self._context.wrap_socket(
                conn, server_side=True, do_handshake_on_connect=False
            )
        with self._open_lock:
            self._open.add(conn)
        return conn, address

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def hang_up(self) -> None:
        """Close every kept-alive connection, as a stopped exporter would."""
        with self._open_lock:
            conns = list(self._open)
            self._open.clear()
        for conn in conns:
            with contextlib.suppress(OSError):  # already closed by the client
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A refused handshake or a client that hung up: the client sees the
        # failure; the server carries on.
        log.debug("replay: request from %s failed", client_address, exc_info=True)


class ReplayExporter:
    """Serve ``bodies`` on ``http://127.0.0.1:PORT/metrics``, one per request.

    Args:
        bodies: The exposition bodies to serve in order.
        token: Require ``Authorization: Bearer <token>`` and answer 401 otherwise;
            a callable is asked on every request (a token file that rotates).
        tls: Serve HTTPS with these files (and require client certificates when
            they name a client CA).
        delay: Seconds to wait before answering each request.
        fail_at: 1-based request numbers answered with HTTP 500.
        fail_every: Answer every N-th request with HTTP 500.
        cut_at: Send only this many bytes of each body, under a ``Content-Length``
            of the whole, then close the connection.
        gzip: Gzip the body when the client accepts it.
        loop: Start over after the last body instead of repeating it.
        port: The port to bind on 127.0.0.1; 0 picks a free one.
        request_timeout: Seconds a connection may stay silent (idle, in the middle
            of a request or of a TLS handshake) before the exporter closes it.

    Failures and 401s do not use up a body. Use it as a context manager (or
    :meth:`start` and :meth:`stop`); requests are answered on their own threads, so
    slow answers overlap.

    Raises:
        ValueError: No bodies, or a bad option value.
        OSError: The port cannot be bound, or a TLS file cannot be read.
    """

    def __init__(
        self,
        bodies: Sequence[bytes],
        *,
        token: str | Callable[[], str] | None = None,
        tls: ReplayTLS | None = None,
        delay: float = 0.0,
        fail_at: Iterable[int] = (),
        fail_every: int | None = None,
        cut_at: int | None = None,
        gzip: bool = False,
        loop: bool = False,
        port: int = 0,
        request_timeout: float = 10.0,
    ) -> None:
        if not request_timeout > 0:
            raise ValueError(
                f"request_timeout must be positive seconds, not {request_timeout!r}"
            )
        if not bodies:
            raise ValueError("ReplayExporter needs at least one body.")
        if delay < 0:
            raise ValueError(f"delay must be 0 s or more, not {delay}")
        if fail_every is not None and fail_every < 1:
            raise ValueError(f"fail_every must be 1 or more, not {fail_every}")
        if cut_at is not None and cut_at < 0:
            raise ValueError(f"cut_at must be 0 or more bytes, not {cut_at}")
        self._bodies = list(bodies)
        self._token = token
        self.delay = delay
        self.fail_at = frozenset(fail_at)
        self.fail_every = fail_every
        self.cut_at = cut_at
        self.gzip = gzip
        self.loop = loop
        self._requests = 0
        self._bodies_served = 0
        self._lock = threading.Lock()
        self._scheme = "https" if tls is not None else "http"
        self._server = _Server(
            self, port, tls.context() if tls else None, request_timeout
        )
        # A short poll keeps stop() quick; the idle cost is ten wake-ups a second.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            args=(0.1,),
            name="kepler-reader-replay",
            daemon=True,
        )

    @property
    def url(self) -> str:
        """The metrics URL of the exporter."""
        port = self._server.server_address[1]
        return f"{self._scheme}://{_HOST}:{port}/metrics"

    @property
    def requests_served(self) -> int:
        """Requests for ``/metrics`` answered so far, whatever the answer."""
        with self._lock:
            return self._requests

    @property
    def bodies_served(self) -> int:
        """Requests answered with a body (200) so far."""
        with self._lock:
            return self._bodies_served

    def _count(self) -> int:
        with self._lock:
            self._requests += 1
            return self._requests

    def _authorized(self, header: str) -> bool:
        if self._token is None:
            return True
        try:
            wanted = self._token() if callable(self._token) else self._token
        except OSError:
            return False  # the token file is being replaced: refuse, do not crash
        return hmac.compare_digest(header.encode(), f"Bearer {wanted}".encode())

    def _fails(self, number: int) -> bool:
        every = self.fail_every is not None and number % self.fail_every == 0
        return every or number in self.fail_at

    def _next_body(self) -> bytes:
        with self._lock:
            index = self._bodies_served
            self._bodies_served += 1
        if self.loop:
            return self._bodies[index % len(self._bodies)]
        return self._bodies[min(index, len(self._bodies) - 1)]

    def start(self) -> ReplayExporter:
        """Start answering, on a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop answering and release the port."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
        # Handler threads wait on kept-alive connections; without this they would
        # go on answering after the exporter stopped.
        self._server.hang_up()
        self._thread.join(timeout=5)

    def __enter__(self) -> ReplayExporter:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


def _request_numbers(text: str) -> frozenset[int]:
    try:
        numbers = frozenset(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a list of request numbers: {text!r}"
        ) from None
    if not numbers or min(numbers) < 1:
        raise argparse.ArgumentTypeError(
            f"request numbers start at 1 (the first request): {text!r}"
        )
    return numbers


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more: {text}")
    return value


def _port(text: str) -> int:
    value = _count(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"not a port (0-65535): {text}")
    return value


def _positive(text: str) -> int:
    value = _count(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be 1 or more: 0")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value < 3600:
        raise argparse.ArgumentTypeError(f"must be between 0 and 3600 s: {text}")
    return value


def add_replay_command(commands: Any) -> None:
    """Register ``replay`` on the ``kepler-reader`` subcommand parsers."""
    replay = commands.add_parser(
        "replay",
        help="serve saved dumps on 127.0.0.1 as a stand-in Kepler exporter",
        description="Serve the dumps, one per GET /metrics, on 127.0.0.1 until "
        "SIGTERM or Ctrl-C; after the last dump keep serving it (or start over with "
        "--loop). The URL is printed on stderr. Options make it misbehave like a "
        "real endpoint; failed requests do not use up a dump.",
    )
    replay.add_argument("dumps", nargs="+", metavar="DUMP", help="dumps to serve")
    replay.add_argument(
        "--port", type=_port, default=0, help="port on 127.0.0.1 (default: a free one)"
    )
    replay.add_argument(
        "--loop", action="store_true", help="start over after the last dump"
    )
    replay.add_argument(
        "--bearer-token-file",
        metavar="FILE",
        help="require the token in this file (read on every request); 401 otherwise",
    )
    replay.add_argument("--tls-cert", metavar="FILE", help="serve HTTPS with this cert")
    replay.add_argument("--tls-key", metavar="FILE", help="the key of --tls-cert")
    replay.add_argument(
        "--client-ca",
        metavar="FILE",
        help="require client certificates signed by these CAs (needs --tls-cert)",
    )
    replay.add_argument(
        "--delay", type=_seconds, default=0.0, metavar="S", help="answer after S s"
    )
    replay.add_argument(
        "--fail-every",
        type=_positive,
        metavar="N",
        help="answer every N-th request with HTTP 500",
    )
    replay.add_argument(
        "--fail-at",
        type=_request_numbers,
        default=frozenset(),
        metavar="I[,J...]",
        help="answer these requests (1 is the first) with HTTP 500",
    )
    replay.add_argument(
        "--cut-at",
        type=_count,
        metavar="BYTES",
        help="send only BYTES of each body under the full Content-Length",
    )
    replay.add_argument(
        "--gzip", action="store_true", help="gzip bodies for clients that accept it"
    )


def run_replay(args: argparse.Namespace) -> int:
    """Run ``kepler-reader replay`` until SIGTERM or SIGINT.

    Returns:
        The exit code: 0 after a clean stop, 2 for unusable options, 4 when a
        token or TLS file cannot be read or the port cannot be bound.

    Raises:
        DumpError: A dump cannot be read.
    """
    if bool(args.tls_cert) != bool(args.tls_key) or (
        args.client_ca and not args.tls_cert
    ):
        print(
            "kepler-reader replay: error: --tls-cert and --tls-key go together, "
            "and --client-ca needs them",
            file=sys.stderr,
        )
        return 2
    if args.fail_every == 0:
        print(
            "kepler-reader replay: error: --fail-every must be 1 or more",
            file=sys.stderr,
        )
        return 2
    bodies = [load_dump_body(path) for path in args.dumps]
    token: Callable[[], str] | None = None
    if args.bearer_token_file:
        token_path = Path(args.bearer_token_file)

        def token() -> str:
            return token_path.read_text(encoding="utf-8").strip()

    tls = (
        ReplayTLS(args.tls_cert, args.tls_key, args.client_ca)
        if args.tls_cert
        else None
    )
    try:
        if token is not None:
            token()  # fail now, not on the first request, when the file is missing
        exporter = ReplayExporter(
            bodies,
            token=token,
            tls=tls,
            delay=args.delay,
            fail_at=args.fail_at,
            fail_every=args.fail_every,
            cut_at=args.cut_at,
            gzip=args.gzip,
            loop=args.loop,
            port=args.port,
        )
    except (OSError, ssl.SSLError) as error:
        print(f"kepler-reader replay: error: cannot serve ({error})", file=sys.stderr)
        return 4
    stop = threading.Event()

    def on_signal(number: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {
        sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        with exporter:
            print(
                f"kepler-reader replay: serving {len(bodies)} dump(s) on "
                f"{exporter.url}",
                file=sys.stderr,
                flush=True,
            )
            while not stop.wait(0.5):
                pass
            served = exporter.requests_served
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(
        f"kepler-reader replay: stopped after {served} request(s)",
        file=sys.stderr,
        flush=True,
    )
    return 0
