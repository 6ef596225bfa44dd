"""The recording file format, record by record: encoding, decoding and scanning.

One record is one gzip member holding a header line (``# kepler-reader record=1``
and ``key=value`` fields) and, for a scrape, the body; ``docs/recording-format.md``
is the specification. This module holds what both sides share: the header's
encoding, the scan over a file's gzip members that tells complete records from a torn
tail, and the check of each record against its header. :mod:`kepler_reader.recorder`
builds the writer and the public readers on it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import urllib.parse
import warnings
import zlib
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import attrs

from .dumps import not_regular, redact_url
from .exceptions import LimitExceededError, RecordingError
from .limits import DEFAULT_LIMITS

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "DEFAULT_MAX_RECORD_BYTES",
    "RECORD_PREFIX",
    "Gap",
    "Record",
    "RecordingWarning",
]

#: The start of every record's header line (``record=`` is the format version).
RECORD_PREFIX = b"# kepler-reader record="
_VERSION = 1
#: The largest record (header line and body, decompressed) read or written, in bytes.
DEFAULT_MAX_RECORD_BYTES = DEFAULT_LIMITS.max_body_bytes + 64 * 1024
#: The largest recording file read, in bytes on disk (64 GiB).
DEFAULT_MAX_FILE_BYTES = 64 * 1024**3
_GZIP_MAGIC = b"\x1f\x8b\x08"
# Binary mode and no inheritance by child processes, where the platform has the flags.
OPEN_FLAGS = getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
_CHUNK = 1 << 20
# How much of what follows the last complete record is looked at before cutting it.
TAIL_CHECK_BYTES = 64 * 1024
# Characters left as they are in header values; everything else (spaces, line feeds,
# "%") is percent-encoded, so a value never contains a space or ends the line.
_SAFE = "/:?&=@+,;!$'()*~[]"


class RecordingWarning(UserWarning):
    """A recording was read past a problem: a torn last record, a skipped record."""


class Record(NamedTuple):
    """One scrape as recorded.

    Attributes:
        scraped_at: When the response arrived, in seconds since the epoch (to the
            microsecond).
        url: The URL scraped, without credentials.
        node: The node the endpoint reports on.
        body: The exposition body as received (decompressed).
    """

    scraped_at: float
    url: str
    node: str
    body: bytes


class Gap(NamedTuple):
    """A scrape that failed, as recorded: a gap in the measurement, not a zero.

    Attributes:
        scraped_at: When the scrape was attempted, in seconds since the epoch.
        url: The URL that failed, without credentials.
        node: The node the endpoint reports on.
        reason: The error, as the recorder logged it.
    """

    scraped_at: float
    url: str
    node: str
    reason: str


@attrs.frozen(slots=True)
class _Entry:
    """A record as read, with what the public tuples leave out."""

    offset: int
    item: Record | Gap
    content_type: str


def _format_time(seconds: float) -> str:
    stamp = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def quote_value(text: str) -> str:
    """Percent-encode a header value so that it holds no space and no line feed."""
    return urllib.parse.quote(text, safe=_SAFE) or "-"


def header_line(fields: Sequence[tuple[str, str]]) -> bytes:
    """A record's header line, with its line feed, from already encoded fields."""
    text = " ".join(f"{key}={value}" for key, value in fields)
    return RECORD_PREFIX + f"{_VERSION} {text}\n".encode("ascii")


def head_fields(scraped_at: float, url: str, node: str) -> list[tuple[str, str]]:
    """The fields every record starts with; the URL loses its credentials."""
    return [
        ("scraped_at", _format_time(scraped_at)),
        ("url", quote_value(redact_url(url))),
        ("node", quote_value(node)),
    ]


def looks_torn(start: bytes, length: int) -> bool:
    """Whether what follows the last complete record is what a crash leaves.

    That is zeros (some file systems after a power cut), or the beginning of a record:
    a gzip member whose text, as far as it goes, opens a record header. ``start`` is
    the beginning of those bytes, ``length`` their number.
    """
    if not start.strip(b"\0"):
        return True
    if not _GZIP_MAGIC.startswith(start[:3]):
        return False
    inflate = zlib.decompressobj(wbits=31)
    try:
        text = inflate.decompress(start, len(RECORD_PREFIX))
    except zlib.error:
        return False
    if not text:
        # Too little arrived to inflate anything: only a short tail is torn.
        return length < TAIL_CHECK_BYTES
    return RECORD_PREFIX.startswith(text)


def read_at(fd: int, size: int, offset: int) -> bytes:
    """Up to ``size`` bytes at ``offset`` (``os.pread`` where there is one)."""
    if hasattr(os, "pread"):
        return os.pread(fd, size, offset)
    os.lseek(fd, offset, os.SEEK_SET)
    return os.read(fd, size)


def _read_member(
    fd: int, start: int, limit: int, name: str
) -> tuple[bytes, int] | None:
    """Decompress the gzip member at byte ``start``.

    Returns:
        The content and the offset just past the member, or ``None`` when the file
        ends inside it.

    Raises:
        zlib.error: The bytes at ``start`` are not a (valid) gzip member.
        LimitExceededError: The member decompresses to more than ``limit`` bytes.
    """
    inflate = zlib.decompressobj(wbits=31)
    out: list[bytes] = []
    size = 0
    position = start
    while True:
        chunk = read_at(fd, _CHUNK, position)
        if not chunk:
            return None
        position += len(chunk)
        data = chunk
        while data:
            piece = inflate.decompress(data, limit - size + 1)
            size += len(piece)
            if size > limit:
                raise LimitExceededError(
                    f"{name}: the record at byte {start} exceeds "
                    f"max_record_bytes={limit}.",
                    limit="max_record_bytes",
                    value=limit,
                )
            out.append(piece)
            if inflate.eof:
                return b"".join(out), position - len(inflate.unused_data)
            data = inflate.unconsumed_tail


