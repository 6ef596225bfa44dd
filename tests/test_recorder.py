"""Recording files: written, read back, torn, resumed, refused, over their limits."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kepler_reader as kr
from kepler_reader.recorder import Gap, Record, RecordingWarning
from tests.paths import KEPLER

V011 = (KEPLER / "v0.11-node-a.prom").read_bytes()
V011_T3 = (KEPLER / "v0.11-node-a.t3.prom").read_bytes()
URL = "http://127.0.0.1:28282/metrics"


def small(i: int) -> bytes:
    return f'# TYPE e_total counter\ne_total{{pod="p"}} {i * 1.5}\nbody {i}\n'.encode()


def write_small(path: Path, count: int) -> list[int]:
    """Write ``count`` small records; return the file size after each one."""
    ends = []
    with kr.RecordingWriter(path) as writer:
        for i in range(count):
            writer.write(1000.0 + i, URL, small(i), node="node-a")
            ends.append(writer.size)
    return ends


def bodies_of(path: Path) -> list[bytes]:
    return [record.body for record in kr.iter_records(path)]


def test_round_trip_equals_read_dump(tmp_path: Path) -> None:
    path = tmp_path / "node-a.krec"
    times = [1796340000.123456, 1796340003.25]
    with kr.RecordingWriter(path) as writer:
        secret = "http://user:secret@127.0.0.1:28282/metrics"
        writer.write(times[0], secret, V011, node="node-a")
        writer.write_gap(1796340001.5, URL, "no answer within 10 s", node="node-a")
        plain = "text/plain; version=0.0.4"
        writer.write(times[1], URL, V011_T3, node="node-a", content_type=plain)
        assert writer.records == 3
    assert b"secret" not in gzip.decompress(path.read_bytes())

    items = list(kr.iter_records(path, gaps=True))
    assert items == [
        Record(times[0], URL, "node-a", V011),
        Gap(1796340001.5, URL, "node-a", "no answer within 10 s"),
        Record(times[1], URL, "node-a", V011_T3),
    ]
    assert [type(r) for r in kr.iter_records(path)] == [Record, Record]

    recording = kr.read_recording(path)
    assert recording.times.tolist() == times
    assert recording.sources == (URL, URL)
    for row, body in enumerate((V011, V011_T3)):
        dump = tmp_path / f"{row}.prom"
        kr.write_dump(dump, body, scraped_at=times[row], url=URL)
        expected = kr.read_dump(dump)
        columns = [recording.column(series) for series in expected.series]
        np.testing.assert_array_equal(recording.values[row, columns], expected.values)
        assert int(recording.present[row].sum()) == len(expected.series)


def test_recording_deltas_match_expected(tmp_path: Path) -> None:
    path = tmp_path / "r.krec"
    with kr.RecordingWriter(path) as writer:
        writer.write(100.0, URL, V011, node="node-a")
        writer.write(103.0, URL, V011_T3, node="node-a")
    recording = kr.read_recording(path, families=["kepler_pod_cpu_joules_total"])
    column = next(
        i
        for i, s in enumerate(recording.series)
        if s.get("pod_name") == "checkout-api-6c8f9d7b5-m2w9x"
        and s.get("zone") == "package"
    )
    assert np.diff(recording.values[:, column])[0] == pytest.approx(8.453447, abs=1e-6)
    assert all(s.name == "kepler_pod_cpu_joules_total" for s in recording.series)


def test_every_torn_tail_keeps_the_complete_records(tmp_path: Path) -> None:
    source = tmp_path / "whole.krec"
    ends = write_small(source, 3)
    data = source.read_bytes()
    torn = tmp_path / "torn.krec"
    for cut in range(ends[0] + 1, len(data)):
        torn.write_bytes(data[:cut])
        complete = sum(1 for end in ends if end <= cut)
        if cut in ends:
            assert bodies_of(torn) == [small(i) for i in range(complete)]
            continue
        with pytest.warns(RecordingWarning, match=r"last record \(bytes \d+ to \d+\)"):
            recording = kr.read_recording(torn)
        assert len(recording) == complete, cut
        assert recording.values[:, 0].tolist() == [i * 1.5 for i in range(complete)]


def test_zero_filled_tail_is_torn_and_resume_cuts_it(tmp_path: Path) -> None:
    path = tmp_path / "r.krec"
    ends = write_small(path, 2)
    with path.open("ab") as handle:
        handle.write(b"\0" * 5000)
    with pytest.warns(RecordingWarning, match="incomplete"):
        assert bodies_of(path) == [small(0), small(1)]
    with kr.RecordingWriter(path) as writer:
        assert writer.records == 2
        assert path.stat().st_size == ends[-1]
        writer.write(1002.0, URL, small(2), node="node-a")
    assert bodies_of(path) == [small(0), small(1), small(2)]


def test_resume_appends_after_the_last_complete_record(tmp_path: Path) -> None:
    path = tmp_path / "r.krec"
    ends = write_small(path, 2)
    with kr.RecordingWriter(path) as writer:
        assert (writer.records, writer.size) == (2, ends[-1])
        writer.write(1002.0, URL, small(2), node="node-a")
    # A torn third record, as a kill mid-write leaves it, then a restart.
    whole = path.read_bytes()
    path.write_bytes(whole[: ends[-1] + 25])
    with kr.RecordingWriter(path) as writer:
        assert (writer.records, writer.size) == (2, ends[-1])
        writer.write(1003.0, URL, small(3), node="node-a")
    assert bodies_of(path) == [small(0), small(1), small(3)]


def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.krec"
    with (
        kr.RecordingWriter(path),
        pytest.raises(kr.RecordingError, match="another process is writing"),
    ):
        kr.RecordingWriter(path)


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(V011, id="a plain dump"),
        pytest.param(gzip.compress(V011), id="a gzip dump"),
    ],
)
def test_other_files_are_never_truncated(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "dump.prom"
    path.write_bytes(content)
    with pytest.raises(kr.RecordingError, match="not a kepler-reader recording"):
        kr.RecordingWriter(path)
    assert path.read_bytes() == content


def test_a_cut_off_gzip_file_that_is_not_a_recording_is_kept(
    tmp_path: Path,
) -> None:
    path = tmp_path / "download.gz"
    content = gzip.compress(V011)[:5000]
    path.write_bytes(content)
    with pytest.raises(kr.RecordingError, match="byte 0 starts neither a record"):
        kr.RecordingWriter(path)
    assert path.read_bytes() == content
    # The same cut in a recording's first record is a torn tail, and is cut off.
    with kr.RecordingWriter(tmp_path / "r.krec") as writer:
        writer.write(1.0, URL, V011, node="a")
    torn = (tmp_path / "r.krec").read_bytes()[:5000]
    path.write_bytes(torn)
    with kr.RecordingWriter(path) as writer:
        assert (writer.records, writer.size) == (0, 0)


def test_corrupt_middle_record(tmp_path: Path) -> None:
    path = tmp_path / "r.krec"
    ends = write_small(path, 3)
    data = bytearray(path.read_bytes())
    data[ends[0] + 15] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(kr.RecordingError, match=f"record at byte {ends[0]}") as caught:
        kr.read_recording(path)
    assert caught.value.offset == ends[0]
    assert isinstance(caught.value, kr.DumpError)
    with pytest.warns(RecordingWarning, match=f"corrupt bytes at byte {ends[0]}"):
        assert bodies_of_lenient(path) == [small(0), small(2)]
    with pytest.raises(kr.RecordingError, match="corrupt"):
        kr.RecordingWriter(path)


def bodies_of_lenient(path: Path) -> list[bytes]:
    return [
        r.body for r in kr.iter_records(path, lenient=True) if isinstance(r, Record)
    ]


def test_a_body_that_does_not_match_its_checksum(tmp_path: Path) -> None:
    path = tmp_path / "r.krec"
    write_small(path, 1)
    (record,) = kr.iter_records(path)
    header = gzip.decompress(path.read_bytes()).split(b"\n", 1)[0]
    forged = (
        header + b"\n" + record.body.replace(b"1.5", b"9.5").replace(b"0.0", b"1.0")
    )
    with path.open("ab") as handle:
        handle.write(gzip.compress(forged))
    with pytest.raises(kr.RecordingError, match="SHA-256 differs"):
        list(kr.iter_records(path))
    with pytest.warns(RecordingWarning, match="It was skipped"):
        assert bodies_of_lenient(path) == [small(0)]


def test_limits_are_named(tmp_path: Path) -> None:
    path = tmp_path / "r.krec"
    write_small(path, 2)
    with pytest.raises(kr.LimitExceededError, match="max_record_bytes=50") as caught:
        kr.read_recording(path, max_record_bytes=50)
    assert (caught.value.limit, caught.value.value) == ("max_record_bytes", 50)
    with pytest.raises(kr.LimitExceededError, match="max_file_bytes=100") as caught:
        list(kr.iter_records(path, max_file_bytes=100))
    assert caught.value.limit == "max_file_bytes"
    with kr.RecordingWriter(path, max_record_bytes=1000) as writer:
        with pytest.raises(kr.LimitExceededError, match="max_record_bytes=1000"):
            writer.write(1.0, URL, b"x" * 1000, node="n")
        assert writer.records == 2


def test_several_endpoints_get_an_instance_label(tmp_path: Path) -> None:
    path = tmp_path / "r.krec"
    other = "http://127.0.0.1:28283/metrics"
    with kr.RecordingWriter(path) as writer:
        writer.write(10.0, URL, b'up 1\nx{instance="i"} 2\n', node="a")
        writer.write(11.0, other, b"up 3\n", node="b")
        writer.write(12.0, URL, b"up 4\n", node="a")
    recording = kr.read_recording(path)
    assert recording.sources == (URL, other, URL)
    assert [str(s) for s in recording.series] == [
        'up{instance="127.0.0.1:28282"}',
        'x{exported_instance="i",instance="127.0.0.1:28282"}',
        'up{instance="127.0.0.1:28283"}',
    ]
    np.testing.assert_array_equal(
        recording.values, [[1, 2, np.nan], [np.nan, np.nan, 3], [4, np.nan, np.nan]]
    )
    merged = kr.read_recording(path, instance_label=False)
    assert merged.values[:, 0].tolist() == [1.0, 3.0, 4.0]


def test_several_files_and_lenient_bodies(tmp_path: Path) -> None:
    first, second = tmp_path / "1.krec", tmp_path / "2.krec"
    with kr.RecordingWriter(second) as writer:
        writer.write(20.0, URL, b"up 2\nbad line here\n", node="a")
    write_small(first, 1)
    with pytest.raises(kr.ParseError, match=r"2\.krec \(record at byte 0\):2:"):
        kr.read_recording([first, second])
    with pytest.warns(RecordingWarning, match="1 bad lines were skipped"):
        recording = kr.read_recording([second, first], lenient=True)
    assert recording.times.tolist() == [1000.0, 20.0][::-1]


def test_unreadable_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(kr.RecordingError, match=r"missing\.krec: cannot read"):
        kr.read_recording(tmp_path / "missing.krec")
    empty = tmp_path / "empty.krec"
    with kr.RecordingWriter(empty):
        pass
    assert len(kr.read_recording(empty)) == 0


def test_vanished_folder_stops_with_earlier_records_intact(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    writer = kr.RecordingWriter(folder / "r.krec")
    writer.write(1.0, URL, small(1), node="a")
    folder.rename(tmp_path / "moved")
    with pytest.raises(kr.RecordingError, match="gone from its path") as caught:
        writer.write(2.0, URL, small(2), node="a")
    assert "after its 1 records" in str(caught.value)
    with pytest.raises(kr.RecordingError, match="gone from its path"):
        writer.write(3.0, URL, small(3), node="a")
    writer.close()
    assert bodies_of(tmp_path / "moved" / "r.krec") == [small(1)]

    (tmp_path / "again").mkdir()
    with kr.RecordingWriter(tmp_path / "again" / "r.krec") as removed:
        shutil.rmtree(tmp_path / "again")
        with pytest.raises(kr.RecordingError, match="gone from its path"):
            removed.write(1.0, URL, small(1), node="a")


FULL_DISK = """
import os, resource, signal, sys
from kepler_reader import RecordingWriter, RecordingError
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, 40_000))
writer = RecordingWriter(sys.argv[1])
try:
    for i in range(100):
        writer.write(1000.0 + i, "http://127.0.0.1:1/metrics",
                     os.urandom(3000).hex().encode() + b"\\n", node="a")
