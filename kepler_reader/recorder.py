"""Recordings on disk: many scrapes of one or more endpoints, appended to one file.

A recording is a sequence of gzip members, one per record (``docs/recording-format.md``
describes it byte by byte). Each member holds one header line and, for a scrape, the
exposition body exactly as received::

    # kepler-reader record=1 scraped_at=2026-12-03T10:00:00.123456Z url=http://...
      node=node-a bytes=87563 sha256=9f2c... (one line)
    # HELP kepler_node_cpu_joules_total ...

Concatenated gzip members are themselves a gzip file, so ``zcat FILE`` prints every
record's header and body. A record is written with one ``write`` and then ``fsync``:
after a crash or ``SIGKILL`` only the record being written can be incomplete, and a
reader detects it (the member's gzip stream ends early) and skips it with a
:class:`RecordingWarning`. :class:`RecordingWriter` cuts such a torn tail off before it
appends, so a restarted recorder continues the file after its last complete record.

:func:`iter_records` streams the records of a file; :func:`read_recording` parses them
with one warm parser into a :class:`~kepler_reader.Recording` (time by series).
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import logging
import os
import sys
import urllib.parse
import warnings
import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Literal, NamedTuple, overload

import attrs
import numpy as np

from .dumps import redact_url
from .exceptions import LimitExceededError, RecordingError
from .parser import Parser
from .recording import Recording, recording_from_snapshots
from .scraping import DEFAULT_MAX_BODY_BYTES, format_of

if TYPE_CHECKING:
    from types import TracebackType

    from .scraping import Response
    from .snapshot import Series, Snapshot

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "DEFAULT_MAX_RECORD_BYTES",
    "RECORD_PREFIX",
    "Gap",
    "Record",
    "RecordingWarning",
    "RecordingWriter",
    "iter_records",
    "read_recording",
]

if sys.platform != "win32":
    import fcntl

log = logging.getLogger(__name__)

#: The start of every record's header line (``record=`` is the format version).
RECORD_PREFIX = b"# kepler-reader record="
_VERSION = 1
#: The largest record (header line and body, decompressed) read or written, in bytes.
DEFAULT_MAX_RECORD_BYTES = DEFAULT_MAX_BODY_BYTES + 64 * 1024
#: The largest recording file read, in bytes on disk (64 GiB).
DEFAULT_MAX_FILE_BYTES = 64 * 1024**3
_GZIP_MAGIC = b"\x1f\x8b\x08"
# Binary mode and no inheritance by child processes, where the platform has the flags.
_OPEN_FLAGS = getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
_CHUNK = 1 << 20
# How much of what follows the last complete record is looked at before cutting it.
_TAIL_CHECK_BYTES = 64 * 1024
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


# Writing


def _format_time(seconds: float) -> str:
    stamp = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _quote(text: str) -> str:
    return urllib.parse.quote(text, safe=_SAFE) or "-"


def _header(fields: Sequence[tuple[str, str]]) -> bytes:
    text = " ".join(f"{key}={value}" for key, value in fields)
    return RECORD_PREFIX + f"{_VERSION} {text}\n".encode("ascii")


def _head_fields(scraped_at: float, url: str, node: str) -> list[tuple[str, str]]:
    return [
        ("scraped_at", _format_time(scraped_at)),
        ("url", _quote(redact_url(url))),
        ("node", _quote(node)),
    ]


class RecordingWriter:
    """Append records to a recording file, each one durable once written.

    Opening an existing recording resumes it: an incomplete last record (left by a
    crash) is cut off, and new records follow the last complete one. The file is
    locked against a second writer while open. Every record is compressed in memory,
    written with one call and ``fsync``-ed, so a crash loses at most the record being
    written. A write that fails (a full disk, the file or its folder gone) is undone
    as far as the disk allows and raises; the records before it stay readable.

    Args:
        path: The recording file; created if missing (its folder must exist).
        compresslevel: The gzip level, 1 (fast) to 9 (small).
        fsync: Flush every record to the disk. Without it a crash of the machine (not
            of the process) may lose more than the last record.
        max_record_bytes: The largest record (header line and body) written, in
            bytes; larger ones raise, so that every record written can be read back
            with the same limit.

    Raises:
        RecordingError: The file cannot be opened or locked, or it is not a recording
            (the writer never truncates a file that does not start with a record).

    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        compresslevel: int = 6,
        fsync: bool = True,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    ) -> None:
        self.path = os.fspath(path)
        self.compresslevel = compresslevel
        self.fsync = fsync
        self.max_record_bytes = max_record_bytes
        #: Records in the file (including those found on opening it).
        self.records = 0
        #: Bytes written by this writer.
        self.bytes_written = 0
        self._broken: str | None = None
        created = not os.path.exists(self.path)
        flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | _OPEN_FLAGS
        try:
            self._fd = os.open(self.path, flags, 0o644)
        except OSError as error:
            raise RecordingError(
                f"{self.path}: cannot open the recording ({error.strerror or error}).",
                path=self.path,
            ) from error
        try:
            self._lock()
            self._size = self._resume()
            if created and fsync:
                _fsync_folder(self.path)
            status = os.fstat(self._fd)
        except BaseException:
            os.close(self._fd)
            raise
        self._identity = (status.st_dev, status.st_ino)

    def _lock(self) -> None:
        if sys.platform == "win32":
            # TODO: lock with msvcrt.locking; until then two writers can interleave.
            return
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise RecordingError(
                f"{self.path}: another process is writing this recording.",
                path=self.path,
            ) from error

    def _resume(self) -> int:
        """Find the end of the last complete record, cutting off a torn tail."""
        size = os.fstat(self._fd).st_size
        end = 0
        members = _members(
            self._fd,
            self.path,
            size,
            strict=True,
            limit=self.max_record_bytes,
            warn=False,
        )
        for start, stop, content in members:
            if not content.startswith(RECORD_PREFIX):
                raise RecordingError(
                    f"{self.path}: not a kepler-reader recording (the gzip member at "
                    f"byte {start} holds something else); refusing to append to it.",
                    path=self.path,
                    offset=start,
                )
            end = stop
            self.records += 1
        if end == size:
            return size
        if not _looks_torn(_read_at(self._fd, _TAIL_CHECK_BYTES, end), size - end):
            raise RecordingError(
                f"{self.path}: not a kepler-reader recording (byte {end} starts "
                "neither a record nor an incomplete one); refusing to append to it.",
                path=self.path,
                offset=end,
            )
        try:
            os.ftruncate(self._fd, end)
            if self.fsync:
                os.fsync(self._fd)
        except OSError as error:
            raise RecordingError(
                f"{self.path}: cannot cut off the incomplete last record "
                f"({error.strerror or error}).",
                path=self.path,
                offset=end,
            ) from error
        log.warning(
            "%s: cut off an incomplete last record (%d bytes at byte %d) "
            "before appending",
            self.path,
            size - end,
            end,
        )
        return end

    def write(
        self,
        scraped_at: float,
        url: str,
        body: bytes,
        *,
        node: str,
        content_type: str = "",
    ) -> int:
        """Append one scrape.

        Args:
            scraped_at: When the response arrived, in seconds since the epoch (kept
                to the microsecond).
            url: Where it came from; user names and passwords are removed.
            body: The exposition body as received (decompressed).
            node: The node the endpoint reports on.
            content_type: The response's ``Content-Type``, which tells a reader the
                format (OpenMetrics or text 0.0.4).

        Returns:
            The bytes added to the file.

        Raises:
            RecordingError: The record cannot be written; earlier records are intact
                and the writer refuses further records.
            LimitExceededError: The record is larger than ``max_record_bytes``.
        """
        fields = _head_fields(scraped_at, url, node)
        if content_type:
            fields.append(("content_type", _quote(content_type)))
        fields.append(("bytes", str(len(body))))
        fields.append(("sha256", hashlib.sha256(body).hexdigest()))
        return self._append(_header(fields) + body, scraped_at)

    def write_response(self, response: Response, *, node: str) -> int:
        """Append a :class:`~kepler_reader.Response` as :meth:`write` does.

        Raises:
            RecordingError: As :meth:`write`.
            LimitExceededError: As :meth:`write`.
        """
        return self.write(
            response.scraped_at,
            response.url,
            response.body,
            node=node,
            content_type=response.content_type,
        )

    def write_gap(self, scraped_at: float, url: str, reason: str, *, node: str) -> int:
        """Append a marker for a scrape that failed (a gap, never a zero).

        Args:
            scraped_at: When the scrape was attempted, in seconds since the epoch.
            url: The URL that failed (credentials are removed).
            reason: What went wrong, one line.
            node: The node the endpoint reports on.

        Returns:
            The bytes added to the file.

        Raises:
            RecordingError: As :meth:`write`.
        """
        fields = _head_fields(scraped_at, url, node)
        fields.append(("gap", _quote(" ".join(reason.split())[:2000])))
        return self._append(_header(fields), scraped_at)

    def _append(self, content: bytes, scraped_at: float) -> int:
        if len(content) > self.max_record_bytes:
            raise LimitExceededError(
                f"{self.path}: a record of {len(content)} bytes exceeds "
                f"max_record_bytes={self.max_record_bytes}.",
                limit="max_record_bytes",
                value=self.max_record_bytes,
            )
        data = gzip.compress(
            content, compresslevel=self.compresslevel, mtime=int(scraped_at)
        )
        self._check_writable()
        view = memoryview(data)
        try:
            written = 0
            while written < len(data):
                written += os.write(self._fd, view[written:])
            if self.fsync:
                os.fsync(self._fd)
        except OSError as error:
            self._broken = error.strerror or str(error)
            self._roll_back()
            raise RecordingError(
                f"{self.path}: cannot append a record ({self._broken}); the "
                f"{self.records} records before it are intact.",
                path=self.path,
                offset=self._size,
            ) from error
        self._size += len(data)
        self.records += 1
        self.bytes_written += len(data)
        return len(data)

    def _check_writable(self) -> None:
        if self._fd < 0:
            raise RecordingError(f"{self.path}: the writer is closed.", path=self.path)
        if self._broken is not None:
            raise RecordingError(
                f"{self.path}: an earlier write failed ({self._broken}); nothing more "
                "is appended.",
                path=self.path,
            )
        # A file whose folder was removed or renamed still accepts writes through
        # the open descriptor, into a file nobody will find: check the path first.
        try:
            status = os.stat(self.path)
            gone = (status.st_dev, status.st_ino) != self._identity
        except OSError:
            gone = True
        if gone or os.fstat(self._fd).st_nlink == 0:
            self._broken = "the file is gone from its path"
            raise RecordingError(
                f"{self.path}: the recording is gone from its path (deleted, or its "
                "folder removed or renamed); nothing more is appended after its "
                f"{self.records} records.",
                path=self.path,
            )

    def _roll_back(self) -> None:
        # Cut a partly written record off, so the file ends with a complete one; if
        # even that fails, readers still skip the torn tail.
        try:
            os.ftruncate(self._fd, self._size)
            os.fsync(self._fd)
        except OSError:
            log.debug("%s: could not cut off a partly written record", self.path)

    @property
    def size(self) -> int:
        """The size of the file in bytes, up to its last complete record."""
        return self._size

    def close(self) -> None:
        """Close the file (every record is already on disk)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RecordingWriter({self.path!r}, records={self.records})"


def _looks_torn(start: bytes, length: int) -> bool:
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
        return length < _TAIL_CHECK_BYTES
    return RECORD_PREFIX.startswith(text)


def _fsync_folder(path: str) -> None:
    """Make a new file's name durable, not only its contents."""
    try:
        folder = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(folder)
    except OSError:
        log.debug("%s: the folder cannot be fsync-ed", path)
    finally:
        os.close(folder)


