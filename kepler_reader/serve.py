"""``kepler-reader serve``: scrape Kepler on an interval, serve the derived series.

:func:`run_serve` scrapes every endpoint each ``interval_seconds`` (a failed scrape is
counted and leaves a gap) and serves, on a :class:`MetricsServer`:

- ``GET /metrics``: the series of :class:`~kepler_reader.reexport.DerivedCollector`
  (text format 0.0.4, or OpenMetrics when the client asks for it);
- ``GET /healthz``: 200 while the process runs;
- ``GET /readyz``: 503 until every endpoint has given a first interval, then 200.

Other methods on those paths get 405, other paths 404. It binds 127.0.0.1 unless told
otherwise and stops cleanly (exit 0) on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import http.server
import logging
import signal
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any, Protocol

from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import CollectorRegistry

from .cli_options import add_connection_options, positive_seconds, scraper_from_args
from .exceptions import DataError, KeplerReaderError, ListenError
from .reexport import (
    DEFAULT_INTERVAL_SECONDS,
    DEFAULT_POD_TTL_SECONDS,
    DEFAULT_PREFIX,
    DEFAULT_WINDOWS_SECONDS,
    DerivedCollector,
    EndpointState,
    ServeOptions,
)

if TYPE_CHECKING:
    from .scraping import Response

__all__ = [
    "DEFAULT_LISTEN",
    "Fetcher",
    "MetricsServer",
    "add_serve_arguments",
    "parse_listen",
    "run_serve",
    "scrape_round",
    "serve_from_args",
]

log = logging.getLogger(__name__)

#: Where ``/metrics`` is served unless told otherwise: loopback only.
DEFAULT_LISTEN = "127.0.0.1:9333"


class Fetcher(Protocol):
    """What serve needs from a scraper: :class:`~kepler_reader.Scraper` fits."""

    url: str

    def fetch(self) -> Response:
        """Get one body, or raise a :class:`~kepler_reader.ScrapeError`."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


