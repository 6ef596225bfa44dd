"""What each fuzz target does with one input, and what it checks.

Each target takes the fuzzer's bytes and feeds them to kepler_reader in several ways
that must agree. The only exceptions allowed out of kepler_reader are its documented
errors (:class:`~kepler_reader.KeplerReaderError` and its subclasses); any other
exception, or two ways of reading the same bytes that disagree, is a finding, raised
as :class:`FindingError` (an ``AssertionError``) or let through as it came.

This module does not import atheris: the regression tests run the same checks on the
inputs kept in ``fixtures/fuzz/``.
"""

from __future__ import annotations

import gzip
import os
import re
import tempfile
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

import kepler_reader as kr
from kepler_reader.grammar import LineError, parse_sample_line
from kepler_reader.recorder import RecordingWarning

__all__ = [
    "SMALL_LIMITS",
    "TARGETS",
    "FindingError",
    "check_dump",
    "check_filter",
    "check_gzip",
    "check_parser",
    "outcome",
    "snapshot_key",
]

#: Limits low enough that short inputs reach every limit check.
SMALL_LIMITS = kr.Limits(
    max_body_bytes=1 << 20,
    max_line_bytes=2048,
    max_series=40,
    max_labels_per_series=6,
    max_label_name_length=24,
    max_label_value_length=64,
    max_families=12,
    max_problems=8,
)


class FindingError(AssertionError):
    """Two readings of the same input disagree, or a rule of the API was broken."""


def snapshot_key(snap: kr.Snapshot) -> tuple[object, ...]:
    """Everything a snapshot says, in a form that compares with ``==``.

    Values compare by their bits, so NaN equals NaN and -0.0 differs from 0.0.
    """
    stamps = None if snap.timestamps_ms is None else snap.timestamps_ms.tolist()
    created = sorted(
        ((series, repr(value)) for series, value in snap.created_seconds.items()),
        key=repr,
    )
    return (
        snap.families,
        snap.family_index.tolist(),
        list(snap.series),
        np.asarray(snap.values, dtype=np.float64).tobytes(),
        stamps,
        snap.errors,
        snap.warnings,
        snap.truncated,
        snap.format,
        created,
    )


def outcome(
    read: Callable[..., kr.Snapshot], *args: object, **kwargs: object
) -> tuple[str, object]:
    """``read(*args, **kwargs)``: the snapshot's key, or the error's type and message.

    Only kepler_reader's own errors are caught; anything else goes through.
    """
    try:
        snap = read(*args, **kwargs)
    except kr.KeplerReaderError as error:
        return type(error).__name__, str(error)
    _check_snapshot(snap)
    return "snapshot", snapshot_key(snap)


def _check_snapshot(snap: kr.Snapshot) -> None:
    n = len(snap.series)
    if snap.values.shape != (n,) or snap.family_index.shape != (n,):
        raise FindingError(
            f"columns of unequal length: {n} series, {snap.values.shape}"
        )
    if n and not 0 <= int(snap.family_index.min()) <= int(snap.family_index.max()) < (
        len(snap.families)
    ):
        raise FindingError("a family index points outside the families")
    if snap.timestamps_ms is not None and snap.timestamps_ms.shape != (n,):
        raise FindingError("timestamps of another length than the series")
    repr(snap)


def _pieces(data: bytes, seed: int) -> list[bytes]:
    """Split ``data`` at places derived from ``seed``: every input gets its own cut."""
    sizes = (1, 2, 3, 5, 7, 64, 4096)
    pieces, start, state = [], 0, seed or 1
    while start < len(data):
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        size = sizes[state % len(sizes)] if state & 0x100 else 1 + state % 97
        pieces.append(data[start : start + size])
        start += size
    return pieces


def _stream(parser: kr.Parser, pieces: list[bytes], lenient: bool) -> kr.Snapshot:
    stream = parser.stream(lenient=lenient)
    for piece in pieces:
        stream.feed(piece)
    return stream.finish()