except RecordingError as error:
    print(writer.records, writer.size)
    print(error)
"""


def test_a_full_disk_stops_without_corrupting(tmp_path: Path) -> None:
    path = tmp_path / "r.krec"
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    counts, message = done.stdout.splitlines()
    records, size = map(int, counts.split())
    assert records >= 3
    assert message == (
        f"{path}: cannot append a record (File too large); the {records} records "
        "before it are intact."
    )
    assert path.stat().st_size == size
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(bodies_of(path)) == records
    assert os.access(path, os.R_OK)


def _small_file(tmp: Path) -> bytes:
    path = tmp / "seed.krec"
    if not path.exists():
        with kr.RecordingWriter(path, fsync=False) as writer:
            for i in range(3):
                writer.write(1000.0 + i, URL, small(i), node="node-a")
            writer.write_gap(1003.0, URL, "refused", node="node-a")
    return path.read_bytes()


@settings(max_examples=300, deadline=None)
@given(
    edits=st.lists(
        st.tuples(st.integers(0, 10_000), st.integers(0, 255), st.sampled_from("fid")),
        min_size=1,
        max_size=4,
    ),
    lenient=st.booleans(),
)
def test_damaged_files_raise_only_documented_errors(
    tmp_path_factory: pytest.TempPathFactory,
    edits: list[tuple[int, int, str]],
    lenient: bool,
) -> None:
    folder = tmp_path_factory.getbasetemp() / "damaged"
    folder.mkdir(exist_ok=True)
    data = bytearray(_small_file(folder))
    for at, byte, kind in edits:
        at %= len(data) + 1
        if kind == "f" and at < len(data):
            data[at] ^= byte or 1
        elif kind == "i":
            data[at:at] = bytes([byte])
        else:
            del data[at:]
    path = folder / "damaged.krec"
    path.write_bytes(bytes(data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecordingWarning)
        try:
            records = list(kr.iter_records(path, gaps=True, lenient=lenient))
        except (kr.RecordingError, kr.LimitExceededError):
            return
        # What reads back is what was written: damage never alters a record.
        originals = set(kr.iter_records(folder / "seed.krec", gaps=True))
        assert set(records) <= originals
        try:
            kr.RecordingWriter(path, fsync=False).close()
        except kr.RecordingError:
            return


@pytest.mark.parametrize(
    ("scraped_at", "error", "words"),
    [
        (float("nan"), ValueError, "scraped_at=nan"),
        (float("inf"), ValueError, "scraped_at=inf"),
        (1e12, ValueError, "scraped_at=1000000000000.0"),
        (-1e12, ValueError, "scraped_at=-1000000000000.0"),
        ("1000", TypeError, "not str"),
    ],
)
def test_bad_times_are_refused_before_writing(
    tmp_path: Path, scraped_at: object, error: type[Exception], words: str
) -> None:
    path = tmp_path / "r.krec"
    with kr.RecordingWriter(path) as writer:
        writer.write(1000.0, URL, small(0), node="node-a")
        with pytest.raises(error, match=words):
            writer.write(scraped_at, URL, small(1), node="node-a")  # type: ignore[arg-type]
        with pytest.raises(error, match=words):
            writer.write_gap(scraped_at, URL, "timeout", node="node-a")  # type: ignore[arg-type]
        writer.write(1001.0, URL, small(2), node="node-a")
    assert bodies_of(path) == [small(0), small(2)]


def test_a_str_body_is_a_type_error(tmp_path: Path) -> None:
    path = tmp_path / "r.krec"
    with kr.RecordingWriter(path) as writer:
        with pytest.raises(
            TypeError,
            match=r"body must be bytes \(the exposition as received\), not str",
        ):
            writer.write(1000.0, URL, small(0).decode(), node="node-a")  # type: ignore[arg-type]
        assert writer.records == 0
    assert path.stat().st_size == 0


@pytest.mark.parametrize(
    ("options", "error", "words"),
    [
        ({"compresslevel": 99}, ValueError, "compresslevel=99"),
        ({"compresslevel": -1}, ValueError, "compresslevel=-1"),
        ({"compresslevel": "6"}, TypeError, "compresslevel must be an int"),
        ({"max_record_bytes": 0}, ValueError, "max_record_bytes=0"),
    ],
)
def test_bad_writer_options_create_no_file(
    tmp_path: Path, options: dict[str, object], error: type[Exception], words: str
) -> None:
    path = tmp_path / "r.krec"
    with pytest.raises(error, match=words):
        kr.RecordingWriter(path, **options)  # type: ignore[arg-type]
    assert not path.exists()


def test_a_fifo_is_not_written_to(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.krec"
    os.mkfifo(fifo)
    with pytest.raises(kr.RecordingError) as caught:
        kr.RecordingWriter(fifo)
    assert str(caught.value) == (
        f"{fifo}: not a regular file; a recording is written to one."
    )
