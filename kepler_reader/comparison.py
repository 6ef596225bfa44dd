"""A/B comparison of repeated energy measurements of the same operation.

Each side is a list of measurement results: :class:`~kepler_reader.EnergyDelta`
objects, or their ``diff`` JSON documents (``measure`` writes the same shape with more
fields beside, which are ignored), or whole recordings (see
:func:`recording_result`). For every namespace (or pod) the energy of each
repeat is collected, and the two sides are set against each other: the mean joules of
each with its standard deviation and Student t interval, the difference of the means
(B - A) with Welch's interval, the ratio B / A, and a plain verdict.

A namespace or pod missing from a repeat, or listed with ``"joules": null`` (no
valid data), is not counted as 0 J there: its ``n`` is the number of repeats it has a
value in. Pod names carry the ReplicaSet hash, so a
workload redeployed between repeats shows up as several pods; compare by namespace
then.
"""

from __future__ import annotations

import csv
import glob
import io
import json
import math
import os
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from .delta import EnergyDelta
from .dumps import not_regular
from .exceptions import DataError, ResultsFileError
from .output import _grid, delta_to_dict
from .plot import power_over_time
from .recorder import RECORD_PREFIX, read_recording
from .stats import Summary, WelchDifference, summarise

if TYPE_CHECKING:
    from .recording import Recording

__all__ = [
    "VERDICTS",
    "Comparison",
    "ComparisonRow",
    "compare",
    "comparison_csv",
    "comparison_json",
    "comparison_table",
    "comparison_to_dict",
    "read_results",
    "recording_result",
]

#: Every verdict :func:`compare` gives, in the words it uses.
VERDICTS = (
    "B uses less",
    "B uses more",
    "no difference can be told",
    "too noisy",
    "too few repeats",
)

Result = EnergyDelta | Mapping[str, Any]


@attrs.frozen(slots=True)
class ComparisonRow:
    """One namespace, pod or the node, measured under setup A and under setup B.

    Attributes:
        namespace: The namespace; ``None`` for the node row.
        pod: The pod name when comparing by pod, else ``None``.
        a: The energy of each repeat of A, in joules, with mean, standard deviation
            and confidence interval of the mean.
        b: The same for B.
        difference: ``mean(B) - mean(A)`` in joules with Welch's interval, or
            ``None`` when a side has fewer than two repeats.
        ratio: ``mean(B) / mean(A)``, or ``None`` when A's mean is 0 or missing.
        verdict: One of :data:`VERDICTS`.
    """

    namespace: str | None
    pod: str | None
    a: Summary
    b: Summary
    difference: WelchDifference | None
    ratio: float | None
    verdict: str


@attrs.frozen(slots=True)
class Comparison:
    """Two setups compared per namespace or pod.

    Attributes:
        by: ``"namespace"`` or ``"pod"``.
        confidence: The confidence level of every interval (0.95).
        repeats_a: How many results side A has.
        repeats_b: How many results side B has.
        rows: One row per namespace or pod seen on either side, sorted by name.
        node: The node's own energy compared, or ``None`` when no result has it.
        labels: The names of the two setups, for tables and plots (``("A", "B")``).
    """

    by: str
    confidence: float
    repeats_a: int
    repeats_b: int
    rows: tuple[ComparisonRow, ...]
    node: ComparisonRow | None
    labels: tuple[str, str] = ("A", "B")

    def row(self, namespace: str, pod: str | None = None) -> ComparisonRow | None:
        """Return the row of ``namespace`` (and ``pod``), or ``None`` when absent."""
        for row in self.rows:
            if row.namespace == namespace and row.pod == pod:
                return row
        return None


def _as_dict(result: Result, where: str) -> Mapping[str, Any]:
    if isinstance(result, EnergyDelta):
        return delta_to_dict(result)
    if not isinstance(result, Mapping) or not isinstance(result.get("pods"), list):
        raise DataError(
            f"{where} is not a measurement result: expected an object with a "
            "'pods' list (the JSON of `kepler-reader diff` or `measure`)."
        )
    return result


# No measurement comes near this (the Sun gives off about 4e26 joules a second); the
# cap keeps sums, squares and differences of many results far from float overflow.
MAX_JOULES = 1e30


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DataError(f"{where}: 'joules' must be a number, not {value!r}.")
    if isinstance(value, int) and abs(value) > MAX_JOULES:
        # A JSON integer has no size limit; float() of a huge one overflows.
        raise DataError(
            f"{where}: 'joules' is implausibly large ({len(str(abs(value)))} digits; "
            f"at most {MAX_JOULES:g})."
        )
    if not math.isfinite(value):
        raise DataError(f"{where}: 'joules' must be finite, not {value!r}.")
    if abs(value) > MAX_JOULES:
        raise DataError(
            f"{where}: 'joules' is implausibly large ({value!r}; at most "
            f"{MAX_JOULES:g})."
        )
    if value < 0:
        raise DataError(
            f"{where}: 'joules' must not be negative, not {value!r} (energy used "
            "over a window is never below 0 J)."
        )
    return float(value)


