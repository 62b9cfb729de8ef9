"""``storybot stats``: what members asked, what went unanswered, what a new source now answers."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bot.cli.common import EXIT_OK, EXIT_USAGE, CliError, open_bot, print_json
from bot.cli.terminal import literal
from bot.presentation import percent, source_title, stats_record

MAX_DAYS = 3650


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
    if args.html:
        try:
            atomic_write(args.html, render_html(stats, titles, args.days, fixed).encode("utf-8"))
        except OSError as exc:
            raise CliError(f"cannot write {args.html}: {exc.strerror}") from exc
        err.print(f"wrote {literal(args.html)}", highlight=False)
    if args.json:
        print_json(stats_record(stats, fixed))
        return EXIT_OK
    origins = ", ".join(f"{n} from {origin}" for origin, n in stats.origins.items())
    out.print(
        f"[bold]{stats.asked}[/bold] questions in {args.days} days"
        f"{f' ({origins})' if origins else ''}, "
        f"[bold]{percent(stats.answer_rate)}[/bold] answered, "
        f"[bold]{percent(stats.helpful_rate)}[/bold] helpful "
        f"({stats.helpful + stats.not_helpful} votes)",
        highlight=False,
    )
    days = Table(title="Per day", title_justify="left")
    for column in ("day", "asked", "answered"):
        days.add_column(column)
    for day, asked, answered in stats.days:
        days.add_row(day, str(asked), str(answered))
    out.print(days)
    gaps = Table(
        title="Gaps (unanswered or not helpful, near-duplicates grouped)", title_justify="left"
    )
    for column in ("question", "times", "unanswered", "not helpful", "last asked"):
        gaps.add_column(column)
    for g in stats.gaps:
        gaps.add_row(
            literal(g.question),
            str(g.count),
            str(g.unanswered),
            str(g.not_helpful),
            g.last_asked[:16],
        )
    out.print(gaps)
    for gap, source in fixed:
        out.print(
            f"[green]now answered[/green] by {literal(source.title)}: {literal(gap.question)}",
            highlight=False,
        )
    sources = Table(title="Most quoted sources", title_justify="left")
    sources.add_column("source")
    sources.add_column("quoted", justify="right")
    for sid, n in stats.top_sources:
        sources.add_row(literal(source_title(titles, sid)), str(n))
    out.print(sources)
    return EXIT_OK
