"""``--help`` and ``--version``: fast, complete, and without loading the search stack."""

from __future__ import annotations

import argparse
import importlib.metadata
import subprocess
import sys

import pytest

from bot import __version__
from bot.cli import build_parser, main

# Loading any of these takes most of a second; parsing the command line must not need them.
HEAVY_MODULES = ("spacy", "scipy", "numpy", "onnxruntime", "discord", "trafilatura", "httpx")


def _parsers(parser: argparse.ArgumentParser, name: str = "storybot"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def test_every_command_and_option_has_help():
    missing = []
    for name, parser in _parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                missing += [
                    f"{name} {choice.dest}" for choice in action._choices_actions if not choice.help
                ]
            elif not action.help:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["ask", "--help"], ["sources", "add", "--help"], ["stats", "--help"]],
)
def test_help_loads_no_heavy_module(argv):
    probe = (
        "import sys\n"
        "from bot.cli import build_parser\n"
        "try:\n"
        f"    build_parser().parse_args({argv!r})\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0, exit.code\n"
        f"loaded = [m for m in {HEAVY_MODULES!r} if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "usage: storybot" in result.stdout


def test_version_matches_the_installed_package(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--version"])
    assert exit.value.code == 0
    assert capsys.readouterr().out.strip() == f"storybot {__version__}"
    assert importlib.metadata.version("storybot") == __version__
