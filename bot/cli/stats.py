"""``storybot stats``: what members asked, what went unanswered, what a new source now answers."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from bot.cli.common import EXIT_OK, EXIT_USAGE, CliError, open_bot, print_json
from bot.cli.terminal import Column, literal, print_table
from bot.presentation import percent, source_title, stats_record

MAX_DAYS = 3650
# A gap's question is cut to this many characters in the table (--json has it whole).
SHOWN_QUESTION = 200
GAP_COLUMNS = (
    Column("question"),
    Column("times", key=True, justify="right"),
    Column("unanswered", key=True, justify="right", drop=3),
    # Of the unanswered: replies of "nothing in the sources is about that" (the rest were
    # shown the closest passages).
    Column("of them nothing", key=True, justify="right", drop=2),
    Column("not helpful", key=True, justify="right", drop=1),
    Column("last asked", key=True, drop=4),
)


def register(commands: argparse._SubParsersAction) -> None:
    stats = commands.add_parser("stats", help="what members asked: answer rate, gaps, sources")
    stats.add_argument("--days", type=int, default=30, help="period to report (default 30)")
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.add_argument("--html", type=Path, metavar="FILE", help="also write an HTML report")
    stats.set_defaults(handler=cmd_stats)


def cmd_stats(args, out: Console, err: Console) -> int:
    from bot.files import atomic_write
    from bot.insights.report import render_html

    if not 1 <= args.days <= MAX_DAYS:
        raise CliError(f"--days must be between 1 and {MAX_DAYS}", EXIT_USAGE)
    bot = open_bot(args, err, need="directory", load=False)
    if not bot.config.stats.log_questions:
        err.print("[yellow]note:[/yellow] question logging is off (\\[stats] log_questions)")
    stats = bot.stats(args.days)
    fixed = bot.newly_answered(stats)
    titles = {s.id: s.title for s in bot.sources}
    # Named when the deployment has several stories (one story: nothing to tell apart).
    story = bot.story.name if len(bot.stories.all()) > 1 else ""
    if args.html:
        try:
            page = render_html(stats, titles, args.days, fixed, story=story)
            atomic_write(args.html, page.encode("utf-8"))
        except OSError as exc:
            raise CliError(f"cannot write {args.html}: {exc.strerror}") from exc
        err.print(f"wrote {literal(args.html)}", highlight=False)
    if args.json:
        print_json(stats_record(stats, fixed) | {"story": bot.story.name})
        return EXIT_OK
    origins = ", ".join(f"{n} from {origin}" for origin, n in stats.origins.items())
    out.print(
        (f"story {literal(story)}: " if story else "")
        + f"[bold]{stats.asked}[/bold] question{'' if stats.asked == 1 else 's'} in "
        f"{args.days} day{'' if args.days == 1 else 's'}"
        f"{f' ({origins})' if origins else ''}, "
        f"[bold]{percent(stats.answer_rate)}[/bold] answered, "
        f"[bold]{percent(stats.helpful_rate)}[/bold] helpful "
        f"({stats.helpful + stats.not_helpful} votes)",
        highlight=False,
    )
    section(
        out,
        "Per day",
        (
            Column("day", key=True),
            Column("asked", key=True, justify="right"),
            Column("answered", key=True, justify="right"),
        ),
        [(day, asked, answered) for day, asked, answered in stats.days],
        "no questions in this period",
    )
    section(
        out,
        "Gaps (unanswered or not helpful, near-duplicates grouped)",
        GAP_COLUMNS,
        [
            (
                shortened(g.question),
                g.count,
                g.unanswered,
                g.nothing,
                g.not_helpful,
                g.last_asked[:16].replace("T", " "),
            )
            for g in stats.gaps
        ],
        "none: every question was answered and none voted not helpful",
    )
    for gap, source in fixed:
        out.print(
            f"[green]now answered[/green] by {literal(source.title)}: {literal(gap.question)}",
            highlight=False,
        )
    section(
        out,
        "Most quoted sources",
        (Column("source"), Column("quoted", key=True, justify="right")),
        [(source_title(titles, sid), n) for sid, n in stats.top_sources],
        "no source quoted in this period",
    )
    return EXIT_OK


def section(
    out: Console, title: str, columns: tuple[Column, ...], rows: list[tuple], empty: str
) -> None:
    """One part of the report: a table (plain tab-separated lines under a "# title" line when
    piped), or its title and ``empty`` in words when it has no rows."""
    if not rows:
        out.print(f"{title}: {empty}", highlight=False, soft_wrap=True)
        return
    if not out.is_terminal:  # print_table's plain lines carry no title
        out.file.write(f"# {title}\n")
    print_table(out, title, columns, rows)


def shortened(question: str) -> str:
    return question if len(question) <= SHOWN_QUESTION else question[: SHOWN_QUESTION - 1] + "…"
