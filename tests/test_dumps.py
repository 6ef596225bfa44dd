"""Saved dumps: the scrape-time header, gzip, and errors that name the file."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

import kepler_reader as kr
from kepler_reader.dumps import dump_header, read_header, redact_url
from tests.paths import KEPLER

BODY = (KEPLER / "v0.9.0-node-a.prom").read_bytes()
WHEN = 1796292000.123  # 2026-12-03T10:00:00.123Z


def test_header_round_trip() -> None:
    header = dump_header(WHEN, "http://10.0.0.7:9102/metrics")
    assert header == (
        b"# kepler-reader scraped_at=2026-12-03T10:00:00.123Z "
        b"url=http://10.0.0.7:9102/metrics\n"
    )
    found = read_header(header + BODY)
    assert found is not None
    assert found[0] == pytest.approx(WHEN, abs=1e-3)
    assert found[1] == "http://10.0.0.7:9102/metrics"


def test_header_drops_credentials() -> None:
    header = dump_header(WHEN, "https://kepler:hunter2@node-a:8443/metrics")
    assert b"hunter2" not in header
    assert b"kepler@" not in header
    assert redact_url("https://u:p@h:1/m?x=1") == "https://h:1/m?x=1"


def test_plain_curl_dump_has_no_time(tmp_path: Path) -> None:
    path = tmp_path / "curl.prom"
    path.write_bytes(BODY)
    snap = kr.read_dump(path)
    assert snap.scraped_at is None
    assert snap.source == str(path)
    assert kr.read_dump(path, scraped_at=WHEN).scraped_at == WHEN


def test_write_then_read(tmp_path: Path) -> None:
    path = tmp_path / "dump.prom"
    kr.write_dump(path, BODY, scraped_at=WHEN, url="http://node-a:9102/metrics")
    snap = kr.read_dump(path)
    assert snap.scraped_at == pytest.approx(WHEN, abs=1e-3)
    assert len(snap) == len(kr.parse(BODY))
    assert os.listdir(tmp_path) == ["dump.prom"]  # no temporary file left behind


def test_gzip_is_recognised_by_magic_bytes(tmp_path: Path) -> None:
    path = tmp_path / "no-suffix"
    path.write_bytes(gzip.compress(dump_header(WHEN, "http://x/metrics") + BODY))
    snap = kr.read_dump(path)
    assert snap.scraped_at == pytest.approx(WHEN, abs=1e-3)
    assert snap.values.tolist() == kr.parse(BODY).values.tolist()


def test_corrupt_gzip_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.prom.gz"
    path.write_bytes(gzip.compress(BODY)[:200])
    with pytest.raises(kr.DumpError) as caught:
        kr.read_dump(path)
    assert caught.value.path == str(path)
    assert "gzip stream is cut off" in str(caught.value)


def test_parse_errors_count_the_header_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.prom"
    path.write_bytes(dump_header(WHEN, "http://x/metrics") + b"ok 1\nbad{ 2\n")
    with pytest.raises(kr.ParseError) as caught:
        kr.read_dump(path)
    assert (caught.value.source, caught.value.line) == (str(path), 3)


def test_unwritable_folder_is_a_dump_error(tmp_path: Path) -> None:
    with pytest.raises(kr.DumpError, match="cannot write the dump"):
        kr.write_dump(tmp_path / "missing" / "x.prom", BODY, scraped_at=WHEN, url="u")


def test_html_and_json_files_are_refused(tmp_path: Path) -> None:
    from tests.paths import CASES

    page = tmp_path / "login.prom"
    page.write_bytes((CASES / "36-content-type-and-openmetrics.html").read_bytes())
    with pytest.raises(kr.DumpError, match="HTML page"):
        kr.read_dump(page)
    answer = tmp_path / "answer.json"
    answer.write_bytes(
        b'{"status":"success","data":{"resultType":"vector","result":[]}}'
    )
    with pytest.raises(kr.DumpError, match="Prometheus API answer"):
        kr.read_dump(answer)


def test_gzip_bomb_dump_stops_at_the_cap(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.prom.gz"
    bomb.write_bytes(gzip.compress(b"a 1\n" * (4 << 20)))
    with pytest.raises(kr.LimitExceededError) as caught:
        kr.read_dump(bomb, max_bytes=1 << 20)
    assert caught.value.limit == "max_body_bytes"


def test_concatenated_gzip_members(tmp_path: Path) -> None:
    path = tmp_path / "two.gz"
    path.write_bytes(gzip.compress(b"a 1\n") + gzip.compress(b"b 2\n"))
    assert kr.read_dump(path).values.tolist() == [1.0, 2.0]
