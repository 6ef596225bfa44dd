"""Benchmarks of kepler_reader against prometheus_client, and of the delta path.

Run ``python benchmarks/run.py`` (about four minutes on a 2-core machine) or
``python benchmarks/run.py --quick`` (under a minute: the 10k- and 100k-line bodies
and deltas only, fewer repeats). Add ``-v`` for progress on stderr and ``--gc-off``
to time with the garbage collector disabled. Nothing touches the network.

Parse. For each body size, :func:`generate.kepler_body` gives the bodies of ticks
0, 1, 2, ... of one invented node (seed 0, 60 % of the lines process series). Every
parse column reads a body of the same size and shape:

* ``prometheus_client``: ``text_string_to_metric_families`` on the tick-1 body
  (already decoded to ``str``, its native input), every family and every sample
  iterated and kept;
* ``cold``: ``kepler_reader.parse`` of the tick-1 body;
* ``warm``: a :class:`kepler_reader.Parser` that has parsed tick 0 parses tick 1;
  the next repeats parse tick 2, 3, ... with the same parser (each the next scrape,
  with its small churn), and the best is kept;
* ``filtered cold``/``filtered warm``: the same with ``Parser(families=...)`` keeping
  only the families ``kepler-reader diff`` needs; ``n/a`` while the parser has no
  ``families`` parameter.

The columns are timed in rounds (as many as the cold repeats): each round runs
``prometheus_client`` once, the cold parse once, the next ticks warm and the filtered
parses, so that every column meets the same spells of a noisy machine, and each column
keeps its best time over the rounds.

Throughput is the number of samples in the body divided by the best wall time, for
every column (the filtered parser keeps fewer, but reads them all). Memory is the
``tracemalloc`` peak during one parse (cold: a new parser on the tick-0 body; warm:
the warm parser on the next tick) divided by the body size in bytes.

Delta. The snapshots of ticks 0, 1, 2, ... of a node with about 10k, 100k or 1M
energy series (rows) per scrape are made directly from the generator's node model, as
a warm ``Parser(families=...)`` keeping the ``*_joules_total`` families would give
them (same series, same values; no text is printed or parsed). The first is mapped
with ``kepler_reader.kepler_view`` untimed; then, scrape after scrape, three calls
are timed: ``kepler_view`` of the new snapshot, ``kepler_reader.delta.align(earlier,
later, "package")`` and ``kepler_reader.diff(earlier, later, interval=3.0)``. The
numpy floor for the same result is ``np.subtract`` of the two aligned float64 arrays
of the package counters plus one ``np.bincount`` of the differences by pod.

Import. ``import kepler_reader`` in a fresh interpreter, timed by
``python -X importtime`` (best of several), beside numpy, ``prometheus_client.parser``
and requests.

``python benchmarks/run.py --profile 100000`` prints a cProfile of the cold and warm
parse of that body size instead.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import importlib.metadata
import inspect
import io
import math
import os
import platform
import pstats
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import generate
import numpy as np
import numpy.typing as npt
from prometheus_client.parser import text_string_to_metric_families

import kepler_reader as kr
from kepler_reader import kepler as kepler_module
from kepler_reader.delta import align
from kepler_reader.kepler import KeplerView
from kepler_reader.snapshot import MetricFamily, Series, Snapshot

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

#: What a family-filtered parser keeps: what ``diff`` needs for pod and node energy.
FILTER_FAMILIES = frozenset(
    {"kepler_build_info", "kepler_node_cpu_joules_total", "kepler_pod_cpu_joules_total"}
)
SEED = 0
PROCESS_SHARE = 0.6
#: The body of the filter comparison: process series dominate, as on a busy node.
FILTER_PROCESS_SHARE = 0.9


@dataclass(frozen=True, slots=True)
class Plan:
    """Sizes and repeats of one run."""

    name: str
    parse_sizes: tuple[int, ...]
    cold_repeats: dict[int, int]
    warm_repeats: dict[int, int]
    memory_sizes: frozenset[int]
    delta_sizes: tuple[int, ...]
    delta_repeats: dict[int, int]
    skipped: tuple[str, ...] = ()


FULL = Plan(
    name="full",
    parse_sizes=(10_000, 100_000, 500_000),
    cold_repeats={10_000: 7, 100_000: 3, 500_000: 2},
    warm_repeats={10_000: 9, 100_000: 5, 500_000: 3},
    memory_sizes=frozenset({10_000, 100_000, 500_000}),
    delta_sizes=(10_000, 100_000, 1_000_000),
    delta_repeats={10_000: 7, 100_000: 5, 1_000_000: 5},
)
QUICK = Plan(
    name="quick",
    parse_sizes=(10_000, 100_000),
    cold_repeats={10_000: 2, 100_000: 1},
    warm_repeats={10_000: 3, 100_000: 2},
    memory_sizes=frozenset({10_000}),
    delta_sizes=(10_000, 100_000),
    delta_repeats={10_000: 3, 100_000: 1},
    skipped=("the 500k-line body", "tracemalloc on 100k lines", "the 1M delta"),
)


# -- timing --------------------------------------------------------------------------

T = TypeVar("T")
#: Whether the garbage collector runs during timed calls (``--gc-off`` turns it off).
GC_DURING_TIMING = True


def timed(run: Callable[[], T], after: Callable[[T], object] | None = None) -> float:
    """Wall time of one call, in seconds.

    ``after`` sees the result once the clock has stopped; the result is freed
    outside the timed region too.
    """
    gc.collect()
    if not GC_DURING_TIMING:
        gc.disable()
    try:
        start = time.perf_counter()
        result = run()
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
    if after is not None:
        after(result)
    del result
    return elapsed


def best_of(
    repeats: int, run: Callable[[], T], after: Callable[[T], object] | None = None
) -> float:
    """The best wall time of ``repeats`` calls, in seconds."""
    return min(timed(run, after) for _ in range(max(1, repeats)))


def traced_peak(run: Callable[[], object]) -> int:
    """The tracemalloc peak during one call, in bytes; the result is kept till then."""
    gc.collect()
    tracemalloc.start()
    try:
        result = run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del result
    return peak


# -- parse ---------------------------------------------------------------------------


def consume_prometheus(text: str) -> tuple[list[Metric], int]:
    """Parse with prometheus_client, iterating every family and every sample.

    Returns the families (kept, as a snapshot keeps its series) and the sample count.
    """
    families = []
    samples = 0
    for family in text_string_to_metric_families(text):
        families.append(family)
        for _sample in family.samples:
            samples += 1
    return families, samples


def filtered_parser() -> tuple[Callable[[], kr.Parser] | None, str]:
    """A factory of family-filtered parsers, or ``None``; and a note on it."""
    try:
        parameters = inspect.signature(kr.Parser).parameters
    except (TypeError, ValueError) as error:
        return None, f"cannot inspect Parser: {error}"
    if "families" not in parameters:
        return None, "kepler_reader.Parser has no families parameter"
    make: Callable[..., kr.Parser] = kr.Parser

    def factory() -> kr.Parser:
        return make(families=FILTER_FAMILIES)

    try:
        probe = factory().parse(
            b"# TYPE kepler_pod_cpu_joules_total counter\n"
            b'kepler_pod_cpu_joules_total{zone="package"} 1\n'
            b"# TYPE kepler_process_cpu_joules_total counter\n"
            b'kepler_process_cpu_joules_total{zone="package"} 2\n'
        )
    except Exception as error:  # any failure means the feature is not usable
        return None, f"Parser(families=...) failed: {error!r}"
    keeps = ", ".join(sorted(FILTER_FAMILIES))
    if "kepler_process_cpu_joules_total" in {f.name for f in probe.families}:
        return factory, f"Parser(families={{{keeps}}}) kept an unlisted family!"
    return factory, f"Parser(families={{{keeps}}})"


@dataclass(slots=True)
class ParseRow:
    """The measurements of one body size: seconds, bytes; None when not measured."""

    lines: int
    body_bytes: int
    samples: int
    prometheus: float
    cold: float
    warm: float
    filtered_cold: float | None = None
    filtered_warm: float | None = None
    peak_cold: int | None = None
    peak_warm: int | None = None
    notes: list[str] = field(default_factory=list)


class Bodies:
    """The bodies of one size, tick by tick, generated on first use and kept."""

    def __init__(self, lines: int) -> None:
        self.node = generate.node_for_lines(
            lines, seed=SEED, process_share=PROCESS_SHARE
        )
        self._bodies: dict[int, bytes] = {}

    def __getitem__(self, tick: int) -> bytes:
        body = self._bodies.get(tick)
        if body is None:
            body = generate.render(self.node, tick)
            self._bodies[tick] = body
        return body


def parse_fresh(make: Callable[[], kr.Parser], body: bytes) -> Snapshot:
    """``body`` parsed by a new parser from ``make`` (a cold filtered parse)."""
    return make().parse(body)


def split_evenly(total: int, parts: int) -> list[int]:
    """``total`` repeats over ``parts`` rounds, the first rounds taking the rest."""
    share, rest = divmod(total, parts)
    return [share + (1 if i < rest else 0) for i in range(parts)]


def measure_parse(
    lines: int,
    plan: Plan,
    make_filtered: Callable[[], kr.Parser] | None,
    progress: Callable[[str], None],
) -> ParseRow:
    """Run every parse column for one body size, interleaved round by round.

    Each round times prometheus_client once, our cold parse once, then the next
    ticks with the warm parsers, so that every column sees the same spells of a
    noisy machine; the best of each column over the rounds is kept.
    """
    bodies = Bodies(lines)
    body = bodies[1]
    rounds = plan.cold_repeats[lines]
    warm_rounds = split_evenly(plan.warm_repeats[lines], rounds)
    ticks = range(1, plan.warm_repeats[lines] + 2)
    for tick in ticks:
        bodies[tick]  # generated before any timing
    counts: dict[str, int] = {}

    def count(key: str) -> Callable[[object], None]:
        def store(result: object) -> None:
            if isinstance(result, tuple):
                counts[key] = result[1]
            elif isinstance(result, Snapshot):
                counts[key] = len(result)

        return store

    # The warm parsers learn tick 0, the full one under tracemalloc when memory is
    # measured.
    memory = lines in plan.memory_sizes
    parser = kr.Parser()
    peak_cold = traced_peak(partial(parser.parse, bodies[0])) if memory else None
    if not memory:
        parser.parse(bodies[0])
    filtered = make_filtered() if make_filtered is not None else None
    if filtered is not None:
        filtered.parse(bodies[0])

    text = body.decode()
    times: dict[str, list[float]] = {
        "prometheus": [],
        "cold": [],
        "warm": [],
        "filtered_cold": [],
        "filtered_warm": [],
    }
    tick = 1
    for number, warm_count in enumerate(warm_rounds, 1):
        progress(f"{lines} lines: round {number} of {rounds}")
        prom = partial(consume_prometheus, text)
        times["prometheus"].append(timed(prom, count("prom")))
        times["cold"].append(timed(partial(kr.parse, body), count("ours")))
        for _ in range(warm_count):
            times["warm"].append(timed(partial(parser.parse, bodies[tick])))
            if filtered is not None:
                times["filtered_warm"].append(
                    timed(partial(filtered.parse, bodies[tick]))
                )
            tick += 1
        if make_filtered is not None:
            fresh = partial(parse_fresh, make_filtered, body)
            times["filtered_cold"].append(timed(fresh))
    text = ""
    peak_warm = traced_peak(partial(parser.parse, bodies[tick])) if memory else None

    samples = counts["ours"]
    row = ParseRow(
        lines,
        len(body),
        samples,
        min(times["prometheus"]),
        min(times["cold"]),
        min(times["warm"]),
    )
    row.peak_cold, row.peak_warm = peak_cold, peak_warm
    if times["filtered_cold"]:
        row.filtered_cold = min(times["filtered_cold"])
        row.filtered_warm = min(times["filtered_warm"])
    if counts["prom"] != samples:
        row.notes.append(
            f"{short(lines)} lines: prometheus_client read {counts['prom']:,} samples, "
            f"kepler_reader {samples:,}."
        )
    return row


def report_filter(
    plan: Plan,
    make_filtered: Callable[[], kr.Parser],
    progress: Callable[[str], None],
) -> str:
    """Full warm parse against the filtered warm parse, on process-heavy bodies."""
    rows = []
    for lines in plan.parse_sizes[1:]:
        progress(f"{lines} lines, process share {FILTER_PROCESS_SHARE}: filter")
        node = generate.node_for_lines(
            lines, seed=SEED, process_share=FILTER_PROCESS_SHARE
        )
        bodies = [generate.render(node, tick) for tick in range(4)]
        full, filtered = kr.Parser(), make_filtered()
        full.parse(bodies[0])
        filtered.parse(bodies[0])
        # Tick by tick, one parser after the other, so both meet the same spells.
        full_times, filtered_times = [], []
        for body in bodies[1:]:
            full_times.append(timed(partial(full.parse, body)))
            filtered_times.append(timed(partial(filtered.parse, body)))
        full_time, filtered_time = min(full_times), min(filtered_times)
        kept = len(filtered.parse(bodies[1]))
        rows.append(
            [
                short(lines),
                f"{len(bodies[1]) / 1e6:.1f}",
                f"{kept:,}",
                f"{full_time * 1e3:,.0f} ms",
                f"{filtered_time * 1e3:,.0f} ms",
                f"{full_time / filtered_time:.1f}x",
            ]
        )
    header = ["lines", "body MB", "kept", "warm full", "warm filtered", "speed-up"]
    return "\n".join(
        [
            "FILTER: warm parse, whole body against the filtered families, on "
            f"bodies with process_share={FILTER_PROCESS_SHARE}; best of 3 ticks",
            table(header, rows),
        ]
    )


# -- delta ---------------------------------------------------------------------------

_JOULES = {
    "container": "kepler_container_cpu_joules_total",
    "pod": "kepler_pod_cpu_joules_total",
    "process": "kepler_process_cpu_joules_total",
}
_LABELS = {
    "container": (
        "container_id",
        "container_name",
        "node_name",
        "pod_id",
        "runtime",
        "state",
    ),
    "pod": ("node_name", "pod_id", "pod_name", "pod_namespace", "state"),
    "process": (
        "comm",
        "container_id",
        "exe",
        "node_name",
        "pid",
        "state",
        "type",
        "vm_id",
    ),
}
_BUILD_INFO = Series(
    "kepler_build_info",
    (
        ("arch", "amd64"),
        ("branch", "HEAD"),
        ("goversion", "go1.24.12"),
        ("revision", "cdef4739"),
        ("version", "v0.11.4"),
    ),
)


class SnapshotMaker:
    """Snapshots of a node's energy families, made without printing or parsing.

    Each snapshot is what ``Parser(families=...)`` keeping ``kepler_build_info`` and
    the ``*_joules_total`` families gives for ``generate.render(node, tick)``: the
    same families, rows, series and values. As with a warm parser, a series seen at
    an earlier tick is the same :class:`Series` object.
    """

    def __init__(self, node: generate.Node) -> None:
        self.node = node
        self._series: dict[tuple[str, tuple[str, ...], str], Series] = {}
        self._pairs: dict[tuple[str, str], tuple[str, str]] = {}
        #: Per tick: package joules of each counter (keyed without ``state``) and the
        #: pod it belongs to ("" for node and process counters).
        self.package: dict[int, dict[tuple[str, ...], tuple[float, str]]] = {}

    def _get(self, level: str, key: tuple[str, ...], zone: str) -> Series:
        series = self._series.get((level, key, zone))
        if series is None:
            pairs = (*zip(_LABELS[level], key, strict=True), ("zone", zone))
            labels = tuple(map(self._pairs.setdefault, pairs, pairs))
            series = Series(_JOULES[level], labels)
            self._series[(level, key, zone)] = series
        return series

    def snapshot(self, tick: int) -> Snapshot:
        """The snapshot of ``tick``."""
        pods, processes = self.node.at(tick)
        rows: dict[str, list[tuple[tuple[str, ...], generate.Energy, int, str]]] = {
            "container": [],
            "pod": [],
            "process": [],
        }
        for pod, state, shown in pods:
            for c in pod.containers:
                key = generate.container_key(pod, c, state)
                rows["container"].append((key, c.energy, shown, pod.pod_id))
            total = generate.Energy(
                sum(c.energy.base_uj for c in pod.containers),
                sum(c.energy.rate_uj for c in pod.containers),
            )
            rows["pod"].append((generate.pod_key(pod, state), total, shown, pod.pod_id))
        for p, state, shown in processes:
            rows["process"].append(
                (generate.process_key(p, state), p.energy, shown, "")
            )

        ppm = np.array([generate.ZONE_PPM[z] for z in generate.ZONES], dtype=np.int64)
        package = generate.ZONES.index("package")
        families = [MetricFamily("kepler_build_info", "gauge", None)]
        series: list[Series] = [_BUILD_INFO]
        values = [np.ones(1)]
        index = [np.zeros(1, dtype=np.int32)]
        counters: dict[tuple[str, ...], tuple[float, str]] = {}

        def add_family(
            name: str, rows_: list[Series], joules: npt.NDArray[np.float64]
        ) -> None:
            index.append(np.full(len(rows_), len(families), dtype=np.int32))
            families.append(MetricFamily(name, "counter", None))
            series.extend(rows_)
            values.append(joules)

        def add_level(level: str) -> None:
            chosen = sorted(rows[level], key=lambda row: row[0])
            uj = np.array(
                [e.base_uj + e.rate_uj * at for _, e, at, _ in chosen], dtype=np.int64
            )
            joules = (uj[:, None] * ppm[None, :] // 1_000_000) / 1e6
            get = self._get
            made = [
                get(level, key, z) for key, _, _, _ in chosen for z in generate.ZONES
            ]
            add_family(_JOULES[level], made, joules.ravel())
            state_at = _LABELS[level].index("state")
            for (key, _, _, pod_id), value in zip(
                chosen, joules[:, package].tolist(), strict=True
            ):
                counters[(level, *key[:state_at], *key[state_at + 1 :])] = (
                    value,
                    pod_id,
                )

        add_level("container")
        by_path = sorted(generate.ZONES, key=generate.ZONE_PATH.__getitem__)
        for part in ("active", "idle", ""):
            infix = f"{part}_" if part else ""
            name = f"kepler_node_cpu_{infix}joules_total"
            made = []
            for z in by_path:
                known = self._series.get(("node", (part,), z))
                if known is None:
                    labels = (
                        ("node_name", generate.NODE),
                        ("path", generate.ZONE_PATH[z]),
                        ("zone", z),
                    )
                    known = self._series[("node", (part,), z)] = Series(name, labels)
                made.append(known)
            joules = np.array([generate.node_uj(part, z, tick) / 1e6 for z in by_path])
            add_family(name, made, joules)
            counters[("node", part)] = (
                generate.node_uj(part, "package", tick) / 1e6,
                "",
            )
        add_level("pod")
        if self.node.print_processes:
            add_level("process")
        self.package[tick] = counters
        return Snapshot(
            families=tuple(families),
            family_index=np.concatenate(index),
            series=series,
            values=np.concatenate(values),
            source=f"synthetic tick {tick}",
        )


def delta_node(series: int) -> generate.Node:
    """A node whose views have about ``series`` energy series (rows) each.

    Every workload has one series per zone, four in all. The mix of a Kepler node:
    12 % pods, 24 % containers (two per pod on average), 64 % processes, and Job pods
    starting every tick (about 0.6 % of the counters churn between two ticks).
    """
    workloads = max(1, series // len(generate.ZONES))
    return generate.node_model(
        pods=max(1, workloads * 12 // 100),
        processes=max(1, workloads * 64 // 100),
        seed=SEED,
        jobs_per_tick=max(1, workloads // 2000),
    )


def view_function() -> tuple[Callable[[Snapshot], KeplerView], str]:
    """``kepler_view`` with a registry of its own when it takes one, and a note."""
    view: Callable[..., KeplerView] = kr.kepler_view
    parameters = inspect.signature(kr.kepler_view).parameters
    make_registry = getattr(kepler_module, "Registry", None)
    if "registry" in parameters and callable(make_registry):
        registry = make_registry()
        return partial(view, registry=registry), "with a new Registry() per size"
    return view, ""


@dataclass(slots=True)
class DeltaRow:
    """The measurements of one delta size: counts, and seconds."""

    size: int
    counters: int
    rows: int
    pods: int
    view: float
    align: float
    diff: float
    floor: float
    sums: float = 0.0
    note: str = ""


def delta_and_pod_sums(earlier: KeplerView, later: KeplerView) -> object:
    """``align`` plus ``pod_sums``: joules per counter, then per pod."""
    return kr.pod_sums(align(earlier, later, "package")[0])


def measure_delta(
    series: int, repeats: int, progress: Callable[[str], None]
) -> DeltaRow:
    """Time ``kepler_view``, ``align`` and ``diff`` tick after tick, and the floor."""
    progress(f"delta {series}: making snapshots")
    maker = SnapshotMaker(delta_node(series))
    ticks = range(1, max(1, repeats) + 1)
    snapshots = {tick: maker.snapshot(tick) for tick in range(ticks[-1] + 1)}
    view, note = view_function()

    progress(f"delta {series}: kepler_view, align and diff x{len(ticks)}")
    kept: dict[str, KeplerView | kr.EnergyDelta] = {}
    earlier = view(snapshots.pop(0))
    view_times, align_times, diff_times, sum_times = [], [], [], []
    for tick in ticks:
        snapshot = snapshots.pop(tick)
        view_times.append(
            timed(partial(view, snapshot), partial(kept.__setitem__, "v"))
        )
        later = kept.pop("v")
        assert isinstance(later, KeplerView)
        align_times.append(timed(partial(align, earlier, later, "package")))
        # The delta and per-pod sum alone, with both views' zone slices made (they
        # are made once per view, and each view serves two deltas). Three calls a
        # tick, as many in all as the floor gets below.
        sum_times.append(best_of(3, partial(delta_and_pod_sums, earlier, later)))
        call = partial(kr.diff, earlier, later, interval=generate.INTERVAL_SECONDS)
        diff_times.append(timed(call, partial(kept.__setitem__, "d")))
        earlier = later
    energy = kept["d"]
    assert isinstance(energy, kr.EnergyDelta)

    # The floor: the package counters of the last two ticks, already aligned.
    first, second = maker.package[ticks[-1] - 1], maker.package[ticks[-1]]
    union = list(dict.fromkeys([*first, *second]))
    before = np.array([first.get(k, (0.0, ""))[0] for k in union])
    after = np.array([second.get(k, (0.0, ""))[0] for k in union])
    groups: dict[str, int] = {}
    group_of = np.array(
        [groups.setdefault((second.get(k) or first[k])[1], len(groups)) for k in union],
        dtype=np.intp,
    )
    g = len(groups)

    def floor() -> object:
        return np.bincount(group_of, weights=np.subtract(after, before), minlength=g)

    floor_time = best_of(3 * len(ticks), floor)
    return DeltaRow(
        size=series,
        counters=len(union),
        rows=len(earlier),
        pods=len(energy.pods),
        view=min(view_times),
        align=min(align_times),
        diff=min(diff_times),
        floor=floor_time,
        sums=min(sum_times),
        note=note,
    )


# -- output --------------------------------------------------------------------------


def machine_line() -> str:
    """CPU model, CPU count, OS, and the versions that matter."""
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.lower().startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = [f"Python {platform.python_version()}", f"numpy {np.__version__}"]
    for package in ("prometheus-client", "kepler-reader"):
        try:
            versions.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{package} (not installed)")
    cpus = f"{os.cpu_count()} CPUs"
    return " | ".join([model, cpus, platform.platform(), *versions])


def code_line() -> str:
    """Where kepler_reader was imported from, its git commit, and local changes."""
    package = Path(kr.__file__).resolve().parent
    where = f"kepler_reader {kr.__version__} from {package}"

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(package.parent), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return done.stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        changed = git("status", "--porcelain", "--", package.name).splitlines()
    except (OSError, subprocess.SubprocessError):
        return where
    local = f", {len(changed)} file(s) changed locally" if changed else ""
    return f"{where} at {head}{local}"


def short(count: float) -> str:
    """A count as 9.9k / 1.2M."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if count >= limit:
            return f"{count / limit:.3g}{suffix}"
    return f"{count:.3g}"


