"""A small PromQL over a :class:`Recording`: the queries people run on Kepler data.

::

    import kepler_reader as kr

    recording = kr.load_recording("fixtures/kepler/real-full/*.json")
    result = kr.query(
        recording, "sum(pod_curr_energy_in_pkg_millijoule{pod_namespace='flux-system'})"
    )
    print(result.to_json())   # the shape of Prometheus's /api/v1/query answer

The subset (see :mod:`kepler_reader.promql_parse` for the grammar): instant and range
selectors with ``=``, ``!=``, ``=~``, ``!~``; ``offset``; the functions of
:mod:`kepler_reader.promfuncs`; ``sum``, ``avg``, ``min``, ``max``, ``count`` with
``by`` or ``without``; arithmetic between scalars and between a vector and a scalar.
Evaluation follows Prometheus: instant selectors look back 5 minutes and respect stale
markers, functions and arithmetic drop the metric name, and the ``semantics`` keyword
picks Prometheus 3's or 2's rules (see :mod:`kepler_reader.promfuncs`).

Every expression is evaluated at all the query's times at once, vectorised over the
series, so a range query costs about as much as one evaluation per step of numpy work.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from collections.abc import Callable, Iterable
from typing import Any, Literal

import attrs
import numpy as np
import numpy.typing as npt

from . import promfuncs
from .exceptions import DataError, QueryError, UnsupportedQueryError
from .promfuncs import LOOKBACK_SECONDS, Semantics, to_ms
from .promql_parse import (
    Aggregate,
    Binary,
    Call,
    Expr,
    MatrixSelector,
    Number,
    VectorSelector,
    parse_duration,
    parse_expression,
)
from .readers import load_recording
from .recording import Recording

__all__ = ["QueryResult", "format_value", "parse_time", "query"]

Labels = tuple[tuple[str, str], ...]
_F = npt.NDArray[np.float64]
_B = npt.NDArray[np.bool_]


def format_value(value: float) -> str:
    """A sample value as Prometheus's API writes it (Go's ``'f'`` format, shortest).

    >>> format_value(4.600183380505419e18), format_value(0.5), format_value(-math.inf)
    ('4600183380505419000', '0.5', '-Inf')
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return np.format_float_positional(value, unique=True, trim="-")


def _format_time(milliseconds: int) -> str:
    # Prometheus writes whole seconds, then "." and three digits when not whole.
    sign = "-" if milliseconds < 0 else ""
    whole, fraction = divmod(abs(milliseconds), 1000)
    return f"{sign}{whole}.{fraction:03d}" if fraction else f"{sign}{whole}"


def parse_time(text: str) -> float:
    """A query time: seconds since the epoch, or RFC 3339 (``2022-10-21T23:17:27Z``).

    Raises:
        QueryError: Neither form, or not a finite time (``inf``, ``nan``, or beyond
            :data:`MAX_SECONDS` from the epoch).
    """
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds) or abs(seconds) > MAX_SECONDS:
            raise QueryError(
                f"{text!r} must be a finite time, at most {MAX_SECONDS:.0f} seconds "
                "from the epoch",
                expression=text,
                position=0,
            )
        return seconds
    try:
        stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(
            f"expected seconds since the epoch or an RFC 3339 time, got {text!r}",
            expression=text,
            position=0,
        ) from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.timestamp()


#: The largest time, duration or step a query takes, in seconds: 2**53 milliseconds,
#: the last whole millisecond a float64 holds exactly (about 285,000 years). Sums of
#: a few such numbers stay far inside int64 milliseconds.
MAX_SECONDS = 2**53 / 1000

#: The most evaluation times a range query may have, as Prometheus allows.
MAX_RANGE_POINTS = 11_000


def _finite_time(seconds: float, what: str) -> float:
    """``seconds`` when finite and within :data:`MAX_SECONDS`, else a ValueError."""
    if not math.isfinite(seconds) or abs(seconds) > MAX_SECONDS:
        raise ValueError(
            f"{what} must be a finite time, at most {MAX_SECONDS:.0f} seconds."
        )
    return seconds


