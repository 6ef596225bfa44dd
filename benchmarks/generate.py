"""Deterministic Kepler 0.10+ (era G) exposition bodies for the benchmarks.

``kepler_body(lines, seed=..., process_share=..., tick=...)`` prints one scrape of an
invented node the way Kepler v0.11 prints it through client_golang 1.22:

* families sorted by name, each with its ``# HELP`` and ``# TYPE`` line; labels sorted
  by name; samples sorted by their label values (byte-wise), as client_golang does;
* numbers in Go's shortest ``'g'`` format (:func:`go_float`): ``123456`` but
  ``1.234567e+06``, ``1e-05``; joules with at most six decimals (Kepler divides integer
  microjoules by 1e6), watts with long binary fractions;
* node, pod, container and process levels, zones ``package``, ``core``, ``uncore`` and
  ``dram``, a ``_joules_total`` counter and a ``_watts`` gauge per workload and zone,
  ``kepler_process_cpu_seconds_total``, the node active/idle split, CPU info, build
  info, a few ``go_*`` families and ``promhttp_metric_handler_errors_total``.

``lines`` is the target length of the body; the result has that many lines to within
a few dozen (workloads are added whole). ``process_share`` is the fraction of the
workload lines spent on process series (0 drops the process families, as Kepler does
when the process level is off). ``tick`` is the scrape number, 3 s apart: counters
grow from tick to tick, and a few short-lived Job pods churn. Each Job pod runs for
three ticks, is printed once more with ``state="terminated"`` and frozen values, then
disappears; so the bodies of two consecutive ticks share every series but a few (new
Job pods, Job pods flipping to ``terminated``, terminated ones dropped), and all
bodies of one ``lines``/``seed``/``process_share`` have the same length.

Everything derives from ``seed`` through BLAKE2 digests, so a body is a pure function
of its arguments. Run ``python benchmarks/generate.py --help`` to write one to a file.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

__all__ = [
    "INTERVAL_SECONDS",
    "NODE",
    "NODE_COUNTERS",
    "ZONES",
    "ZONE_PATH",
    "ZONE_PPM",
    "Container",
    "Energy",
    "Node",
    "Pod",
    "Process",
    "Shown",
    "container_key",
    "go_float",
    "kepler_body",
    "node_for_lines",
    "node_model",
    "node_uj",
    "pod_key",
    "process_key",
    "render",
]

#: Seconds between two ticks (two scrapes).
INTERVAL_SECONDS = 3.0
#: RAPL zones, in the order client_golang prints them (sorted by value).
ZONES = ("core", "dram", "package", "uncore")
#: Each zone's share of the package energy, in parts per million.
ZONE_PPM = {"core": 720_000, "dram": 31_000, "package": 1_000_000, "uncore": 5_300}
#: The sysfs directory of each zone (the ``path`` label of the node families).
ZONE_PATH = {
    "core": "/host/sys/class/powercap/intel-rapl:0:0",
    "dram": "/host/sys/class/powercap/intel-rapl:0:2",
    "package": "/host/sys/class/powercap/intel-rapl:0",
    "uncore": "/host/sys/class/powercap/intel-rapl:0:1",
}
#: The node's own counters: family part ("" for the total, "active", "idle") to the
#: package counter at tick 0 and its growth per tick, in microjoules. The total is
#: the raw RAPL counter; active and idle are Kepler's accumulated split of it.
NODE_COUNTERS = {
    "": (183_456_789_012, 157_140_318),
    "active": (5_692_208_431_127, 47_470_318),
    "idle": (12_411_923_007_761, 108_104_674),
}
#: The node name (``node_name`` label).
NODE = "node-a"
_CPUS = 8
# A Job pod runs for this many ticks, then is printed once as terminated.
_JOB_TICKS = 3
# Job pods started per tick, per 1000 long-lived pods (at least one).
_JOB_PER_MILLE = 5

_LINES_PER_POD = 2 * len(ZONES)
_LINES_PER_CONTAINER = 2 * len(ZONES)
_LINES_PER_PROCESS = 2 * len(ZONES) + 1

_NAMESPACES = (
    "kube-system",
    "monitoring",
    "flux-system",
    "cert-manager",
    "ingress-nginx",
    "shop",
    "payments",
    "search",
    "analytics",
    "batch",
    "data",
    "auth",
    "media",
    "notifications",
    "ml-serving",
    "ci-runners",
    "logging",
    "storage",
)
_APPS = (
    "api",
    "web",
    "worker",
    "postgres",
    "redis",
    "kafka",
    "zookeeper",
    "nginx",
    "envoy",
    "coredns",
    "fluent-bit",
    "prometheus",
    "grafana",
    "loki",
    "tempo",
    "checkout",
    "cart",
    "catalog",
    "recommender",
    "indexer",
    "scheduler",
    "ingest",
    "transcoder",
    "mailer",
    "gateway",
    "controller",
    "operator",
    "exporter",
)
_SIDECARS = ("istio-proxy", "log-shipper", "metrics-agent", "config-reloader")
_HOST_COMMS = (
    "systemd",
    "containerd",
    "kubelet",
    "sshd",
    "journald",
    "chronyd",
    "irqbalance",
    "multipathd",
    "udevd",
    "rsyslogd",
    "dbus-daemon",
    "kworker",
)
_WORKER_COMMS = ("python3", "node", "java", "sh", "bash", "gunicorn", "uwsgi")
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"

_HELP = {
    "energy": "Energy consumption of cpu at {level} level in joules",
    "power": "Power consumption of cpu at {level} level in watts",
}


# -- numbers -------------------------------------------------------------------------


def go_float(value: float) -> str:
    """Spell ``value`` as client_golang does (Go ``FormatFloat(v, 'g', -1, 64)``).

    Shortest round-trip digits (the same digits as Python's ``repr``), in exponent
    form when the decimal exponent is below -4 or at least 6 (Go's rule for the
    shortest ``'g'`` format), with at least two exponent digits; ``NaN``, ``+Inf``,
    ``-Inf`` as the text format spells them.

    >>> [go_float(v) for v in (0.0, 1.0, 123456.0, 1234567.0, 1e-05, 0.0001, 1e21)]
    ['0', '1', '123456', '1.234567e+06', '1e-05', '0.0001', '1e+21']
    >>> go_float(5692208.431127), go_float(-2.5), go_float(float("inf"))
    ('5.692208431127e+06', '-2.5', '+Inf')
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    text = repr(value)
    sign = ""
    if text[0] == "-":
        sign, text = "-", text[1:]
    mantissa, _, exponent = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    raw = whole + fraction
    stripped = raw.lstrip("0")
    digits = stripped.rstrip("0")
    # Position of the decimal point relative to the first significant digit.
    point = len(whole) - (len(raw) - len(stripped)) + (int(exponent) if exponent else 0)
    decimal_exponent = point - 1
    if decimal_exponent < -4 or decimal_exponent >= 6:
        tail = "." + digits[1:] if len(digits) > 1 else ""
        mark = "-" if decimal_exponent < 0 else "+"
        return f"{sign}{digits[0]}{tail}e{mark}{abs(decimal_exponent):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


def node_uj(part: str, zone: str, tick: int) -> int:
    """A node counter (see :data:`NODE_COUNTERS`) of ``zone`` at ``tick``, in µJ."""
    start, rate = NODE_COUNTERS[part]
    return (start + rate * tick) * ZONE_PPM[zone] // 1_000_000


def _joules(microjoules: int) -> str:
    """Joules as Kepler prints them: integer microjoules divided by 1e6."""
    return go_float(microjoules / 1e6)


# -- the node model ------------------------------------------------------------------


def _digest(seed: int, kind: str, index: int) -> bytes:
    return hashlib.blake2b(f"{seed}/{kind}/{index}".encode(), digest_size=32).digest()


def _number(digest: bytes, start: int) -> int:
    """An unsigned 32-bit number taken from four bytes of ``digest``."""
    return int.from_bytes(digest[start : start + 4], "little")


def _name_suffix(digest: bytes, start: int, length: int) -> str:
    return "".join(
        _NAME_CHARS[b % len(_NAME_CHARS)] for b in digest[start : start + length]
    )


def _uuid(digest: bytes) -> str:
    h = digest[:16].hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


@dataclass(frozen=True, slots=True)
class Energy:
    """How one workload's package counter moves: a start value and a rate.

    Attributes:
        base_uj: Package energy at tick 0, in microjoules.
        rate_uj: Package energy per tick (3 s), in microjoules.
    """

    base_uj: int
    rate_uj: int

    @classmethod
    def from_digest(cls, digest: bytes, scale: int) -> Energy:
        """Draw a start value and a skewed rate (most workloads are nearly idle)."""
        spread = _number(digest, 24) % 1000
        rate = 1 + spread * spread * scale // 2
        return cls(base_uj=_number(digest, 28) * scale * 10, rate_uj=rate)

    def at(self, tick: int, zone: str) -> int:
        """The counter of ``zone`` at ``tick``, in microjoules."""
        return (self.base_uj + self.rate_uj * tick) * ZONE_PPM[zone] // 1_000_000

    def watts(self, tick: int, zone: str) -> float:
        """Mean power of ``zone`` over the refresh that ended at ``tick``, in watts."""
        wobble = 1.0 + 0.01 * ((tick * 7 + self.rate_uj) % 11)
        return self.rate_uj * ZONE_PPM[zone] / 1e12 / INTERVAL_SECONDS * wobble


@dataclass(frozen=True, slots=True)
class Process:
    """One process (``type="container"`` inside a container, else ``"regular"``)."""

    pid: int
    comm: str
    exe: str
    container_id: str
    energy: Energy
    cpu_centiseconds: int

    @property
    def type(self) -> str:
        """Kepler's ``type`` label."""
        return "container" if self.container_id else "regular"


@dataclass(frozen=True, slots=True)
class Container:
    """One container of a pod."""

    container_id: str
    name: str
    runtime: str
    energy: Energy


@dataclass(frozen=True, slots=True)
class Pod:
    """One pod; ``job`` is the tick a Job pod started at, ``None`` if long-lived."""

    pod_id: str
    name: str
    namespace: str
    containers: tuple[Container, ...]
    job: int | None = None

    def state(self, tick: int) -> str | None:
        """``running``, ``terminated`` (printed once) or ``None`` (not printed)."""
        if self.job is None or self.job <= tick < self.job + _JOB_TICKS:
            return "running"
        if tick == self.job + _JOB_TICKS:
            return "terminated"
        return None

    def frozen_tick(self, tick: int) -> int:
        """The tick whose values are printed: a terminated pod keeps its last ones."""
        if self.job is not None:
            return min(tick, self.job + _JOB_TICKS - 1)
        return tick


W = TypeVar("W")
#: A workload as printed at one tick: the workload, its state, the tick of its values.
Shown = tuple[W, str, int]


@dataclass(frozen=True, slots=True)
class Node:
    """The workloads of one invented node.

    Attributes:
        seed: The seed everything was derived from.
        pods: Long-lived pods.
        processes: Processes of long-lived pods and of the host (regular).
        jobs_per_tick: Job pods started at each tick.
        print_processes: Whether the process families are printed.
    """

    seed: int
    pods: tuple[Pod, ...]
    processes: tuple[Process, ...]
    jobs_per_tick: int
    print_processes: bool = True

    def jobs(self, tick: int) -> list[tuple[Pod, Process]]:
        """The Job pods printed at ``tick`` (running or terminated), with processes."""
        return [
            _job(self.seed, start, k, self.jobs_per_tick)
            for start in range(tick - _JOB_TICKS, tick + 1)
            for k in range(self.jobs_per_tick)
        ]

    def at(self, tick: int) -> tuple[list[Shown[Pod]], list[Shown[Process]]]:
        """The pods and processes printed at ``tick``.

        Each comes with its ``state`` label and the tick whose values are printed
        (a terminated Job pod shows the values of its last running tick).

        Raises:
            ValueError: ``tick`` is negative.
        """
        if tick < 0:
            raise ValueError(f"tick must not be negative, not {tick!r}.")
        pods = [(p, "running", tick) for p in self.pods]
        processes = [(p, "running", tick) for p in self.processes]
        for pod, process in self.jobs(tick):
            state = pod.state(tick)
            if state is not None:
                shown = pod.frozen_tick(tick)
                pods.append((pod, state, shown))
                processes.append((process, state, shown))
        return pods, processes


def _job(seed: int, start: int, k: int, per_tick: int) -> tuple[Pod, Process]:
    index = (start + _JOB_TICKS) * per_tick + k
    d = _digest(seed, "job", index)
    namespace = _NAMESPACES[d[0] % len(_NAMESPACES)]
    app = _APPS[d[1] % len(_APPS)]
    name = f"{app}-migrate-{_name_suffix(d, 2, 5)}"
    container = Container(d.hex(), "migrate", "containerd", Energy.from_digest(d, 4))
    pod = Pod(_uuid(d[16:] + d[:16]), name, namespace, (container,), job=start)
    process = Process(
        pid=3_000_000 + index,
        comm=app,
        exe=f"/app/{app}",
        container_id=container.container_id,
        energy=Energy.from_digest(d, 4),
        cpu_centiseconds=_number(d, 20) % 100_000,
    )
    return pod, process


def node_model(
    *, pods: int, processes: int, seed: int = 0, jobs_per_tick: int = 1
) -> Node:
    """Invent a node with ``pods`` long-lived pods and ``processes`` processes.

    Pods have one to three containers; a twentieth of the processes belong to the
    host (``type="regular"``, no container), the rest are spread over the
    containers. ``jobs_per_tick`` Job pods start at every tick (see the module
    docstring).
    """
    built: list[Pod] = []
    containers: list[Container] = []
    for i in range(pods):
        d = _digest(seed, "pod", i)
        namespace = _NAMESPACES[d[0] % len(_NAMESPACES)]
        app = _APPS[d[1] % len(_APPS)]
        name = f"{app}-{_name_suffix(d, 2, 9)}-{_name_suffix(d, 11, 5)}"
        own = []
        for c in range(1 + d[16] % 3):
            dc = _digest(seed, f"container{c}", i)
            cname = app if c == 0 else _SIDECARS[(d[17] + c) % len(_SIDECARS)]
            own.append(
                Container(dc.hex(), cname, "containerd", Energy.from_digest(dc, 8))
            )
        containers.extend(own)
        built.append(Pod(_uuid(d), name, namespace, tuple(own)))

    host = processes // 20 if containers else processes
    made: list[Process] = []
    for j in range(processes):
        d = _digest(seed, "process", j)
        if j < host:
            comm = _HOST_COMMS[d[0] % len(_HOST_COMMS)]
            exe, container_id = f"/usr/bin/{comm}", ""
        else:
            container = containers[(j - host) % len(containers)]
            first = j - host < len(containers)
            comm = container.name if first else _WORKER_COMMS[d[0] % len(_WORKER_COMMS)]
            exe, container_id = f"/app/{comm}", container.container_id
        made.append(
            Process(
                pid=1000 + 3 * j + d[1] % 3,
                comm=comm,
                exe=exe,
                container_id=container_id,
                energy=Energy.from_digest(d, 4),
                cpu_centiseconds=_number(d, 20) % 10_000_000,
            )
        )
    return Node(seed, tuple(built), tuple(made), max(0, jobs_per_tick), processes > 0)


def _fixed_lines(print_processes: bool) -> int:
    """Lines that do not depend on the number of workloads."""
    families = 7 if print_processes else 4
    return sum(len(block) for _, block in _render_fixed(0)) + 2 * families


def node_for_lines(lines: int, *, seed: int = 0, process_share: float = 0.6) -> Node:
    """Size a node whose body has about ``lines`` lines (see the module docstring).

    Raises:
        ValueError: ``process_share`` is not between 0 and 1, or ``lines`` is negative.
    """
    if not 0.0 <= process_share <= 1.0:
        raise ValueError(
            f"process_share must be between 0 and 1, not {process_share!r}."
        )
    if lines < 0:
        raise ValueError(f"lines must not be negative, not {lines!r}.")
    free = max(0, lines - _fixed_lines(process_share > 0))
    processes = round(free * process_share / _LINES_PER_PROCESS)
    rest = free - processes * _LINES_PER_PROCESS
    # A long-lived pod has two containers on average; a Job pod has one.
    pod_lines = _LINES_PER_POD + 2 * _LINES_PER_CONTAINER
    estimate = rest // pod_lines
    jobs_per_tick = max(1, estimate * _JOB_PER_MILLE // 1000) if estimate else 0
    job_pods = (_JOB_TICKS + 1) * jobs_per_tick
    rest -= job_pods * (_LINES_PER_POD + _LINES_PER_CONTAINER)
    if process_share > 0:
        processes = max(1, processes - job_pods)

    # Add pods whole, with the container counts node_model will give them.
    pods = 0
    while rest > 0 and pods < lines:
        d = _digest(seed, "pod", pods)
        cost = _LINES_PER_POD + (1 + d[16] % 3) * _LINES_PER_CONTAINER
        if cost > rest:
            break
        rest -= cost
        pods += 1
    if process_share > 0 and rest >= _LINES_PER_PROCESS:
        processes += rest // _LINES_PER_PROCESS
    return node_model(
        pods=pods,
        processes=processes if process_share > 0 else 0,
        seed=seed,
        jobs_per_tick=jobs_per_tick,
    )


# -- printing ------------------------------------------------------------------------

#: One family as printed: its name and its lines (HELP, TYPE, samples).
Block = tuple[str, list[str]]


def _family(name: str, kind: str, help_text: str, samples: Iterable[str]) -> Block:
    return name, [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *samples]


def _render_fixed(tick: int) -> list[Block]:
    """The go_*, build-info, node and promhttp families."""
    gc = 27_000 + 9 * tick
    quantiles = (
        ("0", 2.1e-05),
        ("0.25", 4.3e-05),
        ("0.5", 5.6e-05),
        ("0.75", 8.2e-05),
        ("1", 0.0041),
    )
    gc_samples = [
        f'go_gc_duration_seconds{{quantile="{q}"}} {go_float(v)}' for q, v in quantiles
    ]
    gc_samples.append(f"go_gc_duration_seconds_sum {go_float(gc * 0.00027)}")
    gc_samples.append(f"go_gc_duration_seconds_count {gc}")
    blocks = [
        _family(
            "go_gc_duration_seconds",
            "summary",
            "A summary of the wall-time pause (stop-the-world) duration in garbage "
            "collection cycles.",
            gc_samples,
        ),
        _family(
            "go_info",
            "gauge",
            "Information about the Go environment.",
            ['go_info{version="go1.24.12"} 1'],
        ),
        _family(
            "go_memstats_alloc_bytes_total",
            "counter",
            "Total number of bytes allocated in heap until now.",
            [f"go_memstats_alloc_bytes_total {go_float(2.1e12 + 7.3e7 * tick)}"],
        ),
        _family(
            "kepler_build_info",
            "gauge",
            "A metric with a constant '1' value labeled with version information",
            [
                'kepler_build_info{arch="amd64",branch="HEAD",goversion="go1.24.12",'
                'revision="cdef4739",version="v0.11.4"} 1'
            ],
        ),
        _family(
            "promhttp_metric_handler_errors_total",
            "counter",
            "Total number of internal errors encountered by the promhttp metric "
            "handler.",
            [
                'promhttp_metric_handler_errors_total{cause="encoding"} 0',
                'promhttp_metric_handler_errors_total{cause="gathering"} 0',
            ],
        ),
    ]
    go_gauges = (
        ("go_gc_gogc_percent", "Heap size target percentage (GOGC).", 100.0),
        (
            "go_goroutines",
            "Number of goroutines that currently exist.",
            41.0 + tick % 5,
        ),
        (
            "go_memstats_alloc_bytes",
            "Number of bytes allocated in heap and currently in use.",
            19_877_104.0 + 4096 * (tick % 97),
        ),
        (
            "go_memstats_heap_objects",
            "Number of currently allocated objects.",
            118_342.0 + tick % 1000,
        ),
        ("go_sched_gomaxprocs_threads", "The current runtime.GOMAXPROCS setting.", 8.0),
        ("go_threads", "Number of OS threads created.", 14.0),
    )
    for name, help_text, value in go_gauges:
        blocks.append(_family(name, "gauge", help_text, [f"{name} {go_float(value)}"]))
    return blocks + _render_node(tick)


def _render_node(tick: int) -> list[Block]:
    # Zones in the order of their sysfs path, the first label value that differs.
    by_path = sorted(ZONES, key=ZONE_PATH.__getitem__)
    wobble = 1 + 0.003 * (tick % 7)

    def labels(zone: str) -> str:
        return f'node_name="{NODE}",path="{ZONE_PATH[zone]}",zone="{zone}"'

    blocks = []
    for part, (_, rate_uj) in NODE_COUNTERS.items():
        infix = f"{part}_" if part else ""
        state = f" in {part} state" if part else ""
        name = f"kepler_node_cpu_{infix}joules_total"
        blocks.append(
            _family(
                name,
                "counter",
                f"Energy consumption of cpu{state} at node level in joules",
                (
                    f"{name}{{{labels(z)}}} {_joules(node_uj(part, z, tick))}"
                    for z in by_path
                ),
            )
        )
        name = f"kepler_node_cpu_{infix}watts"
        package_watts = rate_uj / 1e6 / INTERVAL_SECONDS * wobble

        def zone_watts(zone: str, package_watts: float = package_watts) -> str:
            return go_float(package_watts * ZONE_PPM[zone] / 1e6)

        blocks.append(
            _family(
                name,
                "gauge",
                f"Power consumption of cpu{state} at node level in watts",
                (f"{name}{{{labels(z)}}} {zone_watts(z)}" for z in by_path),
            )
        )
    model = "Intel(R) Xeon(R) E-2234 CPU @ 3.60GHz"
    cpus = sorted((str(p % (_CPUS // 2)), str(p)) for p in range(_CPUS))
    blocks.append(
        _family(
            "kepler_node_cpu_info",
            "gauge",
            "CPU information from procfs",
            (
                f'kepler_node_cpu_info{{core_id="{core}",model_name="{model}",'
                f'physical_id="0",processor="{p}",vendor_id="GenuineIntel"}} 1'
                for core, p in cpus
            ),
        )
    )
    ratio = 0.30512820512820515 + 0.001 * (tick % 13)
    blocks.append(
        _family(
            "kepler_node_cpu_usage_ratio",
            "gauge",
            "CPU usage ratio of a node (value between 0.0 and 1.0)",
            [f'kepler_node_cpu_usage_ratio{{node_name="{NODE}"}} {go_float(ratio)}'],
        )
    )
    return blocks


def container_key(pod: Pod, container: Container, state: str) -> tuple[str, ...]:
    """The label values of a container series without ``zone``, in printed order."""
    c = container
    return (c.container_id, c.name, NODE, pod.pod_id, c.runtime, state)


def pod_key(pod: Pod, state: str) -> tuple[str, ...]:
    """The label values of a pod series without ``zone``, in printed order."""
    return (NODE, pod.pod_id, pod.name, pod.namespace, state)


def process_key(process: Process, state: str) -> tuple[str, ...]:
    """The label values of a process energy series without ``zone``, in order."""
    p = process
    return (p.comm, p.container_id, p.exe, NODE, str(p.pid), state, p.type, "")


#: One workload in a joules/watts family pair: sort key, the labels up to and
#: including ``state``, the labels between ``state`` and ``zone``, its energy, and
#: the tick whose values are printed.
_Row = tuple[tuple[str, ...], str, str, Energy, int]


def _workload_families(level: str, rows: list[_Row]) -> list[Block]:
    """The ``kepler_<level>_cpu_joules_total`` and ``..._watts`` families."""
    rows.sort(key=lambda row: row[0])
    energy_name = f"kepler_{level}_cpu_joules_total"
    power_name = f"kepler_{level}_cpu_watts"
    energy = [
        f"# HELP {energy_name} Energy consumption of cpu at {level} level in joules",
        f"# TYPE {energy_name} counter",
    ]
    power = [
        f"# HELP {power_name} Power consumption of cpu at {level} level in watts",
        f"# TYPE {power_name} gauge",
    ]
    for _, head, middle, use, shown in rows:
        for zone in ZONES:
            labels = f'{head}{middle}zone="{zone}"'
            energy.append(f"{energy_name}{{{labels}}} {_joules(use.at(shown, zone))}")
            power.append(f"{power_name}{{{labels}}} {go_float(use.watts(shown, zone))}")
    return [(energy_name, energy), (power_name, power)]


def _render_pods(pods: Sequence[tuple[Pod, str, int]]) -> list[Block]:
    container_rows: list[_Row] = []
    pod_rows: list[_Row] = []
    for pod, state, shown in pods:
        for c in pod.containers:
            head = (
                f'container_id="{c.container_id}",container_name="{c.name}",'
                f'node_name="{NODE}",pod_id="{pod.pod_id}",runtime="{c.runtime}",'
                f'state="{state}",'
            )
            key = container_key(pod, c, state)
            container_rows.append((key, head, "", c.energy, shown))
        total = Energy(
            sum(c.energy.base_uj for c in pod.containers),
            sum(c.energy.rate_uj for c in pod.containers),
        )
        head = (
            f'node_name="{NODE}",pod_id="{pod.pod_id}",pod_name="{pod.name}",'
            f'pod_namespace="{pod.namespace}",state="{state}",'
        )
        pod_rows.append((pod_key(pod, state), head, "", total, shown))
    return _workload_families("container", container_rows) + _workload_families(
        "pod", pod_rows
    )


def _render_processes(processes: Sequence[tuple[Process, str, int]]) -> list[Block]:
    rows: list[_Row] = []
    seconds: list[tuple[tuple[str, ...], str, float]] = []
    for p, state, shown in processes:
        head = (
            f'comm="{p.comm}",container_id="{p.container_id}",exe="{p.exe}",'
            f'node_name="{NODE}",pid="{p.pid}",'
        )
        middle = f'type="{p.type}",vm_id="",'
        key = process_key(p, state)
        rows.append((key, f'{head}state="{state}",', middle, p.energy, shown))
        used = (p.cpu_centiseconds + (p.energy.rate_uj % 300) * shown) / 100
        seconds.append(((*key[:5], p.type, ""), f"{head}{middle[:-1]}", used))
    seconds.sort(key=lambda row: row[0])
    name = "kepler_process_cpu_seconds_total"
    block = _family(
        name,
        "counter",
        "Total user and system time of cpu at process level in seconds",
        (f"{name}{{{labels}}} {go_float(used)}" for _, labels, used in seconds),
    )
    return [*_workload_families("process", rows), block]


def render(node: Node, tick: int = 0) -> bytes:
    """Print the body of ``node`` at scrape ``tick`` (a non-negative integer).

    Raises:
        ValueError: ``tick`` is negative.
    """
    pods, processes = node.at(tick)
    blocks = _render_fixed(tick) + _render_pods(pods)
    if node.print_processes:
        blocks += _render_processes(processes)
    blocks.sort(key=lambda block: block[0])
    lines = [line for _, block in blocks for line in block]
    return ("\n".join(lines) + "\n").encode()


def kepler_body(
    lines: int, *, seed: int = 0, process_share: float = 0.6, tick: int = 0
) -> bytes:
    """A Kepler 0.10+ ``/metrics`` body of about ``lines`` lines (text format 0.0.4).

    Args:
        lines: Target number of lines (HELP/TYPE lines included).
        seed: Any integer; the same arguments always give the same bytes.
        process_share: Fraction of the workload lines that are process series.
        tick: Scrape number; tick ``t + 1`` is 3 s after tick ``t``.

    Returns:
        The body, UTF-8 (plain ASCII), ending with a line feed.

    Raises:
        ValueError: An argument is out of range.

    >>> body = kepler_body(2000, seed=1)
    >>> 1950 <= body.count(b"\\n") <= 2050, body == kepler_body(2000, seed=1)
    (True, True)
    """
    return render(node_for_lines(lines, seed=seed, process_share=process_share), tick)


def main(argv: Sequence[str] | None = None) -> int:
    """Write one body to a file or to standard output."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else ""
    )
    parser.add_argument("lines", type=int, help="target number of lines, e.g. 100000")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tick", type=int, default=0)
    parser.add_argument("--process-share", type=float, default=0.6)
    parser.add_argument("-o", "--output", help="file to write (default: stdout)")
    args = parser.parse_args(argv)
    body = kepler_body(
        args.lines, seed=args.seed, process_share=args.process_share, tick=args.tick
    )
    if args.output:
        with open(args.output, "wb") as out:
            out.write(body)
    else:
        sys.stdout.buffer.write(body)
    lines = body.count(b"\n")
    print(f"{lines} lines, {len(body)} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
