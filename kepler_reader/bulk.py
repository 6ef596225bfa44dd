"""Learning the new series of a chunk in bulk, a family at a time.

A parser meeting an endpoint for the first time knows none of its series, and reading
them one line at a time costs a few microseconds of Python each. Exporters print a
family's lines one after another with the same label names in the same order, so
a *run* of lines sharing a sample name can be read a batch of lines at a time with a
handful of calls that each cover the whole batch: one ``join``, one ``decode``, one
``split`` at the quotes, one list comparison that checks every line's spelling at
once, and ``map`` to look up the label values and build the series.

The bulk reader only ever *teaches* the parser series texts, exactly as
:meth:`~kepler_reader.parser.StreamParser._new_simple_series` would have learned
them one by one; the line loop then reads the run as known lines. A run or batch it
has any doubt about (an escape, a blank, a timestamp, labels out of order, a trailing
comma, invalid UTF-8, a long label, an ``le`` or ``quantile`` label, a token with a
tab) is left alone, and its lines take the one-by-one path with all its checks and
errors.
"""

from __future__ import annotations

from itertools import groupby, islice, repeat
from operator import itemgetter
from typing import TYPE_CHECKING

from .snapshot import Series

if TYPE_CHECKING:
    from .parser import StreamParser

__all__ = ["MIN_RUN", "forget_ahead", "learn_runs", "mostly_new"]

#: Shorter runs are read one line at a time: the bulk calls would not pay off.
MIN_RUN = 16
# Lines learned at once: large enough for the bulk calls to pay off, small enough
# that their temporaries die young.
_BATCH = 128
# Lines probed to tell a chunk of mostly new series from one of mostly known ones.
_PROBE_STEP = 61

_first = itemgetter(0)
_second = itemgetter(1)
_third = itemgetter(2)
_new_series = tuple.__new__


