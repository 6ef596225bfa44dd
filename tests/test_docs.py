"""The documentation: its examples run, and its references cover the code.

Every fenced block of every page under docs/ is checked:

- ``python`` blocks run, in order, in one namespace per page, in a fresh directory per
  page; a ``text`` block right after one is its expected output (``...`` matches
  anything, as in doctests);
- ``console`` blocks: each ``$ kepler-reader ...`` line runs through the CLI entry
  point and must exit 0; the lines after it are its expected output;
- ``sh`` blocks: each ``kepler-reader`` command runs (``&&`` chains and ``.venv/bin/``
  prefixes allowed); the setup commands of an install (``python3 -m venv``, ``pip
  install``) are not run; any other command fails the test.

A block that needs a network, a cluster or a long time carries, on the line before
its fence, ``<!-- docs-test: skip (the reason) -->``.
"""

from __future__ import annotations

import argparse
import contextlib
import doctest
import importlib.util
import inspect
import io
import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import pytest

import kepler_reader as kr
from kepler_reader.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "scripts" not in p.parts)
SKIP = re.compile(r"<!--\s*docs-test:\s*skip\s*\((?P<reason>[^)]+)\)\s*-->")
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w-]*)\s*$")
SETUP = (("python3", "-m", "venv"), ("pip", "install"), (".",), ("source",))


class Block(NamedTuple):
    lang: str
    code: str
    line: int
    skip: str | None
    adjacent_to_previous: bool


def blocks(page: Path) -> list[Block]:
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    last_end = -10
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        start = i
        indent = len(match["indent"])
        body = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][indent:])
            i += 1
        before = [line for line in lines[max(start - 2, 0) : start] if line.strip()]
        marker = SKIP.search(before[-1]) if before else None
        between = lines[last_end + 1 : start] if last_end >= 0 else ["x"]
        found.append(
            Block(
                lang=match["lang"],
                code="\n".join(body) + "\n",
                line=start + 1,
                skip=marker["reason"] if marker else None,
                adjacent_to_previous=not any(line.strip() for line in between),
            )
        )
        last_end = i
        i += 1
    return found


def check_output(expected: str, got: str, where: str) -> None:
    checker = doctest.OutputChecker()
    # A page may shorten an output with "…" as well as with "...".
    wanted = expected.replace("…", "...")
    if not checker.check_output(wanted, got, doctest.ELLIPSIS):
        raise AssertionError(
            f"{where}: output differs.\nexpected:\n{expected}\ngot:\n{got}"
        )


