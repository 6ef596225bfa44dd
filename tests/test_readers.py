"""Every kind of saved data reads into the same Recording."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kepler_reader as kr
from tests.paths import KEPLER

REAL_FULL = KEPLER / "real-full"
FLUX = sorted(REAL_FULL.glob("v0.3-flux-system-*.json"))

# Three scrapes of one exporter: a counter that resets, a series that appears, one
# that vanishes, a value in exponent form.
TIMES = (1700000000.0, 1700000003.25, 1700000006.5)
SCRAPES: tuple[dict[str, float], ...] = (
    {"a": 10.0, "b": 1.5},
    {"a": 25.5, "b": 3.0, "c": 1.0e6},
    {"a": 2.0, "c": 1.25e6},
)


def _body(values: dict[str, float], stamp_ms: int | None = None) -> bytes:
    tail = f" {stamp_ms}" if stamp_ms is not None else ""
    lines = ["# TYPE e_total counter"]
    lines += [f'e_total{{pod="{p}"}} {v!r}{tail}' for p, v in values.items()]
    return ("\n".join(lines) + "\n").encode()


def _expected() -> tuple[list[str], np.ndarray, np.ndarray]:
    series = ['e_total{pod="a"}', 'e_total{pod="b"}', 'e_total{pod="c"}']
    values = np.array([[10.0, 1.5, np.nan], [25.5, 3.0, 1.0e6], [2.0, np.nan, 1.25e6]])
    return series, values, ~np.isnan(values)


def _check(recording: kr.Recording) -> None:
    series, values, present = _expected()
    assert recording.times.tolist() == list(TIMES)
    assert sorted(str(s) for s in recording.series) == series
    order = [series.index(str(s)) for s in recording.series]
    np.testing.assert_array_equal(recording.values, values[:, order])
    np.testing.assert_array_equal(recording.present, present[:, order])


def _write_dumps(folder: Path) -> list[Path]:
    paths = []
    for i, (when, scrape) in enumerate(zip(TIMES, SCRAPES, strict=True)):
        path = folder / f"scrape-{i}.prom{'.gz' if i == 1 else ''}"
        kr.write_dump(
            path,
            _body(scrape),
            scraped_at=when,
            url="http://127.0.0.1:9102/metrics",
        )
        paths.append(path)
    return paths


def _federate_bodies() -> list[bytes]:
    # What three curl calls of /federate, one per scrape, would save.
    return [
        _body(scrape, round(when * 1000))
        for when, scrape in zip(TIMES, SCRAPES, strict=True)
    ]


def _matrix_answer() -> dict[str, object]:
    result = []
    for pod in ("a", "b", "c"):
        points = [
            [when, repr(scrape[pod])]
            for when, scrape in zip(TIMES, SCRAPES, strict=True)
            if pod in scrape
        ]
        metric = {"__name__": "e_total", "pod": pod}
        result.append({"metric": metric, "values": points})
    return {"status": "success", "data": {"resultType": "matrix", "result": result}}


def test_a_dump_sequence_reads_as_the_model(tmp_path: Path) -> None:
    _write_dumps(tmp_path)
    recording = kr.read_dumps([tmp_path])
    _check(recording)
    assert recording.types == ("counter",) * 3
    # b vanished from the third scrape of the same URL: a stale marker there.
    b = [str(s) for s in recording.series].index('e_total{pod="b"}')
    assert recording.stale_markers()[:, b].tolist() == [False, False, True]
    assert recording.sources[1].endswith("scrape-1.prom.gz")


def test_federate_bodies_read_as_the_same_model(tmp_path: Path) -> None:
    paths = []
    for i, body in enumerate(_federate_bodies()):
        paths.append(tmp_path / f"federate-{i}.prom")
        paths[-1].write_bytes(body)
    _check(kr.merge_recordings([kr.read_federate(p) for p in paths]))
    recording = kr.load_recording(paths)
    _check(recording)
    assert recording.types == ("counter",) * 3
    assert not recording.stale_markers().any()


def test_each_timestamp_of_a_federate_body_is_a_row() -> None:
    body = b'x{a="1"} 5 1700000001500\nx{a="2"} 6 1700000000250\ny 7 1700000001500\n'
    recording = kr.read_federate(data=body)
    assert recording.times.tolist() == [1700000000.25, 1700000001.5]
    assert [str(s) for s in recording.series] == ['x{a="1"}', 'x{a="2"}', "y"]
    np.testing.assert_array_equal(
        recording.values, [[np.nan, 6.0, np.nan], [5.0, np.nan, 7.0]]
    )


def test_a_prometheus_matrix_answer_reads_as_the_same_model(tmp_path: Path) -> None:
    path = tmp_path / "answer.json"
    path.write_text(json.dumps(_matrix_answer()))
    _check(kr.read_prometheus_json(path))
    # Without the envelope, as a bare result array, gzip-compressed: the same.
    answer = _matrix_answer()["data"]
    assert isinstance(answer, dict)
    _check(kr.read_prometheus_json(data=json.dumps(answer)))
    _check(kr.read_prometheus_json(data=json.dumps(answer["result"])))
    packed = tmp_path / "answer.json.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    _check(kr.load_recording(packed))


def test_instant_vector_answers_read_as_the_same_model(tmp_path: Path) -> None:
    for i, (when, scrape) in enumerate(zip(TIMES, SCRAPES, strict=True)):
        result = [
            {"metric": {"__name__": "e_total", "pod": pod}, "value": [when, repr(v)]}
            for pod, v in scrape.items()
        ]
        document = {"resultType": "vector", "result": result}
        (tmp_path / f"{i}.json").write_text(
            json.dumps({"data": document} | {"status": "success"})
        )
    _check(kr.load_recording(str(tmp_path / "*.json")))


def test_the_mixture_reads_as_one(tmp_path: Path) -> None:
    # Dumps and an answer that repeats the same samples merge into one recording.
    _write_dumps(tmp_path)
    (tmp_path / "answer.json").write_text(json.dumps(_matrix_answer()))
    _check(kr.load_recording([tmp_path]))


def test_the_flux_answers_of_the_origin() -> None:
    recording = kr.load_recording(FLUX)
    assert len(recording) == 3  # three answers taken at three moments
    assert recording.times.tolist() == [1666394247.901, 1666394356.395, 1666394491.954]
    assert len(recording.series) == 12
    dram = [
        recording.values[2, i]
        for i, s in enumerate(recording.series)
        if s.name == "pod_curr_energy_in_dram_millijoule"
    ]
    assert dram == [23.0, 28.0, 31.0, 23.0]
    assert recording.series[0].get("pod_namespace") == "flux-system"


def test_the_v06_range_answers() -> None:
    # 28 metrics over 561 s at a 3 s step, as name -> result arrays.
    recording = kr.load_recording(REAL_FULL / "v0.6-kind-query-range-results.json.gz")
    assert len(recording) == 188
    assert recording.times[-1] - recording.times[0] == 561.0
    assert len({s.name for s in recording.series}) == 28
    platform = [
        i
        for i, s in enumerate(recording.series)
        if s.name == "kepler_node_platform_joules_total" and s.get("mode") == "dynamic"
    ]
    measured = kr.increase_between(recording, recording.times[0], recording.times[-1])
    assert measured.increase[platform].tolist() == [53892.0]
    assert round(float(measured.per_second[platform[0]]), 1) == 96.1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            '{"status":"error","errorType":"bad_data","error":"parse error"}',
            "<json>: the answer is a Prometheus error (bad_data: parse error).",
            id="error-answer",
        ),
        pytest.param(
            '{"status":"success","data":{"resultType":"scalar","result":[1,"2"]}}',
            "<json>: a scalar answer has no series to read; save the answer of a "
            "vector or matrix query.",
            id="scalar",
        ),
        pytest.param(
            '{"data":{"resultType":"vector","result":[{"value":[1,"2"]}]}}',
            '<json>: result[0] has no "metric" object.',
            id="no-metric",
        ),
        pytest.param(
            '[{"metric":{},"value":[1,"x"]}]',
            "<json>: result[0]: expected [seconds, \"value\"], got [1, 'x'].",
            id="bad-value",
        ),
        pytest.param(
            '{"a":[{"metric":{},"value":[1,"2"]}],"b":3}',
            "<json>: 'b' is not an array of results; expected a Prometheus API answer "
            "or an object mapping names to result arrays.",
            id="not-a-map",
        ),
        pytest.param(
            '[{"metric":{},"values":[[1,"2"],[1,"3"]]}]',
            "<json>: {} has two samples at 1.000 s.",
            id="two-samples-at-once",
        ),
    ],
)
def test_bad_json_answers(text: str, message: str) -> None:
    with pytest.raises(kr.DataError) as caught:
        kr.read_prometheus_json(data=text)
    assert str(caught.value) == message


def test_unreadable_and_untimed_inputs(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"status": ')
    with pytest.raises(kr.DumpError, match=r"broken\.json: not valid JSON"):
        kr.load_recording(broken)
    with pytest.raises(kr.DumpError, match=r"nothing-\*\.prom: no file matches"):
        kr.load_recording(str(tmp_path / "nothing-*.prom"))
    plain = tmp_path / "curl.prom"
    plain.write_bytes(b"e_total 1\n")
    with pytest.raises(kr.MissingIntervalError) as caught:
        kr.load_recording(plain)
    assert str(caught.value) == (
        f"{plain}: the dump has no '# kepler-reader scraped_at=' line; give each "
        "file's time (times=, or --times on the command line)."
    )
    assert kr.load_recording(plain, times=[5.0]).times.tolist() == [5.0]
    mixed = tmp_path / "mixed.prom"
    mixed.write_bytes(b"a 1 1000\nb 2\n")
    with pytest.raises(kr.DataError, match=r"mixed\.prom: b has no timestamp"):
        kr.read_federate(mixed)


def test_conflicting_files_are_refused(tmp_path: Path) -> None:
    one = tmp_path / "one.json"
    two = tmp_path / "two.json"
    one.write_text('[{"metric":{"__name__":"x"},"value":[1,"2"]}]')
    two.write_text('[{"metric":{"__name__":"x"},"value":[1,"3"]}]')
    with pytest.raises(kr.DataError, match=r"two\.json: x at 1\.000 s differs"):
        kr.load_recording([one, two])


def test_stale_markers_are_per_target(tmp_path: Path) -> None:
    # Two nodes' dumps interleaved in time: a series of node A is not stale in the
    # rows of node B's scrapes, only once a later scrape of A lacks it.
    scrapes = [
        ("a", 10.0, b'e_total{node="a"} 1\n'),
        ("b", 11.0, b'e_total{node="b"} 5\n'),
        ("a", 20.0, b'e_total{node="a"} 2\n'),
        ("b", 21.0, b"other 1\n"),
    ]
    for i, (node, when, body) in enumerate(scrapes):
        kr.write_dump(
            tmp_path / f"{i}.prom", body, scraped_at=when, url=f"http://{node}/metrics"
        )
    recording = kr.read_dumps([tmp_path])
    stale = recording.stale_markers()
    a = recording.column(kr.Series("e_total", (("node", "a"),)))
    b = recording.column(kr.Series("e_total", (("node", "b"),)))
    assert stale[:, a].tolist() == [False, False, False, False]
    assert stale[:, b].tolist() == [False, False, False, True]
    found = kr.query(recording, 'e_total{node="a"}', at=21.0)
    assert found.by_labels() == {(("__name__", "e_total"), ("node", "a")): 2.0}
    assert len(kr.query(recording, 'e_total{node="b"}', at=21.0)) == 0


def test_the_kind_of_a_file_is_told_by_its_content() -> None:
    assert kr.readers.sniff_kind(b"# kepler-reader record=1 kind=scrape\n") == (
        "recording"
    )
    assert kr.readers.sniff_kind(b'  {"status":"success"}') == "json"
    assert kr.readers.sniff_kind(b"[]") == "json"
    assert kr.readers.sniff_kind(b"# TYPE a counter\na_total 1 1700000000000\n") == (
        "federate"
    )
    assert kr.readers.sniff_kind(b'a{l="x y"} 1 1700000000000\n') == "federate"
    assert kr.readers.sniff_kind(b'a{l="x y"} 1\n') == "dump"
    header = b"# kepler-reader scraped_at=2026-12-03T10:00:00.123Z url=http://x/\n"
    assert kr.readers.sniff_kind(header + b"a 1 1700000000000\n") == "dump"


def _good_recording(path: Path) -> Path:
    first = (KEPLER / "v0.11-node-a.prom").read_bytes()
    second = (KEPLER / "v0.11-node-a.t3.prom").read_bytes()
    with kr.RecordingWriter(path) as writer:
        writer.write(1000.0, "http://127.0.0.1:1/metrics", first, node="node-a")
        writer.write(1003.0, "http://127.0.0.1:1/metrics", second, node="node-a")
    return path


def _pipe_holding(data: bytes) -> tuple[str, int]:
    """A pipe whose writer has sent ``data`` and hung up; its /dev/fd path."""
    read_end, write_end = os.pipe()
    os.write(write_end, data[:60000])  # within the pipe's buffer
    os.close(write_end)
    return f"/dev/fd/{read_end}", read_end


def test_a_pipe_is_refused_never_read_as_empty(tmp_path: Path) -> None:
    good = _good_recording(tmp_path / "good.krec")
    path, fd = _pipe_holding(good.read_bytes())
    try:
        message = (
            f"{path}: a pipe or FIFO; save it to a regular file and give that path."
        )
        with pytest.raises(kr.DumpError) as caught:
            kr.load_recording(path)
        assert str(caught.value) == message
        with pytest.raises(kr.RecordingError) as refused:
            list(kr.iter_records(path))
        assert str(refused.value) == message
        with pytest.raises(kr.RecordingError):
            kr.read_recording(path)
        with pytest.raises(kr.ResultsFileError) as results:
            kr.read_results([path])
        assert str(results.value) == message
        # read_dump reads an open descriptor once, as 'parse -' does: see
        # tests/test_cli.py::test_parse_reads_standard_input_and_process_substitution.
    finally:
        os.close(fd)


@pytest.mark.parametrize(
    "command",
    [
        ["query", "{fifo}", "count(kepler_node_platform_joules_total)"],
        ["compare", "{fifo}", "{good}"],
        ["compare", "{good}", "{fifo}"],
    ],
)
def test_a_fifo_is_an_error_not_a_hang(tmp_path: Path, command: list[str]) -> None:
    fifo = tmp_path / "fifo.krec"
    os.mkfifo(fifo)
    good = _good_recording(tmp_path / "good.krec")
    args = [part.format(fifo=fifo, good=good) for part in command]
    # Without a writer, opening the FIFO would block: the timeout ends such a run.
    done = subprocess.run(
        [sys.executable, "-m", "kepler_reader", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode in range(1, 6)
    assert done.stdout == ""
    assert done.stderr == (
        f"kepler-reader: error: {fifo}: a pipe or FIFO; save it to a regular file "
        "and give that path.\n"
    )


def test_a_recording_is_sniffed_from_its_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kepler_reader import readers

    good = _good_recording(tmp_path / "good.krec")
    whole = kr.read_recording(good)
    # A dump limit far below the recording's size: the recording is still read whole
    # (under the recorder's own limits), while a gzip dump over it is refused.
    monkeypatch.setattr(readers._read_bytes, "__defaults__", (1000,))
    loaded = kr.load_recording(good)
    assert loaded.times.tolist() == whole.times.tolist() == [1000.0, 1003.0]
    np.testing.assert_array_equal(loaded.values, whole.values)
    dump = tmp_path / "big.prom.gz"
    dump.write_bytes(gzip.compress((KEPLER / "v0.11-node-a.prom").read_bytes()))
    with pytest.raises(kr.LimitExceededError):
        kr.load_recording(dump)
