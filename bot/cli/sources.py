"""``storybot sources``: list, add (URL or file), links, remove, restore, and the audit log."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bot.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    open_bot,
    print_json,
    whole_number,
)
from bot.cli.terminal import literal
from bot.presentation import UNKNOWN_PUBLISHER

MAX_FOLLOW = 50


def register(commands: argparse._SubParsersAction) -> None:
    sources = commands.add_parser("sources", help="list, add or remove sources")
    actions = sources.add_subparsers(dest="sources_command", required=True, metavar="ACTION")

    listing = actions.add_parser("list", help="list the sources")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=cmd_list)

    add = actions.add_parser(
        "add", help="add a source from a web page (URL) or a text or Markdown file"
    )
    add.add_argument("link", nargs="?", metavar="URL", help="the page to add")
    add.add_argument("--file", type=Path, help="a .txt, .md or .html file instead of a URL")
    add.add_argument(
        "--title",
        help="the title (default: the page's title, or a .md or .html file's own heading "
        "or title; needed for a .txt file)",
    )
    add.add_argument(
        "--follow",
        type=int,
        default=0,
        metavar="N",
        help="also add up to N pages the article links to",
    )
    add.add_argument(
        "--publisher", default="", help="who published it (default: taken from the page)"
    )
    add.add_argument("--url", default="", help="with --file: where the text comes from")
    add.add_argument("--published", default="", help="publication date, e.g. 2020-09-10")
    add.add_argument(
        "--kind",
        choices=("source", "story"),
        default="source",
        help="'story' for the story itself, 'source' for a linked source (default)",
    )
    add.add_argument("--added-by", default="cli", help="who is adding it (for the record)")
    add.add_argument(
        "--force",
        action="store_true",
        help="add it even if its text is near-empty or exactly another source's",
    )
    add.set_defaults(handler=cmd_add)

    remove = actions.add_parser("remove", help="remove a source by id (restorable)")
    remove.add_argument("id", help="the source's id (see: storybot sources list)")
    remove.add_argument("--by", default="cli", help="who is removing it (for the record)")
    remove.set_defaults(handler=cmd_remove)

    restore = actions.add_parser("restore", help="bring back a removed source")
    restore.add_argument("id", help="the removed source's id")
    restore.add_argument("--by", default="cli", help="who is restoring it (for the record)")
    restore.set_defaults(handler=cmd_restore)

    links = actions.add_parser("links", help="list the links found in a source")
    links.add_argument("id", help="the source's id (see: storybot sources list)")
    links.add_argument("--json", action="store_true", help="print JSON lines")
    links.set_defaults(handler=cmd_links)

    history = actions.add_parser("log", help="who added or removed what, and when")
    history.add_argument("--id", help="only entries about this source")
    history.add_argument(
        "-n", type=whole_number(1, 100_000), default=30, help="how many entries (newest first)"
    )
    history.add_argument("--json", action="store_true", help="print JSON lines")
    history.set_defaults(handler=cmd_log)


def id_column(table: Table, header: str = "id") -> None:
    """A column of ids, which are typed back: never wrapped or cut (other columns wrap)."""
    table.add_column(header, no_wrap=True, overflow="fold")


def sources_table(sources: Sequence) -> Table:
    table = Table(title=f"{len(sources)} source(s)", title_justify="left")
    id_column(table)
    table.add_column("title, publisher, kind")
    table.add_column("added", max_width=16)
    for s in sources:
        about = f"{s.publisher or UNKNOWN_PUBLISHER}, {s.kind}"
        table.add_row(
            literal(s.id),
            f"{literal(s.title)}\n[dim]{literal(about)}[/dim]",
            f"{literal(s.added_at[:10] or '—')}\n[dim]by {literal(s.added_by or '—')}[/dim]",
        )
    return table


def cmd_list(args, out: Console, err: Console) -> int:
    bot = open_bot(args, err, need="directory", load=False)
    if args.json:
        for s in bot.sources:
            print_json(s.header() | {"characters": len(s.text)})
    else:
        out.print(sources_table(bot.sources))
    return EXIT_OK


def cmd_add(args, out: Console, err: Console) -> int:
    from bot.sources.ingest import JunkSource

    if args.link is not None and args.file is not None:
        raise CliError("give either a URL or --file FILE, not both", EXIT_USAGE)
    if args.link is None and args.file is None:
        raise CliError("what to add? storybot sources add URL, or --file FILE", EXIT_USAGE)
    try:
        if args.link is not None:
            return _add_url(args, out, err)
        return _add_file(args, out, err)
    except JunkSource as exc:
        raise CliError(f"not added: {exc} (--force adds it anyway)") from exc


def _add_file(args, out: Console, err: Console) -> int:
    """``sources add --file``: the same checks and extraction as an upload on Discord."""
    from bot.sources.decoding import read_document
    from bot.sources.urls import is_http_url

    if not args.title and args.file.suffix.lower() not in {".md", ".markdown", ".html", ".htm"}:
        raise CliError("--title is required with a .txt file", EXIT_USAGE)
    if args.url.strip() and not is_http_url(args.url.strip()):
        raise CliError("--url must be an http:// or https:// address", EXIT_USAGE)
    bot = open_bot(args, err, need="nothing", load=False)
    added = bot.add_file(
        args.file.name,
        read_document(args.file),
        title=args.title,
        url=args.url,
        publisher=args.publisher,
        published=args.published,
        added_by=args.added_by,
        kind=args.kind,
        force=args.force,
    )
    print_added(out, added)
    return EXIT_OK


def _add_url(args, out: Console, err: Console) -> int:
    if not 0 <= args.follow <= MAX_FOLLOW:
        raise CliError(f"--follow must be between 0 and {MAX_FOLLOW}", EXIT_USAGE)
    bot = open_bot(args, err, need="nothing", load=False)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("Fetching…", total=1 + args.follow)

        def update(event) -> None:
            short = event.url if len(event.url) < 60 else event.url[:57] + "…"
            bar.update(task, completed=event.done, description=f"{event.stage} {short}")
            if event.stage == "skipped":
                bar.console.print(
                    f"[yellow]skipped[/yellow] {literal(event.url)}: {literal(event.message)}",
                    highlight=False,
                )

        report = asyncio.run(
            bot.add_url(
                args.link,
                title=args.title,
                added_by=args.added_by,
                kind=args.kind,
                follow=args.follow,
                progress=update,
                force=args.force,
            )
        )
    for added in report.added:
        print_added(out, added)
    if args.follow and len(report.added) < 1 + args.follow:
        out.print(
            f"followed {len(report.added) - 1} of {args.follow} link(s) asked for "
            f"({len(report.skipped)} skipped)",
            highlight=False,
        )
    return EXIT_OK


def print_added(out: Console, added) -> None:
    source = added.source
    out.print(
        f"added [bold]{source.id}[/bold]: {literal(source.title)} "
        f"({literal(source.publisher or UNKNOWN_PUBLISHER)}, {len(source.text):,} characters, "
        f"{len(source.links)} links)",
        highlight=False,
    )
    if added.near_duplicate:
        other, score = added.near_duplicate
        out.print(
            f"  [yellow]note:[/yellow] nearly the same text as [bold]{literal(other)}[/bold] "
            f"(similarity {score:.0%}); remove one with storybot sources remove ID",
            highlight=False,
        )


def cmd_remove(args, out: Console, err: Console) -> int:
    source = open_bot(args, err, need="directory", load=False).remove_source(
        args.id, removed_by=args.by
    )
    out.print(
        f"removed [bold]{source.id}[/bold]: {literal(source.title)} "
        f"(undo with: storybot sources restore {source.id})",
        highlight=False,
    )
    return EXIT_OK


def cmd_restore(args, out: Console, err: Console) -> int:
    source = open_bot(args, err, need="directory", load=False).restore_source(
        args.id, restored_by=args.by
    )
    out.print(f"restored [bold]{source.id}[/bold]: {literal(source.title)}", highlight=False)
    return EXIT_OK


def cmd_links(args, out: Console, err: Console) -> int:
    rows = open_bot(args, err, need="directory", load=False).links(args.id)
    if args.json:
        for link, in_corpus in rows:
            print_json({"text": link.text, "url": link.url, "in_corpus": in_corpus})
        return EXIT_OK
    table = Table(title=f"{len(rows)} link(s) in {literal(args.id)}", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("anchor text")
    table.add_column("URL", overflow="fold")  # whole, wrapped anywhere
    id_column(table, "in corpus")
    for number, (link, in_corpus) in enumerate(rows, 1):
        table.add_row(str(number), *map(literal, (link.text, link.url, in_corpus or "—")))
    out.print(table)
    return EXIT_OK


def cmd_log(args, out: Console, err: Console) -> int:
    entries = open_bot(args, err, need="directory", load=False).audit_entries(
        args.id, limit=max(1, args.n)
    )
    if args.json:
        for e in entries:
            print_json(dataclasses.asdict(e))
        return EXIT_OK
    table = Table(title=f"audit log ({len(entries)} newest)", title_justify="left")
    for column in ("when (UTC)", "who", "action"):
        table.add_column(column)
    id_column(table, "source")
    table.add_column("URL, detail", overflow="fold")
    for e in entries:
        when = e.at[:16].replace("T", " ")
        where = "\n".join(literal(part) for part in (e.url, e.detail) if part)
        table.add_row(*map(literal, (when, e.actor, e.action, e.source_id)), where)
    out.print(table)
    return EXIT_OK
