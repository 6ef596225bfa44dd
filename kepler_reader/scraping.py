"""Scraping a Kepler endpoint over HTTP.

:func:`fetch` gets the raw body with its arrival time; :func:`scrape` parses it. Both
ask for the text format 0.0.4 explicitly, accept gzip, and turn every failure into one
of the :class:`~kepler_reader.ScrapeError` subclasses, naming the URL. A body that did
not arrive whole is an error, never a snapshot with fewer pods.

:class:`Scraper` is the client to keep for an endpoint: one session with retries,
TLS settings and credentials (built in :mod:`kepler_reader.transport`) and one warm
parser.
"""

from __future__ import annotations

import logging
import math
import re
import time
import urllib.parse
import zlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import attrs
import requests
import urllib3

from .dumps import redact_url
from .exceptions import (
    AuthenticationError,
    CredentialError,
    EndpointUnreachableError,
    HTTPStatusError,
    IncompleteResponseError,
    LimitExceededError,
    NotAnExpositionError,
    ScrapeError,
    ScrapeTimeoutError,
    TLSError,
)
from .limits import DEFAULT_LIMITS, Limits
from .parser import Parser, format_of
from .snapshot import ParseWarning
from .transport import (
    DEFAULT_BACKOFF_SECONDS,
    DEFAULT_MAX_RETRY_AFTER_SECONDS,
    DEFAULT_RETRIES,
    Credentials,
    build_session,
    error_reason,
    retries_taken,
    tls_error_reason,
)

if TYPE_CHECKING:
    from .snapshot import Snapshot

__all__ = [
    "ACCEPT_OPENMETRICS",
    "ACCEPT_TEXT",
    "DEFAULT_TIMEOUT_SECONDS",
    "Response",
    "Scraper",
    "fetch",
    "format_of",
    "parse_response",
    "scrape",
]

log = logging.getLogger(__name__)

