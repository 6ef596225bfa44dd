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

import gzip
import hashlib
import logging
import os
import stat
import sys
import urllib.parse
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Literal, overload

import attrs
import numpy as np

from .exceptions import LimitExceededError, RecordingError
from .parser import Parser, format_of
from .recording import Recording, recording_from_snapshots
from .recording_format import (
    DEFAULT_MAX_FILE_BYTES,
    DEFAULT_MAX_RECORD_BYTES,
    OPEN_FLAGS,
    RECORD_PREFIX,
    TAIL_CHECK_BYTES,
    Gap,
    Record,
    RecordingWarning,
    head_fields,
    header_line,
    looks_torn,
    quote_value,
    read_at,
    scan_entries,
    scan_members,
)

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

# A record's gzip header keeps its time as an unsigned 32-bit count of seconds, so a
# time outside 1970-01-01 to 2106-02-07 cannot be written.
_LATEST_TIME = float(2**32)


def _check_time(scraped_at: float) -> None:
    """Refuse a time a record cannot hold (see :data:`_LATEST_TIME`)."""
    if isinstance(scraped_at, bool) or not isinstance(scraped_at, int | float):
        raise TypeError(
            f"scraped_at must be seconds since the epoch (a float), not "
            f"{type(scraped_at).__name__}."
        )
    if not 0 <= scraped_at < _LATEST_TIME:
        raise ValueError(
            f"scraped_at={scraped_at!r} is not a time a recording holds (seconds "
            f"since the epoch, 0 to {int(_LATEST_TIME) - 1})."
        )


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
        RecordingError: The file cannot be opened or locked, is not a regular file
            (a FIFO, a device), or it is not a recording
            (the writer never truncates a file that does not start with a record).
        ValueError: ``compresslevel`` is not 0 to 9 or ``max_record_bytes`` is not
            positive (checked before the file is opened or created).
        TypeError: ``compresslevel`` or ``max_record_bytes`` is not an int.

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
        for name, value in (
            ("compresslevel", compresslevel),
            ("max_record_bytes", max_record_bytes),
        ):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, not {type(value).__name__}.")
        if not 0 <= compresslevel <= 9:
            raise ValueError(
                f"compresslevel={compresslevel} is not a gzip level (0-9)."
            )
        if max_record_bytes <= 0:
            raise ValueError(f"max_record_bytes={max_record_bytes} is not positive.")
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
        flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | OPEN_FLAGS
        try:
            self._fd = os.open(self.path, flags, 0o644)
        except OSError as error:
            raise RecordingError(
                f"{self.path}: cannot open the recording ({error.strerror or error}).",
                path=self.path,
            ) from error
        try:
            if not stat.S_ISREG(os.fstat(self._fd).st_mode):
                # Appending to a FIFO blocks once its buffer is full, and a device
                # cannot be resumed or rolled back.
                raise RecordingError(
                    f"{self.path}: not a regular file; a recording is written to one.",
                    path=self.path,
                )
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
        members = scan_members(
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
        if not looks_torn(read_at(self._fd, TAIL_CHECK_BYTES, end), size - end):
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
            ValueError: ``scraped_at`` is not finite or lies outside 1970 to 2106
                (the range a record's gzip header holds).
            TypeError: ``scraped_at`` is not a number, ``body`` is not bytes, or
                ``url``, ``node`` or ``content_type`` is not a str.
        """
        _check_time(scraped_at)
        if not isinstance(body, bytes | bytearray | memoryview):
            raise TypeError(
                f"body must be bytes (the exposition as received), not "
                f"{type(body).__name__}."
            )
        for name, text in (
            ("url", url),
            ("node", node),
            ("content_type", content_type),
        ):
            if not isinstance(text, str):
                raise TypeError(f"{name} must be a str, not {type(text).__name__}.")
        body = bytes(body)
        fields = head_fields(scraped_at, url, node)
        if content_type:
            fields.append(("content_type", quote_value(content_type)))
        fields.append(("bytes", str(len(body))))
        fields.append(("sha256", hashlib.sha256(body).hexdigest()))
        return self._append(header_line(fields) + body, scraped_at)

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
            ValueError: As :meth:`write`, for ``scraped_at``.
            TypeError: ``scraped_at`` is not a number.
        """
        _check_time(scraped_at)
        fields = head_fields(scraped_at, url, node)
        fields.append(("gap", quote_value(" ".join(reason.split())[:2000])))
        return self._append(header_line(fields), scraped_at)

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
    for entry in scan_entries(
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
        for entry in scan_entries(
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