def _energies(
    result: Mapping[str, Any], by: str, where: str
) -> tuple[dict[tuple[str, str | None], float], float | None]:
    """Joules per key of one result, and the node's joules (or ``None``)."""
    found: dict[tuple[str, str | None], float] = {}
    for i, pod in enumerate(result["pods"]):
        at = f"{where}, pods[{i}]"
        if not isinstance(pod, Mapping) or "namespace" not in pod or "pod" not in pod:
            raise DataError(f"{at}: expected an object with namespace, pod, joules.")
        if pod.get("joules") is None:
            continue  # no valid data for this pod in this result
        joules = _number(pod["joules"], at)
        key = (str(pod["namespace"]), str(pod["pod"]) if by == "pod" else None)
        found[key] = found.get(key, 0.0) + joules
    node = result.get("node")
    node_joules = None
    if isinstance(node, Mapping) and node.get("joules") is not None:
        node_joules = _number(node["joules"], f"{where}, node")
    return found, node_joules


def _verdict(
    a: Summary,
    b: Summary,
    difference: WelchDifference | None,
    min_repeats: int,
    noise: float,
) -> str:
    if a.n < min_repeats or b.n < min_repeats or difference is None:
        return "too few repeats"
    if difference.high < 0:
        return "B uses less"
    if difference.low > 0:
        return "B uses more"
    # The interval holds 0. Say whether it is narrow (the two agree within what the
    # repeats can resolve) or so wide, against the energy measured, that more
    # repeats are needed before anything can be said.
    scale = max(abs(a.mean or 0.0), abs(b.mean or 0.0))
    half = (difference.high - difference.low) / 2.0
    if scale > 0 and half > noise * scale:
        return "too noisy"
    return "no difference can be told"


def _row(
    namespace: str | None,
    pod: str | None,
    a_values: Sequence[float],
    b_values: Sequence[float],
    *,
    confidence: float,
    min_repeats: int,
    noise: float,
) -> ComparisonRow:
    a = summarise(a_values, confidence=confidence)
    b = summarise(b_values, confidence=confidence)
    difference = WelchDifference.of(a, b, confidence=confidence)
    ratio = None
    if a.mean and b.mean is not None:
        ratio = b.mean / a.mean
    return ComparisonRow(
        namespace=namespace,
        pod=pod,
        a=a,
        b=b,
        difference=difference,
        ratio=ratio,
        verdict=_verdict(a, b, difference, min_repeats, noise),
    )


