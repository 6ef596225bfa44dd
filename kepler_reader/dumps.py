"""Saved scrapes on disk: ``curl > dump.prom`` files, gzip files, and our own dumps.

A dump written by ``kepler-reader scrape -o FILE`` starts with one comment line that
records when and from where it was scraped, so the file stays a valid exposition and
reads back with its time::

    # kepler-reader scraped_at=2026-12-03T10:00:00.123Z url=http://127.0.0.1:28282/metrics

Files without that line (a plain ``curl`` dump) read back with ``scraped_at=None``; a
delta between two of them then needs an explicit interval.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import re
import stat
import tempfile
import urllib.parse
import zlib
from typing import TYPE_CHECKING

import attrs

from .exceptions import DumpError, LimitExceededError
from .limits import DEFAULT_LIMITS, Limits
from .parser import Parser

if TYPE_CHECKING:
    from .snapshot import Snapshot

__all__ = [
    "DUMP_HEADER_PREFIX",
    "dump_header",
    "read_dump",
    "read_header",
    "redact_url",
    "write_dump",
]

#: The start of the first line of a dump written by kepler-reader.
DUMP_HEADER_PREFIX = b"# kepler-reader "
_HEADER = re.compile(rb"# kepler-reader scraped_at=(\S+)(?: url=(\S+))?[ \t]*")
_GZIP_MAGIC = b"\x1f\x8b"


def not_regular(name: str) -> str | None:
    """Why ``name`` cannot be read as a saved file, or ``None`` when it is one.

    A pipe, FIFO, socket or device is refused before it is opened: a FIFO without a
    writer blocks ``open`` forever, and a pipe can be read only once while readers
    look at a file's start before reading all of it. A path that cannot be looked
    at returns ``None``, so that opening it reports the reason.
    """
    try:
        mode = os.stat(name).st_mode
    except (OSError, ValueError):
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    kind = "a pipe or FIFO" if stat.S_ISFIFO(mode) else "not a regular file"
    return f"{name}: {kind}; save it to a regular file and give that path."


def redact_url(url: str) -> str:
    """Return ``url`` without any user name or password in it."""
    try:
        parts = urllib.parse.urlsplit(url)
        if parts.username is None and parts.password is None:
            return url
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        return urllib.parse.urlunsplit(parts._replace(netloc=host))
    except ValueError:
        # Not a well-formed URL (a bad port, a broken IPv6 host): drop anything up
        # to an "@" in its authority part all the same.
        return re.sub(r"(//)[^/@]*@", r"\1", url)


def _format_time(seconds: float) -> str:
    stamp = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def dump_header(scraped_at: float, url: str) -> bytes:
    """The comment line that starts a dump, with its line feed.

    Args:
        scraped_at: When the response arrived, in seconds since the epoch.
        url: Where it came from; user names and passwords are removed.
    """
    safe = redact_url(url).replace(" ", "%20")
    return (
        DUMP_HEADER_PREFIX
        + f"scraped_at={_format_time(scraped_at)} url={safe}\n".encode()
    )


def read_header(data: bytes) -> tuple[float, str | None] | None:
    """Read the scrape time (seconds since the epoch) and URL from a dump's first line.

    Returns:
        ``(scraped_at, url)``, or ``None`` when ``data`` does not start with a
        kepler-reader header.
    """
    if not data.startswith(DUMP_HEADER_PREFIX):
        return None
    end = data.find(b"\n")
    first = data if end < 0 else data[:end]
    match = _HEADER.fullmatch(first.rstrip(b"\r"))
    if match is None:
        return None
    text = match.group(1).decode("ascii", "replace")
    try:
        stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    url = match.group(2).decode("utf-8", "replace") if match.group(2) else None
    return stamp.timestamp(), url


def _too_large(path: str, what: str, limit: int) -> LimitExceededError:
    return LimitExceededError(
        f"{path}: {what}, over the limit max_body_bytes={limit}.",
        limit="max_body_bytes",
        value=limit,
    )


# Descriptors the process already has open (standard input, ``<(...)``): a dump is
# read from them once, and opening them cannot block as opening a FIFO can.
_OPEN_DESCRIPTORS = ("/dev/stdin", "/dev/fd/", "/proc/self/fd/")


def _read_capped(name: str, limit: int) -> bytes:
    """The bytes of a file, refusing one larger than ``limit`` before reading it."""
    problem = None if name.startswith(_OPEN_DESCRIPTORS) else not_regular(name)
    if problem is not None:
        raise DumpError(problem, path=name)
    try:
        with open(name, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > limit:
                raise _too_large(name, f"the file is {size} bytes long", limit)
            # Read one byte more than allowed: a file that grows meanwhile is caught.
            data = handle.read(limit + 1)
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or error
        raise DumpError(
            f"{name}: cannot read the file ({reason}).", path=name
        ) from error
    if len(data) > limit:
        raise _too_large(name, f"the file is longer than {limit} bytes", limit)
    return data


def _decompress(data: bytes, path: str, limit: int) -> bytes:
    """Undo gzip (any number of members), stopping at ``limit`` bytes of output."""
    out: list[bytes] = []
    size = 0
    while data:
        inflate = zlib.decompressobj(wbits=31)
        pending = data
        while pending:
            try:
                piece = inflate.decompress(pending, limit - size + 1)
            except zlib.error as error:
                raise DumpError(
                    f"{path}: the gzip stream is corrupt ({error}).", path=path
                ) from error
            size += len(piece)
            if size > limit:
                raise _too_large(path, "the dump decompresses to more bytes", limit)
            out.append(piece)
            if inflate.eof:
                break
            pending = inflate.unconsumed_tail
        if not inflate.eof:
            raise DumpError(f"{path}: the gzip stream is cut off.", path=path)
        data = inflate.unused_data
    return b"".join(out)


def read_dump(
    path: str | os.PathLike[str],
    *,
    lenient: bool = False,
    parser: Parser | None = None,
    scraped_at: float | None = None,
    limits: Limits | None = None,
    max_bytes: int | None = None,
) -> Snapshot:
    """Read a saved scrape (plain or gzip) into a snapshot.

    Args:
        path: The file. Gzip is recognised by its magic bytes, whatever the name.
        lenient: Skip bad lines instead of raising (see :func:`kepler_reader.parse`).
        parser: A warm parser to reuse across many dumps of one endpoint (its own
            limits then apply to the parse).
        scraped_at: The scrape time in seconds since the epoch, for files without a
            kepler-reader header (it overrides the header when both are present).
        limits: The most the dump may hold (:class:`~kepler_reader.Limits`; its
            defaults when ``None``). ``max_body_bytes`` caps both the file and what
            its gzip stream decompresses to: a gzip bomb stops there.
        max_bytes: Overrides ``limits.max_body_bytes`` (256 MiB by default).

    Returns:
        The snapshot, with ``scraped_at`` from the header (or the argument) and
        ``source`` set to the path.

    Raises:
        DumpError: The file cannot be read or its gzip stream is corrupt.
        LimitExceededError: The file, or what it decompresses to, is larger than
            ``max_body_bytes``; a line or (strict mode) the body is over another
            limit (see :class:`~kepler_reader.Limits`).
        ParseError: In strict mode, for the first bad line (line numbers count the
            header line, as an editor shows the file).
    """
    name = os.fspath(path)
    limits = limits or DEFAULT_LIMITS
    if max_bytes is not None:
        limits = attrs.evolve(limits, max_body_bytes=max_bytes)
    data = _read_capped(name, limits.max_body_bytes)
    if data.startswith(_GZIP_MAGIC):
        data = _decompress(data, name, limits.max_body_bytes)
    head = data[:4096].lstrip()[:64].lower()
    if head.startswith((b"<!doctype", b"<html")):
        raise DumpError(
            f"{name}: this is an HTML page (a login or proxy page?), not "
            "exposition text.",
            path=name,
        )
    if head.startswith(b'{"status"'):
        raise DumpError(
            f"{name}: this is a Prometheus API answer in JSON, not exposition text.",
            path=name,
        )
    header = read_header(data)
    when = scraped_at if scraped_at is not None else (header[0] if header else None)
    parser = parser or Parser(lenient=lenient, limits=limits)
    return parser.parse(data, source=name, scraped_at=when, lenient=lenient)


def write_dump(
    path: str | os.PathLike[str], body: bytes, *, scraped_at: float, url: str
) -> None:
    """Write a scrape to ``path`` with its header line, atomically.

    The file appears whole or not at all (written beside it, then renamed). A name
    ending in ``.gz`` gets a gzip file.

    Args:
        path: The file to write.
        body: The exposition body as received.
        scraped_at: When the response arrived, in seconds since the epoch.
        url: Where it came from (credentials are removed).

    Raises:
        DumpError: The file cannot be written.
    """
    name = os.fspath(path)
    data = dump_header(scraped_at, url) + body
    if name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    folder = os.path.dirname(os.path.abspath(name))
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".kepler-reader-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, name)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError as error:
        raise DumpError(
            f"{name}: cannot write the dump ({error.strerror or error}).", path=name
        ) from error
