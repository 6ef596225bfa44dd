"""The PromQL grammar subset: what parses to what, and every way of failing."""

from __future__ import annotations

import math

import numpy as np
import pytest

import kepler_reader as kr
from kepler_reader.promql_parse import (
    Aggregate,
    Binary,
    Call,
    Matcher,
    MatrixSelector,
    Number,
    VectorSelector,
    parse_duration,
    parse_expression,
)

REC = kr.Recording(
    times=np.array([0.0, 10.0, 20.0]),
    series=(
        kr.Series("up", (("job", 'a"b\\c'),)),
        kr.Series("e:rate_total", (("pod", "é"),)),
    ),
    values=np.array([[1.0, 2.0], [1.0, 4.0], [0.0, 8.0]]),
    present=np.ones((3, 2), dtype=bool),
    types=("gauge", "counter"),
    sources=("", "", ""),
)


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        pytest.param("0x1F + 1e1 + .5", 41.5, id="numbers"),
        pytest.param("+2 - -3", 5.0, id="unary"),
        pytest.param("2 * (3 + 4) / 7", 2.0, id="parentheses"),
        pytest.param("10 % 4 ^ 2", 10.0, id="power-binds-tighter"),
        pytest.param("1 # a comment\n + 1", 2.0, id="comment"),
        pytest.param("-inf", -math.inf, id="infinity"),
        pytest.param('up{job="a\\"b\\\\c"}', 0.0, id="escapes"),
        pytest.param('up{job=`a"b\\c`}', 0.0, id="raw-string"),
        pytest.param("e:rate_total{pod='\\u00e9'}", 8.0, id="unicode-escape"),
        pytest.param("sum without (job) (up) + 1", 1.0, id="without"),
        pytest.param("sum(up) by ()", 0.0, id="empty-grouping"),
        pytest.param("max by (job,) (up offset 10s)", 1.0, id="trailing-comma"),
        pytest.param("count_over_time(up[1m] offset -0s)", 3.0, id="negative-offset"),
        pytest.param("last_over_time(up[15s])", 0.0, id="last-over-time"),
    ],
)
def test_expressions_evaluate(expr: str, value: float) -> None:
    result = kr.query(REC, expr, at=20.0, semantics="prometheus2")
    assert result.values[0][-1] == value


