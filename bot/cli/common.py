"""What every command shares: the user-facing error, exit codes, and opening the engine."""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from rich.console import Console

from bot.cli.terminal import literal

if TYPE_CHECKING:
    from bot.config import Config
    from bot.engine import StoryBot

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
log = logging.getLogger("bot.cli")
# The largest row id SQLite stores (a larger number would raise OverflowError, not "no such").
MAX_ID = 2**63 - 1


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high`` (a usage error otherwise)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is not between {low} and {high}")
        return value

    parse.__name__ = "whole number"
    return parse


ROW_ID = whole_number(1, MAX_ID)  # a feed or candidate id


class CliError(Exception):
    """A message for the user and an exit code; no traceback."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.code = code


def open_bot(
    args,
    err: Console,
    *,
    need: str = "sources",
    load: bool = True,
    every_story: bool = False,
    archived: bool = False,
) -> StoryBot:
    """The engine for ``--config`` and ``--story`` (loaded only by commands that need it:
    ``--help`` stays fast), with a spinner while the corpus loads and a warning per skipped file.

    ``need``: "sources" (answering: at least one source must load), "directory" (the corpus
    directory must exist, e.g. to list it) or "nothing" (e.g. adding the first source creates
    it). When it is not met, a CliError says which config was used, where the corpus was looked
    for and how to point at another one, instead of answers from an empty corpus.

    ``load``: build the story's index now (spaCy, the embedding model, every passage). Commands
    that only read the database or the corpus files pass False and never pay for it; the index
    still loads if they end up asking something.

    ``every_story``: the command serves all stories (``storybot run``), so an archived default
    story is no reason to refuse it; every other command works on the story it opens, and
    refuses an archived one as ``--story`` does, but for ``archived`` (commands that only read
    its sources and logs: they say on stderr that it is archived)."""
    from bot.config import load_config
    from bot.engine import StoryBot
    from bot.stories.store import StoryError

    config = load_config(args.config)
    try:
        bot = StoryBot(config, story=getattr(args, "story", None), load=False, archived=archived)
    except StoryError as exc:
        raise CliError(str(exc)) from exc
    if bot.story.archived and archived:
        err.print(literal(bot.story.archived_note()), highlight=False, soft_wrap=True)
    elif bot.story.archived and not every_story:  # a named one was refused above
        name = bot.story.name
        raise CliError(
            f"the default story {name!r} (id {bot.story.id}) is archived: name another with "
            f"--story NAME, or bring it back with: storybot stories archive {bot.story.id} --undo"
        )
    corpus_dir = bot.corpus.directory
    named = bot.story.name if getattr(args, "story", None) and bot.story.id != 1 else ""
    if not corpus_dir.is_dir():
        if need != "nothing":
            raise CliError(
                corpus_problem(config, "there is no corpus directory", corpus_dir, named)
            )
        where = config.path or "no config file, defaults"
        err.print(
            f"[yellow]note:[/yellow] starting a new corpus in {literal(corpus_dir)} "
            f"({literal(where)})",
            highlight=False,
        )
        try:
            corpus_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            problem = f"cannot create the corpus directory {corpus_dir}: {exc}"
            raise CliError(problem) from exc
    log.info("config: %s", config.path or "none found, defaults")
    if load:
        started = time.perf_counter()
        with err.status("Loading the corpus…"):
            index = bot.open_story.story.loaded()
        log.info(
            "corpus %s: %d source(s), %d passage(s) in %.2f s (%d run through spaCy, "
            "%d embedded; the rest from the cache in %s)",
            corpus_dir,
            len(bot.sources),
            bot.passage_count,
            time.perf_counter() - started,
            index.passage_builds,
            index.vector_builds,
            bot.open_story.story.cache_dir,
        )
    for problem in bot.load_errors:
        err.print(f"[yellow]warning:[/yellow] skipped {literal(problem)}", highlight=False)
    if need == "sources" and not bot.sources:
        raise CliError(corpus_problem(config, "the corpus has no sources", corpus_dir, named))
    return bot


def story_command(args, command: str) -> str:
    """``storybot COMMAND`` as the user should type it next: with the ``--story`` they gave
    (without it, a hint would act on the default story)."""
    import shlex

    story = (getattr(args, "story", None) or "").strip()
    return f"storybot --story {shlex.quote(story)} {command}" if story else f"storybot {command}"


def corpus_problem(config: Config, problem: str, corpus_dir=None, story: str = "") -> str:
    """Why there is nothing to answer from, which config said so, and the ways to fix it
    (``story``: the story named by ``--story``, whose corpus is in the state directory)."""
    from bot.config import CONFIG_ENV_VAR, config_search_path, user_config_path

    if story:
        return (
            f"{problem}: {corpus_dir}\n"
            f"  the story {story!r} has none yet; "
            f"add a first source with: storybot --story {story} sources add URL"
        )

    if config.path is None:
        looked = ", ".join(str(path) for path in config_search_path())
        used = f"no config file found (looked for ${CONFIG_ENV_VAR}, {looked}), so defaults"
    else:
        used = f"config {config.path}"
    return (
        f"{problem}: {corpus_dir or config.corpus_dir}\n"
        f"  used: {used}\n"
        "  fix: run storybot in the folder that holds config.toml and corpus/, or point at a "
        f"config with --config PATH or {CONFIG_ENV_VAR}=PATH, or put one in "
        f"{user_config_path()} ([corpus] dir is relative to the config file); "
        "add a first source with: storybot sources add URL"
    )


def print_json(record: dict, out: Console | None = None) -> None:
    """One JSON line on stdout (or ``out``), flushed: a reader of a pipe gets it at once."""
    import json

    line = json.dumps(record, ensure_ascii=False, default=str)  # default: TOML dates
    if out is None:
        print(line, flush=True)
    else:
        out.print(line, markup=False, highlight=False, soft_wrap=True)


def print_json_lines(records: Iterable) -> None:
    """Each record (a dataclass: a feed, candidate, item, audit entry) as one JSON line."""
    import dataclasses

    for record in records:
        print_json(dataclasses.asdict(record))