def compare(
    a: Iterable[Result] | str | os.PathLike[str],
    b: Iterable[Result] | str | os.PathLike[str],
    by: str = "namespace",
    *,
    min_repeats: int = 3,
    noise: float = 0.5,
    labels: tuple[str, str] = ("A", "B"),
) -> Comparison:
    """Compare the energy of repeated measurements of two setups, per namespace or pod.

    For each namespace (or pod) and side: ``n``, the mean joules, the sample standard
    deviation and the 95% Student t interval of the mean; then the difference of the
    means ``B - A`` in joules with Welch's 95% interval, the ratio ``B / A``, and a
    verdict:

    - ``"too few repeats"``: a side has fewer than ``min_repeats`` results with it;
    - ``"B uses less"`` / ``"B uses more"``: Welch's interval lies below / above 0;
    - ``"too noisy"``: the interval holds 0 and its half-width exceeds ``noise``
      times the larger mean, so more repeats are needed to tell anything;
    - ``"no difference can be told"``: the interval holds 0 and is narrower than that.

    Args:
        a: The results of setup A (``EnergyDelta`` objects or ``diff`` JSON objects),
            or a path or glob of result files read with :func:`read_results`.
        b: The results of setup B, likewise.
        by: ``"namespace"`` (default) or ``"pod"``.
        min_repeats: The fewest repeats per side for a verdict other than
            ``"too few repeats"`` (at least 2).
        noise: The largest half-width of the difference's interval, as a fraction of
            the larger mean, still called precise.
        labels: Names of the two setups for tables and plots.

    Returns:
        One row per namespace or pod seen on either side, and one for the node.

    Raises:
        DataError: A result is not a measurement (no ``pods`` list, joules not a
            finite number from 0 to :data:`MAX_JOULES`), results of one comparison
            mix zones, ``by`` is neither ``namespace`` nor ``pod``, or
            ``min_repeats`` is below 2.
        ResultsFileError: A path was given and cannot be read (see
            :func:`read_results`).

    >>> r = lambda j: {"pods": [{"namespace": "ns", "pod": "p", "joules": j}]}
    >>> c = compare([r(10.0), r(12.0), r(14.0)], [r(5.0), r(6.0), r(7.0)])
    >>> c.row("ns").verdict
    'B uses less'
    """
    if by not in ("namespace", "pod"):
        raise DataError(f"Compare by 'namespace' or 'pod', not {by!r}.")
    if min_repeats < 2:
        raise DataError(f"min_repeats must be at least 2, not {min_repeats!r}.")
    sides: list[list[tuple[dict[tuple[str, str | None], float], float | None]]] = []
    zones: set[str] = set()
    for name, given in (("A", a), ("B", b)):
        results = (
            read_results([os.fspath(given)])
            if isinstance(given, str | os.PathLike)
            else given
        )
        side = []
        for i, result in enumerate(results):
            where = f"result {i + 1} of {name}"
            as_dict = _as_dict(result, where)
            if isinstance(as_dict.get("zone"), str):
                zones.add(as_dict["zone"])
            side.append(_energies(as_dict, by, where))
        sides.append(side)
    if len(zones) > 1:
        raise DataError(
            f"The results are of different zones ({', '.join(sorted(zones))}); zones "
            "overlap and cannot be compared with each other."
        )
    keys = sorted(
        {key for side in sides for found, _ in side for key in found},
        key=lambda k: (k[0], k[1] or ""),
    )
    options = {"confidence": 0.95, "min_repeats": min_repeats, "noise": noise}
    rows = tuple(
        _row(
            namespace,
            pod,
            [
                found[(namespace, pod)]
                for found, _ in sides[0]
                if (namespace, pod) in found
            ],
            [
                found[(namespace, pod)]
                for found, _ in sides[1]
                if (namespace, pod) in found
            ],
            **options,  # type: ignore[arg-type]
        )
        for namespace, pod in keys
    )
    node_a = [j for _, j in sides[0] if j is not None]
    node_b = [j for _, j in sides[1] if j is not None]
    node = None
    if node_a or node_b:
        node = _row(None, None, node_a, node_b, **options)  # type: ignore[arg-type]
    return Comparison(
        by=by,
        confidence=0.95,
        repeats_a=len(sides[0]),
        repeats_b=len(sides[1]),
        rows=rows,
        node=node,
        labels=labels,
    )


def _expand(patterns: Sequence[str]) -> list[str]:
    """Paths named by ``patterns``: each a path, or a glob matched in sorted order."""
    paths: list[str] = []
    for pattern in patterns:
        if glob.has_magic(pattern) and not os.path.exists(pattern):
            matched = sorted(glob.glob(pattern))
            if not matched:
                raise ResultsFileError(
                    f"{pattern}: no file matches this pattern.", path=pattern
                )
            paths.extend(matched)
        else:
            paths.append(pattern)
    return paths


def is_recording_file(path: str) -> bool:
    """Whether ``path`` starts like a file of ``kepler-reader record``.

    A recording is gzip members whose first line starts with
    :data:`~kepler_reader.recorder.RECORD_PREFIX`; a gzip dump starts otherwise. A file
    that cannot be read is not a recording (its reader reports why).
    """
    if not_regular(path) is not None:
        return False  # refused by read_results, never opened (a FIFO would block)
    try:
        with open(path, "rb") as handle:
            start = handle.read(4096)
    except OSError:
        return False
    if not start.startswith(b"\x1f\x8b"):
        return False
    try:
        head = zlib.decompressobj(wbits=31).decompress(start, len(RECORD_PREFIX))
    except zlib.error:
        return False
    return head == RECORD_PREFIX