def check_parser(data: bytes) -> None:
    """Parse strict and lenient, whole and chunked, cold and warm: all must agree.

    Half the inputs (by a checksum of the bytes) are read under :data:`SMALL_LIMITS`,
    so the limit checks are reached; the others under the defaults. Lenient mode may
    only raise :class:`~kepler_reader.LimitExceededError` for a line over
    ``max_line_bytes``; when strict mode accepts the input, lenient mode must give the
    same snapshot.
    """
    seed = zlib.crc32(data)
    limits = SMALL_LIMITS if seed & 1 else kr.Limits()
    pieces = _pieces(data, seed)
    for lenient in (False, True):
        whole = outcome(kr.parse, data, lenient=lenient, limits=limits)
        chunked = outcome(_stream, kr.Parser(limits=limits), pieces, lenient)
        if chunked != whole:
            raise FindingError(
                f"chunked feed differs from the whole (lenient={lenient})"
            )
        warm = kr.Parser(limits=limits, lenient=lenient)
        outcome(warm.parse, data)
        if outcome(warm.parse, data) != whole:
            raise FindingError(
                f"a warm parser differs from a cold one (lenient={lenient})"
            )
        if not lenient:
            strict = whole
            continue
        kind = whole[0]
        if kind not in ("snapshot", "LimitExceededError"):
            raise FindingError(f"lenient mode raised {kind}")
        if kind == "LimitExceededError" and "max_line_bytes" not in str(whole[1]):
            raise FindingError(f"lenient mode raised {whole[1]}")
    if strict[0] == "snapshot" and strict != whole:
        raise FindingError("lenient mode differs from strict mode on a valid body")
    text = data.decode("utf-8", "surrogateescape")
    if outcome(kr.parse, text, lenient=True, limits=limits)[0] not in (
        "snapshot",
        "LimitExceededError",
    ):
        raise FindingError("lenient mode raised on text input")


def _prefixes(data: bytes, seed: int) -> tuple[str, ...]:
    """Family prefixes for one input, derived from the names it spells.

    Mostly the start of one or two metric names of the input (cut at a length the
    seed picks, so a prefix may be a whole name, part of one, or empty), sometimes the
    Kepler prefixes a per-pod delta asks for.
    """
    names = [m.group() for m in _LINE_NAME.finditer(data)]
    if not names or seed % 7 == 0:
        return ("kepler_pod_", "kepler_node_")
    picked = []
    for step in range(1 + (seed >> 3) % 2):
        name = names[(seed >> (4 + step * 5)) % len(names)]
        picked.append(name[: (seed >> (9 + step * 4)) % (len(name) + 2)])
    return tuple(part.decode("ascii") for part in picked)


_LINE_NAME = re.compile(rb"(?m)^[a-zA-Z_:][a-zA-Z0-9_:]*")
_BOM = b"\xef\xbb\xbf"


def _kept_lines(data: bytes, prefixes: tuple[str, ...]) -> tuple[bytes, bytes | None]:
    """The body as the family filter promises to read it, line numbers kept.

    A line starting with ``#`` is metadata or a comment and always read; a sample
    line is read when it starts with a prefix (a leading byte-order mark is not part
    of the first line); every other line is read as a blank one of the same length,
    its carriage return kept, so that a CRLF body still warns once and a skipped line
    over ``max_line_bytes`` is still refused.

    Also returns the last line when it was blanked and ends the body without a line
    feed (else None): see :func:`_reference`.
    """
    wanted = tuple(p.encode() for p in prefixes)
    bom = _BOM if data.startswith(_BOM) else b""
    lines = data[len(bom) :].split(b"\n")
    kept = [
        line
        if line.startswith(b"#") or line.startswith(wanted)
        else b" " * len(line.removesuffix(b"\r")) + b"\r" * line.endswith(b"\r")
        for line in lines
    ]
    last = lines[-1].removesuffix(b"\r")
    if kept[-1] == lines[-1] or not last.strip(b" \t"):
        return bom + b"\n".join(kept), None
    return bom + b"\n".join(kept), last


def _cut_problem(number: int, line: bytes) -> kr.LineProblem | None:
    """The cut-off error of an unfinished last line the grammar refuses, or None."""
    stripped = line.lstrip(b" \t")
    if stripped.startswith(b"#"):
        return None
    try:
        parse_sample_line(stripped)
    except LineError as fault:
        where = (
            f"inside the value of label {fault.open_label!r}"
            if fault.open_label
            else "in the middle of this line"
        )
        offset = fault.offset + len(line) - len(stripped)
        return kr.LineProblem(
            number,
            len(line[:offset].decode("utf-8", "replace")) + 1,
            f"unexpected end of input {where}: the body is cut off",
            line.decode("utf-8", "replace"),
        )
    return None