def test_the_tree() -> None:
    tree = parse_expression("sum by (pod) (rate(x{a!~'b.*'}[1h30m] offset 5m)) * 2")
    assert isinstance(tree, Binary)
    assert tree.op == "*"
    assert tree.rhs == Number(2.0)
    assert isinstance(tree.lhs, Aggregate)
    assert (tree.lhs.op, tree.lhs.labels, tree.lhs.without) == ("sum", ("pod",), False)
    call = tree.lhs.expr
    assert isinstance(call, Call)
    assert call.function == "rate"
    matrix = call.args[0]
    assert isinstance(matrix, MatrixSelector)
    assert matrix.range_ms == 5_400_000
    assert isinstance(matrix.selector, VectorSelector)
    assert matrix.selector.offset_ms == 300_000
    assert matrix.selector.matchers[0] == Matcher("__name__", "=", "x")
    assert matrix.selector.matchers[1] == Matcher("a", "!~", "b.*")
    assert parse_duration("1w2d3h4m5s6ms") == 788_645_006


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        pytest.param("", "the expression is empty (column 1)", id="empty"),
        pytest.param("1 2", "unexpected '2' (column 3)", id="two-numbers"),
        pytest.param("up $", "unexpected character '$' (column 4)", id="character"),
        pytest.param(
            "up{job='a\\q'}", "unknown escape sequence \\q (column 10)", id="escape"
        ),
        pytest.param("up{job='a\n'}", "unterminated string (column 8)", id="newline"),
        pytest.param(
            "5m",
            "a duration (5m) can appear only in [..] or after offset (column 1)",
            id="duration",
        ),
        pytest.param(
            "'text'",
            "a string literal is not supported by kepler-reader's PromQL subset "
            "(column 1)",
            id="string",
        ),
        pytest.param(
            "(1", "expected ')', found the end of the expression (column 3)", id="paren"
        ),
        pytest.param(
            "sum(up)[5m]",
            "a range [..] can follow only a metric selector (column 8)",
            id="range-on-call",
        ),
        pytest.param(
            "up[5m",
            "expected ']', found the end of the expression (column 6)",
            id="bracket",
        ),
        pytest.param(
            "up[5m][1m]",
            "a subquery [range:step] is not supported by kepler-reader's PromQL "
            "subset (column 7)",
            id="double-range",
        ),
        pytest.param(
            "sum(up) offset 5m",
            "offset can follow only a selector (column 9)",
            id="offset-on-call",
        ),
        pytest.param(
            "up offset",
            "expected a duration after offset, found the end of the expression "
            "(column 10)",
            id="offset-alone",
        ),
        pytest.param(
            "sum(up, up)", "sum() takes one argument (column 7)", id="two-arguments"
        ),
        pytest.param(
            "sum by (job) (up) by (job)",
            "a second grouping clause (column 19)",
            id="two-groupings",
        ),
        pytest.param(
            "sum by (1) (up)",
            "expected a label name, found '1' (column 9)",
            id="label-number",
        ),
        pytest.param(
            "rate()", "rate() takes 1 argument, got 0 (column 1)", id="no-argument"
        ),
        pytest.param(
            "quantile_over_time(up[1m])",
            "quantile_over_time() takes 2 arguments, got 1 (column 1)",
            id="one-argument",
        ),
        pytest.param(
            "rate(sum(up))",
            "rate() expects a range vector such as x[5m] (a subquery would be needed "
            "here, which is not supported) (column 1)",
            id="rate-of-sum",
        ),
        pytest.param(
            "up{1='a'}",
            "expected a label name, found '1' (column 4)",
            id="matcher-label",
        ),
        pytest.param(
            "up{job}",
            "expected one of =, !=, =~, !~ after job, found '}' (column 7)",
            id="matcher-op",
        ),
        pytest.param(
            "up{job=~'('}",
            "invalid regular expression '(': missing ), unterminated subpattern at "
            "position 0 (column 9)",
            id="regex",
        ),
        pytest.param("by", "unexpected keyword 'by' (column 1)", id="keyword"),
        pytest.param(
            "quantile(0.5, up)",
            "the aggregation quantile() is not supported by kepler-reader's PromQL "
            "subset (column 1)",
            id="quantile-aggregation",
        ),
        pytest.param(
            "up == 1",
            "the comparison operator '==' is not supported by kepler-reader's PromQL "
            "subset (column 4)",
            id="equality",
        ),
        pytest.param(
            "up[1m5m]",
            "the units of duration '1m5m' are repeated or out of order (column 4)",
            id="duration-repeat",
        ),
    ],
)
def test_parse_errors(expr: str, message: str) -> None:
    with pytest.raises(kr.QueryError) as caught:
        parse_expression(expr)
    assert str(caught.value).split("\n")[0] == message


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        pytest.param(
            "sum(1)",
            "sum() needs an instant vector, not a scalar (column 1)",
            id="sum-of-scalar",
        ),
        pytest.param(
            "sum(up[1m])",
            "a range vector such as x[5m] can only be the whole instant query or a "
            "function's argument (column 5)",
            id="range-in-sum",
        ),
        pytest.param(
            "quantile_over_time(up, up[1m])",
            "quantile_over_time() needs a scalar quantile (column 1)",
            id="vector-quantile",
        ),
    ],
)
def test_evaluation_errors(expr: str, message: str) -> None:
    with pytest.raises(kr.QueryError) as caught:
        kr.query(REC, expr, at=20.0)
    assert str(caught.value).split("\n")[0] == message


def test_query_arguments() -> None:
    with pytest.raises(ValueError, match="give either at= or start=, end= and step="):
        kr.query(REC, "1", at=1.0, start=0.0, end=1.0, step=1.0)
    with pytest.raises(ValueError, match="a range query needs start=, end= and step="):
        kr.query(REC, "1", start=0.0)
    with pytest.raises(kr.QueryError, match="the step must be positive"):
        kr.query(REC, "1", start=0.0, end=1.0, step=0)
    with pytest.raises(ValueError, match="semantics must be one of"):
        kr.query(REC, "1", semantics="prometheus1")  # type: ignore[arg-type]
    with pytest.raises(kr.QueryError, match="expected seconds since the epoch"):
        kr.promql.parse_time("yesterday")
    assert kr.query(REC, "1", start=0.0, end=20.0, step="10s").times[0].tolist() == [
        0.0,
        10.0,
        20.0,
    ]
