"""``storybot feeds``: watch feeds and pages, poll them, and decide on the candidates they bring.

``check`` polls once (for cron users; ``storybot run`` polls in the background), ``queue`` shows
the candidates waiting for a moderator, ``accept`` adds one through the normal add path and
``ignore`` turns one down for good. Nothing enters the corpus without ``accept``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bot.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    ROW_ID,
    CliError,
    open_bot,
    print_json,
    print_json_lines,
    story_command,
    whole_number,
)
from bot.cli.sources import MAX_FOLLOW, print_report
from bot.cli.terminal import Column, literal, print_table
from bot.sources.feeds.store import STATUSES

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

    check = actions.add_parser(
        "check",
        help="poll the story's feeds that are due, once (for cron: exit 1 when one failed)",
    )
    check.add_argument("--all", action="store_true", help="poll every feed, due or not")
    check.add_argument("--json", action="store_true", help="print JSON lines")
    check.set_defaults(handler=cmd_check)

    queue = actions.add_parser("queue", help="candidates waiting for a moderator")
    queue.add_argument(
        "-n", type=whole_number(1, 10_000), default=25, help="how many (oldest first)"
    )
    queue.add_argument("--json", action="store_true", help="print JSON lines")
    queue.set_defaults(handler=cmd_queue)

    items = actions.add_parser(
        "items", help="what the feeds listed and what became of each item, with the reason"
    )
    items.add_argument(
        "--status",
        action="append",
        choices=STATUSES,
        metavar="STATUS",
        help=f"only items in this status (repeatable): {', '.join(STATUSES)}",
    )
    items.add_argument("-n", type=int, default=30, help="how many (newest first)")
    items.add_argument("--json", action="store_true", help="print JSON lines")
    items.set_defaults(handler=cmd_items)

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
    """Fetched and read once before it is watched: what can never work is refused now."""
    from bot.sources.feeds.items import NotAFeed

    bot = open_bot(args, err, load=False)
    try:
        with err.status("Trying the feed…"):
            feed = bot.feeds_add(args.url, kind=args.kind, added_by=args.by)
    except NotAFeed as exc:
        fix = story_command(args, f"feeds add {exc.feed_url}") if exc.feed_url else ""
        page = story_command(args, f"feeds add {args.url.strip()} --kind page")
        hint = f"watch that feed with: {fix}, or " if fix else ""
        fixes = f"{hint}watch its headline links: {page}"
        raise CliError(f"not watched: {exc}\n  fix: {fixes}") from exc
    out.print(
        f"watching [bold]{feed.id}[/bold]: {literal(feed.url)} ({feed.kind}); "
        f"it is polled with the next {literal(story_command(args, 'feeds check'))} or by the "
        "running bot",
        highlight=False,
        soft_wrap=True,
    )
    return EXIT_OK


def cmd_list(args, out: Console, err: Console) -> int:
    feeds = open_bot(args, err, load=False).feeds_list()
    if args.json:
        print_json_lines(feeds)
        return EXIT_OK
    columns = (
        Column("id", key=True),
        Column("kind", key=True, drop=2),
        Column("url", url=True),
        Column("title", drop=1),
        Column("last poll (UTC)", key=True, drop=3),
        Column("status"),
        Column("next poll (UTC)", key=True, drop=4),
    )
    rows = []
    for f in feeds:
        status = f.last_status or "not polled yet"
        if f.failures:
            status = f"{status} ({f.failures} failure(s) in a row)"
        rows.append(
            (f.id, f.kind, f.url, f.title, _when(f.last_polled_at), status, _when(f.next_poll_at))
        )
    print_table(out, f"{len(feeds)} feed(s)", columns, rows)
    return EXIT_OK


def _when(iso: str) -> str:
    """An ISO timestamp to the minute, as "2026-11-25 14:05" (or "—")."""
    return iso[:16].replace("T", " ") if iso else "—"


def cmd_remove(args, out: Console, err: Console) -> int:
    feed = open_bot(args, err, load=False).feeds_remove(args.id, removed_by=args.by)
    out.print(
        f"stopped watching [bold]{feed.id}[/bold]: {literal(feed.url)}",
        highlight=False,
        soft_wrap=True,
    )
    return EXIT_OK


def cmd_check(args, out: Console, err: Console) -> int:
    """A line per feed as soon as its poll ends (a poll of one slow host takes minutes), then
    a summary; with ``--json`` a JSON line per feed, as it ends. Exit 1 when a feed could not
    be read (cron then reports it), 0 otherwise."""
    bot = open_bot(args, err)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    progress = Progress(
        *columns,
        TimeElapsedColumn(),
        console=err,
        transient=True,
        redirect_stdout=False,
        disable=not err.is_terminal,  # piped, a bar would leave only a blank line
    )
    with progress as bar:
        task = bar.add_task("Polling…", total=None)
        # On one screen, lines go above the bar (through its console); piped, to stdout.
        lines = bar.console if out.is_terminal and err.is_terminal else out

        def update(event) -> None:
            short = event.url if len(event.url) < 60 else event.url[:57] + "…"
            bar.update(task, total=event.total, completed=event.done, description=short)
            if event.stage == "done" and event.result is not None:
                print_poll_result(lines, event.result, as_json=args.json)

        report = asyncio.run(bot.poll_feeds(update, force=args.all))
    failed = sum(r.status == "error" for r in report.feeds)
    code = EXIT_FAILURE if failed else EXIT_OK
    if args.json:
        return code
    if report.message:
        err.print(
            f"[yellow]note:[/yellow] {literal(report.message)}", highlight=False, soft_wrap=True
        )
    if not report.feeds:
        out.print(
            f"no feed is due ({literal(story_command(args, 'feeds check --all'))} polls them "
            "anyway)",
            highlight=False,
            soft_wrap=True,
        )
        return EXIT_OK
    summary = f"{len(report.feeds)} feed(s) polled, {len(report.candidates)} new candidate(s)"
    if report.candidates:
        summary += f"; {literal(story_command(args, 'feeds queue'))} lists them"
    if failed:
        summary += f"; {failed} feed(s) could not be read (see above)"
    out.print(summary, highlight=False, soft_wrap=True)
    return code


def print_poll_result(out: Console, r, *, as_json: bool = False) -> None:
    """One feed's poll on one line: id, result, URL, items listed, new, candidates."""
    if as_json:
        record = {k: v for k, v in dataclasses.asdict(r).items() if k != "new"}
        print_json(record | {"new": [c.id for c in r.new]}, out)
        return
    result = f"{r.status}: {r.message}" if r.message else r.status
    counts = f"{r.listed} item(s), {r.judged} new, {r.candidates} candidate(s)"
    out.print(
        f"feed {r.feed.id} {literal(r.feed.url)}: {literal(result)}; {counts}",
        highlight=False,
        soft_wrap=True,
    )


