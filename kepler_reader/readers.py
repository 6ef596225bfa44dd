"""Saved metric data of every kind, read into one :class:`Recording`.

Three kinds of files are read here, and :func:`load_recording` tells them apart by
their content, not their names:

* **dumps**: exposition bodies, one scrape each, plain or gzip, timed by the
  ``# kepler-reader scraped_at=`` line that ``kepler-reader scrape`` writes or by an
  explicit time per file (:func:`read_dumps`);
* **federate bodies**: exposition text with a millisecond timestamp on every sample,
  as Prometheus's ``/federate`` serves it; each distinct timestamp is one row
  (:func:`read_federate`);
* **Prometheus API answers** in JSON: instant vectors and range matrices from
  ``/api/v1/query`` and ``/api/v1/query_range``, with or without the
  ``{"status", "data"}`` envelope, a bare ``result`` array, or an object mapping metric
  names to ``result`` arrays (:func:`read_prometheus_json`).

Dumps are scrapes, so a series missing from a later dump of the same URL is stale there
(see :meth:`Recording.stale_markers`); federate bodies and API answers carry no stale
markers, so absence there is just absence.
"""

from __future__ import annotations

import glob
import gzip
import importlib
import json
import math
import os
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .dumps import _decompress, not_regular, read_dump, read_header
from .exceptions import DataError, DumpError, MissingIntervalError
from .parser import Parser
from .recording import (
    MAX_RECORDING_CELLS,
    Recording,
    check_cells,
    recording_from_snapshots,
    stale_per_target,
)
from .snapshot import NO_TIMESTAMP, Series

__all__ = [
    "expand_paths",
    "load_recording",
    "merge_recordings",
    "read_dumps",
    "read_federate",
    "read_prometheus_json",
    "sniff_kind",
]

PathLike = str | os.PathLike[str]
# The first bytes of a recorder file once decompressed (its first record's header).
_RECORD_PREFIX = b"# kepler-reader record="
_MAX_BYTES = 1 << 30
# The largest sample time read, in seconds: 2**53 ms, exact in float64 and far inside
# int64 milliseconds.
_MAX_SECONDS = 2**53 / 1000


def _read_bytes(path: str, max_bytes: int = _MAX_BYTES) -> bytes:
    problem = not_regular(path)
    if problem is not None:
        raise DumpError(problem, path=path)
    try:
        data = Path(path).read_bytes()
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or error
        raise DumpError(
            f"{path}: cannot read the file ({reason}).", path=path
        ) from error
    if data.startswith(b"\x1f\x8b"):
        data = _decompress(data, path, max_bytes)
    return data


def expand_paths(paths: Iterable[PathLike]) -> list[str]:
    """Every file named by ``paths``: files as given, folders' files, glob matches.

    Folder contents and glob matches are sorted by name; hidden files are skipped.

    Raises:
        DumpError: A path that is neither a file nor a folder and matches nothing.
    """
    found: list[str] = []
    for entry in paths:
        name = os.fspath(entry)
        if os.path.isdir(name):
            inside = sorted(
                os.path.join(name, child)
                for child in os.listdir(name)
                if not child.startswith(".")
            )
            found.extend(p for p in inside if os.path.isfile(p))
        elif os.path.exists(name):
            found.append(name)
        elif glob.has_magic(name):
            matches = sorted(p for p in glob.glob(name) if os.path.isfile(p))
            if not matches:
                raise DumpError(f"{name}: no file matches this pattern.", path=name)
            found.extend(matches)
        else:
            raise DumpError(f"{name}: cannot read the file (no such file).", path=name)
    return found


# ---------------------------------------------------------------------------------
# Prometheus API answers