def _parse_step(step: float | str) -> int:
    if isinstance(step, str):
        try:
            seconds = float(step)
        except ValueError:
            milliseconds = parse_duration(step)
        else:
            milliseconds = round(_finite_time(seconds, f"the step {step!r}") * 1000)
    else:
        milliseconds = round(_finite_time(step, f"the step {step!r}") * 1000)
    if milliseconds > MAX_SECONDS * 1000:
        raise ValueError(
            f"the step {step!r} must be a finite time, at most {MAX_SECONDS:.0f} "
            "seconds."
        )
    if milliseconds <= 0:
        raise QueryError(
            f"the step must be positive, got {step!r}", expression=str(step), position=0
        )
    return milliseconds


@attrs.frozen(slots=True, eq=False)
class QueryResult:
    """The answer to a query, in the shape of Prometheus's API.

    Attributes:
        result_type: ``"vector"`` (instant query), ``"matrix"`` (range query, or an
            instant query of a range selector) or ``"scalar"``.
        metrics: One label set per series, sorted by label name, with ``__name__``
            where the expression keeps it; ``((),)`` for a scalar.
        times: Per series, shape ``(k,)``, float64: the sample times, in seconds.
        values: Per series, shape ``(k,)``, float64: the values at those times, in
            the unit of the expression (joules, watts ...).
    """

    result_type: Literal["vector", "matrix", "scalar"]
    metrics: tuple[Labels, ...]
    times: tuple[_F, ...]
    values: tuple[_F, ...]

    def __len__(self) -> int:
        return len(self.metrics)

    def scalar(self) -> float:
        """The value of a scalar answer, or of a one-series vector.

        Raises:
            DataError: The answer has not exactly one value.
        """
        if len(self.metrics) != 1 or len(self.values[0]) != 1:
            count = sum(len(v) for v in self.values)
            raise DataError(f"The answer has {count} values, not one.")
        return float(self.values[0][0])

    def by_labels(self) -> dict[Labels, float]:
        """An instant answer as a mapping of label set to value (last value each)."""
        return {m: float(v[-1]) for m, v in zip(self.metrics, self.values, strict=True)}

    def to_prometheus(self) -> dict[str, Any]:
        """The answer as Prometheus's ``/api/v1/query`` (or ``query_range``) gives it.

        Values are strings in Prometheus's format; times are seconds (floats).
        """
        return json.loads(self.to_json())  # type: ignore[no-any-return]

    def to_json(self) -> str:
        """The answer as the JSON text Prometheus's API sends, byte for byte in form.

        ``{"status":"success","data":{"resultType":...,"result":[...]}}``, with times
        as seconds with millisecond decimals and values as strings.
        """

        def point(t: float, v: float) -> str:
            return f'[{_format_time(round(t * 1000))},"{format_value(v)}"]'

        if self.result_type == "scalar":
            result = point(float(self.times[0][0]), float(self.values[0][0]))
        else:
            items = []
            for labels, times, values in zip(
                self.metrics, self.times, self.values, strict=True
            ):
                metric = json.dumps(dict(labels), separators=(",", ":"))
                pairs = [point(t, v) for t, v in zip(times, values, strict=True)]
                if self.result_type == "vector":
                    items.append(f'{{"metric":{metric},"value":{pairs[0]}}}')
                else:
                    items.append(f'{{"metric":{metric},"values":[{",".join(pairs)}]}}')
            result = "[" + ",".join(items) + "]"
        return (
            '{"status":"success","data":{"resultType":"'
            + self.result_type
            + '","result":'
            + result
            + "}}"
        )

    def table(self) -> str:
        """The answer as a text table: one line per value (series, time, value).

        Labels that every series shares are printed once above the table, so the
        rows show what tells the series apart.
        """
        if self.result_type == "scalar":
            shown = ["scalar"]
            common: Labels = ()
        else:
            common = _common_labels(self.metrics) if len(self.metrics) > 1 else ()
            shared = set(common)
            shown = [
                _labels_text(tuple(p for p in labels if p not in shared))
                for labels in self.metrics
            ]
        rows = [
            (name, _format_time(round(t * 1000)), format_value(v))
            for name, times, values in zip(shown, self.times, self.values, strict=True)
            for t, v in zip(times, values, strict=True)
        ]
        if not rows:
            return "(no data)"
        header = ("series", "time", "value")
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
        lines = [f"every series: {_labels_text(common)}", ""] if common else []
        lines += [
            f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c:>{widths[2]}}".rstrip()
            for a, b, c in [header, tuple("-" * w for w in widths), *rows]
        ]
        return "\n".join(lines)


