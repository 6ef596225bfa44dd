"""The public bug-report cases of kind parse / parse-error, text format 0.0.4.

Each test is named after its case file in fixtures/cases/ and checks what its .md says.
"""

from __future__ import annotations

import math

import pytest

import kepler_reader as kr
from kepler_reader.histogram import histograms
from tests.paths import CASES

pytestmark = pytest.mark.usefixtures("parse_mode")


def case(name: str) -> bytes:
    return (CASES / name).read_bytes()


def labels_and_values(
    snap: kr.Snapshot, family: str | None = None
) -> list[tuple[dict[str, str], float]]:
    return [(s.series.labels_dict, s.value) for s in snap.samples(family)]


def test_01_label_value_escapes() -> None:
    snap = kr.parse(case("01-label-value-escapes.prom"))
    disk = labels_and_values(snap, "disk_capacity_bytes")
    assert disk == [
        ({"partition": "F:\\", "vm_name": "vm-01"}, 21064335360.0),
        ({"partition": "C:\\Program Files\\", "vm_name": "vm-02"}, 1024.0),
    ]
    assert len(disk[0][0]["partition"]) == 3
    probes = [labels["name"] for labels, _ in labels_and_values(snap, "name_probe")]
    assert probes == ['"bar"', "line1\nline2", "back\\slash and \\n literal", '\\"']
    assert [len(p) for p in probes] == [5, 11, 25, 2]
    family = snap.family("disk_capacity_bytes")
    assert family is not None
    assert family.help == (
        "Capacity of a guest disk. Windows paths use \\ as separator."
        "\nSecond help line."
    )


def test_02_unescaped_quote_strict_names_line_3() -> None:
    with pytest.raises(kr.ParseError) as caught:
        kr.parse(case("02-unescaped-quote-in-label-value.prom"), source="02.prom")
    error = caught.value
    assert error.line == 3
    assert error.column == 39
    assert str(error) == (
        "02.prom:3:39: expected ',' or '}' after the value of label 'name', found "
        "'registry R/W\",id'...\n"
        '    token_days_remaining{name="laptop 14" registry R/W",id="218",'
        'type="user"} -794\n'
        "                                          ^"
    )


def test_02_unescaped_quote_lenient_keeps_line_4() -> None:
    snap = kr.parse(case("02-unescaped-quote-in-label-value.prom"), lenient=True)
    assert [e.line for e in snap.errors] == [3]
    assert "after the value of label 'name'" in snap.errors[0].message
    assert labels_and_values(snap) == [
        ({"name": "ci-token", "id": "219", "type": "project"}, 30.0)
    ]
    family = snap.family("token_days_remaining")
    assert family is not None
    assert (family.type, family.help) == (
        "gauge",
        "Days until the access token expires",
    )


def test_02_variant_unquoted_label_value() -> None:
    with pytest.raises(kr.ParseError) as caught:
        kr.parse(b"http_requests_total{code=200} 20\n")
    assert caught.value.line == 1
    assert caught.value.reason == "the value of label 'code' must start with '\"'"


def test_04_raw_newline_strict() -> None:
    with pytest.raises(kr.ParseError) as caught:
        kr.parse(case("04-raw-newline-in-label-value.prom"))
    assert caught.value.line == 3
    assert caught.value.reason == (
        "the value of label 'version' contains an unescaped line feed (the line ends "
        "inside the quoted value)"
    )


def test_04_raw_newline_lenient_keeps_the_histogram() -> None:
    snap = kr.parse(case("04-raw-newline-in-label-value.prom"), lenient=True)
    assert [e.line for e in snap.errors] == [3, 4]
    assert snap.errors[1].message == (
        "expected a metric name or '#' at the start of the "
        'line, found \'",le="0.005"} 1\''
    )
    family = snap.family("request_duration")
    assert family is not None
    assert family.type == "histogram"
    (hist,) = histograms(snap, "request_duration")
    assert hist.labels == (("method", "/echo"), ("version", "v1"))
    assert hist.upper_bounds.tolist() == [0.005, math.inf]
    assert hist.cumulative_counts.tolist() == [1.0, 1.0]
    assert (hist.sum, hist.count) == (0.004, 1.0)
    assert all("unknown\n" not in s.labels_dict.get("version", "") for s in snap.series)