def _next_member(fd: int, start: int) -> int | None:
    """The offset of the next gzip magic at or after ``start``, or ``None``."""
    position = start
    while True:
        chunk = read_at(fd, _CHUNK, position)
        if len(chunk) < len(_GZIP_MAGIC):
            return None
        found = chunk.find(_GZIP_MAGIC)
        if found >= 0:
            return position + found
        position += len(chunk) - len(_GZIP_MAGIC) + 1


def scan_members(
    fd: int,
    name: str,
    size: int,
    *,
    strict: bool,
    limit: int = DEFAULT_MAX_RECORD_BYTES,
    warn: bool = True,
) -> Iterator[tuple[int, int, bytes]]:
    """The complete gzip members of a file: ``(start, end, content)``.

    An incomplete last member is skipped, with a warning if ``warn``. Bytes that are
    not gzip raise in ``strict`` mode unless nothing readable follows them (a torn
    tail); otherwise they are skipped, with a warning, up to the next member.
    """
    position = 0
    while position < size:
        try:
            found = _read_member(fd, position, limit, name)
        except zlib.error as error:
            following = _next_member(fd, position + 1)
            if following is None:
                found = None
            elif strict:
                raise RecordingError(
                    f"{name}: the record at byte {position} is corrupt ({error}).",
                    path=name,
                    offset=position,
                ) from error
            else:
                warnings.warn(
                    f"{name}: skipped {following - position} corrupt bytes at byte "
                    f"{position} ({error}).",
                    RecordingWarning,
                    stacklevel=4,
                )
                position = following
                continue
        if found is None:
            if not warn:
                return
            warnings.warn(
                f"{name}: the last record (bytes {position} to {size}) is incomplete, "
                "as a crash while writing leaves it; it was skipped.",
                RecordingWarning,
                stacklevel=4,
            )
            return
        content, end = found
        yield position, end, content
        position = end


def _parse_time(text: str) -> float:
    stamp = dt.datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.timestamp()


def _parse_entry(content: bytes, name: str, offset: int) -> _Entry:
    """Read one record's header line and check its body.

    Raises:
        RecordingError: The header is malformed or the body does not match it.
    """

    def bad(reason: str) -> RecordingError:
        return RecordingError(
            f"{name}: the record at byte {offset} {reason}.", path=name, offset=offset
        )

    end = content.find(b"\n")
    if not content.startswith(RECORD_PREFIX) or end < 0:
        raise bad("does not start with a kepler-reader record header")
    try:
        words = content[len(RECORD_PREFIX) : end].decode("ascii").split(" ")
        version = int(words[0])
        fields = dict(word.split("=", 1) for word in words[1:])
    except (UnicodeDecodeError, ValueError) as error:
        raise bad(f"has a malformed header ({error})") from error
    if version != _VERSION:
        raise bad(
            f"is in format version {version}; this kepler-reader reads version "
            f"{_VERSION}"
        )
    try:
        scraped_at = _parse_time(fields["scraped_at"])
        url = urllib.parse.unquote(fields["url"])
        node = urllib.parse.unquote(fields["node"])
    except KeyError as error:
        raise bad(f"has no {error.args[0]} in its header") from error
    except ValueError as error:
        raise bad(f"has a malformed scrape time ({error})") from error
    body = content[end + 1 :]
    if "gap" in fields:
        reason = urllib.parse.unquote(fields["gap"])
        return _Entry(offset, Gap(scraped_at, url, node, reason), "")
    if fields.get("bytes") != str(len(body)):
        raise bad(f"has {len(body)} body bytes, its header says {fields.get('bytes')}")
    if fields.get("sha256") != hashlib.sha256(body).hexdigest():
        raise bad("has a body whose SHA-256 differs from its header's")
    content_type = urllib.parse.unquote(fields.get("content_type", ""))
    return _Entry(offset, Record(scraped_at, url, node, body), content_type)


def scan_entries(
    path: str | os.PathLike[str],
    *,
    lenient: bool,
    max_record_bytes: int,
    max_file_bytes: int,
) -> Iterator[_Entry]:
    """The records of one file, checked against their headers, in file order.

    Raises:
        RecordingError: The file cannot be read, or (unless ``lenient``) a record
            in it is corrupt.
        LimitExceededError: A record or the file is over its limit.
    """
    name = os.fspath(path)
    problem = not_regular(name)
    if problem is not None:
        raise RecordingError(problem, path=name)
    try:
        fd = os.open(name, os.O_RDONLY | OPEN_FLAGS)
    except OSError as error:
        raise RecordingError(
            f"{name}: cannot read the recording ({error.strerror or error}).",
            path=name,
        ) from error
    try:
        size = os.fstat(fd).st_size
        if size > max_file_bytes:
            raise LimitExceededError(
                f"{name}: the recording's {size} bytes exceed "
                f"max_file_bytes={max_file_bytes}.",
                limit="max_file_bytes",
                value=max_file_bytes,
            )
        members = scan_members(
            fd, name, size, strict=not lenient, limit=max_record_bytes
        )
        for start, _, content in members:
            try:
                yield _parse_entry(content, name, start)
            except RecordingError as error:
                if not lenient:
                    raise
                warnings.warn(
                    f"{error} It was skipped.", RecordingWarning, stacklevel=3
                )
    except OSError as error:
        raise RecordingError(
            f"{name}: cannot read the recording ({error.strerror or error}).",
            path=name,
        ) from error
    finally:
        os.close(fd)