def _common_labels(metrics: tuple[Labels, ...]) -> Labels:
    shared = set(metrics[0]).intersection(*metrics[1:])
    return tuple(pair for pair in metrics[0] if pair in shared)


def _labels_text(labels: Labels) -> str:
    name = dict(labels).get("__name__", "")
    inner = ", ".join(
        f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in labels if k != "__name__"
    )
    return f"{name}{{{inner}}}"


# ---------------------------------------------------------------------------------
# Evaluation


@attrs.frozen(slots=True, eq=False)
class _Vector:
    """An instant vector at every evaluation time: K series, values (E, K)."""

    labels: tuple[Labels, ...]
    values: _F
    present: _B


@attrs.frozen(slots=True, eq=False)
class _Context:
    recording: Recording
    times_ms: npt.NDArray[np.int64]
    semantics: Semantics
    lookback_seconds: float
    expression: str

    @property
    def seconds(self) -> _F:
        return self.times_ms.astype(np.float64) / 1000.0

    def fail(self, reason: str, at: int) -> QueryError:
        return QueryError(reason, expression=self.expression, position=at)


def _full_labels(recording: Recording, column: int) -> Labels:
    series = recording.series[column]
    pairs = list(series.labels)
    if series.name:
        pairs.append(("__name__", series.name))
    return tuple(sorted(pairs))


def _select(
    context: _Context, selector: VectorSelector
) -> tuple[Recording, list[Labels]]:
    """The recording's columns that the matchers select, sorted by label set."""
    recording = context.recording
    chosen: list[tuple[Labels, int]] = []
    for column in range(len(recording.series)):
        labels = _full_labels(recording, column)
        values = dict(labels)
        if all(m.matches(values.get(m.label, "")) for m in selector.matchers):
            chosen.append((labels, column))
    chosen.sort()
    columns = [c for _, c in chosen]
    sub = Recording(
        times=recording.times,
        series=tuple(recording.series[c] for c in columns),
        values=recording.values[:, columns],
        present=recording.present[:, columns],
        types=tuple(recording.types[c] for c in columns),
        sources=recording.sources,
        stale=recording.stale_markers()[:, columns],
    )
    return sub, [labels for labels, _ in chosen]


def _drop_name(labels: Labels) -> Labels:
    return tuple(pair for pair in labels if pair[0] != "__name__")


def _check_unique(context: _Context, vector: _Vector, at: int) -> None:
    seen: dict[Labels, int] = {}
    for index, labels in enumerate(vector.labels):
        other = seen.setdefault(labels, index)
        if other != index and bool(
            (vector.present[:, index] & vector.present[:, other]).any()
        ):
            raise context.fail(
                "vector cannot contain metrics with the same labelset "
                f"({_labels_text(labels)}); select one metric name per function",
                at,
            )


def _evaluate(context: _Context, node: Expr) -> _Vector | _F:
    if isinstance(node, Number):
        return np.full(len(context.times_ms), node.value)
    if isinstance(node, VectorSelector):
        sub, labels = _select(context, node)
        found = promfuncs.instant(
            sub,
            context.seconds,
            offset=node.offset_ms / 1000.0,
            lookback_seconds=context.lookback_seconds,
            semantics=context.semantics,
        )
        return _Vector(tuple(labels), found.values, found.present)
    if isinstance(node, MatrixSelector):
        raise context.fail(
            "a range vector such as x[5m] can only be the whole instant query or a "
            "function's argument",
            node.at,
        )
    if isinstance(node, Call):
        return _call(context, node)
    if isinstance(node, Aggregate):
        return _aggregate(context, node)
    return _binary(context, node)


