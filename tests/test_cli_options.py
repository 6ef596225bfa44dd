"""Connection flags and their KEPLER_READER_* environment variables."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from kepler_reader.cli_options import add_connection_options, scraper_from_args


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="test")
    add_connection_options(parser)
    return parser.parse_args(argv)


def test_defaults_without_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TIMEOUT", "RETRIES", "INSECURE", "OPENMETRICS"):
        monkeypatch.delenv(f"KEPLER_READER_{name}", raising=False)
    args = _parse([])
    assert (args.timeout, args.connect_timeout, args.retries) == (10.0, None, 2)
    assert (args.insecure, args.openmetrics, args.bearer_token_file) == (
        False,
        False,
        None,
    )
    assert args.max_body_bytes == 256 * 1024 * 1024


def test_environment_fills_in_and_flags_win(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KEPLER_READER_TIMEOUT", "2.5")
    monkeypatch.setenv("KEPLER_READER_RETRIES", "0")
    monkeypatch.setenv("KEPLER_READER_INSECURE", "yes")
    monkeypatch.setenv("KEPLER_READER_OPENMETRICS", "0")
    monkeypatch.setenv("KEPLER_READER_BEARER_TOKEN_FILE", str(tmp_path / "t"))
    args = _parse(["--retries", "4"])
    assert (args.timeout, args.retries, args.insecure, args.openmetrics) == (
        2.5,
        4,
        True,
        False,
    )
    assert args.bearer_token_file == str(tmp_path / "t")
    assert _parse(["--timeout", "7"]).timeout == 7.0
    assert _parse(["--openmetrics"]).openmetrics is True


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        pytest.param(
            "KEPLER_READER_TIMEOUT",
            "soon",
            "argument --timeout: not a number of seconds: 'soon' "
            "(from the environment variable KEPLER_READER_TIMEOUT)",
            id="timeout",
        ),
        pytest.param(
            "KEPLER_READER_RETRIES",
            "-1",
            "argument --retries: must be 0 or more: -1 "
            "(from the environment variable KEPLER_READER_RETRIES)",
            id="retries",
        ),
        pytest.param(
            "KEPLER_READER_INSECURE",
            "maybe",
            "argument --insecure: not a yes/no value: 'maybe' (use one of 1, true, "
            "yes, on, 0, false, no, off) (from the environment variable "
            "KEPLER_READER_INSECURE)",
            id="switch",
        ),
    ],
)
def test_bad_environment_value_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    message: str,
) -> None:
    monkeypatch.setenv(variable, value)
    parser = argparse.ArgumentParser(prog="test")
    add_connection_options(parser)  # building the parser does not fail
    with pytest.raises(SystemExit) as exited:
        parser.parse_args([])
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip().endswith(f"test: error: {message}")


def test_a_bad_variable_is_ignored_when_the_flag_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KEPLER_READER_TIMEOUT", "soon")
    assert _parse(["--timeout", "3"]).timeout == 3.0


def test_bad_flag_value_does_not_blame_the_environment(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        _parse(["--max-body-bytes", "0"])
    err = capsys.readouterr().err
    assert err.strip().endswith("argument --max-body-bytes: must be above 0: 0")


def test_scraper_from_args_carries_every_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KEPLER_READER_BASIC_AUTH_PASSWORD", "from-env")
    monkeypatch.delenv("KEPLER_READER_INSECURE", raising=False)
    flags = "--timeout 3 --connect-timeout 1 --retries 5 --basic-auth-user kepler"
    args = _parse([*flags.split(), "--max-body-bytes", "1000"])
    with scraper_from_args(args, "http://127.0.0.1:1/metrics", lenient=True) as s:
        assert (s.timeout, s.connect_timeout, s.retries) == (3.0, 1.0, 5)
        assert (s.max_body_bytes, s.lenient) == (1000, True)
        assert s.credentials.basic_auth_user == "kepler"
        assert s.credentials.basic_auth_password == "from-env"
        assert "from-env" not in repr(s)