def test_05_invalid_escapes_strict() -> None:
    with pytest.raises(kr.ParseError) as caught:
        kr.parse(case("05-invalid-escape-sequence.prom"))
    assert caught.value.line == 2
    assert "'\\\\u'" in caught.value.reason


def test_05_invalid_escapes_lenient() -> None:
    snap = kr.parse(case("05-invalid-escape-sequence.prom"), lenient=True)
    assert [e.line for e in snap.errors] == [2, 4]
    assert "'\\\\u'" in snap.errors[0].message
    assert "'\\\\t'" in snap.errors[1].message
    assert labels_and_values(snap) == [({"target": "a<b", "job": "direct"}, 1.0)]


def test_07_repeated_blocks_strict() -> None:
    with pytest.raises(kr.ParseError) as caught:
        kr.parse(case("07-repeated-metric-family-blocks.prom"))
    assert caught.value.line == 4
    assert (
        caught.value.reason
        == "second HELP line for metric family pool_objects_repaired"
    )


def test_07_repeated_blocks_lenient_merge() -> None:
    snap = kr.parse(case("07-repeated-metric-family-blocks.prom"), lenient=True)
    assert [(f.name, f.type) for f in snap.families] == [
        ("pool_objects_repaired", "counter"),
        ("light_8618", "counter"),
    ]
    assert snap.families[0].help == "Number of objects repaired in a pool"
    assert labels_and_values(snap, "pool_objects_repaired") == [
        ({"poolid": "3"}, 0.0),
        ({"poolid": "1"}, 0.0),
    ]
    assert labels_and_values(snap, "light_8618") == [
        ({"set_id": "0", "classify_id": "1068578"}, 19264182.0),
        ({}, 18914014.0),
    ]
    assert [s.name for s in snap.series] == [
        "pool_objects_repaired",
        "pool_objects_repaired",
        "light_8618",
        "light_8618",
    ]
    assert [w.line for w in snap.warnings] == [4, 5, 9]
    assert snap.errors == ()


@pytest.mark.parametrize("lenient", [False, True])
def test_07_conflicting_type_is_an_error_in_both_modes(lenient: bool) -> None:
    body = b"# TYPE a counter\na 1\n# TYPE a gauge\n"
    if not lenient:
        with pytest.raises(kr.ParseError) as caught:
            kr.parse(body)
        assert caught.value.line == 3
        return
    snap = kr.parse(body, lenient=True)
    assert [e.line for e in snap.errors] == [3]
    assert "second TYPE line for metric family a says 'gauge'" in snap.errors[0].message
    assert snap.families[0].type == "counter"


def test_08_untyped_family_stays_one_family() -> None:
    snap = kr.parse(case("08-untyped-family-grouping.prom"))
    assert [(f.name, f.type, f.help) for f in snap.families] == [
        ("redis_connected_clients", "untyped", "Redis connected clients")
    ]
    assert labels_and_values(snap) == [
        ({"instance": "cache-a", "port": "6380"}, 10.0),
        ({"instance": "cache-a", "port": "6381"}, 12.0),
    ]


def test_09_bom_and_crlf() -> None:
    snap = kr.parse(case("09-bom-and-crlf.prom"))
    assert [(f.name, f.type) for f in snap.families] == [
        ("dotnet_collection_errors_total", "counter"),
        ("iot_sensor", "gauge"),
        ("req_summary", "summary"),
    ]
    assert snap.families[0].help == "Number of errors that occurred during collections"
    assert labels_and_values(snap, "iot_sensor") == [
        ({"date": "8:54:15", "sensor": "0"}, 25.88),
        ({"date": "8:54:15", "sensor": "1"}, 21.0),
    ]
    assert labels_and_values(snap, "req_summary") == [
        ({"quantile": "0.5"}, 0.1),
        ({}, 3.0),
        ({}, 30.0),
    ]
    assert [w.line for w in snap.warnings] == [1, None]
    assert "byte-order mark" in snap.warnings[0].message
    assert "carriage return" in snap.warnings[1].message
    assert not any("\r" in str(s) for s in snap.series)


def test_09_bom_elsewhere_is_data() -> None:
    with pytest.raises(kr.ParseError) as caught:
        kr.parse(b"a 1\n\xef\xbb\xbfb 2\n")
    assert caught.value.line == 2


def test_09_lone_carriage_return_inside_a_label_value_stays() -> None:
    snap = kr.parse(b'a{x="one\rtwo"} 1\n')
    assert snap.series[0].labels_dict == {"x": "one\rtwo"}


