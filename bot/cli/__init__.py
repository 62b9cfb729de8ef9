"""The ``storybot`` command line: a thin adapter over ``bot.engine.StoryBot``.

One module per command group (``ask``, ``sources``, ``feeds``, ``stats``, ``serve``,
``health``); each registers its subcommands with ``set_defaults(handler=...)`` and :func:`main`
calls the handler. Heavy imports (spaCy, the index, discord.py) happen inside handlers, so
``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys

from rich.console import Console

from bot import __version__
from bot.cli import ask, feeds, health, serve, sources, stats, stories
from bot.cli.common import EXIT_FAILURE, EXIT_USAGE, CliError
from bot.cli.terminal import literal


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="storybot",
        description="Answer questions about a news story with attributed, verbatim excerpts.",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="config.toml to use (default: $STORYBOT_CONFIG, ./config.toml, then "
        "~/.config/storybot/config.toml)",
    )
    parser.add_argument("--story", metavar="NAME", help=STORY_HELP)
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    parser.add_argument("--version", action="version", version=f"storybot {__version__}")
    # Not required: storybot alone prints the help (main) rather than an argparse error.
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in (ask, sources, feeds, stats, stories, serve, health):
        group.register(commands)
    _story_option_everywhere(commands)
    return parser


STORY_HELP = "the story to work on (name or id; default: the default story)"


def _story_option_everywhere(commands: argparse._SubParsersAction) -> None:
    """``--story`` after the command too (``storybot sources list --story x``): every
    command's parser takes it, without overriding one given before the command. ``storybot
    stories`` names its story as an argument: there it is parsed only to be refused (main)."""
    for parser in commands.choices.values():
        if not any("--story" in action.option_strings for action in parser._actions):
            hidden = parser.prog.split()[1:2] == ["stories"]
            parser.add_argument(
                "--story",
                metavar="NAME",
                default=argparse.SUPPRESS,
                help=argparse.SUPPRESS if hidden else STORY_HELP,
            )
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                _story_option_everywhere(action)


def setup_logging(verbose: bool) -> None:
    """Errors only; with ``-v`` storybot's own INFO lines (``bot.*``) too. Libraries stay at
    WARNING: spaCy's INFO lines ("Created vocabulary") say nothing to a user, and spaCy's own
    handler printed each of them a second time."""
    # Like basicConfig, nothing changes where logging is set up already (an embedding program).
    logging.basicConfig(
        level=logging.WARNING if verbose else logging.ERROR,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if verbose:
        logging.getLogger("bot").setLevel(logging.INFO)
    spacy = logging.getLogger("spacy")
    spacy.setLevel(logging.WARNING)
    spacy.propagate = not spacy.handlers  # spaCy prints through its own handler


def _user_errors() -> tuple[type[Exception], ...]:
    """Errors whose message is for the user (no traceback): config, corpus, input, network, a
    model file refused by its hash, a full or read-only disk or database."""
    from bot.config import ConfigError
    from bot.search.modelfiles import SemanticError
    from bot.sources.feeds.items import FeedError
    from bot.sources.feeds.store import FeedStoreError
    from bot.sources.ingest import ERRORS
    from bot.stories.store import StoryError

    errors = (ConfigError, SemanticError, FeedStoreError, FeedError, StoryError, *ERRORS)
    errors += (sqlite3.Error, OSError)
    if "bot.search.text" in sys.modules:  # else no NlpError can have been raised (nor spaCy
        from bot.search.text import NlpError  # loaded only to say so)

        errors += (NlpError,)
    return errors


def _stories_named(argv: list[str]) -> list[str]:
    """The values of every ``--story`` on the command line (before a ``--``)."""
    values = []
    for n, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--story" and n + 1 < len(argv):
            values.append(argv[n + 1])
        elif arg.startswith("--story="):
            values.append(arg.partition("=")[2])
    return values


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    named = _stories_named(argv)
    if len({name.strip().lower() for name in named}) > 1:  # else the last would win silently
        parser.error(f"--story is given twice ({', '.join(named)}): give it once")
    args = parser.parse_args(argv)
    if args.command == "stories" and getattr(args, "story", None) is not None:  # else ignored
        parser.error("storybot stories takes the story as its argument, not --story")
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    setup_logging(args.verbose)
    out, err = Console(), Console(stderr=True)
    try:
        return args.handler(args, out, err)
    except CliError as exc:
        err.print(f"[red]error:[/red] {literal(exc)}", highlight=False, soft_wrap=True)
        return exc.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (storybot ask --json ... | head)
        sys.stdout = None  # nothing left to flush at exit (no second BrokenPipeError)
        return EXIT_FAILURE
    except Exception as exc:
        if not isinstance(exc, _user_errors()):
            raise
        where = "the state database: " if isinstance(exc, sqlite3.Error) else ""
        err.print(f"[red]error:[/red] {where}{literal(exc)}", highlight=False, soft_wrap=True)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
