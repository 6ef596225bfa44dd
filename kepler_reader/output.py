"""Outputs: tables for people, JSON and CSV for programs.

The JSON shapes are part of the interface (scripts depend on them):

``parse``::

    {"families": [{"name", "type", "help",
                   "samples": [{"name", "labels": {...}, "value", "timestamp_ms"}]}],
     "errors": [{"line", "message"}], "warnings": [{"line", "message"}]}

``value`` is a JSON number or one of the strings ``"NaN"``, ``"+Inf"``, ``"-Inf"``;
``timestamp_ms`` an integer or ``null``.

``diff``::

    {"interval_seconds", "zone", "kepler_era", "kepler_releases", "kepler_version",
     "pods": [{"namespace", "pod", "pod_uid", "kind", "joules", "watts",
               "dynamic_joules", "idle_joules", "counters", "resets"}],
     "namespaces": [{"namespace", "joules", "watts", "pods"}],
     "node": {"joules", "watts"}, "warnings": [...]}
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from .snapshot import NO_TIMESTAMP, Snapshot

if TYPE_CHECKING:
    from .delta import EnergyDelta

__all__ = [
    "delta_csv",
    "delta_json",
    "delta_table",
    "delta_to_dict",
    "json_value",
    "snapshot_json",
    "snapshot_table",
    "snapshot_to_dict",
]


def json_value(value: float) -> float | str:
    """A sample value for JSON: the number, or ``"NaN"``, ``"+Inf"``, ``"-Inf"``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return value


def snapshot_to_dict(snapshot: Snapshot) -> dict[str, Any]:
    """The ``parse`` JSON shape of ``snapshot`` as plain Python objects."""
    families: list[dict[str, Any]] = [
        {"name": f.name, "type": f.type, "help": f.help, "samples": []}
        for f in snapshot.families
    ]
    values = snapshot.values.tolist()
    stamps = None if snapshot.timestamps_ms is None else snapshot.timestamps_ms.tolist()
    for row, index in enumerate(snapshot.family_index.tolist()):
        series = snapshot.series[row]
        stamp = None if stamps is None or stamps[row] == NO_TIMESTAMP else stamps[row]
        families[index]["samples"].append(
            {
                "name": series.name,
                "labels": dict(series.labels),
                "value": json_value(values[row]),
                "timestamp_ms": stamp,
            }
        )
    return {
        "families": families,
        "errors": [
            {"line": e.line, "column": e.column, "message": e.message}
            for e in snapshot.errors
        ],
        "warnings": [{"line": w.line, "message": w.message} for w in snapshot.warnings],
    }


def snapshot_json(snapshot: Snapshot) -> str:
    """``snapshot`` as the ``parse`` JSON document (one line per sample is not kept)."""
    return json.dumps(snapshot_to_dict(snapshot), indent=2, ensure_ascii=False)


def snapshot_table(snapshot: Snapshot) -> str:
    """A summary for people: one line per family with its type and sample count."""
    counts = np.bincount(snapshot.family_index, minlength=len(snapshot.families))
    rows = [
        (f.name, f.type, str(int(c)))
        for f, c in zip(snapshot.families, counts, strict=True)
    ]
    lines = [_grid(("family", "type", "samples"), rows, right={2})]
    skipped = f", {len(snapshot.errors)} lines skipped" if snapshot.errors else ""
    lines.append(f"{len(snapshot.families)} families, {len(snapshot)} samples{skipped}")
    return "\n".join(lines)


def delta_to_dict(delta: EnergyDelta) -> dict[str, Any]:
    """The ``diff`` JSON shape of ``delta`` as plain Python objects."""
    return {
        "interval_seconds": delta.interval_seconds,
        "zone": delta.zone,
        "kepler_era": delta.era.name,
        "kepler_releases": delta.era.releases,
        "kepler_version": delta.era.version or None,
        "pods": [attrs.asdict(pod) for pod in delta.pods],
        "namespaces": [attrs.asdict(ns) for ns in delta.namespaces],
        "node": {"joules": delta.node.joules, "watts": delta.node.watts},
        "warnings": list(delta.warnings),
    }


def delta_json(delta: EnergyDelta) -> str:
    """``delta`` as the ``diff`` JSON document."""
    return json.dumps(delta_to_dict(delta), indent=2, ensure_ascii=False)


#: The columns of ``diff``'s CSV, one row per pod; ``measure`` adds its own after them.
DIFF_CSV_FIELDS = (
    "namespace",
    "pod",
    "pod_uid",
    "kind",
    "joules",
    "watts",
    "dynamic_joules",
    "idle_joules",
    "counters",
    "resets",
)


def delta_csv(delta: EnergyDelta) -> str:
    """One CSV row per pod (joules and watts), with a header row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(DIFF_CSV_FIELDS)
    for pod in delta.pods:
        row = attrs.asdict(pod)
        writer.writerow(["" if row[f] is None else row[f] for f in DIFF_CSV_FIELDS])
    return out.getvalue()


def _grid(header: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> str:
    widths = [len(h) for h in header]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def delta_table(delta: EnergyDelta) -> str:
    """A table for people: pods, namespaces, the node, then warnings."""
    dynamic = any(p.dynamic_joules is not None for p in delta.pods)
    idle = any(p.idle_joules is not None for p in delta.pods)
    header = ["namespace", "pod", "joules", "watts"]
    split = (["dynamic J"] if dynamic else []) + (["idle J"] if idle else [])
    header[2:2] = split
    rows = []
    for pod in delta.pods:
        name = pod.pod if pod.kind == "pod" else f"{pod.pod or '(no pod)'} ({pod.kind})"
        cells = [
            pod.namespace or "(none)",
            name,
            f"{pod.joules:.6f}",
            f"{pod.watts:.6f}",
        ]
        parts = [pod.dynamic_joules] if dynamic else []
        parts += [pod.idle_joules] if idle else []
        cells[2:2] = ["" if p is None else f"{p:.6f}" for p in parts]
        rows.append(cells)
    right = set(range(2, len(header)))
    out = [
        f"Kepler {delta.era}, zone {delta.zone}, "
        f"interval {delta.interval_seconds:.3f} s",
        "",
        _grid(header, rows, right),
        "",
        _grid(
            ("namespace", "joules", "watts"),
            [
                (ns.namespace or "(none)", f"{ns.joules:.6f}", f"{ns.watts:.6f}")
                for ns in delta.namespaces
            ],
            {1, 2},
        ),
        "",
    ]
    if delta.node.joules is None or delta.node.watts is None:
        out.append("node: no node counter for this zone")
    else:
        out.append(f"node: {delta.node.joules:.6f} J, {delta.node.watts:.6f} W")
    out.extend(f"warning: {w}" for w in delta.warnings)
    return "\n".join(out)
