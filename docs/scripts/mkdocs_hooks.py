"""MkDocs hooks: the CLI reference from the parser itself, and pages left out of nav.

``on_page_markdown`` replaces the marker ``<!-- cli-reference -->`` with the reference
of every ``kepler-reader`` subcommand, generated from
``kepler_reader.cli.build_parser()`` at build time, so it cannot fall behind the code.
``on_config`` appends every page of ``docs/`` that ``nav`` in ``mkdocs.yml`` does not
list to a last section, "More", so a new page is reachable (and not reported as left
out) before anyone places it in ``nav``.

``python docs/scripts/mkdocs_hooks.py`` prints the generated CLI reference.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from kepler_reader.cli import build_parser

MARKER = "<!-- cli-reference -->"
PROG = "kepler-reader"


def _subcommands(
    parser: argparse.ArgumentParser,
) -> list[tuple[str, str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            return [(n, helps.get(n, ""), p) for n, p in action.choices.items()]
    return []


def _argument(action: argparse.Action) -> str:
    if not action.option_strings:
        return f"`{action.metavar or action.dest}`"
    if action.nargs == 0:
        return ", ".join(f"`{o}`" for o in action.option_strings)
    if action.choices is not None:
        value = "{" + ",".join(str(c) for c in action.choices) + "}"
    else:
        value = str(action.metavar or action.dest.upper())
    if action.nargs in ("+", "*"):
        value = f"{value} [{value} ...]"
    return ", ".join(f"`{o} {value}`" for o in action.option_strings)


def _escape(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _arguments_table(parser: argparse.ArgumentParser) -> list[str]:
    formatter = parser._get_formatter()
    rows = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        if action.help == argparse.SUPPRESS:
            continue
        text = formatter._expand_help(action) if action.help else ""
        rows.append(f"| {_argument(action)} | {_escape(text)} |")
    if not rows:
        return []
    return ["| argument | meaning |", "| --- | --- |", *rows, ""]


def _usage(parser: argparse.ArgumentParser) -> str:
    formatter = argparse.HelpFormatter(parser.prog, width=88)
    groups = parser._mutually_exclusive_groups
    formatter.add_usage(parser.usage, parser._actions, groups)
    return formatter.format_help().strip()


def cli_reference_markdown() -> str:
    """The reference of ``kepler-reader`` and each subcommand, as Markdown."""
    parser = build_parser()
    parser.prog = PROG
    lines = [
        "```text",
        _usage(parser),
        "```",
        "",
        _escape(parser.description or ""),
        "",
        *_arguments_table(parser),
    ]
    for name, summary, sub in _subcommands(parser):
        sub.prog = f"{PROG} {name}"
        description = sub.description or summary
        if "%(prog)" in description:  # as argparse formats it
            description = description % {"prog": sub.prog}
        lines += [
            f"## {name}",
            "",
            _escape(summary[:1].upper() + summary[1:]) + ".",
            "",
            "```text",
            _usage(sub),
            "```",
            "",
            _escape(description),
            "",
            *_arguments_table(sub),
        ]
    return "\n".join(lines).rstrip() + "\n"


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Put the generated CLI reference where a page holds the marker."""
    if MARKER in markdown:
        return markdown.replace(MARKER, cli_reference_markdown())
    return markdown


def _listed(nav: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(nav, str):
        found.add(nav)
    elif isinstance(nav, list):
        for item in nav:
            found |= _listed(item)
    elif isinstance(nav, dict):
        for value in nav.values():
            found |= _listed(value)
    return found


def on_config(config: Any, **kwargs: Any) -> Any:
    """Append the pages that ``nav`` does not list to a last section, "More"."""
    nav = config.get("nav")
    if not nav:
        return config
    docs = Path(config["docs_dir"])
    listed = _listed(nav)
    extra = sorted(
        path.relative_to(docs).as_posix()
        for path in docs.rglob("*.md")
        if not path.relative_to(docs).as_posix().startswith("scripts/")
    )
    missing = [page for page in extra if page not in listed]
    if missing:
        config["nav"] = [*nav, {"More": missing}]
    return config


if __name__ == "__main__":
    sys.stdout.write(cli_reference_markdown())