def mostly_new(stream: StreamParser, lines: list[bytes]) -> bool:
    """Whether most of a sample of ``lines`` have series texts the parser lacks.

    Comment and blank lines count as new; a chunk of a known body has few of them.
    """
    known = stream._parser._by_text
    probes = lines[_PROBE_STEP // 2 :: _PROBE_STEP] or lines[:1]
    new = sum(1 for line in probes if line.rpartition(b" ")[0] not in known)
    return 2 * new > len(probes)


def learn_runs(stream: StreamParser, lines: list[bytes]) -> None:
    """Teach ``stream``'s parser the plain series texts of ``lines``, run by run.

    Nothing is appended to the snapshot: the caller's line loop still reads every
    line, in order, and finds the learned ones known. Lines are whole, with or
    without their line feed.

    A text that also stands on a line the bulk reader leaves alone (say with an
    empty value, or a tab before a timestamp) is not learned here: the line loop
    must meet that line with the text still unknown if it comes first, as a line
    by line reading would. Left out, the text is learned by the line loop itself
    at its first plain line, so nothing else changes.
    """
    parts = list(map(bytes.rpartition, lines, repeat(b" ")))
    texts = list(map(_first, parts))
    tokens = list(map(_third, parts))
    names = map(_first, map(bytes.partition, texts, repeat(b"{")))
    learned: list[tuple[list[bytes], list[Series]]] = []
    left: list[bytes] = []
    for raw, group in groupby(zip(names, texts, tokens, strict=True), key=_first):
        run = list(group)
        run_texts = list(map(_second, run))
        if len(run) < MIN_RUN:
            left += run_texts
            continue
        for batch, made in _learn_run(stream, raw, run_texts, list(map(_third, run))):
            if made is None:
                left += batch
            else:
                learned.append((batch, made))
    known = stream._parser._by_text
    unsafe = set(left)
    for batch, made in learned:
        pairs = zip(batch, made, strict=True)
        if unsafe.isdisjoint(batch):
            known.update(pairs)
        else:
            known.update(pair for pair in pairs if pair[0] not in unsafe)


def forget_ahead(
    stream: StreamParser, lines: list[bytes], stopped_at: int, first: int, count: int
) -> None:
    """Forget the texts taught from ``lines`` after index ``stopped_at``.

    For a chunk whose reading stopped with an error: the ``count`` texts that
    :func:`learn_runs` added to the parser are its keys at positions ``first`` to
    ``first + count`` (a dictionary keeps its insertion order, and the line loop
    adds its own keys after them). Those first seen after the line that stopped
    the reading are removed, so the parser knows what a line by line reading
    would have taught it.
    """
    known = stream._parser._by_text
    taught = list(islice(known, first, first + count))
    first_at: dict[bytes, int] = {}
    for at, line in enumerate(lines):
        first_at.setdefault(line.rpartition(b" ")[0], at)
    for text in taught:
        if first_at.get(text, -1) > stopped_at:
            del known[text]


_Batch = tuple[list[bytes], list[Series] | None]


def _learn_run(
    stream: StreamParser, raw: bytes, texts: list[bytes], tokens: list[bytes]
) -> list[_Batch]:
    """Read one run of lines whose texts all start with ``raw`` + ``{``.

    Returns its batches of texts, each with its series, or with None where the
    batch is left to the line rules.
    """
    parser = stream._parser
    refused: list[_Batch] = [(texts, None)]
    first = texts[0]
    if len(first) <= len(raw) or not first.endswith(b"}"):
        return refused
    prefixes = parser.prefixes
    if prefixes is not None and not all(map(bytes.startswith, texts, repeat(prefixes))):
        return refused
    # As the line rules: no empty value, no tab (a line may keep its line feed).
    if b"" in tokens or b"\n" in tokens or b"\t" in b"".join(tokens):
        return refused
    if max(map(len, texts)) > stream._short_text:
        return refused  # a label may be over its length limit: checked line by line
    name = stream._simple_name(raw)
    if name is None:
        return refused
    try:
        between = "".join(first[len(raw) + 1 : -1].decode("utf-8").split('"')[0::2])
    except UnicodeDecodeError:
        return refused
    shape = parser._shapes.get(between)
    if shape is None:
        shape = parser._shapes[between] = stream._shape(between)
    label_names, ordered, bounded = shape
    if not label_names or not ordered or bounded:
        return refused
    # What lies between the values of plain lines, line after line:
    # 'name{a=' ',b=' ... '}\nname{a=' ',b=' ... '}'. One comparison checks them all.
    head = f"{name}{{{label_names[0]}="
    middles = [f",{label}=" for label in label_names[1:]]
    pattern = [*middles, "}\n" + head]
    # A batch at a time, so that the many short-lived pieces and pairs of one batch
    # are freed before the garbage collector has to look at them.
    batches: list[_Batch] = []
    for start in range(0, len(texts), _BATCH):
        batch = texts[start : start + _BATCH]
        expected = [head, *(pattern * (len(batch) - 1)), *middles, "}"]
        batches.append((batch, _read_batch(stream, name, label_names, batch, expected)))
    return batches


def _read_batch(
    stream: StreamParser,
    name: str,
    label_names: tuple[str, ...],
    texts: list[bytes],
    expected: list[str],
) -> list[Series] | None:
    """The interned series of the plain lines ``texts``, or None unless all are."""
    joined = b"\n".join(texts)
    if b"\\" in joined:
        return None
    try:
        pieces = joined.decode("utf-8").split('"')
    except UnicodeDecodeError:
        return None
    if len(pieces) != 2 * len(expected) - 1 or pieces[0::2] != expected:
        return None
    parser = stream._parser
    values = pieces[1::2]
    width = len(label_names)
    # Label pairs are interned, a label at a time: most values (node, zone, state)
    # repeat across series, and a known value costs one lookup of its string,
    # with no pair built. Only new values get a pair.
    columns = []
    for at, label in enumerate(label_names):
        known = parser._label_values.get(label)
        if known is None:
            known = parser._label_values[label] = {}
        column = values[at::width]
        pairs = list(map(known.get, column))
        if None in pairs:
            new = set(column).difference(known)
            known.update(zip(new, zip(repeat(label), new), strict=True))
            pairs = list(map(known.__getitem__, column))
        columns.append(pairs)
    labels = zip(*columns, strict=True)
    made = list(map(_new_series, repeat(Series), zip(repeat(name), labels)))
    return list(map(parser._interned.setdefault, made, made))