def _answer_results(document: Any, source: str) -> list[tuple[str, list[Any]]]:
    """The result arrays in a JSON document, each with its ``resultType``."""
    if isinstance(document, list):
        return [("", document)]
    if not isinstance(document, dict):
        raise DataError(f"{source}: expected a JSON object or array, not {document!r}.")
    if "status" in document or isinstance(document.get("data"), dict):
        if document.get("status", "success") != "success":
            kind = document.get("errorType", "error")
            raise DataError(
                f"{source}: the answer is a Prometheus error ({kind}: "
                f"{document.get('error', 'no message')})."
            )
        document = document.get("data")
        if not isinstance(document, dict):
            raise DataError(f'{source}: the answer has no "data" object.')
    if "result" in document:
        kind = document.get("resultType", "")
        if kind in ("scalar", "string"):
            raise DataError(
                f"{source}: a {kind} answer has no series to read; "
                "save the answer of a vector or matrix query."
            )
        result = document["result"]
        if not isinstance(result, list):
            raise DataError(f'{source}: "result" is not an array.')
        return [(kind, result)]
    # The map form: metric name -> result array.
    out: list[tuple[str, list[Any]]] = []
    for key, value in document.items():
        if not isinstance(value, list):
            raise DataError(
                f"{source}: {key!r} is not an array of results; expected a Prometheus "
                "API answer or an object mapping names to result arrays."
            )
        out.append(("", value))
    return out


def _sample(pair: Any, source: str, where: str) -> tuple[int, float]:
    if not (isinstance(pair, list) and len(pair) == 2):
        raise DataError(f"{source}: {where}: expected [time, value], got {pair!r}.")
    stamp, text = pair
    try:
        seconds = float(stamp)
        value = float(text)
    except (TypeError, ValueError, OverflowError) as error:
        raise DataError(
            f'{source}: {where}: expected [seconds, "value"], got {pair!r}.'
        ) from error
    if not math.isfinite(seconds) or abs(seconds) > _MAX_SECONDS:
        raise DataError(
            f"{source}: {where}: the time {stamp!r} is not a finite time within "
            f"{_MAX_SECONDS:.0f} seconds of the epoch."
        )
    return round(seconds * 1000), value


def read_prometheus_json(
    path: PathLike | None = None,
    *,
    data: bytes | str | None = None,
    max_cells: int = MAX_RECORDING_CELLS,
) -> Recording:
    """Read a saved Prometheus API answer (or a map of them) into a recording.

    Accepts ``/api/v1/query`` vectors and matrices and ``/api/v1/query_range`` matrices:
    the whole answer, its ``data`` object, its bare ``result`` array, or an object
    mapping metric names to ``result`` arrays. Each distinct sample time is a row;
    ``__name__`` becomes the series name (``""`` for answers without one, such as
    ``sum(...)``). Types are ``"untyped"``: the API does not carry them.

    Args:
        path: The file (plain or gzip).
        data: The JSON text instead of a file.
        max_cells: The most cells (times x series) of the recording.

    Returns:
        The recording; its ``stale`` is all False (answers carry no stale markers).

    Raises:
        DumpError: The file cannot be read, is not JSON, or is nested too deeply.
        DataError: The JSON is not a Prometheus answer (the message says where, and
            includes a sample time that is not finite or beyond 2**53 ms), an
            error answer, a scalar, or native histograms; or a series has two
            different values at one time.
        LimitExceededError: More than ``max_cells`` cells (``max_recording_cells``).
    """
    source = os.fspath(path) if path is not None else "<json>"
    if data is None:
        if path is None:
            raise ValueError("pass a path or data.")
        data = _read_bytes(source)
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise DumpError(f"{source}: not valid JSON ({error}).", path=source) from error
    except RecursionError:
        raise DumpError(
            f"{source}: the JSON is nested too deeply to read.", path=source
        ) from None
    columns: dict[Series, int] = {}
    stamps: list[int] = []
    cells: list[int] = []
    values: list[float] = []
    for kind, result in _answer_results(document, source):
        for index, entry in enumerate(result):
            where = f"result[{index}]"
            if not isinstance(entry, dict) or not isinstance(entry.get("metric"), dict):
                raise DataError(f'{source}: {where} has no "metric" object.')
            if "histogram" in entry or "histograms" in entry:
                raise DataError(
                    f"{source}: {where} holds native histograms, which are not read."
                )
            labels = dict(entry["metric"])
            name = str(labels.pop("__name__", ""))
            series = Series(
                name, tuple(sorted((str(k), str(v)) for k, v in labels.items()))
            )
            column = columns.setdefault(series, len(columns))
            if "value" in entry and kind != "matrix":
                pairs = [entry["value"]]
            elif "values" in entry and kind != "vector":
                pairs = entry["values"]
                if not isinstance(pairs, list):
                    raise DataError(f'{source}: {where}: "values" is not an array.')
            else:
                raise DataError(
                    f'{source}: {where} has neither "value" nor "values" '
                    f"(resultType {kind or 'not given'})."
                )
            for pair in pairs:
                stamp, value = _sample(pair, source, where)
                stamps.append(stamp)
                cells.append(column)
                values.append(value)
    return _from_cells(
        source,
        tuple(columns),
        np.array(stamps, dtype=np.int64),
        np.array(cells, dtype=np.int64),
        np.array(values, dtype=np.float64),
        types=("untyped",) * len(columns),
        max_cells=max_cells,
    )