def run_cli(argv: list[str], where: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    assert code == 0, f"{where}: kepler-reader {shlex.join(argv)} exited {code}"
    return out.getvalue()


def program(words: list[str]) -> str:
    return words[0].rsplit("/", 1)[-1]


def run_console(block: Block, where: str) -> None:
    command: list[str] | None = None
    expected: list[str] = []

    def finish() -> None:
        if command is not None:
            got = run_cli(command, where)
            check_output(
                "\n".join(expected).rstrip() + "\n" if expected else "", got, where
            )

    for line in block.code.splitlines():
        if line.startswith("$ "):
            finish()
            words = shlex.split(line[2:])
            assert program(words) == "kepler-reader", (
                f"{where}: {words[0]!r} is not kepler-reader; mark the block skipped"
            )
            command, expected = words[1:], []
        else:
            expected.append(line)
    finish()


def run_sh(block: Block, where: str) -> None:
    for line in block.code.replace("\\\n", " ").splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line:
            continue
        for part in line.split("&&"):
            words = shlex.split(part)
            if program(words) == "kepler-reader":
                run_cli(words[1:], where)
                continue
            names = (program(words), *words[1:])
            if not any(names[: len(s)] == s for s in SETUP):
                raise AssertionError(
                    f"{where}: {part.strip()!r} cannot run here; mark the block "
                    "skipped with its reason"
                )


def run_doctest(code: str, namespace: dict[str, Any], where: str) -> None:
    """Run an interactive-session block, checking each output as doctest does."""
    test = doctest.DocTestParser().get_doctest(code, namespace, where, where, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report = io.StringIO()
    result = runner.run(test, out=report.write, clear_globs=False)
    assert result.failed == 0, f"{where}: example output differs\n{report.getvalue()}"


@pytest.mark.parametrize(
    "page", PAGES, ids=[p.relative_to(DOCS).as_posix() for p in PAGES]
)
def test_examples_run(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Examples run in a fresh folder, as from a clone's top: its fixtures are there.
    (tmp_path / "fixtures").symlink_to(ROOT / "fixtures")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    found = blocks(page)
    for index, block in enumerate(found):
        where = f"{page.relative_to(ROOT)}:{block.line}"
        if block.skip:
            continue
        if block.lang == "python" and block.code.lstrip().startswith(">>>"):
            run_doctest(block.code, namespace, where)
        elif block.lang == "python":
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                exec(compile(block.code, where, "exec"), namespace)
            following = found[index + 1] if index + 1 < len(found) else None
            if (
                following
                and following.lang == "text"
                and following.adjacent_to_previous
            ):
                check_output(following.code, out.getvalue(), where)
        elif block.lang == "console":
            run_console(block, where)
        elif block.lang == "sh":
            run_sh(block, where)


def test_block_reader_sees_markers_and_output(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- docs-test: skip (needs a cluster) -->\n```sh\nkubectl get pods\n```\n"
        "\n```python\nprint(1)\n```\n\n```text\n1\n```\n\nprose\n\n```text\nx\n```\n"
    )
    found = blocks(page)
    assert [(b.lang, b.skip, b.adjacent_to_previous) for b in found] == [
        ("sh", "needs a cluster", False),
        ("python", None, True),
        ("text", None, True),
        ("text", None, False),
    ]
    with pytest.raises(AssertionError, match="'kubectl get pods' cannot run here"):
        run_sh(found[0], "page.md:2")
    with pytest.raises(AssertionError, match="output differs"):
        check_output("2\n", "1\n", "page.md")


def _hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "mkdocs_hooks", DOCS / "scripts" / "mkdocs_hooks.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_covers_every_command_and_flag() -> None:
    text = _hooks().cli_reference_markdown()
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                assert f"## {name}\n" in text, name
                for option in sub._actions:
                    for flag in option.option_strings:
                        if flag not in ("-h", "--help"):
                            assert f"`{flag}" in text, f"{name} {flag}"
                    if not option.option_strings:
                        assert f"`{option.metavar or option.dest}`" in text


def test_nav_hook_appends_unlisted_pages(tmp_path: Path) -> None:
    (tmp_path / "index.md").write_text("# a\n")
    (tmp_path / "measure.md").write_text("# b\n")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "notes.md").write_text("# c\n")
    config = {"docs_dir": str(tmp_path), "nav": [{"Home": "index.md"}]}
    assert _hooks().on_config(config)["nav"] == [
        {"Home": "index.md"},
        {"More": ["measure.md"]},
    ]


def test_every_public_name_has_a_docstring() -> None:
    for name in kr.__all__:
        obj = getattr(kr, name)
        if not isinstance(obj, str):
            assert inspect.getdoc(obj), name


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed: pip install --group docs")
    out = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    assert "WARNING" not in build.stderr, build.stderr
    return out


def test_site_builds_and_the_api_reference_has_every_public_name(site: Path) -> None:
    html = (site / "reference" / "api" / "index.html").read_text(encoding="utf-8")
    ids = set(re.findall(r'id="(kepler_reader\.[\w.]+)"', html))
    for name in kr.__all__:
        obj = getattr(kr, name)
        if isinstance(obj, str):
            assert name in html, name
            continue
        qualified = {f"kepler_reader.{name}", f"{obj.__module__}.{name}"}
        assert qualified & ids, name


def test_site_has_the_generated_cli_reference_and_images(site: Path) -> None:
    html = (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    assert "<!-- cli-reference -->" not in html
    assert "--min-repeats" in html
    assert "kepler-reader compare" in html
    for image in ("flux-energy.png", "power.png", "compare.png"):
        assert (site / "images" / image).stat().st_size > 10_000