# Reading


def _read_at(fd: int, size: int, offset: int) -> bytes:
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
        chunk = _read_at(fd, _CHUNK, position)
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
        chunk = _read_at(fd, _CHUNK, position)
        if len(chunk) < len(_GZIP_MAGIC):
            return None
        found = chunk.find(_GZIP_MAGIC)
        if found >= 0:
            return position + found
        position += len(chunk) - len(_GZIP_MAGIC) + 1


def _members(
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


def _entries(
    path: str | os.PathLike[str],
    *,
    lenient: bool,
    max_record_bytes: int,
    max_file_bytes: int,
) -> Iterator[_Entry]:
    name = os.fspath(path)
    try:
        fd = os.open(name, os.O_RDONLY | _OPEN_FLAGS)
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
        members = _members(fd, name, size, strict=not lenient, limit=max_record_bytes)
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


@overload
def iter_records(
    path: str | os.PathLike[str],
    *,
    gaps: Literal[False] = False,
    lenient: bool = False,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> Iterator[Record]: ...


@overload
def iter_records(
    path: str | os.PathLike[str],
    *,
    gaps: bool,
    lenient: bool = False,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> Iterator[Record | Gap]: ...


def iter_records(
    path: str | os.PathLike[str],
    *,
    gaps: bool = False,
    lenient: bool = False,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> Iterator[Record | Gap]:
    """Stream the records of a recording, in file order, one in memory at a time.

    Args:
        path: The recording file.
        gaps: Also yield a :class:`Gap` for each failed scrape the recorder noted.
        lenient: Skip corrupt records (with a warning) instead of raising.
        max_record_bytes: The largest record read (header and body, decompressed).
        max_file_bytes: The largest file read, in bytes on disk.

    Yields:
        A :class:`Record` ``(scraped_at, url, node, body)`` per scrape (and a
        :class:`Gap` per failed scrape with ``gaps=True``). An incomplete last record
        is skipped with a :class:`RecordingWarning`.

    Raises:
        RecordingError: The file cannot be read, or (unless ``lenient``) a record
            in it is corrupt.
        LimitExceededError: A record or the file is over its limit.
    """
    for entry in _entries(
        path,
        lenient=lenient,
        max_record_bytes=max_record_bytes,
        max_file_bytes=max_file_bytes,
    ):
        if gaps or isinstance(entry.item, Record):
            yield entry.item


def read_recording(
    path_or_paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    lenient: bool = False,
    families: Iterable[str] | None = None,
    instance_label: bool | None = None,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> Recording:
    """Read one or more recording files into a time-by-series :class:`Recording`.

    Every record is parsed with one warm :class:`~kepler_reader.Parser`, so series
    seen before cost little. Gaps (failed scrapes) are not rows: a row is a scrape.

    Args:
        path_or_paths: A recording file, or several (read in the order given, rows
            then sorted by time).
        lenient: Skip bad lines in bodies and corrupt records instead of raising.
        families: Keep only samples whose name starts with one of these prefixes.
        instance_label: Add an ``instance`` label (the endpoint's host and port) to
            every series, as Prometheus does, so that the same series from two
            endpoints are two columns. ``None`` (the default) adds it only when the
            files hold more than one endpoint. A label ``instance`` the exporter set
            itself becomes ``exported_instance``.
        max_record_bytes: The largest record read (header and body, decompressed).
        max_file_bytes: The largest file read, in bytes on disk.

    Returns:
        The recording: ``times`` in seconds since the epoch, ``sources`` the URL of
        each row.

    Raises:
        RecordingError: A file cannot be read, or (unless ``lenient``) a record is
            corrupt.
        LimitExceededError: A record or a file is over its limit.
        ParseError: A body is not valid exposition text (unless ``lenient``).
    """
    if isinstance(path_or_paths, str | os.PathLike):
        paths: list[str | os.PathLike[str]] = [path_or_paths]
    else:
        paths = list(path_or_paths)
    parser = Parser(lenient=lenient, families=families)
    by_url: dict[str, list[Snapshot]] = {}
    skipped = 0
    for path in paths:
        for entry in _entries(
            path,
            lenient=lenient,
            max_record_bytes=max_record_bytes,
            max_file_bytes=max_file_bytes,
        ):
            record = entry.item
            if not isinstance(record, Record):
                continue
            snapshot = parser.parse(
                record.body,
                source=f"{os.fspath(path)} (record at byte {entry.offset})",
                scraped_at=record.scraped_at,
                format=format_of(entry.content_type),
            )
            skipped += len(snapshot.errors)
            by_url.setdefault(record.url, []).append(
                attrs.evolve(snapshot, source=record.url)
            )
    if skipped:
        warnings.warn(
            f"{skipped} bad lines were skipped in the recorded bodies.",
            RecordingWarning,
            stacklevel=2,
        )
    label = len(by_url) > 1 if instance_label is None else instance_label
    if not label:
        return recording_from_snapshots(
            [snapshot for group in by_url.values() for snapshot in group]
        )
    return _merge(
        [recording_from_snapshots(group) for group in by_url.values()],
        _instances(list(by_url)),
    )


def _instances(urls: Sequence[str]) -> list[str]:
    """Each URL's ``instance`` value: host and port, or the whole URL if not unique."""
    hosts = [urllib.parse.urlsplit(url).netloc or url for url in urls]
    return hosts if len(set(hosts)) == len(hosts) else list(urls)


def _with_instance(series: Series, instance: str) -> Series:
    labels = [
        ("exported_instance" if key == "instance" else key, value)
        for key, value in series.labels
    ]
    labels.append(("instance", instance))
    return series._replace(labels=tuple(sorted(labels)))


def _merge(parts: Sequence[Recording], instances: Sequence[str]) -> Recording:
    """Put the recordings of several endpoints side by side, rows sorted by time."""
    times = np.concatenate([part.times for part in parts])
    order = np.argsort(times, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    columns = sum(len(part.series) for part in parts)
    values = np.full((len(times), columns), np.nan)
    present = np.zeros((len(times), columns), dtype=bool)
    series: list[Series] = []
    types: list[str] = []
    sources = [""] * len(times)
    row = column = 0
    for part, instance in zip(parts, instances, strict=True):
        rows = rank[row : row + len(part)]
        width = len(part.series)
        values[rows, column : column + width] = part.values
        present[rows, column : column + width] = part.present
        series.extend(_with_instance(s, instance) for s in part.series)
        types.extend(part.types)
        for at, source in zip(rows.tolist(), part.sources, strict=True):
            sources[at] = source
        row += len(part)
        column += width
    return Recording(
        times=times[order],
        series=tuple(series),
        values=values,
        present=present,
        types=tuple(types),
        sources=tuple(sources),
    )
