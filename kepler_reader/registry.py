"""Integer ids shared by the Kepler views that are compared with each other.

A :class:`Registry` numbers counter identities, pods and zones densely, so that two
views built against it are aligned with integer arrays alone. It also remembers how
each series of an energy family maps onto the model: one *row* per (era, family,
series), whose zone, mode, state, counter and pod ids are kept in one integer table
(:meth:`Registry.row_codes`) and whose workload is kept in a list. A view of a scrape
whose series were all seen before is then a gather from that table.

Finding the row of a series by its value hashes its name and every label pair, which
is most of what a repeated view would cost. A warm :class:`~kepler_reader.Parser`
hands back the very same ``Series`` objects scrape after scrape, so
:meth:`Registry.lookup` first looks series up by object identity: the registry keeps
the series of the last view of each family alive, with their ``id()`` values sorted,
and finds the new ids among them with ``np.searchsorted``. While an object is alive no
other object has its id, so an id found there is that very series. Series not found
that way (new ones, or those of a snapshot from another parser) are looked up by value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs
import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from .kepler import Workload
    from .snapshot import Series

__all__ = ["REGISTRY", "Registry"]

#: The columns of :meth:`Registry.row_codes`, in order.
ROW_COLUMNS = ("zone", "mode", "state", "key", "group")

# A family's energy series are remembered per (era name, family name).
_Family = tuple[str, str]


@attrs.frozen(slots=True, eq=False)
class _LastSeen:
    """The series of the last view of one family, sorted by object id.

    Holding ``series`` keeps those objects alive, and so keeps their ids unique.
    """

    series: Sequence[Series]
    ids: npt.NDArray[np.uint64]
    rows: npt.NDArray[np.intp]


class Registry:
    """Integer ids for counter identities, pod groups and zones, shared by views.

    Views built against one registry can be aligned with integer arrays alone. The
    registry also remembers how each (family rule, series) pair maps onto the model,
    so a repeated scrape from one parser costs a few numpy operations per energy
    family, and one from another parser one dictionary lookup per energy series. It
    is cleared (and its ``generation`` advanced) when it holds more than
    ``max_entries`` counter and pod ids, so memory stays bounded as pods come and go.

    The lookup by identity remembers the last view of each family, so it serves one
    endpoint read by one :class:`~kepler_reader.Parser`: give each endpoint a
    registry of its own (views of other endpoints would be looked up by value). A
    registry is not thread-safe: build the views of one registry in one thread at a
    time.

    Args:
        max_entries: The most counter and pod ids held before the registry starts
            afresh.
    """

    def __init__(self, max_entries: int = 4_000_000) -> None:
        self.max_entries = max_entries
        self.generation = 0
        self._scratch: npt.NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self._stamp = 0
        self._clear()

    def _clear(self) -> None:
        self.counters: dict[tuple[Workload, int, int], int] = {}
        self.counter_info: list[tuple[Workload, int, int]] = []
        self.groups: dict[tuple[str, str, str], int] = {}
        self.group_info: list[tuple[str, str, str, str]] = []
        self.zones: dict[str, int] = {}
        self.zone_names: list[str] = []
        # Row ids by (era, family) and series; the rows' columns and workloads.
        self.rows: dict[_Family, dict[Series, int]] = {}
        self.workloads: dict[tuple[str, ...], Workload] = {}
        self.row_workloads: list[Workload] = []
        self._codes = np.empty((0, len(ROW_COLUMNS)), dtype=np.int64)
        self._filled = 0
        self._pending: list[tuple[int, int, int, int, int]] = []
        self._last: dict[_Family, _LastSeen] = {}

    def scratch(self, size: int) -> tuple[npt.NDArray[np.int64], int]:
        """A work array of at least ``size`` slots, and a stamp new to it.

        Values a caller writes as ``stamp + i`` (``0 <= i < 2**32``) are told apart
        from every earlier caller's by subtracting the stamp: older values come out
        negative. So nobody has to clear the array after use.
        """
        if len(self._scratch) < size:
            self._scratch = np.zeros(max(size, 2 * len(self._scratch)), dtype=np.int64)
            self._stamp = 0
        self._stamp += 1 << 32
        return self._scratch, self._stamp

    def clear_if_full(self) -> None:
        """Start afresh when the registry has grown past ``max_entries``.

        Views built before and after a clearing have different generations;
        :func:`~kepler_reader.delta.align` then rebuilds both in one registry.
        """
        if len(self.counters) + len(self.groups) > self.max_entries:
            self._clear()
            self.generation += 1

    def zone(self, name: str) -> int:
        """The id of zone ``name`` (new zones get the next id)."""
        code = self.zones.get(name)
        if code is None:
            code = self.zones[name] = len(self.zone_names)
            self.zone_names.append(name)
        return code

    def counter(self, workload: Workload, zone: int, mode: int) -> int:
        """The id of the counter identity (workload, zone, mode)."""
        key = (workload, zone, mode)
        code = self.counters.get(key)
        if code is None:
            code = self.counters[key] = len(self.counter_info)
            self.counter_info.append(key)
        return code

    def group(self, workload: Workload) -> int:
        """The id of the pod a pod or container row belongs to; -1 for other levels."""
        if workload.level not in ("pod", "container"):
            return -1
        key = (workload.namespace, workload.pod, workload.pod_uid)
        code = self.groups.get(key)
        if code is None:
            code = self.groups[key] = len(self.group_info)
            self.group_info.append((*key, workload.kind))
        return code

    # -- rows: how the series of energy families map onto the model ---------------

    def add_row(
        self,
        family: _Family,
        series: Series,
        zone: str,
        mode: int,
        state: int,
        workload: Workload,
    ) -> int:
        """Remember how ``series`` of ``family`` maps onto the model; its row id.

        Args:
            family: ``(era name, family name)``.
            series: The series.
            zone: Its zone name (a new zone gets the next id).
            mode: Its code in :data:`~kepler_reader.kepler.MODES`.
            state: Its code in :data:`~kepler_reader.kepler.STATES`.
            workload: Who spent its energy.
        """
        row = len(self.row_workloads)
        zone_code = self.zone(zone)
        codes = (
            zone_code,
            mode,
            state,
            self.counter(workload, zone_code, mode),
            self.group(workload),
        )
        self._pending.append(codes)
        self.row_workloads.append(workload)
        self.rows.setdefault(family, {})[series] = row
        return row

    def row_codes(self) -> npt.NDArray[np.int64]:
        """Shape ``(rows, 5)``, int64: the zone, mode, state, counter and pod ids.

        The columns are :data:`ROW_COLUMNS`; index the table with row ids. The table
        grows by doubling, so adding a few rows to a large table copies nothing.
        """
        total = self._filled + len(self._pending)
        if self._pending:
            if total > len(self._codes):
                grown = np.empty(
                    (max(total, 2 * len(self._codes)), len(ROW_COLUMNS)),
                    dtype=np.int64,
                )
                grown[: self._filled] = self._codes[: self._filled]
                self._codes = grown
            self._codes[self._filled : total] = self._pending
            self._pending = []
            self._filled = total
        return self._codes[:total]

    def row_of(self, family: _Family, series: Series) -> int | None:
        """The row id of ``series`` of ``family``, or ``None`` if never mapped."""
        return self.rows.get(family, {}).get(series)

    def lookup(
        self, family: _Family, series: Sequence[Series]
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.uint64]]:
        """The row ids of ``series`` of ``family``, and the series' object ids.

        Returns:
            Shape ``(n,)`` intp row ids, ``-1`` for series never mapped; shape
            ``(n,)`` uint64 ``id()`` of each series, for :meth:`remember`.
        """
        count = len(series)
        ids = np.fromiter(map(id, series), dtype=np.uint64, count=count)
        rows = np.full(count, -1, dtype=np.intp)
        last = self._last.get(family)
        if last is not None and len(last.ids):
            at = np.minimum(np.searchsorted(last.ids, ids), len(last.ids) - 1)
            same = last.ids[at] == ids
            rows[same] = last.rows[at[same]]
        missing = np.flatnonzero(rows < 0)
        if len(missing):
            known = self.rows.get(family, {}).get
            for i in missing.tolist():
                row = known(series[i])
                if row is not None:
                    rows[i] = row
        return rows, ids

    def remember(
        self,
        family: _Family,
        series: Sequence[Series],
        ids: npt.NDArray[np.uint64],
        rows: npt.NDArray[np.intp],
    ) -> None:
        """Keep ``series`` (every one mapped, to ``rows``) for the next lookup by id."""
        order = np.argsort(ids)
        self._last[family] = _LastSeen(series, ids[order], rows[order])


#: The registry :func:`~kepler_reader.kepler_view` uses unless given another.
REGISTRY = Registry()
