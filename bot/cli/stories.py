"""``storybot stories``: list, create, archive (or bring back) and rename stories.

Every other command works on one story: the default one, or the one ``--story NAME`` names
(by name, or by id when two servers use the same name)."""

from __future__ import annotations

import argparse

from rich.console import Console

from bot.cli.common import EXIT_OK, CliError, print_json
from bot.cli.terminal import Column, literal, print_table


def register(commands: argparse._SubParsersAction) -> None:
    stories = commands.add_parser("stories", help="list, create, archive or rename stories")
    actions = stories.add_subparsers(dest="stories_command", required=True, metavar="ACTION")

    listing = actions.add_parser("list", help="list the stories (archived ones too)")
    listing.add_argument("--json", action="store_true", help="print JSON lines")
    listing.set_defaults(handler=cmd_list)

    create = actions.add_parser("create", help="create an empty story")
    create.add_argument(
        "name", help="lowercase letters and digits, words joined by hyphens, e.g. harbour-fire"
    )
    create.add_argument(
        "--server",
        default="",
        metavar="ID",
        help="the Discord server (guild id) it belongs to; default: none (command line only)",
    )
    create.add_argument("--by", default="cli", help="who is creating it (for the record)")
    create.set_defaults(handler=cmd_create)

    archive = actions.add_parser(
        "archive", help="archive a story: it answers nothing more; its files and logs are kept"
    )
    archive.add_argument("name", help="the story's name or id")
    archive.add_argument("--undo", action="store_true", help="bring an archived story back")
    archive.add_argument("--by", default="cli", help="who is archiving it (for the record)")
    archive.set_defaults(handler=cmd_archive)

    rename = actions.add_parser("rename", help="rename a story")
    rename.add_argument("name", help="the story's name or id")
    rename.add_argument("new_name", help="its new name")
    rename.add_argument("--by", default="cli", help="who is renaming it (for the record)")
    rename.set_defaults(handler=cmd_rename)


def _store(args):
    from bot.config import load_config
    from bot.insights.database import database_path
    from bot.stories.store import StoryStore

    config = load_config(args.config)
    return config, StoryStore(database_path(config.state_dir))


def _errors():
    from bot.stories.store import StoryError

    return StoryError


STORY_COLUMNS = (
    Column("id", key=True),
    Column("name", key=True),
    Column("server", key=True, drop=1),
    Column("status", key=True),
    Column("sources", key=True, justify="right"),
)


def cmd_list(args, out: Console, err: Console) -> int:
    from bot.sources.corpus import Corpus
    from bot.stories.story import corpus_dir_of

    config, store = _store(args)
    rows = []
    for story in store.all():
        corpus = Corpus(corpus_dir_of(config, story.id))
        count = len(corpus.ids()) if corpus.directory.is_dir() else 0
        rows.append((story, count))
    if args.json:
        for story, count in rows:
            print_json(
                {
                    "id": story.id,
                    "name": story.name,
                    "server": story.guild,
                    "status": story.status,
                    "sources": count,
                    "created_at": story.created_at,
                    "created_by": story.created_by,
                }
            )
        return EXIT_OK
    table = [
        (story.id, story.name, story.guild or "—", story.status, count) for story, count in rows
    ]
    print_table(out, f"{len(rows)} story(ies)", STORY_COLUMNS, table)
    return EXIT_OK


def cmd_create(args, out: Console, err: Console) -> int:
    from bot.stories.story import corpus_dir_of

    config, store = _store(args)
    server = args.server.strip()
    if server and not server.isdigit():
        raise CliError(f"--server must be a Discord server id (digits), got {server!r}")
    try:
        story = store.create(args.name, guild=server, by=args.by)
    except _errors() as exc:
        raise CliError(str(exc)) from exc
    corpus_dir_of(config, story.id).mkdir(parents=True, exist_ok=True)
    try:  # the name, if --story can find the story by it; else its id
        handle = store.named(story.name).name
    except _errors():
        handle = str(story.id)
    out.print(
        f"created story {literal(story.name)} (id {story.id}); add sources with: "
        f"storybot --story {literal(handle)} sources add URL",
        highlight=False,
        soft_wrap=True,  # the command stays on one line, to copy
    )
    return EXIT_OK


def cmd_archive(args, out: Console, err: Console) -> int:
    from bot.stories.store import ACTIVE, ARCHIVED

    _, store = _store(args)
    try:
        story = store.named(args.name)
        story = store.set_status(story.id, ACTIVE if args.undo else ARCHIVED, by=args.by)
    except _errors() as exc:
        raise CliError(str(exc)) from exc
    out.print(f"story {literal(story.name)} (id {story.id}) is {story.status}", highlight=False)
    return EXIT_OK


def cmd_rename(args, out: Console, err: Console) -> int:
    _, store = _store(args)
    try:
        story = store.named(args.name)
        renamed = store.rename(story.id, args.new_name, by=args.by)
    except _errors() as exc:
        raise CliError(str(exc)) from exc
    out.print(
        f"story {literal(story.name)} (id {story.id}) is now {literal(renamed.name)}",
        highlight=False,
    )
    return EXIT_OK