#: The Accept header sent: the text format 0.0.4, anything else only as a fallback.
ACCEPT_TEXT = "text/plain;version=0.0.4;q=1.0,*/*;q=0.1"
#: The Accept header sent with ``openmetrics=True``.
ACCEPT_OPENMETRICS = (
    "application/openmetrics-text;version=1.0.0;q=1.0,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
#: Connect and read timeout, in seconds.
DEFAULT_TIMEOUT_SECONDS = 10.0
#: Largest body read, in bytes (after decompression), unless told otherwise.
DEFAULT_MAX_BODY_BYTES = DEFAULT_LIMITS.max_body_bytes
# The user information of a URL quoted in an error message: "//user:password@".
_CREDENTIALS = re.compile(r"//[^/@\s]*@")
_CHUNK = 1 << 16
# A JSON document starts with "[" or with "{" and a key followed by ":"; a
# Prometheus 3 series starts with "{" and a quoted name followed by "," or "}".
_JSON_START = re.compile(rb'\[|\{\s*(?:\}|"(?:[^"\\]|\\.)*"\s*:)')


@attrs.frozen(slots=True)
class Response:
    """A body as received from an endpoint.

    Attributes:
        url: The URL requested (credentials removed).
        body: The body, decompressed.
        scraped_at: When the response headers arrived, in seconds since the epoch.
        content_type: The ``Content-Type`` header, or ``""`` when absent.
        elapsed_seconds: Time from sending the first request to the end of the body,
            in seconds (retries and their waits included).
        retries: How many tries failed before this one (always 0 without a
            :class:`Scraper`'s retry policy).
    """

    url: str
    body: bytes
    scraped_at: float
    content_type: str
    elapsed_seconds: float
    retries: int = 0


def _arrivals(raw: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
    """The raw body as it arrives: each piece after at most one read of the socket.

    Reading by arrival rather than in fixed sizes lets the caller check its deadline
    between pieces, however slowly a server sends.
    """
    while True:
        piece = raw.read1(_CHUNK, decode_content=False)
        if not piece:
            return
        yield piece


def _too_large(url: str, limit: int) -> LimitExceededError:
    return LimitExceededError(
        f"{url}: the body exceeds max_body_bytes={limit}.",
        limit="max_body_bytes",
        value=limit,
    )


class _Inflater:
    """Undo gzip as bytes arrive, capped, and refusing a stream that is cut off."""

    def __init__(self, limit: int, url: str) -> None:
        self._limit = limit
        self._url = url
        self._size = 0
        self._inflate = zlib.decompressobj(wbits=31)

    def feed(self, data: bytes) -> bytes:
        out: list[bytes] = []
        while data:
            try:
                piece = self._inflate.decompress(data, self._limit - self._size + 1)
            except zlib.error as error:
                raise IncompleteResponseError(
                    f"{self._url}: the gzip body is corrupt ({error}).", url=self._url
                ) from error
            self._size += len(piece)
            if self._size > self._limit:
                raise _too_large(self._url, self._limit)
            out.append(piece)
            if self._inflate.eof:
                # Another gzip member may follow (concatenated gzip files).
                data = self._inflate.unused_data
                if data:
                    self._inflate = zlib.decompressobj(wbits=31)
            else:
                data = self._inflate.unconsumed_tail
        return b"".join(out)

    def finish(self) -> None:
        if not self._inflate.eof:
            raise IncompleteResponseError(
                f"{self._url}: the gzip body is cut off (no end of stream).",
                url=self._url,
            )


def _first_line(body: bytes) -> str:
    line = body.strip().split(b"\n", 1)[0][:200]
    return line.decode("utf-8", "replace")


def _scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _after(retries: int) -> str:
    if retries == 0:
        return ""
    return f" after {retries} {'retry' if retries == 1 else 'retries'}"


def _check_status(
    response: requests.Response, url: str, secrets: Sequence[str]
) -> None:
    if response.status_code == 200:
        return
    try:
        start = next(response.iter_content(4096), b"")
    except requests.exceptions.RequestException:
        start = b""
    # A proxy may echo the request, Authorization header included.
    excerpt = _scrub(_first_line(start), secrets)
    if excerpt.lower().startswith(("<!doctype", "<html")):
        # An error page: its reason phrase says more than its first line of markup.
        excerpt = response.reason or ""
    detail = f": {excerpt}" if excerpt else ""
    kind = (
        AuthenticationError if response.status_code in (401, 403) else HTTPStatusError
    )
    retried = _after(retries_taken(response=response.raw))
    raise kind(
        f"{url} answered HTTP {response.status_code}{retried}{detail}",
        url=url,
        status=response.status_code,
        body_excerpt=excerpt,
    )


def _check_content(body: bytes, content_type: str, url: str) -> None:
    media = content_type.split(";", 1)[0].strip().lower()
    head = body[:4096].lstrip()[:64].lower()
    if media in ("text/html", "application/xhtml+xml") or head.startswith(
        (b"<!doctype", b"<html")
    ):
        raise NotAnExpositionError(
            f"{url} sent an HTML response, probably a login or "
            "proxy page, not metrics.",
            url=url,
        )
    if media == "application/json" or _JSON_START.match(head) is not None:
        raise NotAnExpositionError(
            f"{url} sent JSON ({_first_line(body)[:80]}), not metrics.", url=url
        )
    if format_of(content_type) == "openmetrics":
        if not body[-64:].rstrip(b"\r\n").endswith(b"# EOF"):
            raise IncompleteResponseError(
                f"{url}: the OpenMetrics body does not end "
                "with '# EOF'; the response was cut off.",
                url=url,
            )
        return
    if body and not body.endswith(b"\n"):
        raise IncompleteResponseError(
            f"{url}: the body ends in the middle of a line "
            f"after {len(body)} bytes; the response was cut "
            "off.",
            url=url,
        )


def fetch(
    url: str,
    *,
    session: requests.Session | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    connect_timeout: float | None = None,
    headers: dict[str, str] | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    deadline: float | None = None,
    secrets: Sequence[str] = (),
) -> Response:
    """Get the body of ``url``, checked to be a complete exposition.

    Args:
        url: The metrics URL, e.g. ``http://127.0.0.1:28282/metrics``.
        session: A ``requests`` session to reuse (keep-alive); a new one by default.
            Retries, TLS settings and client certificates are the session's.
        timeout: Read timeout (and connect timeout, unless ``connect_timeout``), in
            seconds.
        connect_timeout: Connect timeout, in seconds.
        headers: Extra request headers (they override the defaults).
        max_body_bytes: Largest body accepted, in bytes, both as sent (compressed)
            and after decompression.
        deadline: Most seconds the body may take to arrive once the headers are in
            (a server that drips bytes slower than ``timeout`` per read is cut off
            here); three times ``timeout`` by default.
        secrets: Strings never to show in an error message (a token a proxy echoes
            back in its error page).

    Returns:
        The response body with its arrival time.

    Raises:
        EndpointUnreachableError: Connection refused, DNS failure, reset.
        TLSError: The server's certificate is not trusted, or ours was refused.
        ScrapeTimeoutError: No connection or no answer within ``timeout``, or the
            body took longer than ``deadline``.
        AuthenticationError: HTTP 401 or 403.
        HTTPStatusError: Any other status than 200.
        NotAnExpositionError: An HTML or JSON body.
        IncompleteResponseError: The body was cut off.
        LimitExceededError: The body is larger than ``max_body_bytes``.
    """
    shown = redact_url(url)
    try:
        scheme = urllib.parse.urlsplit(url).scheme
    except ValueError as error:  # a broken IPv6 host: "http://[::1/metrics"
        raise ScrapeError(f"{shown}: not a valid URL ({error}).", url=shown) from None
    if scheme not in ("http", "https"):
        raise ScrapeError(
            f"{shown}: the URL must start with http:// or https://.", url=shown
        )
    connect = timeout if connect_timeout is None else connect_timeout
    for value in (timeout, connect):
        if not 0 < value < math.inf:
            raise ValueError(
                f"timeout must be a positive number of seconds, not {value!r}"
            )
    limit = timeout * 3 if deadline is None else deadline
    request_headers = {"Accept": ACCEPT_TEXT, "Accept-Encoding": "gzip"}
    request_headers.update(headers or {})
    own = session is None
    http = session or requests.Session()
    started = time.monotonic()
    received = 0
    announced = ""
    try:
        with http.get(
            url, headers=request_headers, timeout=(connect, timeout), stream=True
        ) as response:
            scraped_at = time.time()
            arrived = time.monotonic()
            retries = retries_taken(response=response.raw)
            if response.status_code != 200:
                _check_status(response, shown, secrets)
            announced = response.headers.get("Content-Length", "")
            if announced.isdigit() and int(announced) > max_body_bytes:
                raise _too_large(shown, max_body_bytes)
            encoding = response.headers.get("Content-Encoding", "").strip().lower()
            if encoding not in ("", "identity", "gzip", "x-gzip"):
                raise NotAnExpositionError(
                    f"{shown} sent Content-Encoding {encoding!r}, which was not asked "
                    "for (only gzip is).",
                    url=shown,
                )
            inflater = _Inflater(max_body_bytes, shown) if "gzip" in encoding else None
            chunks: list[bytes] = []
            size = 0
            # Raw bytes: gzip is undone here, so that a cut stream is caught and the
            # decompressed size is capped as it grows.
            for chunk in _arrivals(response.raw):
                received += len(chunk)
                if received > max_body_bytes:
                    raise _too_large(shown, max_body_bytes)
                piece = inflater.feed(chunk) if inflater is not None else chunk
                size += len(piece)
                if size > max_body_bytes:
                    raise _too_large(shown, max_body_bytes)
                chunks.append(piece)
                if time.monotonic() - arrived > limit:
                    raise ScrapeTimeoutError(
                        f"{shown}: the body was still arriving after {limit:g} s.",
                        url=shown,
                    )
            if inflater is not None:
                inflater.finish()
            content_type = response.headers.get("Content-Type", "")
    except requests.exceptions.ConnectTimeout as error:
        raise ScrapeTimeoutError(
            f"{shown}: no connection within {connect} s{_after(retries_taken(error))}.",
            url=shown,
        ) from error
    except (
        requests.exceptions.ReadTimeout,
        urllib3.exceptions.ReadTimeoutError,
    ) as error:
        raise ScrapeTimeoutError(
            f"{shown}: no answer within {timeout} s.", url=shown
        ) from error
    except (
        requests.exceptions.ChunkedEncodingError,
        urllib3.exceptions.ProtocolError,
    ) as error:
        where = (
            f"after {received} of the {announced} bytes announced"
            if announced
            else f"after {received} bytes, before the final chunk"
        )
        raise IncompleteResponseError(
            f"{shown}: the response ended before its body did, {where}.", url=shown
        ) from error
    except requests.exceptions.SSLError as error:
        raise TLSError(
            f"{shown}: the TLS handshake failed ({tls_error_reason(error)}).", url=shown
        ) from error
    except requests.exceptions.ConnectionError as error:
        reason = error_reason(error)
        raise EndpointUnreachableError(
            f"{shown} is unreachable ({reason}){_after(retries_taken(error))}.",
            url=shown,
        ) from error
    except (
        requests.exceptions.RequestException,
        urllib3.exceptions.HTTPError,
        # requests raises these two for unusable redirect targets (bad IPv6, bytes).
        ValueError,
        UnicodeError,
    ) as error:
        # These errors (a URL that does not parse, a bad port) quote the URL as
        # given, credentials included: with credentials in it, the chain is cut.
        reason = _CREDENTIALS.sub("//", _scrub(error_reason(error), secrets))
        raise ScrapeError(f"{shown}: the request failed ({reason}).", url=shown) from (
            error if shown == url else None
        )
    finally:
        if own:
            http.close()
    body = b"".join(chunks)
    if body.startswith(b"\x1f\x8b"):
        # Compressed (again) without saying so in Content-Encoding.
        inner = _Inflater(max_body_bytes, shown)
        body = inner.feed(body)
        inner.finish()
    _check_content(body, content_type, shown)
    elapsed = time.monotonic() - started
    log.debug("scraped %s: %d bytes in %.1f ms", shown, len(body), elapsed * 1000)
    return Response(shown, body, scraped_at, content_type, elapsed, retries)


def scrape(
    url: str,
    *,
    session: requests.Session | None = None,
    parser: Parser | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    lenient: bool = False,
    headers: dict[str, str] | None = None,
    openmetrics: bool = False,
    limits: Limits | None = None,
) -> Snapshot:
    """Scrape ``url`` once and parse the body.

    Args:
        url: The metrics URL.
        session: A ``requests`` session to reuse (keep-alive).
        parser: A warm :class:`~kepler_reader.Parser` for this endpoint (one is made
            per call by default; reuse one when scraping repeatedly).
        timeout: Connect and read timeout, in seconds.
        lenient: Skip bad lines instead of raising.
        headers: Extra request headers.
        openmetrics: Ask for OpenMetrics first (Kepler 0.10+ serves it); the text
            format 0.0.4 is asked for by default.
        limits: The most the body may hold (:class:`~kepler_reader.Limits`; its
            defaults when ``None``): ``max_body_bytes`` caps the download, the rest
            the parse (a given ``parser`` keeps its own).

    Returns:
        The snapshot, with ``scraped_at`` (seconds since the epoch) taken when the
        response arrived and ``source`` set to the URL. The format is the one the
        ``Content-Type`` names; a missing or unknown one is read as the text format,
        with a warning on the snapshot.

    Raises:
        ScrapeError: Any of its subclasses, as :func:`fetch` documents.
        ParseError: The body is not valid exposition text (strict mode).
        LimitExceededError: The body is over one of the ``limits``.
    """
    limits = limits or DEFAULT_LIMITS
    wanted = {"Accept": ACCEPT_OPENMETRICS} if openmetrics else {}
    wanted.update(headers or {})
    response = fetch(
        url,
        session=session,
        timeout=timeout,
        headers=wanted,
        max_body_bytes=limits.max_body_bytes,
    )
    parser = parser or Parser(lenient=lenient, limits=limits)
    return parse_response(response, parser, lenient=lenient)


def parse_response(
    response: Response, parser: Parser, *, lenient: bool = False
) -> Snapshot:
    """Parse a fetched body in the format its ``Content-Type`` names.

    Returns:
        The snapshot, with ``scraped_at`` and ``source`` from the response; a
        missing or unknown ``Content-Type`` is read as the text format 0.0.4, with
        a warning on the snapshot.

    Raises:
        ParseError: The body is not valid exposition text (strict mode).
    """
    chosen = format_of(response.content_type)
    snapshot = parser.parse(
        response.body,
        source=response.url,
        scraped_at=response.scraped_at,
        lenient=lenient,
        format=chosen or "text",
    )
    if chosen is None and response.body:
        shown = response.content_type or "no Content-Type header"
        note = ParseWarning(
            None, f"The response had {shown!r}; it was read as the text format 0.0.4."
        )
        snapshot = attrs.evolve(snapshot, warnings=(note, *snapshot.warnings))
    return snapshot


def _host(url: str) -> str:
    """The host of ``url``, or the URL itself when it has none or does not parse."""
    try:
        return urllib.parse.urlsplit(url).hostname or redact_url(url)
    except ValueError:  # fetch() says what is wrong with it
        return redact_url(url)


class Scraper:
    """A reusable client for one endpoint: one keep-alive session, one warm parser.

    The session retries connection failures, 5xx and 429 answers with backoff
    (``Retry-After`` honoured up to ``max_retry_after``), and carries the TLS
    settings; see :mod:`kepler_reader.transport`. The bearer token and password
    files are read again on every scrape, so a rotated service-account token is
    picked up. No secret appears in the ``repr``, a log line or an error.

    Args:
        url: The metrics URL, e.g. ``https://10.0.0.7:8443/metrics``.
        timeout: Read timeout (and connect timeout, unless ``connect_timeout``), in
            seconds.
        lenient: Skip bad lines instead of raising.
        openmetrics: Ask for OpenMetrics first instead of the text format 0.0.4.
        node: The node this endpoint reports on, for results that span nodes
            (default: the URL's host).
        connect_timeout: Connect timeout, in seconds (default: ``timeout``).
        retries: Tries after the first one; 0 disables retrying.
        backoff: The backoff factor, in seconds: the first retry goes at once, the
            n-th (n >= 2) waits ``backoff * 2 ** (n - 1)`` s, at most 5 s.
        max_retry_after: The longest wait, in seconds, a ``Retry-After`` imposes.
        max_body_bytes: The largest body accepted, in bytes, compressed and
            decompressed (overrides ``limits.max_body_bytes``).
        limits: The most one body may hold (:class:`~kepler_reader.Limits`; its
            defaults when ``None``), for the download and the parse.
        bearer_token_file: A file with a bearer token, read on every scrape.
        basic_auth_user: User name for HTTP basic auth (``user:password@`` in the
            URL is taken as basic auth too, and removed from the URL).
        basic_auth_password: Basic-auth password (prefer ``basic_auth_password_file``).
        basic_auth_password_file: A file with the basic-auth password, read on every
            scrape.
        ca_file: PEM bundle of the CAs to trust (the system's by default).
        cert_file: PEM client certificate, for mutual TLS.
        key_file: PEM private key of ``cert_file`` (when not in the same file).
        insecure: Do not verify the server's certificate (logs a warning).

    Raises:
        CredentialError: A CA, certificate or key file does not exist, or the
            credentials contradict each other (a token and basic auth, a key without
            a certificate, a CA bundle with ``insecure``).
        ValueError: A timeout that is not positive, or a negative retry count.

    Use it as a context manager, or call :meth:`close` when done. One scraper serves
    one thread at a time; :func:`~kepler_reader.scrape_all` gives each its own.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        lenient: bool = False,
        openmetrics: bool = False,
        node: str | None = None,
        connect_timeout: float | None = None,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF_SECONDS,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER_SECONDS,
        max_body_bytes: int | None = None,
        limits: Limits | None = None,
        bearer_token_file: str | None = None,
        basic_auth_user: str | None = None,
        basic_auth_password: str | None = None,
        basic_auth_password_file: str | None = None,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
        insecure: bool = False,
    ) -> None:
        for value in (timeout, connect_timeout or timeout):
            if not 0 < value < math.inf:
                raise ValueError(
                    f"timeout must be a positive number of seconds, not {value!r}"
                )
        limits = limits or DEFAULT_LIMITS
        if max_body_bytes is not None:
            if max_body_bytes <= 0:
                raise ValueError(
                    f"max_body_bytes must be positive, not {max_body_bytes}"
                )
            limits = attrs.evolve(limits, max_body_bytes=max_body_bytes)
        self.limits = limits
        shown = redact_url(url)
        try:
            parts = urllib.parse.urlsplit(url)
        except ValueError as error:  # a broken IPv6 host: "http://[::1/metrics"
            raise ScrapeError(
                f"{shown}: not a valid URL ({error}).", url=shown
            ) from None
        if parts.username is not None or parts.password is not None:
            # user:password@ in the URL is basic auth; keep it out of the URL so
            # that it shows nowhere, and refuse it beside other credentials.
            if bearer_token_file or basic_auth_user is not None:
                raise CredentialError(
                    f"{shown}: credentials in the URL and in the settings; give "
                    "them once.",
                    url=shown,
                )
            basic_auth_user = urllib.parse.unquote(parts.username or "")
            basic_auth_password = urllib.parse.unquote(parts.password or "")
            url = shown
        self.url = url
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.lenient = lenient
        self.openmetrics = openmetrics
        self.node = node or _host(url)
        self.retries = retries
        self.max_body_bytes = limits.max_body_bytes
        self.credentials = Credentials(
            bearer_token_file=bearer_token_file,
            basic_auth_user=basic_auth_user,
            basic_auth_password=basic_auth_password,
            basic_auth_password_file=basic_auth_password_file,
            ca_file=ca_file,
            cert_file=cert_file,
            key_file=key_file,
            insecure=insecure,
        )
        self._session = build_session(
            shown,
            self.credentials,
            retries=retries,
            backoff_seconds=backoff,
            max_retry_after_seconds=max_retry_after,
        )
        self._parser = Parser(lenient=lenient, limits=limits)
        if (bearer_token_file or basic_auth_user is not None) and url.startswith(
            "http://"
        ):
            log.warning("%s: credentials are sent over plain HTTP", shown)

    def __repr__(self) -> str:
        return (
            f"Scraper({redact_url(self.url)!r}, node={self.node!r}, "
            f"auth={self.credentials.describe()!r})"
        )

    def fetch(self) -> Response:
        """Get the body once, as :func:`fetch` does, over the kept session.

        Returns:
            The body with its arrival time (``scraped_at``, seconds since the
            epoch, taken when the final response's headers arrived) and the number
            of retries it took.

        Raises:
            EndpointUnreachableError: Connection refused or reset, after the retries.
            TLSError: The certificate is not trusted, or ours was refused.
            ScrapeTimeoutError: No connection or no answer in time.
            AuthenticationError: HTTP 401 or 403 (not retried).
            HTTPStatusError: Any other status than 200 (5xx and 429 after the
                retries).
            NotAnExpositionError: An HTML or JSON body.
            IncompleteResponseError: The body was cut off (not retried).
            LimitExceededError: The body exceeds ``max_body_bytes``.
            CredentialError: The token or password file cannot be read.
        """
        shown = redact_url(self.url)
        headers, secrets = self.credentials.headers(shown)
        if self.openmetrics:
            headers["Accept"] = ACCEPT_OPENMETRICS
        return fetch(
            self.url,
            session=self._session,
            timeout=self.timeout,
            connect_timeout=self.connect_timeout,
            headers=headers,
            max_body_bytes=self.max_body_bytes,
            secrets=secrets,
        )

    def scrape(self) -> Snapshot:
        """Scrape once and parse the body with the warm parser.

        Returns:
            The snapshot, with ``scraped_at`` (seconds since the epoch) taken when
            the response arrived.

        Raises:
            ScrapeError: Any of its subclasses, as :meth:`fetch` documents.
            LimitExceededError: The body exceeds ``max_body_bytes``.
            ParseError: The body is not valid exposition text (strict mode).
        """
        return parse_response(self.fetch(), self._parser, lenient=self.lenient)

    def close(self) -> None:
        """Close the session's connections."""
        self._session.close()

    def __enter__(self) -> Scraper:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