def _call(context: _Context, node: Call) -> _Vector:
    quantile: float | None = None
    matrix = node.args[-1]
    assert isinstance(matrix, MatrixSelector)
    if node.function == "quantile_over_time":
        q = _evaluate(context, node.args[0])
        if isinstance(q, _Vector):
            raise context.fail("quantile_over_time() needs a scalar quantile", node.at)
        if len(q) and not bool(np.all((q == q[0]) | (np.isnan(q) & np.isnan(q[0])))):
            raise UnsupportedQueryError(
                "a quantile that changes between steps is not supported",
                expression=context.expression,
                position=node.at,
            )
        quantile = float(q[0]) if len(q) else 0.0
    sub, labels = _select(context, matrix.selector)
    range_seconds = matrix.range_ms / 1000.0
    offset = matrix.selector.offset_ms / 1000.0
    if quantile is not None:
        found = promfuncs.quantile_over_time(
            quantile,
            sub,
            range_seconds,
            context.seconds,
            offset=offset,
            semantics=context.semantics,
        )
    else:
        function = getattr(promfuncs, node.function)
        found = function(
            sub,
            range_seconds,
            context.seconds,
            offset=offset,
            semantics=context.semantics,
        )
    keep_name = node.function == "last_over_time"
    names = tuple(labels) if keep_name else tuple(_drop_name(lab) for lab in labels)
    vector = _Vector(names, np.asarray(found.values), np.asarray(found.present))
    _check_unique(context, vector, node.at)
    return vector


def _group_key(labels: Labels, node: Aggregate) -> Labels:
    if node.labels is None:
        return ()
    if node.without:
        dropped = {*node.labels, "__name__"}
        return tuple(pair for pair in labels if pair[0] not in dropped)
    wanted = set(node.labels)
    return tuple(pair for pair in labels if pair[0] in wanted and pair[1])


def _aggregate(context: _Context, node: Aggregate) -> _Vector:
    inner = _evaluate(context, node.expr)
    if not isinstance(inner, _Vector):
        raise context.fail(
            f"{node.op}() needs an instant vector, not a scalar", node.at
        )
    groups: dict[Labels, list[int]] = {}
    for index, labels in enumerate(inner.labels):
        groups.setdefault(_group_key(labels, node), []).append(index)
    keys = sorted(groups)
    rows = len(context.times_ms)
    values = np.full((rows, len(keys)), np.nan)
    present = np.zeros((rows, len(keys)), dtype=bool)
    with np.errstate(all="ignore"):
        for g, key in enumerate(keys):
            members = groups[key]
            values[:, g], present[:, g] = _reduce(
                node.op, inner.values[:, members], inner.present[:, members]
            )
    return _Vector(tuple(keys), values, present)


def _reduce(op: str, values: _F, present: _B) -> tuple[_F, _B]:
    # Prometheus 2.x's aggregation loop, one member at a time in label order: sums
    # add in that order, avg keeps a running mean, min and max skip NaN unless all
    # members are NaN.
    rows = values.shape[0]
    result = np.full(rows, np.nan)
    count = np.zeros(rows)
    for k in range(values.shape[1]):
        here = present[:, k]
        v = values[:, k]
        first = here & (count == 0)
        later = here & (count > 0)
        count = count + here
        if op == "sum":
            result = np.where(first, v, np.where(later, result + v, result))
        elif op == "avg":
            mean = result + (v / count - result / count)
            result = np.where(first, v, np.where(later, mean, result))
        elif op == "min":
            better = later & ((result > v) | np.isnan(result))
            result = np.where(first | better, v, result)
        elif op == "max":
            better = later & ((result < v) | np.isnan(result))
            result = np.where(first | better, v, result)
    if op == "count":
        result = count.astype(np.float64)
    return result, count > 0