def _from_cells(
    source: str,
    series: tuple[Series, ...],
    stamps: npt.NDArray[np.int64],
    cells: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    *,
    types: tuple[str, ...],
    max_cells: int,
) -> Recording:
    """A recording from (time ms, column, value) triples."""
    times, rows = np.unique(stamps, return_inverse=True)
    check_cells(len(times), len(series), source, max_cells)
    matrix = np.full((len(times), len(series)), np.nan)
    present = np.zeros(matrix.shape, dtype=bool)
    flat = rows.reshape(-1) * len(series) + cells
    order = np.argsort(flat, kind="stable")
    repeated = order[1:][flat[order[1:]] == flat[order[:-1]]]
    if len(repeated):
        first = int(repeated[0])
        raise DataError(
            f"{source}: {str(series[int(cells[first])]) or '{}'} has two samples at "
            f"{int(stamps[first]) / 1000:.3f} s."
        )
    matrix.reshape(-1)[flat] = values
    present.reshape(-1)[flat] = True
    return Recording(
        times=times.astype(np.float64) / 1000.0,
        series=series,
        values=matrix,
        present=present,
        types=types,
        sources=(source,) * len(times),
        stale=np.zeros(matrix.shape, dtype=bool),
    )


# ---------------------------------------------------------------------------------
# Federate bodies


def read_federate(
    path: PathLike | None = None,
    *,
    data: bytes | None = None,
    lenient: bool = False,
    max_cells: int = MAX_RECORDING_CELLS,
) -> Recording:
    """Read exposition text with a timestamp on every sample (a ``/federate`` body).

    Each distinct timestamp (milliseconds) is one row, so one body gives as many rows
    as there were scrape times among the federated series.

    Args:
        path: The file (plain or gzip).
        data: The body instead of a file.
        lenient: Skip bad lines instead of raising.
        max_cells: The most cells (times x series) of the recording.

    Returns:
        The recording, with each family's type; ``stale`` all False.

    Raises:
        DumpError: The file cannot be read.
        ParseError: A bad line (strict mode).
        DataError: A sample has no timestamp or one beyond 2**53 ms; or a series
            repeats (two samples at one time, or at two times: a federate body
            has one line per series), except in lenient mode, where the parser
            keeps the first and warns.
        LimitExceededError: More than ``max_cells`` cells (``max_recording_cells``).
    """
    source = os.fspath(path) if path is not None else "<federate>"
    if data is None:
        if path is None:
            raise ValueError("pass a path or data.")
        data = _read_bytes(source)
    snapshot = Parser(lenient=lenient).parse(data, source=source, lenient=lenient)
    stamps = snapshot.timestamps_ms
    if len(snapshot.series) and (
        stamps is None or bool((stamps == NO_TIMESTAMP).any())
    ):
        missing = (
            0 if stamps is None else int(np.flatnonzero(stamps == NO_TIMESTAMP)[0])
        )
        raise DataError(
            f"{source}: {snapshot.series[missing]} has no timestamp; a federate body "
            "has one on every sample (read a plain dump with a scrape time instead)."
        )
    if stamps is not None and len(stamps):
        far = np.flatnonzero(np.abs(np.asarray(stamps, np.int64)) > 2**53)
        if len(far):
            raise DataError(
                f"{source}: {snapshot.series[int(far[0])]} has the timestamp "
                f"{int(stamps[far[0]])} ms, beyond 2**53 ms of the epoch."
            )
    if not lenient:
        # The parser keeps the first of a repeated series; in a federate body the
        # repeat is another sample (another time or value), which must not vanish.
        for warning in snapshot.warnings:
            if " repeats line " in warning.message:
                raise DataError(
                    f"{source}: line {warning.line}: "
                    f"{warning.message.split(';')[0]}; a federate body has one "
                    "sample per series (read separate bodies as separate files)."
                )
    columns: dict[Series, int] = {}
    types: list[str] = []
    family_types = [family.type for family in snapshot.families]
    cells = np.empty(len(snapshot.series), dtype=np.int64)
    for row, series in enumerate(snapshot.series):
        column = columns.get(series)
        if column is None:
            column = columns[series] = len(columns)
            index = int(snapshot.family_index[row])
            types.append(family_types[index] if index >= 0 else "untyped")
        cells[row] = column
    return _from_cells(
        source,
        tuple(columns),
        np.zeros(0, np.int64) if stamps is None else np.asarray(stamps, np.int64),
        cells,
        np.asarray(snapshot.values, dtype=np.float64),
        types=tuple(types),
        max_cells=max_cells,
    )


