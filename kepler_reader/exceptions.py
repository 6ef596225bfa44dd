"""The errors kepler_reader raises, in one tree.

Every error the library raises on purpose derives from :class:`KeplerReaderError`, so a
caller can catch that one class and know nothing else escapes by design::

    KeplerReaderError
    ├── ParseError (also a ValueError)          a body that is not valid exposition text
    ├── ScrapeError                             a scrape that produced no usable body
    │   ├── EndpointUnreachableError            connection refused, DNS failure, reset
    │   │   └── TLSError                        certificate not trusted or refused
    │   ├── ScrapeTimeoutError                  connect or read timeout
    │   ├── HTTPStatusError                     any status other than 200
    │   │   └── AuthenticationError             401 or 403
    │   ├── NotAnExpositionError                HTML, JSON or another non-metrics body
    │   ├── IncompleteResponseError             body shorter than announced, cut chunks
    │   ├── CredentialError                     a token or password file cannot be read
    │   └── DiscoveryError                      the Kubernetes API did not list the pods
    ├── DumpError                               a saved dump that cannot be read
    │   ├── ResultsFileError                    a measurement results file (JSON)
    │   └── RecordingError                      a recording unreadable or unwritable
    ├── LimitExceededError                      input larger than a configured limit
    ├── ListenError                             serve cannot bind its address
    ├── DataError (also a ValueError)           numbers that cannot give an answer
    │   ├── MissingIntervalError                no scrape times and no interval given
    │   └── NothingMeasuredError                a window with no interval measured
    ├── MeterStateError                         a Meter used out of order
    ├── ExtraMissingError                       an optional extra is not installed
    └── QueryError (also a ValueError)          a PromQL expression that cannot be run
        └── UnsupportedQueryError               PromQL outside the supported subset

Scrape errors carry the URL and are raised ``from`` the underlying ``requests``
error, so the original traceback stays available.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "CredentialError",
    "DataError",
    "DiscoveryError",
    "DumpError",
    "EndpointUnreachableError",
    "ExtraMissingError",
    "HTTPStatusError",
    "IncompleteResponseError",
    "KeplerReaderError",
    "LimitExceededError",
    "ListenError",
    "MeterStateError",
    "MissingIntervalError",
    "NotAnExpositionError",
    "NothingMeasuredError",
    "ParseError",
    "QueryError",
    "RecordingError",
    "ResultsFileError",
    "ScrapeError",
    "ScrapeTimeoutError",
    "TLSError",
    "UnsupportedQueryError",
]


class KeplerReaderError(Exception):
    """Base class of every error kepler_reader raises on purpose."""


class ParseError(KeplerReaderError, ValueError):
    """A body, or one line of it, is not valid exposition text.

    The message says what was expected, quotes the bad fragment, and shows the line with
    a caret under the fault.

    Attributes:
        source: The path or URL the body came from, or ``None`` when unknown.
        line: The 1-based line number of the fault.
        column: The 1-based column (in characters of the decoded line) of the fault.
        text: The offending line, decoded with replacement characters where needed.
        reason: The bare description of the fault, without location or caret.
    """

    def __init__(
        self,
        reason: str,
        *,
        source: str | None,
        line: int,
        column: int,
        text: str,
    ) -> None:
        self.reason = reason
        self.source = source
        self.line = line
        self.column = column
        self.text = text
        super().__init__(self._render())

    def _render(self) -> str:
        where = f"{self.source or '<input>'}:{self.line}:{self.column}"
        shown, caret_at = _excerpt(self.text, self.column)
        return f"{where}: {self.reason}\n    {shown}\n    {' ' * caret_at}^"

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only constructors need help to survive pickling (multiprocessing).
        return (
            _rebuild_parse_error,
            (self.reason, self.source, self.line, self.column, self.text),
        )


def _rebuild_parse_error(
    reason: str, source: str | None, line: int, column: int, text: str
) -> ParseError:
    return ParseError(reason, source=source, line=line, column=column, text=text)


def _excerpt(text: str, column: int, width: int = 100) -> tuple[str, int]:
    """Cut a long line to about ``width`` characters around ``column``.

    Returns the shown text and the 0-based offset of the caret inside it.
    """
    shown = text.replace("\t", " ").replace("\r", "␍")
    index = max(column - 1, 0)
    if len(shown) <= width:
        return shown, index
    start = max(index - width // 2, 0)
    end = min(start + width, len(shown))
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(shown) else ""
    return prefix + shown[start:end] + suffix, index - start + len(prefix)


class ScrapeError(KeplerReaderError):
    """A scrape of an endpoint produced no usable body.

    A failed scrape is a gap in a measurement, never a snapshot of zeros.

    Attributes:
        url: The URL that was requested.
    """

    def __init__(self, message: str, *, url: str) -> None:
        self.url = url
        super().__init__(message)


class EndpointUnreachableError(ScrapeError):
    """The endpoint could not be reached (connection refused, DNS failure, reset)."""


class TLSError(EndpointUnreachableError):
    """The TLS handshake failed.

    The server's certificate is not trusted (wrong CA bundle, self-signed, wrong host
    name), or the server refused our client certificate.
    """


class ScrapeTimeoutError(ScrapeError):
    """The endpoint did not connect or answer within the timeout."""


class HTTPStatusError(ScrapeError):
    """The endpoint answered with a status other than 200.

    Attributes:
        status: The HTTP status code.
        body_excerpt: The first line of the response body (at most 200 characters).
    """

    def __init__(
        self, message: str, *, url: str, status: int, body_excerpt: str
    ) -> None:
        self.status = status
        self.body_excerpt = body_excerpt
        super().__init__(message, url=url)


class AuthenticationError(HTTPStatusError):
    """The endpoint refused the request with 401 or 403."""


class NotAnExpositionError(ScrapeError):
    """The endpoint answered 200 with something that is not metrics (HTML, JSON)."""


class IncompleteResponseError(ScrapeError):
    """The response ended before its body did (short Content-Length, cut chunks)."""


class CredentialError(ScrapeError):
    """A credential the scrape needs cannot be used.

    A bearer token or password file is missing, unreadable or empty, or a CA,
    certificate or key file does not exist, or the settings contradict each other
    (a token and basic auth at once). The message names the file, never its content.

    Attributes:
        path: The file concerned, or ``None`` for contradictory settings.
    """

    def __init__(self, message: str, *, url: str, path: str | None = None) -> None:
        self.path = path
        super().__init__(message, url=url)


class DiscoveryError(ScrapeError):
    """The Kubernetes API server did not list the Kepler pods.

    It was unreachable, refused the service account, or answered something that is
    not a pod list.

    ``url`` is the API request's URL (without the token, which travels in a header).
    """


class DumpError(KeplerReaderError):
    """A saved dump cannot be read (missing file, corrupt gzip, bad header).

    Attributes:
        path: The path of the dump.
    """

    def __init__(self, message: str, *, path: str) -> None:
        self.path = path
        super().__init__(message)


class RecordingError(DumpError):
    """A recording file cannot be read or appended to.

    Raised for a file that is not a recording, a record whose checksum or header is
    wrong, and for writes that fail (a full disk, the file or its folder gone). A write
    that fails leaves every record written before it intact.

    Attributes:
        path: The path of the recording.
        offset: The byte offset in the file of the record at fault, or ``None``.
    """

    def __init__(self, message: str, *, path: str, offset: int | None = None) -> None:
        self.offset = offset
        super().__init__(message, path=path)


class ResultsFileError(DumpError):
    """A file of measurement results (``diff``/``measure`` JSON) cannot be used.

    Raised for a missing or unreadable file, text that is not JSON, JSON that holds no
    result objects, and a glob that matches no file.

    Attributes:
        path: The path (or pattern) of the file.
    """


class LimitExceededError(KeplerReaderError):
    """Input exceeded a configured limit.

    Attributes:
        limit: The name of the limit (for example ``"max_body_bytes"``).
        value: The limit's value.
    """

    def __init__(self, message: str, *, limit: str, value: int) -> None:
        self.limit = limit
        self.value = value
        super().__init__(message)


class ListenError(KeplerReaderError):
    """``serve`` cannot listen on the address it was given (in use, not local).

    The message names the address; the ``OSError`` is the cause.
    """


class DataError(KeplerReaderError, ValueError):
    """The numbers at hand cannot give the requested answer."""


class MissingIntervalError(DataError):
    """Neither scrape times nor an explicit interval are available for a delta."""


class NothingMeasuredError(DataError):
    """A measurement window ended without two usable scrapes of any endpoint.

    Every scrape but at most one per endpoint failed or carried no Kepler energy
    metrics, so no energy can be given for the window.
    """


class MeterStateError(KeplerReaderError):
    """A :class:`~kepler_reader.Meter` was used out of order.

    For example stopped before it was started, started twice, or asked for a window
    while not running.
    """


class ExtraMissingError(KeplerReaderError):
    """A feature needs an optional extra that is not installed.

    Attributes:
        extra: The extra to install (``pip install 'kepler-reader[EXTRA]'``).
    """

    def __init__(self, message: str, *, extra: str) -> None:
        self.extra = extra
        super().__init__(message)


class QueryError(KeplerReaderError, ValueError):
    """A PromQL expression that cannot be parsed or evaluated.

    The message says what is wrong and shows the expression with a caret under the
    fault.

    Attributes:
        expression: The expression as given.
        position: The 0-based character offset of the fault in ``expression``.
        reason: The bare description, without the expression and caret.
    """

    def __init__(self, reason: str, *, expression: str, position: int) -> None:
        self.reason = reason
        self.expression = expression
        self.position = position
        shown, caret_at = _excerpt(expression, position + 1)
        super().__init__(
            f"{reason} (column {position + 1})\n    {shown}\n    {' ' * caret_at}^"
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild_query_error,
            (type(self), self.reason, self.expression, self.position),
        )


def _rebuild_query_error(
    kind: type[QueryError], reason: str, expression: str, position: int
) -> QueryError:
    return kind(reason, expression=expression, position=position)


class UnsupportedQueryError(QueryError):
    """Valid PromQL that uses something outside the subset kepler_reader evaluates.

    The message names the unsupported part (a function, an operator, a modifier).
    """