def test_11_missing_final_newline_lenient() -> None:
    snap = kr.parse(case("11-missing-final-newline.prom"), lenient=True)
    assert [(f.name, f.type) for f in snap.families] == [
        ("deleted_pods_total", "counter"),
        ("fewer_replicas_seconds", "untyped"),
    ]
    assert snap.values.tolist() == [17.0, 51.0]
    assert [(w.line, w.message) for w in snap.warnings] == [
        (3, "The input does not end with a line feed (line 3).")
    ]
    assert not snap.truncated


def test_11_missing_final_newline_strict() -> None:
    with pytest.raises(kr.ParseError) as caught:
        kr.parse(case("11-missing-final-newline.prom"))
    assert caught.value.line == 3
    assert caught.value.reason.startswith("unexpected end of input")


def test_12_truncated_file_strict() -> None:
    with pytest.raises(kr.ParseError) as caught:
        kr.parse(case("12-truncated-body.prom"))
    assert caught.value.line == 4
    assert caught.value.reason == (
        "unexpected end of input inside the value of label 'zone': the body is cut off"
    )


def test_12_truncated_file_lenient_is_flagged_and_refused_by_diff() -> None:
    snap = kr.parse(case("12-truncated-body.prom"), lenient=True)
    assert snap.truncated
    assert [e.line for e in snap.errors] == [4]
    assert labels_and_values(snap)[0][1] == 120.5
    assert snap.series[0].get("pod_name") == "web-1"
    whole = kr.parse(case("12-truncated-body.full.prom"))
    with pytest.raises(kr.DataError, match="cut off"):
        kr.diff(snap, whole, interval=30)
    result = kr.diff(snap, whole, interval=30, allow_truncated=True)
    assert any("cut off" in w for w in result.warnings)


def test_14_negative_values_and_grouped_types() -> None:
    snap = kr.parse(case("14-negative-values.prom"))
    assert [(f.name, f.type) for f in snap.families] == [
        ("wifi_network_noise_dbm", "gauge"),
        ("wifi_network_signal_dbm", "gauge"),
        ("wifi_network_quality", "gauge"),
        ("kepler_node_package_joules_total", "counter"),
    ]
    assert snap.values.tolist() == [-106.0, -255.0, 2.0, -5.0]
    assert snap.timestamps_ms is None
    assert [(w.line, w.message) for w in snap.warnings] == [
        (
            8,
            (
                "Negative counter value -5.0 for kepler_node_package_joules_total"
                '{instance="node-a",mode="dynamic",package="0",source="rapl-sysfs"}.'
            ),
        )
    ]


def test_14_negative_counter_gets_no_delta() -> None:
    before = kr.parse(case("14-negative-values.prom"))
    after = kr.parse(case("14-negative-values.prom").replace(b"} -5", b"} 7"))
    result = kr.diff(before, after, interval=30)
    assert result.node.joules is None
    assert any("not a valid energy counter" in w for w in result.warnings)


def test_15_timestamps() -> None:
    snap = kr.parse(case("15-timestamps.prom"))
    assert snap.timestamps_ms is not None
    stamps = [s.timestamp_ms for s in snap.samples()]
    assert stamps == [1654964761, 1654964761000, -1, None]
    assert snap.values.tolist() == [1.0, 1.0, 0.0, 12.0]
    assert [w.line for w in snap.warnings] == [2, 6]
    assert "written in seconds" in snap.warnings[0].message


def test_15_fractional_timestamp_is_an_error_in_text_format() -> None:
    with pytest.raises(kr.ParseError) as caught:
        kr.parse(b'go_gc_duration_seconds{quantile="0.0"} 0 1739184970.553\n')
    assert caught.value.line == 1
    assert caught.value.column == 42
    assert caught.value.reason == (
        "expected an integer timestamp (milliseconds) after "
        "the value, found '1739184970.553'"
    )


