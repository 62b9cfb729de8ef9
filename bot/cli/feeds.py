"""``storybot feeds``: watch feeds and pages, poll them, and decide on the candidates they bring.

``check`` polls once (for cron users; ``storybot run`` polls in the background), ``queue`` shows
the candidates waiting for a moderator, ``accept`` adds one through the normal add path and
``ignore`` turns one down for good. Nothing enters the corpus without ``accept``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
from collections.abc import Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bot.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    ROW_ID,
    CliError,
    open_bot,
    print_json,
    whole_number,
)
from bot.cli.sources import MAX_FOLLOW, print_added
from bot.cli.terminal import literal

# Characters of the matched passage shown per candidate in the terminal.
QUOTE_CHARS = 160


def register(commands: argparse._SubParsersAction) -> None:
    feeds = commands.add_parser("feeds", help="watch feeds for new coverage; review candidates")
    actions = feeds.add_subparsers(dest="feeds_command", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="watch an RSS/Atom feed or a topic page")
    add.add_argument("url", metavar="URL", help="the feed (RSS or Atom) or topic page to watch")
    add.add_argument(
        "--kind",
        choices=("feed", "page"),
        default="feed",
        help="feed: RSS or Atom (default); page: a topic page whose headline links are items",
    )
    add.add_argument("--by", default="cli", help="who is adding it (for the record)")
    add.set_defaults(handler=cmd_add)

    listing = actions.add_parser("list", help="the watched feeds and how their last poll went")
    listing.add_argument("--json", action="store_true", help="print JSON lines")
    listing.set_defaults(handler=cmd_list)

    remove = actions.add_parser("remove", help="stop watching a feed (by id)")
    remove.add_argument("id", type=ROW_ID, help="the feed id, as feeds list shows it")
    remove.add_argument("--by", default="cli", help="who is removing it (for the record)")
    remove.set_defaults(handler=cmd_remove)

    check = actions.add_parser("check", help="poll the feeds that are due, once (for cron)")
    check.add_argument("--all", action="store_true", help="poll every feed, due or not")
    check.add_argument("--json", action="store_true", help="print JSON lines")
    check.set_defaults(handler=cmd_check)

    queue = actions.add_parser("queue", help="candidates waiting for a moderator")
    queue.add_argument(
        "-n", type=whole_number(1, 10_000), default=25, help="how many (oldest first)"
    )
    queue.add_argument("--json", action="store_true", help="print JSON lines")
    queue.set_defaults(handler=cmd_queue)

    accept = actions.add_parser("accept", help="add a candidate to the corpus")
    accept.add_argument("id", type=ROW_ID, help="the candidate id, as feeds queue shows it")
    accept.add_argument(
        "--follow", type=int, default=0, metavar="N", help="also add up to N pages it links to"
    )
    accept.add_argument("--by", default="cli", help="who is accepting it (for the record)")
    accept.set_defaults(handler=cmd_accept)

    ignore = actions.add_parser("ignore", help="turn a candidate down (it is not queued again)")
    ignore.add_argument("id", type=ROW_ID, help="the candidate id, as feeds queue shows it")
    ignore.add_argument("--by", default="cli", help="who is ignoring it (for the record)")
    ignore.set_defaults(handler=cmd_ignore)


def cmd_add(args, out: Console, err: Console) -> int:
    feed = open_bot(args, err, load=False).feeds_add(args.url, kind=args.kind, added_by=args.by)
    out.print(
        f"watching [bold]{feed.id}[/bold]: {literal(feed.url)} ({feed.kind}); "
        "it is polled with the next storybot feeds check or by the running bot",
        highlight=False,
    )
    return EXIT_OK


def cmd_list(args, out: Console, err: Console) -> int:
    feeds = open_bot(args, err, load=False).feeds_list()
    if args.json:
        for feed in feeds:
            print_json(dataclasses.asdict(feed))
        return EXIT_OK
    table = Table(title=f"{len(feeds)} feed(s)", title_justify="left")
    for column in ("id", "kind", "title / url", "last poll", "status", "next poll"):
        table.add_column(column)
    for f in feeds:
        name = f"{f.title}\n{f.url}" if f.title else f.url
        status = f.last_status or "not polled yet"
        if f.failures:
            status = f"{status} ({f.failures} failure(s) in a row)"
        cells = (f.id, f.kind, name, f.last_polled_at[:16] or "—", status, f.next_poll_at[:16])
        table.add_row(*map(literal, cells))
    out.print(table)
    return EXIT_OK


def cmd_remove(args, out: Console, err: Console) -> int:
    feed = open_bot(args, err, load=False).feeds_remove(args.id, removed_by=args.by)
    out.print(f"stopped watching [bold]{feed.id}[/bold]: {literal(feed.url)}", highlight=False)
    return EXIT_OK


def cmd_check(args, out: Console, err: Console) -> int:
    bot = open_bot(args, err)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=err, transient=True) as bar:
        task = bar.add_task("Polling…", total=None)

        def update(event) -> None:
            short = event.url if len(event.url) < 60 else event.url[:57] + "…"
            bar.update(task, total=event.total, completed=event.done, description=short)

        report = asyncio.run(bot.poll_feeds(update, force=args.all))
    if args.json:
        for result in report.feeds:
            record = {k: v for k, v in dataclasses.asdict(result).items() if k != "new"}
            print_json(record | {"new": [c.id for c in result.new]})
        return EXIT_OK
    if report.message:
        err.print(f"[yellow]note:[/yellow] {literal(report.message)}", highlight=False)
    if not report.feeds:
        out.print("no feed is due (storybot feeds check --all polls them anyway)")
        return EXIT_OK
    table = Table(title=f"{len(report.feeds)} feed(s) polled", title_justify="left")
    for column in ("id", "url", "result", "items", "new", "candidates"):
        table.add_column(column)
    for r in report.feeds:
        result = f"{r.status}: {r.message}" if r.message else r.status
        cells = (r.feed.id, r.feed.url, result, r.listed, r.judged, r.candidates)
        table.add_row(*map(literal, cells))
    out.print(table)
    if report.candidates:
        out.print(f"{len(report.candidates)} new candidate(s); storybot feeds queue lists them")
    return EXIT_OK


def cmd_queue(args, out: Console, err: Console) -> int:
    queue = open_bot(args, err, load=False).review_queue(args.n)
    if args.json:
        for candidate in queue:
            print_json(dataclasses.asdict(candidate))
        return EXIT_OK
    if not queue:
        out.print("no candidates waiting")
        return EXIT_OK
    print_candidates(out, queue)
    out.print("storybot feeds accept ID [--follow N] | storybot feeds ignore ID", style="dim")
    return EXIT_OK


def print_candidates(out: Console, candidates: Sequence) -> None:
    for c in candidates:
        when = f", {c.published[:10]}" if c.published else ""
        out.print(
            f"[bold]{c.id}[/bold] {literal(c.title or c.url)} "
            f"[cyan]({literal(c.publisher or 'publisher unknown')}{literal(when)})[/cyan]",
            highlight=False,
        )
        out.print(f"   {literal(c.url)}", highlight=False, style="blue")
        why = f"relevance {c.score:.2f}" if c.score is not None else "relevance unknown"
        if c.terms:
            why += f"; words in common: {', '.join(c.terms[:12])}"
        out.print(f"   {literal(why)}", highlight=False)
        if c.match_text:
            quote = " ".join(c.match_text.split())
            quote = quote if len(quote) <= QUOTE_CHARS else quote[: QUOTE_CHARS - 1] + "…"
            out.print(
                f"   closest passage ({literal(c.match_source)}): “{literal(quote)}”",
                highlight=False,
                style="dim",
            )


def cmd_accept(args, out: Console, err: Console) -> int:
    if not 0 <= args.follow <= MAX_FOLLOW:
        raise CliError(f"--follow must be between 0 and {MAX_FOLLOW}", EXIT_USAGE)
    bot = open_bot(args, err)
    with err.status("Adding…"):
        accepted = asyncio.run(bot.accept_candidate(args.id, follow=args.follow, by=args.by))
    for added in accepted.report.added:
        print_added(out, added)
    return EXIT_OK


def cmd_ignore(args, out: Console, err: Console) -> int:
    item = open_bot(args, err, load=False).ignore_candidate(args.id, by=args.by)
    out.print(f"ignored [bold]{item.id}[/bold]: {literal(item.title or item.url)}", highlight=False)
    return EXIT_OK
