"""Plots render headless: power over time and comparison bars, and their numbers."""

from __future__ import annotations

import struct
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.patches import Rectangle

import kepler_reader as kr
from kepler_reader.cli import main
from kepler_reader.demo import BUNDLED_START, bundled_recording, bundled_scrapes
from kepler_reader.plot import plot_comparison, plot_power, power_over_time

# Per-pod package watts of the bundled v0.11 pair (fixtures/kepler/EXPECTED.md).
CHECKOUT_WATTS = 2.817816
NODE_WATTS = 52.380106


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def legend_labels(figure: object) -> list[str]:
    axes = figure.axes[0]  # type: ignore[attr-defined]
    return [t.get_text() for t in axes.get_legend().get_texts()]


def test_power_over_time_of_the_bundled_recording() -> None:
    power = power_over_time(bundled_recording(), by="pod")
    # Scrapes at 0, 3, 6, 9, 15, 18, 21, 24 s: seven intervals, the 9-15 s one twice
    # the median 3 s (a gap), and counters restarted before the 21 s scrape.
    assert power.edges.tolist() == [
        BUNDLED_START + t for t in (0, 3, 6, 9, 15, 18, 21, 24)
    ]
    assert power.gaps.tolist() == [False, False, False, True, False, False, False]
    assert power.resets.tolist() == [False, False, False, False, False, True, False]
    column = power.names.index("shop/checkout-api-6c8f9d7b5-m2w9x")
    np.testing.assert_allclose(power.watts[:, column], CHECKOUT_WATTS, atol=1e-6)
    np.testing.assert_allclose(power.node_watts, NODE_WATTS, atol=1e-6)
    # Energy over the 24 s: 2.817816 W * 24 s = 67.627584 J.
    assert power.joules()[column] == pytest.approx(67.627584, abs=1e-4)
    by_ns = power_over_time(bundled_recording(), by="namespace")
    assert by_ns.names == ("flux-system", "kepler", "kube-system", "shop")
    # flux-system: 1.452936 + 2.971915 + 0.594383 + 2.179404 = 7.198638 J per 3 s.
    np.testing.assert_allclose(by_ns.watts[:, 0], 7.198638 / 3, atol=1e-6)


def test_power_over_time_from_dumps(tmp_path: Path) -> None:
    first, second = bundled_scrapes("v0.11")
    snapshots = [
        kr.parse(second).with_scrape_time(BUNDLED_START + 3),
        kr.parse(first).with_scrape_time(BUNDLED_START),
    ]
    power = power_over_time(snapshots)
    assert power.edges.tolist() == [BUNDLED_START, BUNDLED_START + 3]
    assert power.watts[0, power.names.index("shop")] == pytest.approx(
        (8.453447 + 0.0 + 4.689021) / 3, abs=1e-6
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"by": "node"}, "Plot by 'namespace' or 'pod', not 'node'."),
        ({"zone": "gpu"}, "Zone 'gpu' is not published by this exporter"),
    ],
)
def test_power_over_time_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(kr.DataError, match="^" + message.replace("(", r"\(")):
        power_over_time(bundled_recording(), **kwargs)


def test_one_scrape_is_not_enough() -> None:
    one = bundled_recording(offsets=(0.0,), reset_at=None)
    with pytest.raises(kr.DataError) as caught:
        power_over_time(one)
    assert str(caught.value) == "Power over time needs at least two scrapes; 1 given."


def test_power_plot_png(tmp_path: Path) -> None:
    path = tmp_path / "power.png"
    figure = plot_power(bundled_recording(), by="pod", top=3, path=path)
    assert png_size(path) == (1000, 500)
    assert path.stat().st_size > 20_000
    # The three largest pods (checkout-api 8.45, postgres-0 4.69, kustomize 2.97 J
    # per 3 s), the other seven summed, the node, and the markings.
    assert legend_labels(figure) == [
        "shop/checkout-api-6c8f9d7b5-m2w9x",
        "shop/postgres-0",
        "flux-system/kustomize-controller-7d4c5b6f8-2mzrt",
        "other (7)",
        "node",
        "gap",
        "reset",
    ]


def test_power_plot_without_markings() -> None:
    steady = bundled_recording(offsets=(0.0, 3.0, 6.0), reset_at=None)
    figure = plot_power(steady, top=10)
    assert legend_labels(figure) == [
        "shop",
        "flux-system",
        "kepler",
        "kube-system",
        "node",
    ]


def test_comparison_plot_png(tmp_path: Path) -> None:
    root = Path(kr.__file__).parent / "data" / "measurements"
    a = kr.read_results([str(root / "traditional.json")])
    b = kr.read_results([str(root / "gitops.json")])
    comparison = kr.compare(a, b, labels=("traditional", "gitops"))
    path = tmp_path / "bars.png"
    figure = plot_comparison(comparison, path=path)
    assert png_size(path) == (680, 500)  # 1.2 in per row + 2 in, 100 dpi
    assert legend_labels(figure) == ["traditional", "gitops"]
    axes = figure.axes[0]
    assert [t.get_text() for t in axes.get_xticklabels()] == [
        "flux-system",
        "kepler",
        "kube-system",
        "shop",
    ]
    assert [t.get_text() for t in axes.texts] == [r.verdict for r in comparison.rows]
    # Eight bars: the four namespaces' means for each setup (flux-system is 0 for A).
    heights = [
        round(p.get_height(), 3) for p in axes.patches if isinstance(p, Rectangle)
    ]
    assert heights == [0.0, 1.845, 1.318, 13.116, 7.227, 1.857, 1.326, 13.195]
    with_node = plot_comparison(comparison, node=True)
    assert with_node.axes[0].get_xticklabels()[-1].get_text() == "(node)"