def _go_pow(base: _F, exponent: _F) -> _F:
    """``base ** exponent`` as Go's ``math.Pow`` computes it.

    For whole exponents Go squares the mantissa repeatedly and keeps the binary
    exponent apart, which can differ from C's ``pow`` in the last bit; that is
    repeated here. Other exponents use numpy's ``power``, which may differ from Go
    in the last bit.
    """
    x, y = np.broadcast_arrays(np.asarray(base, np.float64), np.asarray(exponent))
    result = np.array(np.power(x, y), dtype=np.float64)
    whole = np.trunc(np.abs(y))
    chosen = (
        (whole == np.abs(y))
        & (whole >= 2)
        & (whole <= 1024)
        & np.isfinite(x)
        & (x != 0)
    )
    if not chosen.any():
        return result
    count = whole[chosen].astype(np.int64)
    mantissa, power_of_two = np.frexp(x[chosen])
    total = np.ones(len(count))
    total_exponent = np.zeros(len(count), dtype=np.int64)
    shift = power_of_two.astype(np.int64)
    while bool((count != 0).any()):
        odd = (count & 1) == 1
        total = np.where(odd, total * mantissa, total)
        total_exponent = np.where(odd, total_exponent + shift, total_exponent)
        mantissa = mantissa * mantissa
        shift = shift * 2
        small = mantissa < 0.5
        mantissa = np.where(small, mantissa + mantissa, mantissa)
        shift = np.where(small, shift - 1, shift)
        count >>= 1
    negative = y[chosen] < 0
    total = np.where(negative, 1 / total, total)
    total_exponent = np.where(negative, -total_exponent, total_exponent)
    result[chosen] = np.ldexp(total, total_exponent)
    return result


_ARITHMETIC: dict[str, Callable[[_F, _F], _F]] = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.divide,
    "%": np.fmod,
    "^": _go_pow,
}


def _binary(context: _Context, node: Binary) -> _Vector | _F:
    lhs = _evaluate(context, node.lhs)
    rhs = _evaluate(context, node.rhs)
    operation = _ARITHMETIC[node.op]
    with np.errstate(all="ignore"):
        if isinstance(lhs, _Vector) and isinstance(rhs, _Vector):
            raise UnsupportedQueryError(
                f"arithmetic between two vectors ({node.op!r}, which needs vector "
                "matching) is not supported by kepler-reader's PromQL subset; "
                "aggregate one side to a number first",
                expression=context.expression,
                position=node.at,
            )
        if isinstance(lhs, _Vector):
            assert not isinstance(rhs, _Vector)
            values = operation(lhs.values, rhs[:, None])
            vector = lhs
        elif isinstance(rhs, _Vector):
            values = operation(lhs[:, None], rhs.values)
            vector = rhs
        else:
            scalar: _F = operation(lhs, rhs)
            return scalar
    labels = tuple(_drop_name(lab) for lab in vector.labels)
    out = _Vector(labels, np.where(vector.present, values, np.nan), vector.present)
    _check_unique(context, out, node.at)
    return out


def _raw_samples(context: _Context, node: MatrixSelector) -> QueryResult:
    """An instant query of ``x[range]``: the raw samples in the range."""
    sub, labels = _select(context, node.selector)
    end = int(context.times_ms[0]) - node.selector.offset_ms
    times_ms = to_ms(sub.times)
    side: Literal["left", "right"] = (
        "left" if context.semantics == "prometheus2" else "right"
    )
    lo = int(np.searchsorted(times_ms, end - node.range_ms, side=side))
    hi = int(np.searchsorted(times_ms, end, side="right"))
    metrics, times, values = [], [], []
    for k, label in enumerate(labels):
        here = sub.present[lo:hi, k]
        if here.any():
            metrics.append(label)
            times.append(times_ms[lo:hi][here].astype(np.float64) / 1000.0)
            values.append(np.asarray(sub.values[lo:hi, k][here], dtype=np.float64))
    return QueryResult("matrix", tuple(metrics), tuple(times), tuple(values))