# ---------------------------------------------------------------------------------
# Dump sequences


def read_dumps(
    paths: Iterable[PathLike],
    *,
    times: Sequence[float] | None = None,
    lenient: bool = False,
    max_cells: int = MAX_RECORDING_CELLS,
) -> Recording:
    """Read a sequence of dumps (one scrape each) into a recording.

    Args:
        paths: The dumps: files, folders (their files, by name) or glob patterns;
            plain or gzip.
        times: The scrape time of each file, in seconds since the epoch, in the order
            the files are found; by default each file's ``# kepler-reader`` header.
        lenient: Skip bad lines instead of raising.
        max_cells: The most cells (dumps x series) of the recording.

    Returns:
        One row per dump, in time order. A series missing from a dump is stale there
        when an earlier dump of the same URL (from the header; all files count as one
        target without it) had it.

    Raises:
        DumpError: A file cannot be read, or nothing matches a pattern.
        MissingIntervalError: A file has no header time and ``times`` was not given
            (the message names the file).
        ParseError: A bad line (strict mode).
        DataError: Two dumps at one time (to the millisecond) give a series
            different values, or a time is not finite or beyond 2**53 ms.
        LimitExceededError: More than ``max_cells`` cells (``max_recording_cells``).
        ValueError: ``times`` does not match the number of files.
    """
    files = expand_paths(paths)
    if times is not None and len(times) != len(files):
        raise ValueError(f"{len(times)} times given for {len(files)} dumps.")
    parser = Parser(lenient=lenient)
    snapshots = []
    targets: list[str] = []
    for index, name in enumerate(files):
        when = float(times[index]) if times is not None else None
        snapshot = read_dump(name, lenient=lenient, parser=parser, scraped_at=when)
        if snapshot.scraped_at is None:
            raise MissingIntervalError(
                f"{name}: the dump has no '# kepler-reader scraped_at=' line; "
                "give each file's time (times=, or --times on the command line)."
            )
        header = read_header(_head(name))
        targets.append(header[1] or "" if header else "")
        snapshots.append(snapshot)
    recording = recording_from_snapshots(snapshots, max_cells=max_cells)
    order = sorted(range(len(snapshots)), key=lambda i: snapshots[i].scraped_at or 0.0)
    row_target = [targets[i] for i in order]
    return _with_stale_per_target(recording, row_target)