def test_missing_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(kr.ExtraMissingError) as caught:
        plot_power(bundled_recording())
    assert str(caught.value) == (
        "Plotting needs matplotlib, which is not installed; install it with "
        "pip install 'kepler-reader[plot]' (from a checkout of the project: "
        "pip install '.[plot]')."
    )
    assert caught.value.extra == "plot"


def _dumps(tmp_path: Path) -> list[str]:
    first, second = bundled_scrapes("v0.11")
    paths = []
    for i, (offset, body) in enumerate(((0, first), (3, second), (6, second))):
        path = tmp_path / f"dump-{i}.prom"
        kr.write_dump(
            path,
            body,
            scraped_at=BUNDLED_START + offset,
            url="http://127.0.0.1/metrics",
        )
        paths.append(str(path))
    return paths


def test_cli_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _dumps(tmp_path)
    out = tmp_path / "out.png"
    code = main(
        [
            "plot",
            str(tmp_path / "dump-*.prom"),
            "-o",
            str(out),
            "--by",
            "pod",
            "--top",
            "2",
        ]
    )
    assert code == 0
    assert png_size(out) == (1000, 500)
    assert capsys.readouterr().out == ""


def test_cli_plot_missing_matplotlib(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    code = main(["plot", *_dumps(tmp_path), "-o", str(tmp_path / "out.png")])
    assert code == 5
    assert capsys.readouterr().err == (
        "kepler-reader: error: Plotting needs matplotlib, which is not installed; "
        "install it with pip install 'kepler-reader[plot]' (from a checkout of the "
        "project: pip install '.[plot]').\n"
    )
    assert not (tmp_path / "out.png").exists()


def test_cli_plot_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["plot", str(tmp_path / "none-*.prom"), "-o", str(tmp_path / "x.png")])
    assert code == 4
    assert capsys.readouterr().err == (
        f"kepler-reader: error: {tmp_path}/none-*.prom: no file matches this pattern.\n"
    )
    first, _ = bundled_scrapes("v0.11")
    plain = tmp_path / "plain.prom"
    plain.write_bytes(first)
    code = main(["plot", str(plain), str(plain), "-o", str(tmp_path / "x.png")])
    assert code == 1
    assert capsys.readouterr().err == (
        f"kepler-reader: error: {plain} carries no scrape time (it was not written by "
        "`kepler-reader scrape -o`), so it cannot be placed on the time axis.\n"
    )


def test_cli_compare_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bars.png"
    assert main(["compare", "--bundled", "--plot", str(out), "--format", "json"]) == 0
    assert png_size(out) == (680, 500)
    assert '"verdict": "B uses more"' in capsys.readouterr().out


def _recording(path: Path, urls: tuple[str, ...]) -> None:
    first, second = bundled_scrapes("v0.11")
    with kr.RecordingWriter(path, fsync=False) as writer:
        for offset, body in ((0, first), (3, second), (6, second)):
            for url in urls:
                writer.write(BUNDLED_START + offset, url, body, node="node-a")


def test_cli_plot_of_a_recording(tmp_path: Path) -> None:
    path = tmp_path / "node.krec"
    _recording(path, ("http://127.0.0.1:28282/metrics",))
    out = tmp_path / "out.png"
    assert main(["plot", str(path), "-o", str(out)]) == 0
    assert png_size(out) == (1000, 500)
    power = power_over_time(kr.read_recording(path))
    # 0-3 s the pair's energy, 3-6 s the same body again: 0 W.
    shop = power.names.index("shop")
    assert power.watts[:, shop] == pytest.approx([13.142468 / 3, 0.0], abs=1e-6)


def test_cli_plot_of_several_endpoints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "two.krec"
    a, b = "http://127.0.0.1:1/metrics", "http://127.0.0.1:2/metrics"
    _recording(path, (a, b))
    out = tmp_path / "out.png"
    assert main(["plot", str(path), "-o", str(out)]) == 1
    assert capsys.readouterr().err == (
        f"kepler-reader: error: The recording holds scrapes of 2 endpoints ({a}, {b}); "
        "choose one with --endpoint URL.\n"
    )
    assert main(["plot", str(path), "-o", str(out), "--endpoint", b]) == 0
    assert png_size(out) == (1000, 500)
    power = power_over_time(kr.read_recording(path), endpoint=a)
    assert len(power.edges) == 3
    assert main(["plot", str(path), *_dumps(tmp_path), "-o", str(out)]) == 1
    assert "Give either recording files or dumps, not both" in capsys.readouterr().err


def test_cli_compare_plot_missing_matplotlib(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert main(["compare", "--bundled", "--plot", "bars.png"]) == 5
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("kepler-reader: error: Plotting needs matplotlib")


def test_recorded_failures_are_gaps(tmp_path: Path) -> None:
    path = tmp_path / "node.krec"
    url = "http://127.0.0.1:28282/metrics"
    _recording(path, (url,))
    with kr.RecordingWriter(path, fsync=False) as writer:
        writer.write_gap(BUNDLED_START + 4.5, url, "connection refused", node="node-a")
    recording = kr.read_recording(path)
    # Both intervals are 3 s, so only the recorded failure at 4.5 s makes a gap.
    assert power_over_time(recording).gaps.tolist() == [False, False]
    power = power_over_time(recording, failed_at=[BUNDLED_START + 4.5])
    assert power.gaps.tolist() == [False, True]
    out = tmp_path / "out.png"
    assert main(["plot", str(path), "-o", str(out)]) == 0
    figure = plot_power(recording, failed_at=[BUNDLED_START + 4.5])
    assert "gap" in legend_labels(figure)
