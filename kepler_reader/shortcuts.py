"""Byte-level shortcuts of the parser: plain label sets and skipping whole blocks.

These decide, without reading a line by the full grammar, whether the short paths
of :mod:`kepler_reader.parser` may take it; anything they are unsure of goes to the
general rules in :mod:`kepler_reader.grammar`.
"""

from __future__ import annotations

import re

__all__ = ["BETWEEN_VALUES", "NAME_ONLY", "all_unwanted", "label_shape", "next_comment"]

# The plainest spelling of a series: a classic name, and between its label values
# exactly "NAME=" then ",NAME=" ..., with an optional trailing comma.
NAME_ONLY = re.compile(rb"[a-zA-Z_:][a-zA-Z0-9_:]*")
BETWEEN_VALUES = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*=(?:,[a-zA-Z_][a-zA-Z0-9_]*=)*,?")


def label_shape(between: str) -> tuple[list[str] | None, bool]:
    """The label names that the text between values spells, and whether sorted.

    ``a=,b=,c=`` gives ``(["a", "b", "c"], True)``; anything else, or a repeated
    name, gives ``(None, False)``.
    """
    if not between:
        return [], True
    if BETWEEN_VALUES.fullmatch(between) is None:
        return None, False
    names = between.rstrip(",")[:-1].split("=,")
    if len(set(names)) != len(names):
        return None, False
    return names, names == sorted(names)


def next_comment(data: bytes, start: int, end: int) -> int:
    """The offset of the line feed before the next line starting with ``#``, or end.

    Searches for the single byte ``#`` (which runs at memory speed, unlike a two-byte
    needle) and checks the byte before it.
    """
    pos = start
    while True:
        pos = data.find(b"#", pos, end)
        if pos < 0:
            return end
        if pos > start and data[pos - 1] == 0x0A:
            return pos - 1
        pos += 1


def all_unwanted(
    complete: bytes, start: int, stop: int, breaks: int, prefixes: tuple[bytes, ...]
) -> bool:
    """Whether no line of ``complete[start:stop]`` starts with a wanted prefix.

    Exporters print a family's samples together, so usually every line of the
    block starts with the name its first line has: one count proves it. Otherwise
    each prefix is searched for at a line start.
    """
    name_end = start
    while name_end < stop and complete[name_end] not in b"{ \t\n":
        name_end += 1
    head = complete[start:name_end]
    if (
        head
        and not head.startswith(prefixes)
        and not any(p.startswith(head) for p in prefixes)
    ) and complete.count(b"\n" + head, start, stop) == breaks:
        return True
    return all(complete.find(b"\n" + p, start, stop) < 0 for p in prefixes)
