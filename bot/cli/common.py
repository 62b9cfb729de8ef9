"""What every command shares: the user-facing error, exit codes, and opening the engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

from bot.cli.terminal import literal

if TYPE_CHECKING:
    from bot.engine import StoryBot

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """A message for the user and an exit code; no traceback."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.code = code


def open_bot(args, err: Console) -> StoryBot:
    """The engine for ``--config`` (loaded only by commands that need it: ``--help`` stays
    fast), with a spinner while the corpus loads and a warning per skipped file."""
    from bot.config import load_config
    from bot.engine import StoryBot

    config = load_config(args.config)
    with err.status("Loading the corpus…"):
        bot = StoryBot(config)
    for problem in bot.load_errors:
        err.print(f"[yellow]warning:[/yellow] skipped {literal(problem)}", highlight=False)
    return bot


def print_json(record: dict) -> None:
    import json

    print(json.dumps(record, ensure_ascii=False, default=str))  # default: TOML dates