def _reference(
    reference: bytes, last: bytes | None, lenient: bool, limits: kr.Limits
) -> tuple[str, object]:
    """The outcome of a full parse of the kept lines (see :func:`_kept_lines`).

    When the body lacks its final line feed and the filter skips its last line
    (``last``), the filter reads that line by the grammar only to tell whether the
    body was cut in the middle of it. Refused, it is the cut-off error that line is
    without the filter (the snapshot flagged truncated), in place of the missing
    line feed the blanked reference reports; accepted, the missing line feed is
    reported quoting it.
    """
    try:
        snap = kr.parse(reference, lenient=lenient, limits=limits)
    except kr.ParseError as error:
        if last is None or not error.reason.startswith(_NO_FINAL_LF):
            return type(error).__name__, str(error)
        cut = _cut_problem(error.line, last)
        text = last.decode("utf-8", "replace")
        line, column, reason = error.line, len(text) + 1, error.reason
        if cut is not None:
            line, column, reason = cut.line, cut.column, cut.message
        quoted = kr.ParseError(
            reason, source=error.source, line=line, column=column, text=text
        )
        return type(quoted).__name__, str(quoted)
    except kr.KeplerReaderError as error:
        return type(error).__name__, str(error)
    _check_snapshot(snap)
    key = snapshot_key(snap)
    number = next(
        (w.line for w in snap.warnings if w.message.startswith(_NO_LF_NOTE)), None
    )
    cut = None if last is None or number is None else _cut_problem(number, last)
    if cut is not None:
        key = _with_cut(key, snap, cut, limits)
    return "snapshot", key


_NO_FINAL_LF = "unexpected end of input: the body does not end with a line feed"
_NO_LF_NOTE = "The input does not end with a line feed"
_DROPPED_NOTE = "Bad lines skipped without being recorded: "


def _with_cut(
    key: tuple[object, ...], snap: kr.Snapshot, cut: kr.LineProblem, limits: kr.Limits
) -> tuple[object, ...]:
    """``key`` with the cut-off error ``cut`` for the missing line feed it reports.

    The cut line is the last one, so it comes last among the errors, or is the one
    counted as dropped when ``max_problems`` are kept already.
    """
    notes = [w for w in snap.warnings if not w.message.startswith(_NO_LF_NOTE)]
    errors = snap.errors
    if len(errors) < limits.max_problems:
        errors = (*errors, cut)
    else:
        at = next(
            (i for i, w in enumerate(notes) if w.message.startswith(_DROPPED_NOTE)),
            len(notes),
        )
        dropped = 1
        if at < len(notes):
            dropped += int(notes[at].message[len(_DROPPED_NOTE) :].split(";")[0])
        notes[at : at + 1] = [
            kr.ParseWarning(
                None,
                f"{_DROPPED_NOTE}{dropped}; the first "
                f"max_problems={limits.max_problems} are kept.",
            )
        ]
    return (*key[:5], errors, tuple(notes), True, *key[8:])


def check_filter(data: bytes) -> None:
    """``Parser(families=...)`` reads what a full parse reads of the kept lines.

    The prefixes come from the input itself. The filtered parse, whole, fed in
    pieces and warm, strict and lenient, must give what a full parse gives of the
    body with every unwanted sample line blanked (:func:`_kept_lines`): the same
    samples, errors, warnings and line numbers, or the same error. Half the inputs
    are read under :data:`SMALL_LIMITS`, as in :func:`check_parser`.
    """
    seed = zlib.crc32(data)
    limits = SMALL_LIMITS if seed & 1 else kr.Limits()
    prefixes = _prefixes(data, seed)
    reference, last = _kept_lines(data, prefixes)
    pieces = _pieces(data, seed)
    for lenient in (False, True):
        expected = _reference(reference, last, lenient, limits)
        filtered = kr.Parser(families=prefixes, lenient=lenient, limits=limits)
        if outcome(filtered.parse, data) != expected:
            raise FindingError(
                f"families={prefixes} differs from the kept lines (lenient={lenient})"
            )
        if outcome(filtered.parse, data) != expected:
            raise FindingError(f"a warm filtered parser differs (lenient={lenient})")
        fresh = kr.Parser(families=prefixes, limits=limits)
        if outcome(_stream, fresh, pieces, lenient) != expected:
            raise FindingError(
                f"families={prefixes} fed in pieces differs (lenient={lenient})"
            )


def _scratch() -> Path:
    folder = Path(tempfile.gettempdir()) / f"kepler-reader-fuzz-{os.getpid()}"
    folder.mkdir(exist_ok=True)
    return folder


def check_dump(data: bytes) -> None:
    """Read the bytes as a plain dump and gzipped: both must give the same outcome.

    ``read_dump`` may raise only kepler_reader's errors; the gzip file must read back
    as the plain one (the error messages name different paths, so only the kind of
    error is compared).
    """
    seed = zlib.crc32(data)
    limits = SMALL_LIMITS if seed & 1 else kr.Limits()
    folder = _scratch()
    plain, packed = folder / "dump.prom", folder / "dump.prom.gz"
    plain.write_bytes(data)
    packed.write_bytes(gzip.compress(data, mtime=0))
    for lenient in (False, True):
        first = outcome(kr.read_dump, plain, lenient=lenient, limits=limits)
        second = outcome(kr.read_dump, packed, lenient=lenient, limits=limits)
        if first[0] != second[0]:
            raise FindingError(f"gzip dump gave {second[0]}, plain gave {first[0]}")
        # Same bytes, same snapshot (error messages name the path, snapshots do not).
        if first[0] == "snapshot" and first[1] != second[1]:
            raise FindingError("gzip dump reads back differently from the plain one")