def parse_listen(text: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` (``[::1]:9333`` for IPv6) into a host and a port.

    Raises:
        ValueError: ``text`` has no port, or the port is not 0-65535.
    """
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"Expected HOST:PORT (e.g. {DEFAULT_LISTEN}), not {text!r}.")
    return host.strip("[]") or "127.0.0.1", int(port)


_PATHS = ("/metrics", "/healthz", "/readyz")


# Client hang-ups while an answer is written; the client has gone, nothing to report.
_HANG_UPS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: MetricsServer

    def setup(self) -> None:
        # A socket timeout makes http.server close a connection that sends nothing,
        # or half a request, for this long, so it does not keep a thread forever.
        super().setup()
        self.connection.settimeout(self.server.request_timeout)

    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path == "/metrics":
            encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
            self._reply(200, encoder(self.server.registry), content_type)
        elif path == "/healthz":
            self._reply(200, b"ok\n")
        elif path == "/readyz":
            if self.server.collector.ready:
                self._reply(200, b"ready\n")
            else:
                self._reply(503, b"not ready: no interval measured yet\n")
        else:
            self._reply(404, b"not found: serving /metrics, /healthz, /readyz\n")

    def _refuse(self) -> None:
        if urllib.parse.urlsplit(self.path).path in _PATHS:
            self._reply(405, b"method not allowed: only GET\n", allow="GET")
        else:
            self._reply(404, b"not found: serving /metrics, /healthz, /readyz\n")

    # http.server dispatches a request to the method named do_<METHOD>.
    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = _refuse  # noqa: N815
    do_OPTIONS = do_TRACE = do_CONNECT = _refuse  # noqa: N815

    def _reply(
        self,
        status: int,
        body: bytes,
        content_type: str = "text/plain; charset=utf-8",
        *,
        allow: str = "",
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if allow:
            self.send_header("Allow", allow)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class MetricsServer(http.server.ThreadingHTTPServer):
    """The HTTP side of ``serve``: ``GET /metrics``, ``/healthz`` and ``/readyz``.

    ``/healthz`` is 200 while the process runs; ``/readyz`` is 503 until every
    endpoint has given an interval, then 200. Other methods on these paths get 405
    (with ``Allow: GET``), other paths 404.

    Args:
        collector: The collector whose series ``/metrics`` serves.
        host: The address to bind (loopback by default).
        port: The port; 0 picks a free one (see :attr:`url`).
        request_timeout: Seconds a connection may stay silent (idle, or in the
            middle of a request) before the server closes it.

    Raises:
        ListenError: The address cannot be bound.
        ValueError: ``request_timeout`` is not a positive number of seconds.
    """

    daemon_threads = True

    def __init__(
        self,
        collector: DerivedCollector,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        request_timeout: float = 10.0,
    ) -> None:
        if not request_timeout > 0:
            raise ValueError(
                f"request_timeout must be positive seconds, not {request_timeout!r}"
            )
        self.request_timeout = request_timeout
        self.collector = collector
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        try:
            super().__init__((host, port), _Handler)
        except OSError as error:
            raise ListenError(
                f"Cannot listen on {host}:{port}: {error.strerror or error}."
            ) from error

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log a client that hung up early as one debug line; report anything else."""
        error = sys.exc_info()[1]
        if isinstance(error, _HANG_UPS):
            log.debug("client %s hung up early: %s", client_address, error)
            return
        super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        """The base URL of the server, e.g. ``http://127.0.0.1:9333``."""
        host, port = self.server_address[:2]
        shown = f"[{host!s}]" if ":" in str(host) else str(host)
        return f"http://{shown}:{port}"


def scrape_round(
    fetchers: Sequence[Fetcher],
    states: Sequence[EndpointState],
    lock: threading.Lock,
) -> None:
    """Scrape every endpoint once, one after another, and update its state.

    A failed scrape is counted on its state and leaves a gap. Each endpoint's body is
    parsed by its state's own parser, whose memory follows the body's size.
    """
    for fetcher, state in zip(fetchers, states, strict=True):
        began = time.monotonic()
        try:
            response = fetcher.fetch()
            snapshot = state.parse(response)
        except KeplerReaderError as error:
            with lock:
                state.failed(error, time.monotonic() - began)
            log.warning("scrape of %s failed: %s", fetcher.url, state.last_error)
            continue
        took = time.monotonic() - began
        try:
            with lock:
                state.observe(snapshot, took)
        except DataError as error:
            log.warning("scrape of %s not usable: %s", fetcher.url, error)
            continue
        log.debug("scraped %s in %.3f s", fetcher.url, took)


def run_serve(
    fetchers: Sequence[Fetcher],
    nodes: Sequence[str],
    options: ServeOptions,
    *,
    host: str = "127.0.0.1",
    port: int = 9333,
    stop: threading.Event | None = None,
    on_listening: Callable[[MetricsServer], None] | None = None,
) -> None:
    """Scrape ``fetchers`` every ``options.interval_seconds`` and serve the series.

    Returns when ``stop`` is set; when called from the main thread without a
    ``stop`` event, SIGTERM and SIGINT set it, so the process ends cleanly. The
    server and every fetcher are closed on the way out.

    Args:
        fetchers: One per endpoint (a :class:`~kepler_reader.Scraper` each).
        nodes: The ``node`` label of each endpoint, in the same order.
        options: How series are derived.
        host: The address to bind; loopback by default.
        port: The port to bind.
        stop: Set it to stop serving.
        on_listening: Called with the server once it is bound (before the first
            scrape).

    Raises:
        ListenError: The address cannot be bound.
    """
    lock = threading.Lock()
    states = [EndpointState(node, options) for node in nodes]
    collector = DerivedCollector(states, options, lock)
    installed: dict[int, object] = {}
    if stop is None:
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            event = stop

            def request_stop(number: int, frame: FrameType | None) -> None:
                log.info("signal %d: stopping", number)
                event.set()

            for number in (signal.SIGTERM, signal.SIGINT):
                installed[number] = signal.signal(number, request_stop)
    try:
        server = MetricsServer(collector, host, port)
    except ListenError:
        _restore(installed)
        for fetcher in fetchers:
            fetcher.close()
        raise
    thread = threading.Thread(
        target=server.serve_forever, name="kepler-reader-serve", daemon=True
    )
    thread.start()
    log.info("serving %s/metrics", server.url)
    if on_listening is not None:
        on_listening(server)
    try:
        deadline = time.monotonic()
        while not stop.is_set():
            scrape_round(fetchers, states, lock)
            deadline += options.interval_seconds
            now = time.monotonic()
            if deadline < now:  # a slow round: start the next one on time again
                deadline = now + options.interval_seconds
            stop.wait(deadline - now)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        for fetcher in fetchers:
            fetcher.close()
        _restore(installed)


def _restore(installed: dict[int, object]) -> None:
    for number, previous in installed.items():
        signal.signal(number, previous)  # type: ignore[arg-type]


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the flags of ``kepler-reader serve`` to its subcommand parser."""
    parser.add_argument(
        "urls",
        nargs="+",
        metavar="URL",
        help="Kepler metrics URLs to scrape, e.g. http://127.0.0.1:28282/metrics "
        "(each one node)",
    )
    parser.add_argument(
        "--interval",
        type=positive_seconds,
        default=DEFAULT_INTERVAL_SECONDS,
        metavar="SECONDS",
        help=f"seconds between scrapes (default {DEFAULT_INTERVAL_SECONDS:g})",
    )
    parser.add_argument(
        "--listen",
        default=DEFAULT_LISTEN,
        metavar="HOST:PORT",
        help=f"address to serve /metrics, /healthz and /readyz on (default "
        f"{DEFAULT_LISTEN}: loopback only; 0.0.0.0:9333 in a pod)",
    )
    parser.add_argument(
        "--window",
        type=positive_seconds,
        action="append",
        metavar="SECONDS",
        help="a window to serve mean power over, in seconds; repeat for more "
        "(default: " + " and ".join(f"{w:g}" for w in DEFAULT_WINDOWS_SECONDS) + ")",
    )
    parser.add_argument(
        "--prefix",
        default=DEFAULT_PREFIX,
        help=f"prefix of every served series name (default {DEFAULT_PREFIX})",
    )
    parser.add_argument(
        "--zone",
        default="package",
        help="the zone to report (default package); zones are never added together",
    )
    parser.add_argument(
        "--pod-ttl",
        type=positive_seconds,
        default=DEFAULT_POD_TTL_SECONDS,
        metavar="SECONDS",
        help="forget a pod or namespace this long after it was last seen (default "
        f"{DEFAULT_POD_TTL_SECONDS:g}; at least the largest window)",
    )
    parser.add_argument(
        "--node",
        action="append",
        metavar="NAME",
        help="the node label of each URL, in order (default: the URL's host); in a "
        "DaemonSet pass the downward API's spec.nodeName",
    )
    add_connection_options(parser)


def serve_from_args(args: argparse.Namespace) -> int:
    """Run ``kepler-reader serve`` with parsed arguments until SIGTERM or SIGINT.

    Returns:
        0 after a clean stop; 2 when the flags contradict each other (two URLs with
        one node label among them).

    Raises:
        ListenError: The address cannot be bound.
    """
    try:
        host, port = parse_listen(args.listen)
        options = ServeOptions(
            interval_seconds=args.interval,
            windows_seconds=args.window or DEFAULT_WINDOWS_SECONDS,
            prefix=args.prefix,
            zone=args.zone.lower(),
            pod_ttl_seconds=args.pod_ttl,
        )
        if args.node and len(args.node) != len(args.urls):
            raise ValueError(
                f"{len(args.node)} --node names for {len(args.urls)} URLs; give one "
                "per URL, in the same order, or none."
            )
        nodes = args.node or [
            urllib.parse.urlsplit(url).hostname or url for url in args.urls
        ]
        twice = sorted({n for n in nodes if nodes.count(n) > 1})
        if twice:
            raise ValueError(
                f"Two URLs would serve as node {twice[0]!r}; name each with --node."
            )
    except ValueError as error:
        print(f"kepler-reader serve: error: {error}", file=sys.stderr)
        return 2
    fetchers = [scraper_from_args(args, url) for url in args.urls]
    run_serve(fetchers, nodes, options, host=host, port=port)
    return 0