def test_17_histogram_interleaved_and_unsorted() -> None:
    snap = kr.parse(case("17-histogram-interleaved-unsorted.prom"))
    assert [(f.name, f.type) for f in snap.families] == [
        ("req_latency_seconds", "histogram")
    ]
    home, api = histograms(snap, "req_latency_seconds")
    assert home.labels == (("method", "GET"), ("view", "home"))
    assert home.upper_bounds.tolist() == [0.01, 0.025, math.inf]
    assert home.cumulative_counts.tolist() == [0.0, 1.0, 1.0]
    assert (home.sum, home.count) == (0.018, 1.0)
    assert api.upper_bounds.tolist() == [16.0, 125.0, 1000.0, math.inf]
    assert api.cumulative_counts.tolist() == [0.0, 1.0, 1.0, 1.0]
    assert (api.sum, api.count) == (0.031, 1.0)
    assert home.problems == ()
    assert api.problems == ()


def test_17_inconsistent_histogram_is_kept_with_a_problem() -> None:
    body = b'# TYPE h histogram\nh_bucket{le="1"} 5\nh_bucket{le="+Inf"} 3\nh_count 4\n'
    (hist,) = histograms(kr.parse(body), "h")
    assert len(hist.problems) == 2


def test_17_non_float_le_is_an_error_naming_its_line() -> None:
    body = b'# TYPE h histogram\nh_bucket{le="0.1"} 1\nh_bucket{le="fast"} 2\n'
    with pytest.raises(kr.ParseError) as caught:
        kr.parse(body)
    assert caught.value.line == 3
    assert (
        caught.value.reason
        == "the 'le' label of h_bucket must be a float, found 'fast'"
    )


def test_18_exemplars_in_openmetrics() -> None:
    snap = kr.parse(case("18-exemplars.prom"))
    assert snap.format == "openmetrics"
    assert [(f.name, f.type) for f in snap.families] == [
        ("reconcile_duration_seconds", "histogram"),
        ("requests_total", "counter"),
    ]
    (hist,) = histograms(snap, "reconcile_duration_seconds")
    assert hist.upper_bounds.tolist() == [0.01, 0.1, 5000.0, math.inf]
    assert hist.cumulative_counts.tolist() == [1.0, 1.0, 3.0, 3.0]
    assert (hist.sum, hist.count) == (6.0, 3.0)
    assert labels_and_values(snap, "requests_total") == [({}, 1.0)]
    assert snap.series[-1].name == "requests_total"
    assert snap.timestamps_ms is None
    assert [w.line for w in snap.warnings] == [4]
    assert "malformed exemplar" in snap.warnings[0].message


def test_18_exemplars_in_a_text_body() -> None:
    snap = kr.parse(case("18-exemplars.prom"), format="text")
    assert snap.format == "text"
    # In the text format `# TYPE requests counter` names another family than the
    # sample requests_total, which is untyped; the empty `requests` family is dropped.
    assert [(f.name, f.type) for f in snap.families] == [
        ("reconcile_duration_seconds", "histogram"),
        ("requests_total", "untyped"),
    ]
    (hist,) = histograms(snap, "reconcile_duration_seconds")
    assert hist.cumulative_counts.tolist() == [1.0, 1.0, 3.0, 3.0]
    assert labels_and_values(snap, "requests_total") == [({}, 1.0)]
    assert snap.timestamps_ms is None
    assert len(snap.warnings) == 1
    assert "exemplar" in snap.warnings[0].message


def test_20_invalid_utf8_strict() -> None:
    with pytest.raises(kr.ParseError) as caught:
        kr.parse(case("20-invalid-utf8-bytes.prom"))
    assert caught.value.line == 2
    assert caught.value.reason == "the value of label 'host' is not valid UTF-8"


def test_20_invalid_utf8_lenient() -> None:
    snap = kr.parse(case("20-invalid-utf8-bytes.prom"), lenient=True)
    assert [e.line for e in snap.errors] == [2]
    assert labels_and_values(snap, "nginx_vts_server_requests_total") == [
        ({"host": "api.example", "code": "2xx"}, 20.0)
    ]
    bad = snap.family("bad_help")
    assert bad is not None
    assert bad.type == "gauge"
    assert "\ufffd" in (bad.help or "")
    assert [w.line for w in snap.warnings] == [4]
    assert labels_and_values(snap, "bad_help") == [({}, 1.0)]


def test_30_very_long_label_value() -> None:
    snap = kr.parse(case("30-very-long-label-value.prom"))
    target, process = list(snap.samples())
    assert target.value == 1.0
    assert len(target.series.labels_dict["process_command_line"]) == 76019
    assert target.series.get("service_name") == "svc-a"
    assert process.value == 5.0
    assert len(process.series.labels_dict["exe"]) == 2016
