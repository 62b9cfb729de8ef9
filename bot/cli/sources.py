"""``storybot sources``: list, add (URL or file), links, remove, restore, and the audit log."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bot.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    open_bot,
    print_json,
    print_json_lines,
    story_command,
    whole_number,
)
from bot.cli.terminal import Column, literal, print_table
from bot.presentation import UNKNOWN_PUBLISHER

MAX_FOLLOW = 50
MAX_LOG = 100_000  # the most audit entries one `sources log` prints


def publication_date(text: str) -> str:
    """``--published``: a date as YYYY-MM-DD (argparse reports anything else as usage)."""
    from bot.sources.corpus import publication_date as checked

    try:
        return checked(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


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
    add.add_argument(
        "--published",
        default="",
        type=publication_date,
        metavar="YYYY-MM-DD",
        help="publication date, e.g. 2020-09-10, not after tomorrow (default: the page's own)",
    )
    add.add_argument(
        "--kind",
        choices=("source", "story"),
        default="source",
        help="'story' for the story itself, 'source' for a linked source (default)",
    )
    add.add_argument(
        "--by",
        "--added-by",
        dest="added_by",
        default="cli",
        help="who is adding it (for the record)",
    )
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
        "-n",
        type=whole_number(1, MAX_LOG),
        default=30,
        help="how many entries, newest first (default: 30; stderr says when there are more)",
    )
    history.add_argument("--json", action="store_true", help="print JSON lines")
    history.set_defaults(handler=cmd_log)


SOURCE_COLUMNS = (
    Column("id", key=True),
    Column("added", key=True, drop=4),
    Column("by", key=True, drop=3),
    Column("kind", key=True, drop=2),
    Column("publisher", drop=1),
    Column("title"),
)


def print_sources(out: Console, sources: Sequence) -> None:
    """The sources: a table on a terminal (ids and dates whole), tab-separated lines piped."""
    rows = [
        (s.id, s.added_at[:10], s.added_by, s.kind, s.publisher or UNKNOWN_PUBLISHER, s.title)
        for s in sources
    ]
    print_table(out, f"{len(sources)} source(s)", SOURCE_COLUMNS, rows)


def cmd_list(args, out: Console, err: Console) -> int:
    bot = open_bot(args, err, need="directory", load=False, archived=True)
    if args.json:
        for s in bot.sources:
            print_json(s.header() | {"characters": len(s.text)})
    else:
        print_sources(out, bot.sources)
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
    from bot.sources.decoding import DocumentError, read_document
    from bot.sources.uploads import UPLOAD_SUFFIXES
    from bot.sources.urls import is_http_url

    suffix = args.file.suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:  # the type first: a title would not make a .png addable
        kinds = ", ".join(sorted(UPLOAD_SUFFIXES))
        raise CliError(f"{args.file.name}: only {kinds} files can be added", EXIT_USAGE)
    if args.url.strip() and not is_http_url(args.url.strip()):
        raise CliError("--url must be an http:// or https:// address", EXIT_USAGE)
    if args.follow:
        raise CliError(
            "--follow follows the links of a page added by URL; a file's links are kept "
            "(storybot sources links ID lists them) but not followed",
            EXIT_USAGE,
        )
    try:
        data, unreadable = read_document(args.file), None
    except DocumentError as exc:
        data, unreadable = b"", exc  # said after the usage errors
    titled = suffix in {".md", ".markdown", ".html", ".htm"} or data.startswith(b"+++")
    if not args.title and not titled:  # a corpus file's header has its title
        raise CliError("--title is required with a .txt file", EXIT_USAGE)
    if unreadable is not None:
        raise unreadable
    bot = open_bot(args, err, need="nothing", load=False)
    added = bot.add_file(
        args.file.name,
        data,
        title=args.title,
        url=args.url,
        publisher=args.publisher,
        published=args.published,
        added_by=args.added_by,
        kind=args.kind,
        force=args.force,
    )
    print_added(out, added, args)
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
    # Piped, a bar would leave only a blank line behind.
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("Fetching…", total=1 + args.follow)

        def update(event) -> None:
            short = event.url if len(event.url) < 60 else event.url[:57] + "…"
            bar.update(task, completed=event.done, description=f"{event.stage} {short}")

        report = asyncio.run(
            bot.add_url(
                args.link,
                title=args.title,
                added_by=args.added_by,
                publisher=args.publisher,
                published=args.published,
                kind=args.kind,
                follow=args.follow,
                progress=update,
                force=args.force,
            )
        )
    print_report(out, report, args)
    return EXIT_OK


def print_report(out: Console, report, args) -> None:
    """What an add stored, then what it skipped and why (off topic, a failed download, ...),
    and how many of the links asked for were followed (``sources add``, ``feeds accept``)."""
    for added in report.added:
        print_added(out, added, args)
    for url, reason in report.skipped:
        out.print(
            f"[yellow]skipped[/yellow] {literal(url)}: {literal(reason)}",
            highlight=False,
            soft_wrap=True,
        )
    followed = len(report.added) - 1
    if args.follow and report.added and followed < args.follow:
        why = (
            f"{len(report.skipped)} skipped"
            if report.skipped
            else "it links to no other page that is not in the corpus yet"
        )
        out.print(
            f"followed {followed} of {args.follow} link(s) asked for ({why})",
            highlight=False,
            soft_wrap=True,
        )


def print_added(out: Console, added, args) -> None:
    source = added.source
    out.print(
        f"added [bold]{source.id}[/bold]: {literal(source.title)} "
        f"({literal(source.publisher or UNKNOWN_PUBLISHER)}, {len(source.text):,} characters, "
        f"{len(source.links)} links)",
        highlight=False,
        soft_wrap=True,
    )
    if added.near_duplicate:
        other, score = added.near_duplicate
        out.print(
            f"  [yellow]note:[/yellow] nearly the same text as [bold]{literal(other)}[/bold] "
            f"(similarity {score:.0%}); remove one with "
            f"{literal(story_command(args, 'sources remove ID'))}",
            highlight=False,
            soft_wrap=True,
        )


def cmd_remove(args, out: Console, err: Console) -> int:
    source = open_bot(args, err, need="directory", load=False).remove_source(
        args.id, removed_by=args.by
    )
    out.print(
        f"removed [bold]{source.id}[/bold]: {literal(source.title)} "
        f"(undo with: {literal(story_command(args, f'sources restore {source.id}'))})",
        highlight=False,
        soft_wrap=True,
    )
    return EXIT_OK


def cmd_restore(args, out: Console, err: Console) -> int:
    source = open_bot(args, err, need="directory", load=False).restore_source(
        args.id, restored_by=args.by
    )
    out.print(
        f"restored [bold]{source.id}[/bold]: {literal(source.title)}",
        highlight=False,
        soft_wrap=True,
    )
    return EXIT_OK


def cmd_links(args, out: Console, err: Console) -> int:
    rows = open_bot(args, err, need="directory", load=False).links(args.id)
    if args.json:
        for link, in_corpus in rows:
            print_json({"text": link.text, "url": link.url, "in_corpus": in_corpus})
        return EXIT_OK
    columns = (
        Column("#", key=True, justify="right"),
        Column("anchor text", drop=1),
        Column("URL", url=True),
        Column("in corpus", key=True),
    )
    shown = [(n, link.text, link.url, in_corpus) for n, (link, in_corpus) in enumerate(rows, 1)]
    print_table(out, f"{len(rows)} link(s) in {args.id}", columns, shown)
    return EXIT_OK


def cmd_log(args, out: Console, err: Console) -> int:
    limit = max(1, args.n)
    entries = open_bot(args, err, need="directory", load=False, archived=True).audit_entries(
        args.id, limit=limit + 1
    )
    if len(entries) > limit:  # said on stderr, so piped lines and JSON stay only entries
        entries = entries[:limit]
        more = f"older ones with -n {min(limit * 10, MAX_LOG)}" if limit < MAX_LOG else "and older"
        err.print(f"the {limit:,} newest entries ({more})", highlight=False)
    if args.json:
        print_json_lines(entries)
        return EXIT_OK
    columns = (
        Column("when (UTC)", key=True),
        Column("who", key=True, drop=2),
        Column("action", key=True),
        Column("source", key=True),
        Column("URL", url=True),
        Column("detail", drop=1),
    )
    rows = [
        (e.at[:16].replace("T", " "), e.actor, e.action, e.source_id, e.url, e.detail)
        for e in entries
    ]
    print_table(out, f"audit log ({len(entries)} newest)", columns, rows)
    return EXIT_OK
