"""Hostile queries and inputs end in the package's own errors, never a traceback."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import kepler_reader as kr
from kepler_reader.cli import main
from kepler_reader.promql import query

URL = "http://127.0.0.1:9102/metrics"


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


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[{"metric":{},"value":["inf","1"]}]',
            r"result\[0\]: the time 'inf' is not a finite time",
        ),
        (
            '[{"metric":{},"value":[1e300,"1"]}]',
            r"result\[0\]: the time 1e\+300 is not a finite time",
        ),
        (
            '{"resultType":"matrix","result":[{"metric":{},"values":5}]}',
            'result\\[0\\]: "values" is not an array',
        ),
    ],
)
def test_odd_json_values_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "odd.json"
    path.write_text(text)
    with pytest.raises(kr.DataError, match=f"^{re.escape(str(path))}: {message}"):
        kr.load_recording(path)


def test_deeply_nested_json_is_a_dump_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(kr.DumpError, match="the JSON is nested too deeply"):
        kr.load_recording(path)


def test_a_federate_timestamp_beyond_2_53_ms(tmp_path: Path) -> None:
    path = tmp_path / "big.prom"
    path.write_bytes(b"x 1 9223372036854775807\n")
    with pytest.raises(kr.DataError, match="x has the timestamp 9223372036854775807"):
        kr.load_recording(path)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"x 5 1000\nx 7 2000\n", r"another value \(7.0 instead of 5.0\)"),
        (b"x 1 1000\nx 2 1000\n", r"another value \(2.0 instead of 1.0\)"),
        (b"x 1 1000\nx 1 2000\n", "with the same value"),
    ],
)
def test_a_federate_body_repeating_a_series_is_refused(
    tmp_path: Path, body: bytes, message: str
) -> None:
    path = tmp_path / "fed.prom"
    path.write_bytes(body)
    with pytest.raises(
        kr.DataError, match=f"fed.prom: line 2: Series x repeats.*{message}"
    ):
        kr.load_recording(path)
    # Lenient reading keeps the first, as the parser's warning says.
    assert kr.read_federate(path, lenient=True).values.tolist() == [[float(body[2:3])]]


def _distinct_times_answer(path: Path, count: int) -> Path:
    # Each series at its own time: count rows x count series when read densely.
    result = [
        {"metric": {"__name__": "x", "i": str(i)}, "value": [1700000000 + i, "1"]}
        for i in range(count)
    ]
    answer = {"status": "success", "data": {"resultType": "vector", "result": result}}
    path.write_text(json.dumps(answer))
    return path


def test_the_cells_of_a_recording_are_limited(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _distinct_times_answer(tmp_path / "sq.json", 120)
    with pytest.raises(kr.LimitExceededError) as caught:
        kr.load_recording(path, max_cells=10_000)
    assert caught.value.limit == "max_recording_cells"
    assert caught.value.value == 10_000
    assert str(caught.value) == (
        f"{path}: a recording of 120 times x 120 series is 14400 cells, over the "
        "limit of 10000 (max_cells=)."
    )
    assert kr.load_recording(path, max_cells=14_400).values.shape == (120, 120)
    # The same from a federate body, a dump sequence and a merge of files.
    federate = tmp_path / "fed.prom"
    federate.write_text("".join(f'x{{i="{i}"}} 1 {1000 * i}\n' for i in range(120)))
    with pytest.raises(kr.LimitExceededError, match=r"fed\.prom: a recording of 120"):
        kr.read_federate(federate, max_cells=10_000)
    dumps = []
    for i in range(3):
        dumps.append(tmp_path / f"{i}.prom")
        kr.write_dump(
            dumps[-1], f'y{{i="{i}"}} 1\n'.encode(), scraped_at=10.0 + i, url=URL
        )
    with pytest.raises(kr.LimitExceededError, match="3 times x 3 series is 9 cells"):
        kr.read_dumps(dumps, max_cells=8)
    assert kr.read_dumps(dumps, max_cells=9).values.shape == (3, 3)
    small = _distinct_times_answer(tmp_path / "small.json", 2)
    with pytest.raises(kr.LimitExceededError, match="5 times x 5 series is 25"):
        kr.load_recording([small, *dumps], max_cells=24)


def test_the_default_cell_limit_in_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 7072 x 7072 cells just pass 50 million; the matrix is never allocated.
    path = _distinct_times_answer(tmp_path / "sq2.json", 7072)
    assert main(["query", str(path), "count(x)"]) == 1
    assert capsys.readouterr().err == (
        f"kepler-reader: error: {path}: a recording of 7072 times x 7072 series is "
        "50013184 cells, over the limit of 50000000 (max_cells=).\n"
    )


def test_two_dumps_at_one_time_with_different_values(tmp_path: Path) -> None:
    first, second = tmp_path / "a.prom", tmp_path / "b.prom"
    kr.write_dump(first, b"x 1\ny 3\n", scraped_at=100.0, url=URL)
    kr.write_dump(second, b"x 2\ny 3\n", scraped_at=100.0, url=URL)
    with pytest.raises(kr.DataError) as caught:
        kr.load_recording([first, second])
    assert str(caught.value) == (
        f"{second} and {first}: x has two samples at 100.000 s (2.0 and 1.0)."
    )
    # Equal values at one time are one sample, read as before.
    kr.write_dump(second, b"x 1\n", scraped_at=100.0, url=URL)
    assert kr.load_recording([first, second]).values[:, 0].tolist() == [1.0, 1.0]


@pytest.mark.parametrize("when", [float("inf"), float("nan"), 1e300])
def test_a_dump_time_must_be_finite(tmp_path: Path, when: float) -> None:
    path = tmp_path / "plain.prom"
    path.write_bytes(b"x 1\n")
    with pytest.raises(kr.DataError) as caught:
        kr.read_dumps([path], times=[when])
    assert str(caught.value) == (
        f"{path}: the time {when!r} must be a finite time within 2**53 ms of the epoch."
    )
