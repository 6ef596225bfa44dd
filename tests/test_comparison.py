"""compare(): per-namespace and per-pod statistics checked against hand arithmetic."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import kepler_reader as kr
from kepler_reader.cli import main
from kepler_reader.comparison import (
    VERDICTS,
    comparison_csv,
    comparison_table,
    comparison_to_dict,
    is_recording_file,
)
from kepler_reader.demo import bundled_scrapes

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "kepler_reader" / "data" / "measurements"


def result(
    energy: dict[tuple[str, str], float], node: float | None = None
) -> dict[str, Any]:
    """A minimal diff JSON object: the pods' joules, and the node's."""
    return {
        "zone": "package",
        "pods": [
            {"namespace": ns, "pod": p, "joules": j} for (ns, p), j in energy.items()
        ],
        "node": {"joules": node, "watts": None},
    }


def side(
    *values: float, key: tuple[str, str] = ("shop", "web")
) -> list[dict[str, Any]]:
    return [result({key: v}) for v in values]


def test_b_uses_less() -> None:
    # A: mean 12, sd 2 (squares 4 + 0 + 4 over 2). B: mean 6, sd 2.
    # Welch: va = vb = 4/3, df = (8/3)^2 / ((4/3)^2/2 + (4/3)^2/2) = 4,
    # se = sqrt(8/3) = 1.632993162, half-width 2.776445105 * se = 4.533916;
    # difference 6 - 12 = -6, interval [-10.533916, -1.466084], ratio 6/12 = 0.5.
    c = kr.compare(side(10, 12, 14), side(4, 6, 8))
    row = c.row("shop")
    assert row is not None
    assert (row.a.n, row.a.mean, row.a.sd) == (3, 12.0, 2.0)
    assert (row.b.n, row.b.mean, row.b.sd) == (3, 6.0, 2.0)
    # Each side's interval: t(0.975, 2) * 2 / sqrt(3) = 4.302652730 * 1.154700538.
    assert row.a.high == pytest.approx(12 + 4.968275, abs=1e-6)
    assert row.b.low == pytest.approx(6 - 4.968275, abs=1e-6)
    assert row.difference is not None
    assert row.difference.difference == -6.0
    assert row.difference.df == pytest.approx(4.0)
    assert row.difference.low == pytest.approx(-10.533916, abs=1e-6)
    assert row.difference.high == pytest.approx(-1.466084, abs=1e-6)
    assert row.ratio == 0.5
    assert row.verdict == "B uses less"
    assert kr.compare(side(4, 6, 8), side(10, 12, 14)).rows[0].verdict == "B uses more"


def test_no_difference_can_be_told() -> None:
    # sd 1 on both sides, df 4, se = sqrt(2/3) = 0.816496581, half-width
    # 2.776445105 * 0.816496581 = 2.266958; difference 101.5 - 101 = 0.5, so the
    # interval [-1.766958, 2.766958] holds 0 and is narrow against 101.5 J.
    row = kr.compare(side(100, 101, 102), side(100.5, 101.5, 102.5)).rows[0]
    assert row.difference is not None
    assert row.difference.low == pytest.approx(-1.766958, abs=1e-6)
    assert row.difference.high == pytest.approx(2.766958, abs=1e-6)
    assert row.verdict == "no difference can be told"


def test_too_noisy() -> None:
    # sd 10 on both sides: se = sqrt(200/3) = 8.164965809, half-width 22.669579,
    # more than half of the larger mean (22 J).
    row = kr.compare(side(10, 20, 30), side(12, 22, 32)).rows[0]
    assert row.difference is not None
    assert row.difference.high - row.difference.difference == pytest.approx(
        22.669579, abs=1e-6
    )
    assert row.verdict == "too noisy"
    # A looser noise threshold calls the same numbers precise.
    loose = kr.compare(side(10, 20, 30), side(12, 22, 32), noise=1.5)
    assert loose.rows[0].verdict == "no difference can be told"


def test_too_few_repeats() -> None:
    two = kr.compare(side(10, 12), side(4, 6, 8)).rows[0]
    assert two.verdict == "too few repeats"
    assert two.difference is not None  # n = 2 still has an interval
    one = kr.compare(side(10), side(4, 6, 8)).rows[0]
    assert (one.a.sd, one.a.low, one.difference, one.verdict) == (
        None,
        None,
        None,
        "too few repeats",
    )
    # n = 2 is enough when allowed: va = vb = 2 / 2 = 1, df = 2, half-width
    # 4.302652730 * sqrt(2) = 6.084870, difference -9: [-15.084870, -2.915130].
    allowed = kr.compare(side(10, 12), side(1, 3), min_repeats=2).rows[0]
    assert allowed.difference is not None
    assert allowed.difference.high == pytest.approx(-2.915130, abs=1e-6)
    assert allowed.verdict == "B uses less"


def test_rows_per_namespace_and_pod_with_missing_keys() -> None:
    a = [
        result({("shop", "web-1"): 1.0, ("shop", "web-2"): 2.0, ("db", "pg"): 5.0}, 10),
        result({("shop", "web-1"): 1.5, ("shop", "web-2"): 2.5}, 12),
    ]
    b = [result({("shop", "web-1"): 2.0, ("flux", "ctl"): 1.0}, 11)]
    by_ns = kr.compare(a, b, min_repeats=2)
    assert [(r.namespace, r.a.values, r.b.values) for r in by_ns.rows] == [
        ("db", (5.0,), ()),
        ("flux", (), (1.0,)),
        ("shop", (3.0, 4.0), (2.0,)),
    ]
    assert by_ns.node is not None
    assert (by_ns.node.a.values, by_ns.node.b.values) == ((10.0, 12.0), (11.0,))
    assert (by_ns.repeats_a, by_ns.repeats_b) == (2, 1)
    by_pod = kr.compare(a, b, by="pod", min_repeats=2)
    assert [(r.namespace, r.pod, r.a.n, r.b.n) for r in by_pod.rows] == [
        ("db", "pg", 1, 0),
        ("flux", "ctl", 0, 1),
        ("shop", "web-1", 2, 1),
        ("shop", "web-2", 2, 0),
    ]
    assert by_pod.row("shop", "web-2") is by_pod.rows[3]
    assert by_pod.row("shop") is None
    assert {r.verdict for r in by_pod.rows} == {"too few repeats"}


def test_pods_without_valid_data_are_left_out() -> None:
    a = side(10, 12, 14)
    a.append({"pods": [{"namespace": "shop", "pod": "web", "joules": None}]})
    row = kr.compare(a, side(4, 6, 8)).rows[0]
    assert (row.a.n, row.a.values) == (3, (10.0, 12.0, 14.0))
    assert kr.compare(a, side(4, 6, 8)).repeats_a == 4


def test_energy_deltas_are_accepted() -> None:
    first, second = bundled_scrapes("v0.11")
    delta = kr.diff(kr.parse(first), kr.parse(second), interval=3.0)
    c = kr.compare([delta, delta, delta], [delta, delta, delta], by="pod")
    row = c.row("shop", "checkout-api-6c8f9d7b5-m2w9x")
    assert row is not None
    assert row.a.values == pytest.approx((8.453447,) * 3, abs=1e-6)
    assert row.a.sd == 0.0
    assert row.difference is not None
    assert (row.difference.low, row.difference.high) == (0.0, 0.0)
    assert row.verdict == "no difference can be told"
    assert c.node is not None
    assert c.node.a.mean == pytest.approx(157.140318, abs=1e-6)


@pytest.mark.parametrize(
    ("a", "b", "kwargs", "message"),
    [
        (
            [{"x": 1}],
            [],
            {},
            (
                "result 1 of A is not a measurement result: expected an object with a "
                "'pods' list (the JSON of `kepler-reader diff` or `measure`)."
            ),
        ),
        (
            [],
            [{"pods": [{"namespace": "n", "pod": "p", "joules": "1"}]}],
            {},
            "result 1 of B, pods[0]: 'joules' must be a number, not '1'.",
        ),
        (
            [],
            [{"pods": [{"namespace": "n", "pod": "p", "joules": float("nan")}]}],
            {},
            "result 1 of B, pods[0]: 'joules' must be finite, not nan.",
        ),
        (
            [],
            [{"pods": [{"pod": "p", "joules": 1}]}],
            {},
            "result 1 of B, pods[0]: expected an object with namespace, pod, joules.",
        ),
        ([], [], {"by": "node"}, "Compare by 'namespace' or 'pod', not 'node'."),
        ([], [], {"min_repeats": 1}, "min_repeats must be at least 2, not 1."),
        (
            [{"zone": "package", "pods": []}],
            [{"zone": "dram", "pods": []}],
            {},
            (
                "The results are of different zones (dram, package); zones overlap and "
                "cannot be compared with each other."
            ),
        ),
    ],
)
def test_bad_results(a: Any, b: Any, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(kr.DataError) as caught:
        kr.compare(a, b, **kwargs)
    assert str(caught.value) == message


def test_read_results_formats(tmp_path: Path) -> None:
    one, two, three = (
        result({("a", "p"): 1.0}),
        result({("a", "p"): 2.0}),
        result({("a", "p"): 3.0}),
    )
    (tmp_path / "object.json").write_text(json.dumps(one))
    (tmp_path / "array.json").write_text(json.dumps([two, three]))
    (tmp_path / "lines.jsonl").write_text(
        json.dumps(three) + "\n\n" + json.dumps(one) + "\n"
    )
    got = kr.read_results([str(tmp_path / "object.json"), str(tmp_path / "array.json")])
    assert got == [one, two, three]
    assert kr.read_results([str(tmp_path / "lines.jsonl")]) == [three, one]
    assert kr.read_results([str(tmp_path / "*.json")]) == [two, three, one]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "{path}: holds no measurement result."),
        (
            "{oops",
            (
                "{path}:1: not JSON (Expecting property name enclosed in double "
                "quotes); "
                "expected a result object, an array of them, or one object per line."
            ),
        ),
        (
            '{"pods": []}\n{"pods": [}\n',
            (
                "{path}:2: not JSON (Expecting value); expected a result object, an "
                "array of them, or one object per line."
            ),
        ),
        ("[]", "{path}: holds no measurement result."),
        (
            '[{"pods": []}, 3]',
            (
                "{path}: item 2 is not a measurement result (an object with a 'pods' "
                "list, as `kepler-reader diff --format json` prints)."
            ),
        ),
    ],
)
def test_read_results_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(kr.ResultsFileError) as caught:
        kr.read_results([str(path)])
    assert str(caught.value) == message.format(path=path)
    assert caught.value.path == str(path)


def test_read_results_missing_file_and_empty_glob(tmp_path: Path) -> None:
    with pytest.raises(
        kr.ResultsFileError, match=r"missing\.json: cannot read the file"
    ):
        kr.read_results([str(tmp_path / "missing.json")])
    with pytest.raises(kr.ResultsFileError) as caught:
        kr.read_results([str(tmp_path / "*.json")])
    assert str(caught.value) == f"{tmp_path}/*.json: no file matches this pattern."


def test_bundled_files_are_what_the_script_writes() -> None:
    script = ROOT / "docs" / "scripts" / "bundled_measurements.py"
    code = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import runpy; d = runpy.run_path({str(script)!r})['documents']();"
            "import json, sys; json.dump(d, sys.stdout)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    for name, text in json.loads(code.stdout).items():
        assert (BUNDLED / name).read_text(encoding="utf-8") == text, name


def test_bundled_sets() -> None:
    a = kr.read_results([str(BUNDLED / "traditional.json")])
    b = kr.read_results([str(BUNDLED / "gitops.json")])
    assert all("not a measurement" in r["derived_from"] for r in a + b)
    c = kr.compare(a, b)
    # Node: gitops is the pair's 157.140318 J times 1.02, 0.99, 1.04, 0.97, 1.00
    # (mean factor 5.02 / 5 = 1.004); traditional is 157.140318 - 7.198638 J of
    # Flux (1.452936 + 2.971915 + 0.594383 + 2.179404) = 149.941680 J times 1.00,
    # 1.03, 0.98, 1.01, 0.97 (mean factor 4.99 / 5 = 0.998).
    assert c.node is not None
    assert c.node.b.mean == pytest.approx(157.140318 * 1.004, abs=1e-5)
    assert c.node.a.mean == pytest.approx(149.941680 * 0.998, abs=1e-5)
    # Factor deviations from 0.998 squared: 4e-6 + 1.024e-3 + 3.24e-4 + 1.44e-4 +
    # 7.84e-4 = 2.28e-3, over 4: sd of the factor sqrt(5.7e-4) = 0.023874673.
    assert c.node.a.sd == pytest.approx(149.941680 * 0.023874673, abs=1e-5)
    assert c.node.verdict == "B uses more"
    assert [(r.namespace, r.a.n, r.b.n, r.verdict) for r in c.rows] == [
        ("flux-system", 0, 5, "too few repeats"),
        ("kepler", 5, 5, "no difference can be told"),
        ("kube-system", 5, 5, "no difference can be told"),
        ("shop", 5, 5, "no difference can be told"),
    ]
    flux = c.row("flux-system")
    assert flux is not None
    assert flux.b.mean == pytest.approx(7.198638 * 1.004, abs=1e-5)


def test_paths_are_read() -> None:
    c = kr.compare(BUNDLED / "traditional.json", str(BUNDLED / "g*.json"))
    assert (c.repeats_a, c.repeats_b) == (5, 5)
    assert c.node is not None
    assert c.node.verdict == "B uses more"


def test_json_shape() -> None:
    c = kr.compare(side(10, 12, 14), side(4, 6, 8), labels=("old", "new"))
    doc = comparison_to_dict(c)
    assert set(doc) == {"by", "confidence", "labels", "repeats", "rows", "node"}
    assert doc["labels"] == {"a": "old", "b": "new"}
    assert doc["repeats"] == {"a": 3, "b": 3}
    assert doc["node"] is None
    row = doc["rows"][0]
    assert set(row) == {
        "namespace",
        "pod",
        "a",
        "b",
        "difference_joules",
        "difference_ci_low_joules",
        "difference_ci_high_joules",
        "welch_df",
        "ratio",
        "verdict",
    }
    assert row["a"]["joules"] == [10.0, 12.0, 14.0]
    assert set(row["a"]) == {
        "n",
        "mean_joules",
        "sd_joules",
        "ci_low_joules",
        "ci_high_joules",
        "joules",
    }
    assert row["verdict"] in VERDICTS


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_bundled_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["compare", "--bundled"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("A = traditional (5 results), B = gitops (5 results)")
    shop = next(line for line in lines if line.startswith("shop"))
    assert shop.split()[1:3] == ["5", "13.116"]
    assert shop.endswith("no difference can be told")
    assert lines[-1].startswith("(node)")
    assert lines[-1].endswith("B uses more")


def test_cli_files_json_and_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for i, values in enumerate(((10, 12, 14), (4, 6, 8))):
        for j, v in enumerate(values):
            (tmp_path / f"{'ab'[i]}{j}.json").write_text(json.dumps(side(v)[0]))
    code, out, _ = run(
        [
            "compare",
            "--a",
            str(tmp_path / "a0.json"),
            str(tmp_path / "a[12].json"),
            "--b",
            str(tmp_path / "b*.json"),
            "--format",
            "json",
            "--by",
            "pod",
        ],
        capsys,
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["by"] == "pod"
    assert doc["rows"][0]["a"]["joules"] == [10, 12, 14]
    assert doc["rows"][0]["difference_joules"] == -6.0
    assert doc["rows"][0]["verdict"] == "B uses less"
    code, out, _ = run(
        [
            "compare",
            str(tmp_path / "a*.json"),
            str(tmp_path / "b*.json"),
            "--format",
            "csv",
        ],
        capsys,
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0]["namespace"] == "shop"
    assert rows[0]["a_mean_joules"] == "12.0"
    assert rows[0]["b_n"] == "3"
    assert rows[0]["verdict"] == "B uses less"
    assert out == comparison_csv(kr.compare(side(10, 12, 14), side(4, 6, 8)))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compare"], "give A and B, or --a and --b, or --bundled (one of them)"),
        (["compare", "x.json"], "give both A and B"),
        (["compare", "--a", "x.json"], "give both --a and --b"),
        (
            ["compare", "x", "y", "--bundled"],
            "give A and B, or --a and --b, or --bundled (one of them)",
        ),
        (
            ["compare", "--bundled", "--min-repeats", "1"],
            "argument --min-repeats: must be at least 2, not 1",
        ),
    ],
)
def test_cli_usage_errors(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(args)
    assert caught.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(f"error: {message}")


def test_cli_file_error_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        ["compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")], capsys
    )
    assert (code, out) == (4, "")
    assert err.startswith(
        f"kepler-reader: error: {tmp_path / 'a.json'}: cannot read the file"
    )


def test_table_names_pods_when_by_pod() -> None:
    table = comparison_table(kr.compare(side(1, 2, 3), side(1, 2, 3), by="pod"))
    header = table.splitlines()[2].split()
    assert header[:3] == ["namespace", "pod", "n"]
    assert table.splitlines()[4].split()[:2] == ["shop", "web"]


def _record(path: Path, urls: tuple[str, ...]) -> None:
    """A recording of the bundled pair at 0 and 3 s, then the second body again."""
    first, second = bundled_scrapes("v0.11")
    with kr.RecordingWriter(path, fsync=False) as writer:
        for offset, body in ((0.0, first), (3.0, second), (6.0, second)):
            for url in urls:
                writer.write(1796292000.0 + offset, url, body, node="node-a")


def test_recordings_are_results(tmp_path: Path) -> None:
    one = tmp_path / "one.krec"
    two = tmp_path / "two.krec"
    _record(one, ("http://127.0.0.1:1/metrics",))
    _record(two, ("http://127.0.0.1:1/metrics", "http://127.0.0.1:2/metrics"))
    assert is_recording_file(str(one))
    assert not is_recording_file(str(BUNDLED / "gitops.json"))
    single, double = kr.read_results([str(one), str(two)])
    # Over 0-6 s only the first 3 s moved: the pair's deltas (EXPECTED.md, v0.11).
    assert single["interval_seconds"] == 6.0
    assert single["zone"] == "package"
    energy = {(p["namespace"], p["pod"]): p["joules"] for p in single["pods"]}
    assert energy[("shop", "checkout-api-6c8f9d7b5-m2w9x")] == pytest.approx(
        8.453447, abs=1e-6
    )
    assert single["node"]["joules"] == pytest.approx(157.140318, abs=1e-6)
    # Two endpoints serving the same bodies: every pod and the node count twice.
    doubled = {(p["namespace"], p["pod"]): p["joules"] for p in double["pods"]}
    assert doubled[("shop", "postgres-0")] == pytest.approx(2 * 4.689021, abs=1e-6)
    assert double["node"]["joules"] == pytest.approx(2 * 157.140318, abs=1e-6)
    shop = next(n for n in single["namespaces"] if n["namespace"] == "shop")
    assert shop["joules"] == pytest.approx(13.142468, abs=1e-6)
    c = kr.compare([single] * 3, [double] * 3)
    row = c.row("shop")
    assert row is not None
    assert row.ratio == pytest.approx(2.0)
    assert row.verdict == "B uses more"


def test_cli_compares_recordings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(3):
        _record(tmp_path / f"a{i}.krec", ("http://127.0.0.1:1/metrics",))
    code, out, _ = run(
        [
            "compare",
            str(tmp_path / "a*.krec"),
            str(BUNDLED / "gitops.json"),
            "--format",
            "json",
        ],
        capsys,
    )
    assert code == 0
    node = json.loads(out)["node"]
    assert node["a"]["n"] == 3
    assert node["a"]["mean_joules"] == pytest.approx(157.140318, abs=1e-6)


def _pods_json(joules: str) -> str:
    return '{"pods":[{"namespace":"a","pod":"p","joules":' + joules + "}]}\n"


@pytest.mark.parametrize(
    ("a_joules", "b_joules", "code", "message"),
    [
        (
            ["1e308"] * 3,
            ["1e308"] * 3,
            1,
            "result 1 of A, pods[0]: 'joules' is implausibly large "
            "(1e+308; at most 1e+30).",
        ),
        (
            ["1.7e308", "-1.7e308", "1.7e308"],
            ["1"] * 3,
            1,
            "result 1 of A, pods[0]: 'joules' is implausibly large "
            "(1.7e+308; at most 1e+30).",
        ),
        (
            ["1" + "0" * 400] * 3,
            ["1"] * 3,
            1,
            "result 1 of A, pods[0]: 'joules' is implausibly large "
            "(401 digits; at most 1e+30).",
        ),
        (
            ["2", "-1", "3"],
            ["1"] * 3,
            1,
            "result 2 of A, pods[0]: 'joules' must not be negative, not -1 "
            "(energy used over a window is never below 0 J).",
        ),
        (
            ["1" + "0" * 5000],
            ["1"] * 3,
            4,
            "{dir}/A.json: not a measurement result (Exceeds the limit "
            "(4300 digits) for integer string conversion: value has 5001 digits; use "
            "sys.set_int_max_str_digits() to increase the limit).",
        ),
    ],
)
def test_cli_refuses_joules_that_would_overflow(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    a_joules: list[str],
    b_joules: list[str],
    code: int,
    message: str,
) -> None:
    paths = []
    for name, values in (("A", a_joules), ("B", b_joules)):
        path = tmp_path / f"{name}.json"
        path.write_text("".join(_pods_json(j) for j in values))
        paths.append(str(path))
    got, out, err = run(["compare", *paths], capsys)
    assert (got, out) == (code, "")
    assert err.splitlines() == ["kepler-reader: error: " + message.format(dir=tmp_path)]
