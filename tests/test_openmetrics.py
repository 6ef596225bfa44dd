"""OpenMetrics 1.0 text and Prometheus 3 quoted names."""

from __future__ import annotations

import pytest

import kepler_reader as kr
from tests.paths import CASES

OM = (CASES / "36-content-type-and-openmetrics.prom").read_bytes()
TEXT = (CASES / "36-content-type-and-openmetrics.text.prom").read_bytes()

pytestmark = pytest.mark.usefixtures("parse_mode")


def normalised(snap: kr.Snapshot) -> list[tuple[str, str, kr.Series, float]]:
    return [
        (snap.families[int(f)].name, snap.families[int(f)].type, s, float(v))
        for f, s, v in zip(snap.family_index, snap.series, snap.values, strict=True)
    ]


def test_36_both_formats_give_the_same_series() -> None:
    om, text = kr.parse(OM), kr.parse(TEXT)
    assert (om.format, text.format) == ("openmetrics", "text")
    assert normalised(om) == normalised(text)
    names = [(name, kind, value) for name, kind, _, value in normalised(om)]
    assert names == [
        ("kepler_pod_cpu_joules_total", "counter", 120.5),
        ("kepler_pod_cpu_watts", "gauge", 4.0),
        ("prompt_tokens_total", "counter", 1234.0),
    ]


def test_36_created_is_metadata_not_a_sample() -> None:
    om = kr.parse(OM)
    assert all(not s.name.endswith("_created") for s in om.series)
    assert om.created_seconds == {
        kr.Series("prompt_tokens_total", (("model_name", "m"),)): 1.7e9
    }


def test_36_kepler_view_reads_openmetrics() -> None:
    view = kr.kepler_view(kr.parse(OM))
    assert view.era.name == "G"
    assert view.joules.tolist() == [120.5]


@pytest.mark.parametrize("lenient", [False, True])
def test_12c_openmetrics_without_eof_is_cut_off(lenient: bool) -> None:
    body = OM.replace(b"# EOF\n", b"")
    if not lenient:
        with pytest.raises(kr.ParseError, match="does not end with '# EOF'"):
            kr.parse(body, format="openmetrics")
        return
    snap = kr.parse(body, format="openmetrics", lenient=True)
    assert snap.truncated
    assert "does not end with '# EOF'" in snap.errors[-1].message


def test_text_after_eof_is_an_error() -> None:
    with pytest.raises(kr.ParseError) as caught:
        kr.parse(b"# TYPE a gauge\na 1\n# EOF\na 2\n", format="openmetrics")
    assert caught.value.line == 4
    assert "after '# EOF'" in caught.value.reason


@pytest.mark.parametrize(
    "after",
    [b"b 2\n", b"  b 2\n", b"# a comment\n", b"b 2"],
    ids=["sample", "indented sample", "comment", "sample without line feed"],
)
def test_a_body_that_goes_on_after_eof_is_the_text_format(after: bytes) -> None:
    # With no format named, only a body that ends at its '# EOF' is OpenMetrics;
    # in the text format '# EOF' is a comment and timestamps are milliseconds.
    for lenient in (False, True):
        if after == b"b 2" and not lenient:
            with pytest.raises(kr.ParseError, match="does not end with a line feed"):
                kr.parse(b"a 1 5\n# EOF\n" + after)
            continue
        snap = kr.parse(b"a 1 5\n# EOF\n" + after, lenient=lenient)
        assert snap.format == "text"
        assert snap.errors == ()
        assert snap.values.tolist()[0] == 1.0
        assert snap.timestamps_ms is not None
        assert snap.timestamps_ms.tolist()[0] == 5
    # Blank lines may follow it.
    snap = kr.parse(b"a 1 5\n# EOF\n\n \n")
    assert snap.format == "openmetrics"
    assert snap.timestamps_ms is not None
    assert snap.timestamps_ms.tolist() == [5000]


def test_eof_may_lack_a_final_line_feed() -> None:
    snap = kr.parse(b"# TYPE a gauge\na 1\n# EOF")
    assert snap.format == "openmetrics"
    assert snap.errors == ()
    assert snap.warnings == ()


def test_15_openmetrics_timestamps_are_seconds() -> None:
    body = b'# TYPE g summary\ng{quantile="0.0"} 0 1739184970.553\n# EOF\n'
    snap = kr.parse(body)
    assert snap.timestamps_ms is not None
    assert snap.timestamps_ms.tolist() == [1739184970553]
    with pytest.raises(kr.ParseError, match="integer timestamp"):
        kr.parse(body.replace(b"# EOF\n", b""))


def test_unit_and_types_of_openmetrics() -> None:
    body = (
        b"# TYPE up_seconds gauge\n# UNIT up_seconds seconds\nup_seconds 5\n"
        b'# TYPE build info\nbuild_info{version="1"} 1\n'
        b"# TYPE x unknown\nx 3\n# EOF\n"
    )
    snap = kr.parse(body)
    assert [(f.name, f.type, f.unit) for f in snap.families] == [
        ("up_seconds", "gauge", "seconds"),
        ("build", "info", None),
        ("x", "unknown", None),
    ]


def test_openmetrics_types_are_errors_in_text() -> None:
    with pytest.raises(kr.ParseError) as caught:
        kr.parse(b"# TYPE build info\nbuild_info 1\n")
    assert caught.value.line == 1
    assert caught.value.reason == (
        "metric type 'info' of build does not exist in the text format 0.0.4"
    )


def test_quoted_utf8_names() -> None:
    body = (
        b'# TYPE "kepler.node.joules" counter\n'
        b'{"kepler.node.joules", "zone"="package", node="a"} 12\n'
        b'{"classic_name"} 1\n'
        b'classic_name{"le.x"="1"} 2\n'
    )
    snap = kr.parse(body)
    first, second, third = snap.series
    assert first.name == "kepler.node.joules"
    assert first.labels == (("node", "a"), ("zone", "package"))
    assert snap.families[0].type == "counter"
    assert second == kr.parse(b"classic_name 1\n").series[0]
    assert third.labels == (("le.x", "1"),)


def test_unquoted_dotted_name_is_an_error() -> None:
    with pytest.raises(kr.ParseError) as caught:
        kr.parse(b"ok 1\nkepler.node.joules 1\n")
    assert caught.value.line == 2
    assert "must be quoted" in caught.value.reason


def test_quoted_name_must_come_first() -> None:
    with pytest.raises(kr.ParseError, match="quoted metric name before the labels"):
        kr.parse(b'{"zone"="package"} 1\n')