def _head(path: str, size: int = 4096) -> bytes:
    """The first ``size`` bytes of a dump (decompressed), for its header line."""
    problem = not_regular(path)
    if problem is not None:
        raise DumpError(problem, path=path)
    try:
        with open(path, "rb") as raw:
            start = raw.read(2)
            raw.seek(0)
            if start == b"\x1f\x8b":
                with gzip.open(raw) as unpacked:
                    return unpacked.read(size)
            return raw.read(size)
    except (OSError, EOFError, zlib.error) as error:
        raise DumpError(
            f"{path}: cannot read the file ({error}).", path=path
        ) from error


def _with_stale_per_target(
    recording: Recording, row_target: Sequence[str]
) -> Recording:
    """The recording with stale markers where a series left a target's scrapes."""
    return Recording(
        times=recording.times,
        series=recording.series,
        values=recording.values,
        present=recording.present,
        types=recording.types,
        sources=recording.sources,
        stale=stale_per_target(recording.present, row_target),
    )


# ---------------------------------------------------------------------------------
# Several recordings, and the one entry point


def merge_recordings(
    recordings: Sequence[Recording], *, max_cells: int = MAX_RECORDING_CELLS
) -> Recording:
    """One recording holding the rows and series of all of ``recordings``.

    Rows at the same time (to the millisecond) are merged; a series keeps its type
    from the first recording that has it.

    Raises:
        DataError: A series has two different values at the same time.
        LimitExceededError: The merged recording would have more than ``max_cells``
            cells (``max_recording_cells``).
    """
    if len(recordings) == 1:
        return recordings[0]
    stamps = [np.round(r.times * 1000).astype(np.int64) for r in recordings]
    times = np.unique(np.concatenate(stamps)) if stamps else np.zeros(0, np.int64)
    columns: dict[Series, int] = {}
    types: list[str] = []
    for recording in recordings:
        for series, kind in zip(recording.series, recording.types, strict=True):
            if series not in columns:
                columns[series] = len(columns)
                types.append(kind)
    check_cells(
        len(times),
        len(columns),
        ", ".join(dict.fromkeys(r.sources[0] for r in recordings if len(r))),
        max_cells,
    )
    values = np.full((len(times), len(columns)), np.nan)
    present = np.zeros(values.shape, dtype=bool)
    stale = np.zeros(values.shape, dtype=bool)
    sources = [""] * len(times)
    for recording, stamp in zip(recordings, stamps, strict=True):
        rows = np.searchsorted(times, stamp)
        cols = np.array([columns[s] for s in recording.series], dtype=np.intp)
        grid = np.ix_(rows, cols)
        clash = present[grid] & recording.present
        same = (values[grid] == recording.values) | (
            np.isnan(values[grid]) & np.isnan(recording.values)
        )
        if (clash & ~same).any():
            row, col = (int(i[0]) for i in np.nonzero(clash & ~same))
            raise DataError(
                f"{recording.sources[row] or 'a recording'}: "
                f"{recording.series[col]} at {recording.times[row]:.3f} s differs "
                "from the value another file gives for the same time."
            )
        values[grid] = np.where(recording.present, recording.values, values[grid])
        present[grid] |= recording.present
        stale[grid] |= recording.stale_markers()
        for row, source in zip(rows.tolist(), recording.sources, strict=True):
            sources[row] = sources[row] or source
    return Recording(
        times=times.astype(np.float64) / 1000.0,
        series=tuple(columns),
        values=values,
        present=present,
        types=tuple(types),
        sources=tuple(sources),
        stale=stale & ~present,
    )


def sniff_kind(data: bytes) -> str:
    """What a decompressed file holds: ``recording``, ``json``, ``federate``, ``dump``.

    A recorder file starts with its first record's header line; JSON with ``{`` or
    ``[``; exposition text whose first sample carries a timestamp, with no
    kepler-reader header, is a federate body; anything else is a dump.
    """
    if data.startswith(_RECORD_PREFIX):
        return "recording"
    head = data[:65536].lstrip()
    if head[:1] in (b"{", b"["):
        return "json"
    if read_header(data) is not None:
        return "dump"
    for line in head.split(b"\n"):
        line = line.strip()
        if not line or line.startswith(b"#"):
            continue
        end = line.rfind(b"}")
        tail = line[end + 1 :] if end >= 0 else line
        return "federate" if len(tail.split()) >= (3 if end < 0 else 2) else "dump"
    return "dump"