def recording_result(recording: Recording, *, zone: str = "package") -> dict[str, Any]:
    """The energy of each pod over a whole recording, as one ``diff``-shaped result.

    Each endpoint's scrapes are taken in order and the deltas between consecutive
    ones summed (resets counted as :func:`~kepler_reader.diff` counts them); pods of
    several endpoints are added, and so are the nodes. A node interval without a node
    counter adds nothing.

    Args:
        recording: What :func:`~kepler_reader.read_recording` returned.
        zone: The zone to sum (``package`` by default).

    Returns:
        ``{"interval_seconds", "zone", "pods": [{"namespace", "pod", "joules"}],
        "namespaces": [{"namespace", "joules"}], "node": {"joules"}, "warnings": []}``
        with the energy in joules and ``interval_seconds`` the longest endpoint's
        span.

    Raises:
        DataError: An endpoint has fewer than two scrapes, or its scrapes cannot be
            compared (see :func:`~kepler_reader.power_over_time`).
    """
    pods: dict[tuple[str, str], float] = {}
    node: float | None = None
    seconds = 0.0
    chosen = zone
    for url in sorted(set(recording.sources)):
        power = power_over_time(recording, by="pod", zone=zone, endpoint=url)
        chosen = power.zone
        for name, joules in zip(power.names, power.joules().tolist(), strict=True):
            namespace, _, pod = name.partition("/")
            pods[(namespace, pod)] = pods.get((namespace, pod), 0.0) + joules
        spans = np.diff(power.edges)
        known = np.isfinite(power.node_watts)
        if known.any():
            part = float((power.node_watts[known] * spans[known]).sum())
            node = part if node is None else node + part
        seconds = max(seconds, float(power.edges[-1] - power.edges[0]))
    namespaces: dict[str, float] = {}
    for (namespace, _), joules in pods.items():
        namespaces[namespace] = namespaces.get(namespace, 0.0) + joules
    return {
        "interval_seconds": seconds,
        "zone": chosen,
        "pods": [
            {"namespace": ns, "pod": pod, "joules": joules}
            for (ns, pod), joules in sorted(pods.items())
        ],
        "namespaces": [
            {"namespace": ns, "joules": joules}
            for ns, joules in sorted(namespaces.items())
        ],
        "node": {"joules": node},
        "warnings": [],
    }


def read_results(patterns: Sequence[str]) -> list[dict[str, Any]]:
    """Read measurement results from files: JSON objects, arrays, lines, recordings.

    Each file holds one ``diff``/``measure`` JSON object, a JSON array of them (what
    ``measure --repeat N`` prints), or one object per line; or it is a file of
    ``kepler-reader record``, which gives one result: the energy over the whole
    recording (:func:`recording_result`, zone ``package``). Names with ``*``, ``?`` or
    ``[`` are globs, expanded in sorted order.

    Args:
        patterns: Paths or glob patterns.

    Returns:
        The results of every file, in order.

    Raises:
        ResultsFileError: A file cannot be read, is not JSON, holds something other
            than result objects, or a glob matches nothing.
        RecordingError: A recording file cannot be read.
        DataError: A recording has an endpoint with fewer than two scrapes.
    """
    results: list[dict[str, Any]] = []
    for path in _expand(patterns):
        if is_recording_file(path):
            results.append(recording_result(read_recording(path)))
            continue
        problem = not_regular(path)
        if problem is not None:
            raise ResultsFileError(problem, path=path)
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or error
            raise ResultsFileError(
                f"{path}: cannot read the file ({reason}).", path=path
            ) from error
        results.extend(_parse_results(text, path))
    return results


