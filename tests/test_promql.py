"""The PromQL subset: parsing, evaluation, the answer's JSON, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import kepler_reader as kr
from kepler_reader.cli import main
from kepler_reader.promql import format_value, parse_time
from tests.paths import KEPLER

FLUX = sorted(str(p) for p in (KEPLER / "real-full").glob("v0.3-flux-system-*.json"))
CURR = "pod_curr_energy_in_pkg_millijoule"


@pytest.fixture(scope="module")
def flux() -> kr.Recording:
    return kr.load_recording(FLUX)


def _recording() -> kr.Recording:
    # Two pods' counters and a node counter, scraped every 10 s for a minute.
    times = np.arange(0.0, 70.0, 10.0) + 1_700_000_000
    a = 100 + 5.0 * np.arange(7)
    b = 300 + 20.0 * np.arange(7)
    node = 1000 + 40.0 * np.arange(7)
    return kr.Recording(
        times=times,
        series=(
            kr.Series("e_total", (("ns", "x"), ("pod", "a"))),
            kr.Series("e_total", (("ns", "y"), ("pod", "b"))),
            kr.Series("node_total", (("zone", "package"),)),
        ),
        values=np.stack([a, b, node], axis=1),
        present=np.ones((7, 3), dtype=bool),
        types=("counter",) * 3,
        sources=("",) * 7,
    )


REC = _recording()
END = float(REC.times[-1])


def _answer(expr: str) -> dict[tuple[tuple[str, str], ...], float]:
    return kr.query(REC, expr).by_labels()


def test_matchers_in_both_quote_styles(flux: kr.Recording) -> None:
    for expr in (
        f"{CURR}{{pod_namespace='flux-system'}}",
        f'{CURR}{{pod_namespace="flux-system"}}',
        f"{CURR}{{pod_namespace=~'flux-.*'}}",
        f'{CURR}{{pod_namespace!="kube-system", pod_name!~"x.*",}}',
        f'{{__name__="{CURR}", pod_namespace=`flux-system`}}',
    ):
        assert sorted(kr.query(flux, expr).by_labels().values()) == [68, 73, 108, 118]
    # Regular expressions match the whole value, as in Prometheus.
    assert len(kr.query(flux, f"{CURR}{{pod_namespace=~'flux'}}")) == 0


def test_sum_of_the_origin(flux: kr.Recording) -> None:
    expr = f"sum({CURR}{{pod_namespace='flux-system'}})"
    assert kr.query(flux, expr).scalar() == 367.0
    # The answer from Prometheus was taken at 1666394247.901; the same instant here.
    result = kr.query(flux, expr, at=1666394247.901)
    assert result.to_json() == (
        '{"status":"success","data":{"resultType":"vector","result":'
        '[{"metric":{},"value":[1666394247.901,"367"]}]}}'
    )


def test_aggregation_and_arithmetic() -> None:
    rate = "rate(e_total[30s])"
    assert _answer(f"sum({rate})") == {(): 2.5}
    assert _answer(f"sum by (ns) ({rate})") == {
        (("ns", "x"),): 0.5,
        (("ns", "y"),): 2.0,
    }
    assert _answer(f"sum({rate}) without (pod)") == _answer(f"sum by (ns) ({rate})")
    assert _answer(f"max({rate})") == {(): 2.0}
    assert _answer(f"min({rate})") == {(): 0.5}
    assert _answer(f"avg({rate})") == {(): 1.25}
    assert _answer(f"count({rate})") == {(): 2.0}
    # Arithmetic drops the metric name; precedence and associativity as PromQL's.
    assert _answer("node_total * 2 - 1") == {(("zone", "package"),): 2479.0}
    assert kr.query(REC, "2 ^ 3 ^ 2").scalar() == 512.0
    assert kr.query(REC, "-2 ^ 2").scalar() == -4.0
    assert kr.query(REC, "7 % 4 + 10 / 4").scalar() == 5.5
    assert kr.query(REC, "1 / 0").scalar() == float("inf")
    # offset shifts the range back: the first 30 s of the node's counter.
    assert _answer("increase(node_total[30s] offset 30s)") == {
        (("zone", "package"),): 120.0
    }
    assert _answer("node_total offset 1m") == {
        (("__name__", "node_total"), ("zone", "package")): 1000.0
    }


def test_range_queries_answer_a_matrix() -> None:
    result = kr.query(REC, "sum(rate(e_total[20s]))", start=END - 20, end=END, step=10)
    assert result.result_type == "matrix"
    assert result.times[0].tolist() == [END - 20, END - 10, END]
    assert result.values[0].tolist() == [2.5, 2.5, 2.5]
    scalar = kr.query(REC, "1 + 1", start=END - 10, end=END, step="10s")
    assert scalar.result_type == "matrix"
    assert scalar.to_prometheus()["data"]["result"] == [
        {"metric": {}, "values": [[END - 10, "2"], [END, "2"]]}
    ]


def test_a_range_selector_answers_the_raw_samples() -> None:
    result = kr.query(REC, "node_total[25s]", semantics="prometheus2")
    assert result.to_prometheus() == {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [
                {
                    "metric": {"__name__": "node_total", "zone": "package"},
                    "values": [[END - 20, "1160"], [END - 10, "1200"], [END, "1240"]],
                }
            ],
        },
    }
    with pytest.raises(kr.QueryError, match='invalid expression type "range vector"'):
        kr.query(REC, "node_total[25s]", start=END - 10, end=END, step=10)


def test_values_and_times_as_prometheus_writes_them() -> None:
    assert format_value(4.600183380505419e18) == "4600183380505419000"
    assert format_value(7.292397660818714) == "7.292397660818714"
    assert format_value(1e-7) == "0.0000001"
    assert [format_value(v) for v in (float("nan"), float("inf"), -0.0)] == [
        "NaN",
        "+Inf",
        "-0",
    ]
    result = kr.query(REC, "node_total", at=1_700_000_060.49)
    assert '"value":[1700000060.490,"1240"]' in result.to_json()
    assert parse_time("2023-11-14T22:13:20Z") == 1_700_000_000.0


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        pytest.param(
            "topk(3, e_total)",
            "the aggregation topk() is not supported by kepler-reader's PromQL "
            "subset (column 1)\n    topk(3, e_total)\n    ^",
            id="topk",
        ),
        pytest.param(
            "e_total > 5",
            "the comparison operator '>' is not supported by kepler-reader's PromQL "
            "subset (column 9)\n    e_total > 5\n            ^",
            id="comparison",
        ),
        pytest.param(
            "rate(e_total[5m:1m])",
            "a subquery [range:step] is not supported by kepler-reader's PromQL "
            "subset (column 16)\n    rate(e_total[5m:1m])\n                   ^",
            id="subquery",
        ),
        pytest.param(
            "e_total @ 100",
            "the @ modifier is not supported by kepler-reader's PromQL subset "
            "(column 9)\n    e_total @ 100\n            ^",
            id="at-modifier",
        ),
        pytest.param(
            "e_total and node_total",
            "the operator 'and' is not supported by kepler-reader's PromQL subset "
            "(column 9)\n    e_total and node_total\n            ^",
            id="set-operator",
        ),
    ],
)
def test_unsupported_parts_are_named(expr: str, message: str) -> None:
    with pytest.raises(kr.UnsupportedQueryError) as caught:
        kr.query(REC, expr)
    assert str(caught.value) == message


def test_unsupported_functions_list_the_supported_ones() -> None:
    with pytest.raises(kr.UnsupportedQueryError) as caught:
        kr.query(REC, "histogram_quantile(0.9, x)")
    assert str(caught.value).startswith(
        "the function histogram_quantile() is not supported by kepler-reader's "
        "PromQL subset (supported functions: avg_over_time, changes, "
    )
    with pytest.raises(kr.UnsupportedQueryError, match="arithmetic between two"):
        kr.query(REC, "e_total / node_total")


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        pytest.param(
            "sum(e_total",
            "expected ')', found the end of the expression (column 12)\n"
            "    sum(e_total\n               ^",
            id="unclosed",
        ),
        pytest.param(
            "rate(e_total)",
            "rate() expects a range vector such as x[5m] (column 1)\n"
            "    rate(e_total)\n    ^",
            id="instant-to-rate",
        ),
        pytest.param(
            "e_total{pod=a}",
            "expected a quoted string, found 'a' (column 13)\n"
            "    e_total{pod=a}\n                ^",
            id="unquoted",
        ),
        pytest.param(
            "e_total[5x]",
            "expected a duration, found '5' (column 9)\n    e_total[5x]\n            ^",
            id="bad-duration",
        ),
        pytest.param(
            "e_total[1m5h]",
            "the units of duration '1m5h' are repeated or out of order (column 9)\n"
            "    e_total[1m5h]\n            ^",
            id="duration-order",
        ),
        pytest.param(
            "{pod=~'.*'}",
            "a selector needs a metric name or a matcher that does not match the "
            "empty string (column 1)\n    {pod=~'.*'}\n    ^",
            id="empty-matcher",
        ),
        pytest.param(
            "e_total{pod='a}",
            "unterminated string (column 13)\n    e_total{pod='a}\n                ^",
            id="unterminated",
        ),
        pytest.param(
            "rate(e_total[1m])",
            "vector cannot contain metrics with the same labelset ({}); select one "
            "metric name per function (column 1)\n    rate(e_total[1m])\n    ^",
            id="same-labelset",
        ),
    ],
)
def test_errors_point_at_the_fault(expr: str, message: str) -> None:
    same = kr.Recording(
        times=np.array([0.0, 10.0]),
        series=(kr.Series("e_total", ()), kr.Series("e_total_x", ())),
        values=np.ones((2, 2)),
        present=np.ones((2, 2), dtype=bool),
        types=("counter", "counter"),
        sources=("", ""),
    )
    recording = same if "labelset" in message else REC
    if "labelset" in message:
        expr = "rate({__name__=~'e_total.*'}[1m])"
        message = message.replace(
            "rate(e_total[1m])", "rate({__name__=~'e_total.*'}[1m])"
        )
    with pytest.raises(kr.QueryError) as caught:
        kr.query(recording, expr)
    assert str(caught.value) == message


def test_the_query_command(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    expr = "sum(pod_curr_energy_in_dram_millijoule{pod_namespace='flux-system'})"
    assert main(["query", *FLUX, expr, "--format", "json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer == {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [{"metric": {}, "value": [1666394491.954, "105"]}],
        },
    }
    # Within the 5 min lookback of the newest sample, and past it.
    assert main(["query", *FLUX, expr, "--at", "2022-10-21T23:25:00Z"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[-1].split() == ["{}", "1666394700", "105"]
    assert main(["query", *FLUX, expr, "--at", "2022-10-21T23:30:00Z"]) == 0
    assert capsys.readouterr().out == "(no data)\n"
    # Errors: a bad expression (1), a missing file (4), bad options (2).
    assert main(["query", *FLUX, "topk(1, x)"]) == 1
    assert "topk() is not supported" in capsys.readouterr().err
    assert main(["query", str(tmp_path / "none.json"), "x"]) == 4
    assert main(["query", *FLUX, "x", "--start", "1"]) == 2
    assert "--start, --end and --step go together" in capsys.readouterr().err
    assert main(["query", "x"]) == 2
    assert (
        main(["query", *FLUX, "1", "--start", "10", "--end", "5", "--step", "1"]) == 2
    )
    assert "end (5.0) is before start (10.0)." in capsys.readouterr().err
    with pytest.raises(kr.DataError, match=r"The answer has 4 values, not one\."):
        kr.query(FLUX, CURR).scalar()