def cmd_queue(args, out: Console, err: Console) -> int:
    queue = open_bot(args, err, load=False).review_queue(args.n)
    if args.json:
        print_json_lines(queue)
        return EXIT_OK
    if not queue:
        out.print("no candidates waiting")
        return EXIT_OK
    print_candidates(out, queue)
    accept = story_command(args, "feeds accept ID [--follow N]")
    out.print(
        f"{literal(accept)} | {literal(story_command(args, 'feeds ignore ID'))}",
        style="dim",
        highlight=False,
        soft_wrap=True,  # commands stay whole on one line, to copy
    )
    return EXIT_OK


def cmd_items(args, out: Console, err: Console) -> int:
    if not 1 <= args.n <= 10_000:
        raise CliError("-n must be between 1 and 10000", EXIT_USAGE)
    items = open_bot(args, err, load=False).feed_items(args.status, args.n)
    if args.json:
        print_json_lines(items)
        return EXIT_OK
    columns = (
        Column("id", key=True),
        Column("status", key=True),
        Column("found (UTC)", key=True, drop=3),
        Column("feed", key=True, drop=2),
        Column("URL", url=True),
        Column("title", drop=1),
        Column("why"),
    )
    rows = [
        (
            i.id,
            i.status if i.status != "retry" else f"retry ({i.attempts} failed)",
            _when(i.found_at),
            i.feed_id if i.feed_id is not None else "—",
            i.url,
            i.title,
            _why(i),
        )
        for i in items
    ]
    wanted = ", ".join(args.status) if args.status else "any status"
    print_table(out, f"{len(items)} item(s), newest first ({wanted})", columns, rows)
    return EXIT_OK


def _why(item) -> str:
    if item.status in ("accepted", "ignored"):
        who = f" by {item.decided_by}" if item.decided_by else ""
        became = f" as {item.source_id}" if item.source_id else ""
        return f"{item.status}{who}{became}"
    return item.reason


def print_candidates(out: Console, candidates: Sequence) -> None:
    for c in candidates:
        when = f", {c.published[:10]}" if c.published else ""
        out.print(
            f"[bold]{c.id}[/bold] {literal(c.title or c.url)} "
            f"[cyan]({literal(c.publisher or 'publisher unknown')}{literal(when)})[/cyan]",
            highlight=False,
            soft_wrap=True,
        )
        out.print(f"   {literal(c.url)}", highlight=False, soft_wrap=True, style="blue")
        why = f"relevance {c.score:.2f}" if c.score is not None else "relevance unknown"
        if c.terms:
            why += f"; words in common: {', '.join(c.terms[:12])}"
        out.print(f"   {literal(why)}", highlight=False, soft_wrap=True)
        if c.match_text:
            quote = " ".join(c.match_text.split())
            quote = quote if len(quote) <= QUOTE_CHARS else quote[: QUOTE_CHARS - 1] + "…"
            out.print(
                f"   closest passage ({literal(c.match_source)}): “{literal(quote)}”",
                highlight=False,
                soft_wrap=True,
                style="dim",
            )


def cmd_accept(args, out: Console, err: Console) -> int:
    if not 0 <= args.follow <= MAX_FOLLOW:
        raise CliError(f"--follow must be between 0 and {MAX_FOLLOW}", EXIT_USAGE)
    bot = open_bot(args, err)
    with err.status("Adding…"), _in_its_story(bot, args, "accept"):
        accepted = asyncio.run(bot.accept_candidate(args.id, follow=args.follow, by=args.by))
    print_report(out, accepted.report, args)
    return EXIT_OK


@contextmanager
def _in_its_story(bot, args, command: str) -> Iterator[None]:
    """A candidate id of another story (ids are unique across stories: this story cannot find
    it) gets a hint naming that story (the command line sees every story)."""
    from bot.sources.feeds.store import FeedStoreError

    try:
        yield
    except FeedStoreError as exc:
        story_id = bot.feed_store.story_of(args.id)
        if story_id is None or story_id == bot.story.id:  # not found anywhere, or another error
            raise
        other = bot.stories.get(story_id)
        hint = f"storybot --story {other.id} feeds {command} {args.id}"
        raise CliError(
            f"{exc} in story {bot.story.name!r}: it is story {other.name!r}'s ({hint})"
        ) from exc


def cmd_ignore(args, out: Console, err: Console) -> int:
    bot = open_bot(args, err, load=False)
    with _in_its_story(bot, args, "ignore"):
        item = bot.ignore_candidate(args.id, by=args.by)
    out.print(
        f"ignored [bold]{item.id}[/bold]: {literal(item.title or item.url)}",
        highlight=False,
        soft_wrap=True,
    )
    return EXIT_OK
