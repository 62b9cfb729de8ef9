"""``storybot health``: can the bot run here? For container health checks and service scripts.

Checks what a running bot relies on, without loading spaCy or connecting to Discord (so it
answers in a fraction of a second): the config, a corpus with sources that load, a writable
state directory and state database (a row written, so a full disk or a read-only or damaged
database shows), the embedding model and tokenizer by their sha256 (with the semantic layer
on), and with ``--discord`` the token in the environment. Exit codes are those of ``storybot
run`` for the same problem: 2 for a missing token (a service manager should not restart), 1
for the rest. Whether the gateway
connection is up is discord.py's business (it reconnects); a bot that crashes ends its process,
which the container or service manager restarts.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile

from rich.console import Console

from bot.cli.common import EXIT_OK, CliError
from bot.cli.terminal import literal


def register(commands: argparse._SubParsersAction) -> None:
    health = commands.add_parser(
        "health",
        help="check the config, corpus, state, and model files (exit 0 when all is well)",
    )
    health.add_argument(
        "--discord", action="store_true", help="also check that DISCORD_TOKEN is set"
    )
    health.set_defaults(handler=cmd_health)


def check_state_dir(config) -> None:
    """CliError (exit 1) unless the state directory exists or can be made, and is writable;
    created private (0700): it holds what members asked."""
    try:
        config.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=config.state_dir):
            pass
    except OSError as exc:
        raise CliError(f"the state directory {config.state_dir} is not writable: {exc}") from exc


def cmd_health(args, out: Console, err: Console) -> int:
    from bot.cli.common import corpus_problem
    from bot.cli.serve import discord_token
    from bot.config import load_config
    from bot.insights.database import database_path
    from bot.insights.keyvalues import KeyValues
    from bot.search.modelfiles import SemanticError, check_model_files
    from bot.sources.corpus import Corpus

    config = load_config(args.config)
    story = (getattr(args, "story", None) or "").strip()
    corpus_dir = _story_corpus(config, story or None)
    if not corpus_dir.is_dir():
        raise CliError(corpus_problem(config, "there is no corpus directory", corpus_dir, story))
    loaded = Corpus(corpus_dir, config.max_source_bytes).load()
    if not loaded.sources:
        raise CliError(corpus_problem(config, "the corpus has no sources", corpus_dir, story))
    check_state_dir(config)
    database = database_path(config.state_dir)
    try:
        KeyValues(database).set("health-check", "ok")
    except (sqlite3.Error, OSError) as exc:
        raise CliError(f"the state database {database} cannot be written: {exc}") from exc
    if config.semantic.enabled:
        try:
            check_model_files(config.semantic)
        except SemanticError as exc:
            raise CliError(str(exc)) from exc
    if args.discord:
        discord_token()  # exit 2 when missing, as storybot run: a restart cannot fix it
    skipped = f", {len(loaded.errors)} file(s) skipped" if loaded.errors else ""
    for problem in loaded.errors:  # which, and why, as every other command says it
        err.print(f"[yellow]warning:[/yellow] skipped {literal(problem)}", highlight=False)
    if not story:  # the other stories a running bot serves: their corpora must be there
        for problem in _other_stories_missing(config):
            err.print(f"[yellow]warning:[/yellow] {literal(problem)}", highlight=False)
    out.print(
        f"ok: {len(loaded.sources)} source(s) in {literal(corpus_dir)}{literal(skipped)}; "
        f"state in {literal(config.state_dir)}",
        highlight=False,
        soft_wrap=True,
    )
    return EXIT_OK


def _story_corpus(config, story: str | None):
    """The corpus directory of ``--story`` (default: the default story's, ``[corpus] dir``)."""
    if not story:
        return config.corpus_dir
    from bot.insights.database import database_path
    from bot.stories.store import StoryError, StoryStore
    from bot.stories.story import corpus_dir_of

    try:
        record = StoryStore(database_path(config.state_dir)).named(story)
    except StoryError as exc:
        raise CliError(str(exc)) from exc
    if record.archived:
        raise CliError(record.archived_note())
    return corpus_dir_of(config, record.id)


def _other_stories_missing(config) -> list[str]:
    """A line for each active story besides the default whose corpus directory is gone
    although sources were added to it (its audit log says so): a restore from backup, not a
    first source, is what it needs. A story nobody added to yet has no directory, rightly."""
    from bot.insights.audit import AuditLog
    from bot.insights.database import DEFAULT_STORY_ID, database_path
    from bot.stories.store import StoryStore
    from bot.stories.story import corpus_dir_of

    database = database_path(config.state_dir)
    lines = []
    for record in StoryStore(database).all(archived=False):
        directory = corpus_dir_of(config, record.id)
        if record.id == DEFAULT_STORY_ID or directory.is_dir():
            continue
        if AuditLog(database, record.id).entries(limit=1, action="add"):
            lines.append(
                f"story {record.name!r} (id {record.id}) has no corpus directory: {directory}"
            )
    return lines