def rate(samples: int, seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    return f"{short(samples / seconds)}/s ({seconds * 1e3:,.0f} ms)"


def ratio(reference: float, seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    return f"{reference / seconds:.2f}x"


def per_body(peak: int | None, body: int) -> str:
    return "skipped" if peak is None else f"{peak / body:.2f}x"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Left-aligned first column, right-aligned others, two spaces apart."""
    body = [list(headers), *(list(r) for r in rows)]
    widths = [max(len(r[i]) for r in body) for i in range(len(headers))]
    lines = []
    for r in body:
        cells = [r[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)
        ]
        lines.append("  " + "  ".join(cells).rstrip())
    lines.insert(1, "  " + "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def report_parse(rows: Sequence[ParseRow], plan: Plan, filter_note: str) -> str:
    out = [
        "PARSE: samples/s (best wall time) on the same body; higher is better",
        table(
            [
                "lines",
                "body MB",
                "samples",
                "prometheus_client",
                "cold",
                "warm",
                "filtered cold",
                "filtered warm",
            ],
            (
                [
                    short(r.lines),
                    f"{r.body_bytes / 1e6:.1f}",
                    f"{r.samples:,}",
                    rate(r.samples, r.prometheus),
                    rate(r.samples, r.cold),
                    rate(r.samples, r.warm),
                    rate(r.samples, r.filtered_cold),
                    rate(r.samples, r.filtered_warm),
                ]
                for r in rows
            ),
        ),
        "",
        "PARSE: speed as a multiple of prometheus_client's; peak memory as a multiple "
        "of the body size",
        table(
            [
                "lines",
                "repeats",
                "cold",
                "warm",
                "filtered cold",
                "filtered warm",
                "peak cold",
                "peak warm",
            ],
            (
                [
                    short(r.lines),
                    f"{plan.cold_repeats[r.lines]}/{plan.warm_repeats[r.lines]}",
                    ratio(r.prometheus, r.cold),
                    ratio(r.prometheus, r.warm),
                    ratio(r.prometheus, r.filtered_cold),
                    ratio(r.prometheus, r.filtered_warm),
                    per_body(r.peak_cold, r.body_bytes),
                    per_body(r.peak_warm, r.body_bytes),
                ]
                for r in rows
            ),
        ),
    ]
    if filter_note:
        out.append(f"  filtered: {filter_note}")
    out.extend(f"  note: {note}" for r in rows for note in r.notes)
    return "\n".join(out)


def report_delta(rows: Sequence[DeltaRow], plan: Plan) -> str:
    def ms(seconds: float) -> str:
        return (
            f"{seconds * 1e3:,.1f} ms" if seconds >= 0.01 else f"{seconds * 1e3:.2f} ms"
        )

    header = [
        "series/view",
        "counters",
        "pods",
        "repeats",
        "kepler_view",
        "align",
        "align+pod_sums",
        "diff",
        "numpy floor",
        "align+pod_sums/floor",
        "align/floor",
        "diff/floor",
        "view+diff/floor",
    ]
    body = (
        [
            short(r.rows),
            f"{r.counters:,}",
            f"{r.pods:,}",
            str(plan.delta_repeats[r.size]),
            ms(r.view),
            ms(r.align),
            ms(r.sums),
            ms(r.diff),
            ms(r.floor),
            f"{r.sums / r.floor:,.1f}x",
            f"{r.align / r.floor:,.0f}x",
            f"{r.diff / r.floor:,.0f}x",
            f"{(r.view + r.diff) / r.floor:,.0f}x",
        ]
        for r in rows
    )
    out = [
        "DELTA: one scrape after another (tick t-1 to t), package zone; best wall time",
        table(header, body),
    ]
    notes = sorted({r.note for r in rows if r.note})
    out.extend(f"  kepler_view: {note}" for note in notes)
    return "\n".join(out)


# -- profile -------------------------------------------------------------------------


def profile(lines: int, top: int = 15) -> str:
    """cProfile of the cold and the warm parse of one body size."""
    bodies = Bodies(lines)
    body0, body1 = bodies[0], bodies[1]
    out = []
    parser = kr.Parser()
    for label, body in (
        ("cold: Parser().parse(tick 0)", body0),
        ("warm: the same parser, parse(tick 1)", body1),
    ):
        gc.collect()
        profiler = cProfile.Profile()
        profiler.enable()
        parser.parse(body)
        profiler.disable()
        stream = io.StringIO()
        stats = pstats.Stats(profiler, stream=stream)
        stats.sort_stats("tottime").print_stats(top)
        out.append(f"== {label}, {short(lines)} lines ==\n{stream.getvalue()}")
    return "\n".join(out)


# -- import time ---------------------------------------------------------------------

IMPORTS = ("kepler_reader", "numpy", "prometheus_client.parser", "requests")


def import_seconds(module: str, repeats: int) -> float:
    """The best time ``import module`` takes in a fresh interpreter, in seconds.

    Read from ``python -X importtime``, which times the import alone (not the
    interpreter's start-up).
    """
    best = math.inf
    for _ in range(repeats):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            capture_output=True,
            text=True,
            check=True,
        )
        # The last line is the module itself: "import time: self | cumulative | name".
        cumulative = done.stderr.strip().splitlines()[-1].split("|")[1]
        best = min(best, int(cumulative) / 1e6)
    return best


FIRST_USE = (
    "import time\n"
    "start = time.perf_counter()\n"
    "import kepler_reader\n"
    "kepler_reader.parse(b'a 1\\n')\n"
    "print(time.perf_counter() - start)"
)


def first_use_seconds(repeats: int) -> float:
    """The best time of ``import kepler_reader`` plus a first one-line parse, in s.

    The package loads numpy and the parser on first use, so this is what a script
    pays before its first snapshot.
    """
    return min(
        float(
            subprocess.run(
                [sys.executable, "-c", FIRST_USE],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        for _ in range(repeats)
    )


def report_imports(repeats: int) -> str:
    """Import times of kepler_reader and of the packages it stands beside."""
    times = {module: import_seconds(module, repeats) for module in IMPORTS}
    ours = times["kepler_reader"]
    rows = [
        (module, f"{seconds * 1e3:,.0f} ms", f"{ours / seconds:,.2f}x")
        for module, seconds in times.items()
    ]
    first = first_use_seconds(repeats)
    rows.append(("kepler_reader + first parse", f"{first * 1e3:,.0f} ms", ""))
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, kepler_reader; print(' '.join(m for m in "
            "('numpy', 'attrs', 'requests') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    note = "loaded by `import kepler_reader`: " + (
        ", ".join(loaded) if loaded else "none of numpy, attrs, requests"
    )
    note += " (numpy and the parser come with the first parse, requests with the "
    note += "first scrape)"
    heading = (
        f"Import time (python -X importtime, best of {repeats} fresh interpreters; "
        "the first-parse row by perf_counter inside one)"
    )
    return "\n".join(
        [heading, table(("module", "import", "kepler_reader / it"), rows), note]
    )


# -- main ----------------------------------------------------------------------------


#: The parts of a run, in the order they are printed.
SECTIONS = ("imports", "parse", "filter", "delta")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks and print the tables."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats")
    parser.add_argument(
        "--profile",
        type=int,
        metavar="LINES",
        help="print a cProfile of the cold and warm parse instead",
    )
    parser.add_argument(
        "--gc-off",
        action="store_true",
        help="disable the garbage collector during timed calls, as timeit does",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=SECTIONS,
        help="run only this section (repeatable; default: all of them)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="print progress on stderr"
    )
    args = parser.parse_args(argv)
    sections = set(args.only or SECTIONS)
    if args.profile:
        print(profile(args.profile))
        return 0

    plan = QUICK if args.quick else FULL
    global GC_DURING_TIMING
    GC_DURING_TIMING = not args.gc_off
    started = time.perf_counter()

    def progress(message: str) -> None:
        if args.verbose:
            elapsed = time.perf_counter() - started
            print(f"[{elapsed:6.1f} s] {message}", file=sys.stderr, flush=True)

    collector = "off" if args.gc_off else "on"
    print(
        f"kepler_reader benchmarks ({plan.name} run; time.perf_counter, best of the "
        f"repeats; garbage collector {collector} during timed calls)"
    )
    print(f"machine: {machine_line()}")
    print(f"code: {code_line()}")
    print(
        f"bodies: generate.kepler_body(lines, seed={SEED}, "
        f"process_share={PROCESS_SHARE}), Kepler v0.11 text format 0.0.4"
    )
    print()

    if "imports" in sections:
        progress("import times")
        print(report_imports(5 if args.quick else 15))
        print()

    make_filtered, filter_note = filtered_parser()
    if make_filtered is None:
        filter_note = f"n/a, {filter_note}"
    if "parse" in sections:
        parse_rows = [
            measure_parse(lines, plan, make_filtered, progress)
            for lines in plan.parse_sizes
        ]
        print(report_parse(parse_rows, plan, filter_note))
        print()
    if "filter" in sections and make_filtered is not None:
        print(report_filter(plan, make_filtered, progress))
        print()
    if "delta" in sections:
        delta_rows = [
            measure_delta(n, plan.delta_repeats[n], progress) for n in plan.delta_sizes
        ]
        print(report_delta(delta_rows, plan))
        print()
    if plan.skipped:
        print(f"skipped in this run: {', '.join(plan.skipped)}")
    print(f"total wall time: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
