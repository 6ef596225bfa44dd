"""The commands shown in docs/query.md print what the page says they print."""

from __future__ import annotations

import doctest
import re
import shlex
from pathlib import Path

import pytest

import kepler_reader as kr
from kepler_reader.cli import main

ROOT = Path(__file__).resolve().parent.parent
PAGE = (ROOT / "docs" / "query.md").read_text()


def _examples() -> list[tuple[str, str]]:
    # Every "$ kepler-reader ..." line of a console block, with the lines after it up
    # to the next command or the block's end. Outputs cut short with "…" are skipped.
    found = []
    for block in re.findall(r"```console\n(.*?)```", PAGE, flags=re.DOTALL):
        parts = re.split(r"^\$ ", block, flags=re.MULTILINE)
        for part in parts[1:]:
            command, _, output = part.partition("\n")
            if "…" not in output:
                found.append((command, output))
    return found


EXAMPLES = _examples()


def test_the_page_has_examples() -> None:
    assert len(EXAMPLES) >= 12


@pytest.mark.parametrize(("command", "output"), EXAMPLES, ids=range(len(EXAMPLES)))
def test_example(
    command: str,
    output: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)
    words = shlex.split(command)
    assert words[0] == "kepler-reader"
    code = main(words[1:])
    captured = capsys.readouterr()
    printed = captured.out if code == 0 else captured.err
    assert printed.rstrip("\n") == output.rstrip("\n")


def test_the_python_examples(monkeypatch: pytest.MonkeyPatch) -> None:
    # The ">>>" lines of the page's Python blocks run as one doctest, with the
    # recording the page's first block loads.
    monkeypatch.chdir(ROOT)
    blocks = re.findall(r"```python\n(.*?)```", PAGE, flags=re.DOTALL)
    text = "\n".join(block for block in blocks if ">>>" in block)
    flux = kr.load_recording("fixtures/kepler/real-full/v0.3-flux-system-*.json")
    test = doctest.DocTestParser().get_doctest(
        text, {"kr": kr, "recording": flux}, "docs/query.md", "docs/query.md", 0
    )
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
    assert len(test.examples) >= 10