def check_gzip(data: bytes) -> None:
    """Read the bytes as a gzip file as they are (corrupt, cut, bombs, many members).

    Only kepler_reader's errors may escape; a stream that decompresses must read as
    its decompressed bytes do.
    """
    folder = _scratch()
    path = folder / "raw.prom.gz"
    body = data if data.startswith(b"\x1f\x8b") else b"\x1f\x8b" + data
    path.write_bytes(body)
    limits = kr.Limits(max_body_bytes=1 << 20)
    result = outcome(kr.read_dump, path, lenient=True, limits=limits)
    if result[0] != "snapshot":
        return
    try:
        inflated = _inflate_all(body, limit=1 << 20)
    except (zlib.error, EOFError, ValueError) as error:
        raise FindingError(
            f"read_dump accepted a stream zlib refuses ({error})"
        ) from error
    plain = folder / "raw.prom"
    plain.write_bytes(inflated)
    if outcome(kr.read_dump, plain, lenient=True, limits=limits) != result:
        raise FindingError(
            "a gzip stream reads differently from its decompressed bytes"
        )


def _inflate_all(data: bytes, limit: int) -> bytes:
    out = bytearray()
    while data:
        inflate = zlib.decompressobj(wbits=31)
        out += inflate.decompress(data, limit + 1)
        if not inflate.eof:
            raise EOFError("cut off")
        data = inflate.unused_data
    return bytes(out)


def _recording_outcome(read: Callable[[], object]) -> tuple[str, object]:
    """Run a recording reader: its result, or the kind of kepler_reader error."""
    with warnings.catch_warnings():
        # A torn or damaged record is reported as a RecordingWarning: expected here.
        warnings.simplefilter("ignore", RecordingWarning)
        try:
            return "ok", read()
        except kr.KeplerReaderError as error:
            return type(error).__name__, str(error)


def check_recording(data: bytes) -> None:
    """Read the bytes as a recorder file, strict and lenient, streamed and whole.

    Only kepler_reader's errors may escape. A file that reads strictly reads the same
    leniently, and ``read_recording`` holds one row per record ``iter_records`` gives.
    """
    folder = _scratch()
    path = folder / "fuzz.krec"
    path.write_bytes(data)
    record_cap, file_cap = 1 << 20, 1 << 24
    strict = _recording_outcome(
        lambda: list(
            kr.iter_records(path, max_record_bytes=record_cap, max_file_bytes=file_cap)
        )
    )
    lenient = _recording_outcome(
        lambda: list(
            kr.iter_records(
                path,
                lenient=True,
                max_record_bytes=record_cap,
                max_file_bytes=file_cap,
            )
        )
    )
    if strict[0] == "ok" and lenient != strict:
        raise FindingError("a file that reads strictly reads differently leniently")
    whole = _recording_outcome(
        lambda: kr.read_recording(
            path, lenient=True, max_record_bytes=record_cap, max_file_bytes=file_cap
        )
    )
    if whole[0] == "ok" and lenient[0] == "ok":
        records = lenient[1]
        assert isinstance(records, list)
        recording = whole[1]
        assert isinstance(recording, kr.Recording)
        if len(recording) > len(records):
            raise FindingError("read_recording has more rows than records")


def check_promjson(data: bytes) -> None:
    """Read the bytes as a saved Prometheus API answer, from memory and from a file.

    Only kepler_reader's errors may escape, and both ways give the same outcome.
    """
    from_memory = _recording_outcome(lambda: kr.read_prometheus_json(data=data))
    folder = _scratch()
    path = folder / "answer.json"
    path.write_bytes(data)
    from_file = _recording_outcome(lambda: kr.read_prometheus_json(path))
    if from_memory[0] != from_file[0]:
        raise FindingError(
            f"from a file: {from_file[0]}, from memory: {from_memory[0]}"
        )
    _recording_outcome(lambda: kr.load_recording([path]))


#: Target name to check function, as ``fuzz/run.py`` names them.
TARGETS: dict[str, Callable[[bytes], None]] = {
    "parser": check_parser,
    "filter": check_filter,
    "dump": check_dump,
    "gzip": check_gzip,
    "recording": check_recording,
    "promjson": check_promjson,
}
