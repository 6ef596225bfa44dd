"""Hostile queries and inputs end in the package's own errors, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import kepler_reader as kr
from kepler_reader.cli import main
from kepler_reader.promql import query


def _vector_file(folder: Path) -> Path:
    path = folder / "ok.json"
    answer = {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [{"metric": {"__name__": "x"}, "value": [1700000000, "1"]}],
        },
    }
    path.write_text(json.dumps(answer))
    return path


def test_a_range_query_of_too_many_steps_is_refused(tmp_path: Path) -> None:
    path = _vector_file(tmp_path)
    with pytest.raises(kr.QueryError, match=r"10000001 steps.*11,000 points"):
        query(path, "x", start=0, end=1e7, step=1)
    with pytest.raises(kr.QueryError, match="11,000 points"):
        query(path, "x", start=0, end=1e12, step=1)
    # 11,000 steps are allowed.
    answer = query(path, "x", start=1700000000 - 10999, end=1700000000, step=1)
    assert answer.times[0].tolist() == [1700000000.0]


def test_range_query_limit_in_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(_vector_file(tmp_path))
    assert (
        main(["query", path, "x", "--start", "0", "--end", "1e7", "--step", "1"]) == 1
    )
    assert "11,000 points per series" in capsys.readouterr().err


@pytest.mark.parametrize(
    "expr",
    [
        "(" * 200 + "x" + ")" * 200,
        "sum(" * 150 + "x" + ")" * 150,
        "-" * 500 + "x",
        "+".join(["x"] * 500),
    ],
)
def test_deep_nesting_is_a_query_error(tmp_path: Path, expr: str) -> None:
    with pytest.raises(kr.QueryError, match="nested too deeply"):
        query(_vector_file(tmp_path), expr)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"lookback_seconds": float("inf")}, "the lookback inf must be a finite time"),
        ({"lookback_seconds": 1e308}, "the lookback 1e\\+308 must be a finite time"),
        ({"lookback_seconds": float("nan")}, "the lookback nan must be a finite"),
        ({"at": float("inf")}, "at=inf must be a finite time"),
        ({"at": 1e300}, "at=1e\\+300 must be a finite time"),
        ({"start": 0, "end": 1, "step": "inf"}, "the step 'inf' must be a finite"),
        ({"start": 0, "end": 1, "step": float("nan")}, "the step nan must be"),
        ({"start": 0, "end": 1e300, "step": 1e299}, "end=1e\\+300 must be a finite"),
    ],
)
def test_infinite_times_are_refused(
    tmp_path: Path, options: dict[str, float | str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        query(_vector_file(tmp_path), "x", **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "flags",
    [
        ["--lookback", "inf"],
        ["--lookback", "1e308"],
        ["--at", "inf"],
        ["--at", "1e300"],
        ["--at", "nan"],
        ["--start", "0", "--end", "1", "--step", "inf"],
        ["--start", "0", "--end", "1e300", "--step", "1e299"],
        ["--times", "inf"],
    ],
)
def test_infinite_times_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str]
) -> None:
    assert main(["query", str(_vector_file(tmp_path)), "x", *flags]) == 2
    error = capsys.readouterr().err
    assert "must be a finite time" in error
    assert error.count("\n") == 1


def test_an_offset_beyond_int64_is_a_query_error(tmp_path: Path) -> None:
    with pytest.raises(kr.QueryError, match="'99999999999999y' is too long"):
        query(_vector_file(tmp_path), "x offset 99999999999999y")