def query(
    recording: Recording | str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    expr: str,
    *,
    at: float | None = None,
    start: float | None = None,
    end: float | None = None,
    step: float | str | None = None,
    semantics: Semantics = "prometheus3",
    lookback_seconds: float = LOOKBACK_SECONDS,
) -> QueryResult:
    """Evaluate a PromQL expression over a recording, as Prometheus's API would.

    An instant query (``at``, by default the recording's last time) answers a
    ``vector`` (or a ``matrix`` of raw samples for a range selector such as
    ``x[5m]``, or a ``scalar``); a range query (``start``, ``end`` and ``step``)
    answers a ``matrix`` with one point per step where the series has a value.

    Args:
        recording: The recording, or files to read with :func:`load_recording`.
        expr: The expression (see :mod:`kepler_reader.promql_parse` for the subset).
        at: The evaluation time of an instant query, in seconds since the epoch.
        start: The first evaluation time of a range query, in seconds.
        end: The last evaluation time of a range query, in seconds (inclusive).
        step: Seconds between evaluation times (a number, or a duration like ``15s``).
        semantics: ``"prometheus3"`` (default) or ``"prometheus2"``.
        lookback_seconds: How far instant selectors look back, in seconds.

    Returns:
        The answer; :meth:`QueryResult.to_json` gives Prometheus's JSON.

    Raises:
        QueryError: The expression is not valid PromQL (or is nested too deeply), or
            cannot be evaluated; a range query of more than
            :data:`MAX_RANGE_POINTS` steps.
        UnsupportedQueryError: The expression is outside the supported subset.
        ValueError: Inconsistent times (``at`` with a range, a range missing a part,
            ``end`` before ``start``), a time, step or lookback that is not finite
            or beyond :data:`MAX_SECONDS`, or an unknown ``semantics``.
    """
    if semantics not in promfuncs.SEMANTICS:
        raise ValueError(
            f"semantics must be one of {', '.join(promfuncs.SEMANTICS)}, "
            f"not {semantics!r}."
        )
    for name, given in (("at", at), ("start", start), ("end", end)):
        if given is not None:
            _finite_time(given, f"{name}={given!r}")
    _finite_time(lookback_seconds, f"the lookback {lookback_seconds!r}")
    if not isinstance(recording, Recording):
        recording = load_recording(recording)
    tree = parse_expression(expr)
    ranged = start is not None or end is not None or step is not None
    if ranged:
        if at is not None:
            raise ValueError("give either at= or start=, end= and step=, not both.")
        if start is None or end is None or step is None:
            raise ValueError("a range query needs start=, end= and step=.")
        first, last = round(start * 1000), round(end * 1000)
        if last < first:
            raise ValueError(f"end ({end}) is before start ({start}).")
        stride = _parse_step(step)
        if (last - first) // stride + 1 > MAX_RANGE_POINTS:
            raise QueryError(
                f"the range query has {(last - first) // stride + 1} steps, more than "
                f"the limit of {MAX_RANGE_POINTS:,} points per series; raise the step",
                expression=expr,
                position=0,
            )
        times_ms = np.arange(first, last + 1, stride, dtype=np.int64)
    else:
        if at is None:
            if not len(recording):
                raise ValueError("the recording is empty; give at=.")
            at = float(recording.times[-1])
        times_ms = np.array([round(at * 1000)], dtype=np.int64)
    context = _Context(recording, times_ms, semantics, lookback_seconds, expr)
    if isinstance(tree, MatrixSelector):
        if ranged:
            raise context.fail(
                'invalid expression type "range vector" for range query, must be '
                "Scalar or instant Vector",
                0,
            )
        return _raw_samples(context, tree)
    try:
        answer = _evaluate(context, tree)
    except RecursionError:
        raise context.fail("the expression is nested too deeply", 0) from None
    seconds = context.seconds
    if not isinstance(answer, _Vector):
        if not ranged:
            return QueryResult("scalar", ((),), (seconds,), (answer,))
        return QueryResult("matrix", ((),), (seconds,), (answer,))
    order = sorted(range(len(answer.labels)), key=answer.labels.__getitem__)
    metrics, times, values = [], [], []
    for k in order:
        here = answer.present[:, k]
        if here.any():
            metrics.append(answer.labels[k])
            times.append(seconds[here])
            values.append(answer.values[here, k])
    kind: Literal["vector", "matrix"] = "matrix" if ranged else "vector"
    return QueryResult(kind, tuple(metrics), tuple(times), tuple(values))