def _starts_a_recording(path: str) -> bool:
    """Whether the file's first gzip member starts with a recorder header.

    Only the first few kilobytes are read, so a large recording is not decompressed
    whole (nor held to the dump size limit) just to learn its kind.

    Raises:
        DumpError: The path is a pipe, FIFO or device (see :func:`not_regular`).
    """
    problem = not_regular(path)
    if problem is not None:
        raise DumpError(problem, path=path)
    try:
        with open(path, "rb") as raw:
            start = raw.read(4096)
    except OSError:
        return False  # the readers that follow report why
    if not start.startswith(b"\x1f\x8b"):
        return False
    try:
        head = zlib.decompressobj(wbits=31).decompress(start, len(_RECORD_PREFIX))
    except zlib.error:
        return False
    return head.startswith(_RECORD_PREFIX)


def _read_recorder_file(path: str, lenient: bool) -> Recording:
    # The recorder's reader lives in its own module, looked up when a recording is
    # met, so these readers work in installations without it. Its rows carry their
    # URL as source, from which the stale markers follow.
    try:
        recorder = importlib.import_module(f"{__package__}.recorder")
    except ModuleNotFoundError as error:
        raise DumpError(
            f"{path}: this is a kepler-reader recording, which this installation "
            "cannot read.",
            path=path,
        ) from error
    recording: Recording = recorder.read_recording(path, lenient=lenient)
    return recording


def load_recording(
    paths: PathLike | Iterable[PathLike],
    *,
    times: Sequence[float] | None = None,
    lenient: bool = False,
    max_cells: int = MAX_RECORDING_CELLS,
) -> Recording:
    """Read any mix of saved metric data into one recording.

    Each file is recognised by its content (after undoing gzip): a recorder file, a
    Prometheus API answer in JSON, a federate body (timestamps on the samples), or a
    dump. All dumps
    form one sequence (see :func:`read_dumps`); the JSON answers and federate bodies
    are read one by one; everything is then merged (see :func:`merge_recordings`).

    Args:
        paths: Files, folders or glob patterns (one, or several).
        times: Each dump's scrape time in seconds, in the order the dumps are found,
            for dumps without a kepler-reader header.
        lenient: Skip bad exposition lines instead of raising.
        max_cells: The most cells (times x series) of each file's recording and of
            the merged one; recorder files are read whole, without this check.

    Returns:
        The merged recording.

    Raises:
        DumpError: A file cannot be read or is not valid JSON; nothing matches.
        DataError: A file is not a Prometheus answer or holds conflicting samples.
        MissingIntervalError: A dump has no time (the message names the file).
        ParseError: A bad exposition line (strict mode).
        LimitExceededError: More than ``max_cells`` cells (``max_recording_cells``).
    """
    entries = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    files = expand_paths(entries)
    if not files:
        raise DumpError("no files given.", path="")
    dumps: list[str] = []
    parts: list[Recording] = []
    for name in files:
        if _starts_a_recording(name):
            # The recorder's reader applies its own limits, record by record.
            parts.append(_read_recorder_file(name, lenient))
            continue
        data = _read_bytes(name)
        kind = sniff_kind(data)
        if kind == "recording":
            parts.append(_read_recorder_file(name, lenient))
        elif kind == "json":
            parts.append(read_prometheus_json(name, data=data, max_cells=max_cells))
        elif kind == "federate":
            parts.append(
                read_federate(name, data=data, lenient=lenient, max_cells=max_cells)
            )
        else:
            dumps.append(name)
    if dumps:
        parts.append(
            read_dumps(dumps, times=times, lenient=lenient, max_cells=max_cells)
        )
    elif times is not None:
        raise ValueError("times= applies to dumps, and no file is a dump.")
    return merge_recordings(parts, max_cells=max_cells)