def _loads(text: str, path: str) -> Any:
    """``json.loads``; errors other than a syntax error become ResultsFileError."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError) as error:
        # An integer of more than 4300 digits, or arrays nested thousands deep.
        raise ResultsFileError(
            f"{path}: not a measurement result ({error}).", path=path
        ) from error


def _parse_results(text: str, path: str) -> list[dict[str, Any]]:
    try:
        whole = _loads(text, path)
    except json.JSONDecodeError as whole_error:
        whole = None
        items: list[Any] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append(_loads(line, path))
            except json.JSONDecodeError as line_error:
                # A file that fails on its first line is reported as one document.
                error = whole_error if number == 1 else line_error
                at = error.lineno if number == 1 else number
                raise ResultsFileError(
                    f"{path}:{at}: not JSON ({error.msg}); expected a result object, "
                    "an array of them, or one object per line.",
                    path=path,
                ) from error
    else:
        items = whole if isinstance(whole, list) else [whole]
    if not items:
        raise ResultsFileError(f"{path}: holds no measurement result.", path=path)
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("pods"), list):
            raise ResultsFileError(
                f"{path}: item {i + 1} is not a measurement result (an object with a "
                "'pods' list, as `kepler-reader diff --format json` prints).",
                path=path,
            )
    return items


def _summary_dict(summary: Summary) -> dict[str, Any]:
    return {
        "n": summary.n,
        "mean_joules": summary.mean,
        "sd_joules": summary.sd,
        "ci_low_joules": summary.low,
        "ci_high_joules": summary.high,
        "joules": list(summary.values),
    }


def _row_dict(row: ComparisonRow) -> dict[str, Any]:
    d = row.difference
    return {
        "namespace": row.namespace,
        "pod": row.pod,
        "a": _summary_dict(row.a),
        "b": _summary_dict(row.b),
        "difference_joules": None if d is None else d.difference,
        "difference_ci_low_joules": None if d is None else d.low,
        "difference_ci_high_joules": None if d is None else d.high,
        "welch_df": None if d is None else d.df,
        "ratio": row.ratio,
        "verdict": row.verdict,
    }


def comparison_to_dict(comparison: Comparison) -> dict[str, Any]:
    """The ``compare`` JSON shape of ``comparison`` as plain Python objects.

    ``{"by", "confidence", "labels": {"a", "b"}, "repeats": {"a", "b"},
    "rows": [ROW], "node": ROW | null}`` where ``ROW`` is ``{"namespace", "pod",
    "a": SIDE, "b": SIDE, "difference_joules", "difference_ci_low_joules",
    "difference_ci_high_joules", "welch_df", "ratio", "verdict"}`` and ``SIDE`` is
    ``{"n", "mean_joules", "sd_joules", "ci_low_joules", "ci_high_joules",
    "joules": [...]}``. Missing figures (n too small, no node) are ``null``.
    """
    return {
        "by": comparison.by,
        "confidence": comparison.confidence,
        "labels": {"a": comparison.labels[0], "b": comparison.labels[1]},
        "repeats": {"a": comparison.repeats_a, "b": comparison.repeats_b},
        "rows": [_row_dict(row) for row in comparison.rows],
        "node": None if comparison.node is None else _row_dict(comparison.node),
    }


def comparison_json(comparison: Comparison) -> str:
    """``comparison`` as the ``compare`` JSON document."""
    return json.dumps(comparison_to_dict(comparison), indent=2, ensure_ascii=False)


_CSV_FIELDS = (
    "namespace",
    "pod",
    *(
        f"{side}_{field}"
        for side in ("a", "b")
        for field in (
            "n",
            "mean_joules",
            "sd_joules",
            "ci_low_joules",
            "ci_high_joules",
        )
    ),
    "difference_joules",
    "difference_ci_low_joules",
    "difference_ci_high_joules",
    "welch_df",
    "ratio",
    "verdict",
)


def comparison_csv(comparison: Comparison) -> str:
    """One CSV row per namespace or pod, then the node (namespace ``(node)``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_CSV_FIELDS)
    rows = list(comparison.rows)
    if comparison.node is not None:
        rows.append(comparison.node)
    for row in rows:
        flat = _row_dict(row)
        for side in ("a", "b"):
            for field, value in flat.pop(side).items():
                flat[f"{side}_{field}"] = value
        if row.namespace is None:
            flat["namespace"] = "(node)"
        writer.writerow(["" if flat[f] is None else flat[f] for f in _CSV_FIELDS])
    return out.getvalue()


def _joules(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def _plus_minus(summary: Summary) -> str:
    if summary.high is None or summary.mean is None:
        return ""
    return f"±{summary.high - summary.mean:.3f}"


def comparison_table(comparison: Comparison) -> str:
    """A table for people: per row n, mean J ± 95% half-width, B - A and the verdict."""
    label_a, label_b = comparison.labels
    header = [
        comparison.by,
        "n A",
        "A J",
        "±95%",
        "n B",
        "B J",
        "±95%",
        "B-A J",
        "95% interval",
        "B/A",
        "verdict",
    ]
    if comparison.by == "pod":
        header.insert(0, "namespace")
    rows = list(comparison.rows)
    if comparison.node is not None:
        rows.append(comparison.node)
    cells = []
    for row in rows:
        d = row.difference
        line = [
            row.a.n,
            _joules(row.a.mean),
            _plus_minus(row.a),
            row.b.n,
            _joules(row.b.mean),
            _plus_minus(row.b),
            "" if d is None else f"{d.difference:+.3f}",
            "" if d is None else f"[{d.low:+.3f}, {d.high:+.3f}]",
            "" if row.ratio is None else f"{row.ratio:.3f}",
            row.verdict,
        ]
        names = [row.namespace or "(node)"]
        if comparison.by == "pod":
            names.append(row.pod or "")
        cells.append([*names, *(str(c) for c in line)])
    first = 2 if comparison.by == "pod" else 1
    right = set(range(first, first + 9))
    title = (
        f"A = {label_a} ({comparison.repeats_a} results), B = {label_b} "
        f"({comparison.repeats_b} results); 95% Student t intervals; B-A with "
        "Welch's interval"
    )
    return "\n".join([title, "", _grid(header, cells, right)])
