"""The ``storybot`` command line: a thin adapter over ``bot.engine.StoryBot``."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bot.config import ConfigError, load_config
from bot.engine import StoryBot
from bot.files import atomic_write
from bot.insights.report import render_html
from bot.presentation import answer_record, lit, print_answer
from bot.search.evaluate import evaluate, read_labelled
from bot.search.retrieval import QuestionError
from bot.search.text import NlpError
from bot.sources.corpus import CorpusError
from bot.sources.decoding import DocumentError, read_document
from bot.sources.ingest import Added, Ingestor, ProgressEvent, clean_url
from bot.sources.uploads import upload_content
from bot.sources.web.extract import ExtractError
from bot.sources.web.fetch import FetchError
from bot.sources.web.urlguard import UrlRefused

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
SOURCES_HINT = "See what I know with: storybot sources list"
TOKEN_ENV_VAR = "DISCORD_TOKEN"


class CliError(Exception):
    """A message for the user and an exit code; no traceback."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.code = code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="storybot",
        description="Answer questions about a news story with attributed, verbatim excerpts.",
    )
    parser.add_argument(
        "--config", metavar="PATH", help="config.toml to use (default ./config.toml)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ask = commands.add_parser("ask", help="answer a question (or a file of questions)")
    ask.add_argument("question", nargs="?", help="the question, in quotes")
    ask.add_argument("-k", type=int, default=None, metavar="N", help="number of excerpts")
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    ask.add_argument(
        "--batch", metavar="FILE", help="questions, one per line or JSONL with a 'q' field"
    )

    commands.add_parser("chat", help="ask questions interactively")

    sources = commands.add_parser("sources", help="list, add or remove sources")
    source_commands = sources.add_subparsers(
        dest="sources_command", required=True, metavar="ACTION"
    )
    listing = source_commands.add_parser("list", help="list the sources")
    listing.add_argument("--json", action="store_true", help="print JSON")
    add = source_commands.add_parser(
        "add", help="add a source from a web page (URL) or a text or Markdown file"
    )
    add.add_argument("link", nargs="?", metavar="URL", help="the page to add")
    add.add_argument("--file", type=Path, help="a .txt, .md or .html file instead of a URL")
    add.add_argument("--title", help="the title (needed with --file; taken from the page)")
    add.add_argument(
        "--follow",
        type=int,
        default=0,
        metavar="N",
        help="also add up to N pages the article links to",
    )
    add.add_argument("--publisher", default="")
    add.add_argument("--url", default="", help="with --file: where the text comes from")
    add.add_argument("--published", default="", help="publication date, e.g. 2020-09-10")
    add.add_argument("--kind", choices=("source", "story"), default="source")
    add.add_argument("--added-by", default="cli", help="who is adding it (for the record)")
    remove = source_commands.add_parser("remove", help="remove a source by id (restorable)")
    remove.add_argument("id")
    remove.add_argument("--by", default="cli", help="who is removing it (for the record)")
    restore = source_commands.add_parser("restore", help="bring back a removed source")
    restore.add_argument("id")
    restore.add_argument("--by", default="cli", help="who is restoring it (for the record)")
    links = source_commands.add_parser("links", help="list the links found in a source")
    links.add_argument("id")
    links.add_argument("--json", action="store_true", help="print JSON lines")
    history = source_commands.add_parser("log", help="who added or removed what, and when")
    history.add_argument("--id", help="only entries about this source")
    history.add_argument("-n", type=int, default=30, help="how many entries (newest first)")
    history.add_argument("--json", action="store_true", help="print JSON lines")

    stats = commands.add_parser("stats", help="what members asked: answer rate, gaps, sources")
    stats.add_argument("--days", type=int, default=30, help="period to report (default 30)")
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.add_argument("--html", type=Path, metavar="FILE", help="also write an HTML report")

    ev = commands.add_parser("eval", help="measure answers on labelled questions (JSONL)")
    ev.add_argument("file", type=Path)
    ev.add_argument("--json", action="store_true", help="print the report as JSON")

    commands.add_parser("run", help=f"run the Discord bot (token from ${TOKEN_ENV_VAR})")
    commands.add_parser("sync", help="register the bot's slash commands with Discord now")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR,
        format="%(levelname)s %(name)s: %(message)s",
    )
    out, err = Console(), Console(stderr=True)
    try:
        return COMMANDS[args.command](args, out, err)
    except CliError as exc:
        err.print(f"[red]error:[/red] {lit(exc)}", highlight=False, soft_wrap=True)
        return exc.code
    except (
        ConfigError,
        CorpusError,
        DocumentError,
        NlpError,
        FetchError,
        UrlRefused,
        ExtractError,
    ) as exc:
        err.print(f"[red]error:[/red] {lit(exc)}", highlight=False)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130


def open_bot(args, err: Console) -> StoryBot:
    config = load_config(args.config)
    with err.status("Loading the corpus…"):
        bot = StoryBot(config)
    for problem in bot.load_errors:
        err.print(f"[yellow]warning:[/yellow] skipped {lit(problem)}", highlight=False)
    return bot


def cmd_ask(args, out: Console, err: Console) -> int:
    if args.k is not None and not 1 <= args.k <= 10:
        raise CliError("-k must be between 1 and 10", EXIT_USAGE)
    if args.batch and args.question:
        raise CliError("give either a question or --batch FILE, not both", EXIT_USAGE)
    if not args.batch and args.question is None:
        raise CliError('what is the question? storybot ask "Who directed Cuties?"', EXIT_USAGE)
    questions = list(_batch_questions(Path(args.batch))) if args.batch else [args.question]
    bot = open_bot(args, err)
    status = EXIT_OK
    for question in questions:
        try:
            answer = bot.ask(question, args.k)
        except QuestionError as exc:
            if not (args.json or args.batch):
                raise CliError(str(exc), EXIT_USAGE) from exc
            record = {"question": question, "answered": False, "excerpts": [], "error": str(exc)}
            status = EXIT_USAGE if not args.batch else status
        else:
            record = answer_record(answer)
            if not (args.json or args.batch):
                print_answer(out, answer, SOURCES_HINT)
                continue
        print(json.dumps(record, ensure_ascii=False))
    return status


def _batch_questions(path: Path) -> Iterator[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            try:
                question = json.loads(line)["q"]
                if not isinstance(question, str):
                    raise TypeError("'q' is not a string")
                yield question
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise CliError(
                    f"{path.name} line {number}: expected JSON with a 'q' string field"
                ) from exc
        else:
            yield line.strip()


def cmd_chat(args, out: Console, err: Console) -> int:
    bot = open_bot(args, err)
    out.print(
        f"[bold]storybot[/bold] — {len(bot.sources)} source(s), {bot.passage_count} passages. "
        "Ask a question; [dim]:sources[/dim] lists sources, [dim]:quit[/dim] or Ctrl-D leaves.",
        highlight=False,
    )
    while True:
        try:
            question = out.input("[bold green]ask>[/bold green] ")
        except EOFError:
            out.print()
            return EXIT_OK
        command = question.strip().lower()
        if command in {":quit", ":q", ":exit", "quit", "exit"}:
            return EXIT_OK
        if command == ":sources":
            out.print(sources_table(bot))
            continue
        if not command:
            continue
        try:
            print_answer(out, bot.ask(question), "Type :sources to see what I know.")
        except QuestionError as exc:
            out.print(f"[yellow]{lit(exc)}[/yellow]", highlight=False)


def sources_table(bot: StoryBot) -> Table:
    table = Table(title=f"{len(bot.sources)} source(s)", title_justify="left")
    for column in ("id", "title", "publisher", "kind", "added by", "added"):
        table.add_column(column)
    for s in bot.sources:
        table.add_row(
            *map(
                lit, (s.id, s.title, s.publisher or "—", s.kind, s.added_by or "—", s.added_at[:10])
            )
        )
    return table


def cmd_sources(args, out: Console, err: Console) -> int:
    bot = open_bot(args, err)
    if args.sources_command == "list":
        if args.json:
            for s in bot.sources:
                record = s.header() | {"characters": len(s.text)}
                print(json.dumps(record, ensure_ascii=False, default=str))  # TOML dates
        else:
            out.print(sources_table(bot))
        return EXIT_OK
    if args.sources_command == "add" and args.link is not None:
        if args.file is not None:
            raise CliError("give either a URL or --file FILE, not both", EXIT_USAGE)
        return add_from_url(bot, args, out, err)
    if args.sources_command == "add":
        if args.file is None:
            raise CliError("what to add? storybot sources add URL, or --file FILE", EXIT_USAGE)
        return add_from_file(bot, args, out)
    if args.sources_command == "links":
        return show_links(bot, args, out)
    if args.sources_command == "log":
        return show_log(bot, args, out)
    if args.sources_command == "restore":
        source = bot.restore_source(args.id, restored_by=args.by)
        out.print(f"restored [bold]{source.id}[/bold]: {lit(source.title)}", highlight=False)
        return EXIT_OK
    source = bot.remove_source(args.id, removed_by=args.by)
    out.print(
        f"removed [bold]{source.id}[/bold]: {lit(source.title)} "
        f"(undo with: storybot sources restore {source.id})",
        highlight=False,
    )
    return EXIT_OK


def add_from_file(bot: StoryBot, args, out: Console) -> int:
    """``sources add --file``: the same checks and extraction as an upload on Discord."""
    if not args.title:
        raise CliError("--title is required with --file", EXIT_USAGE)
    url = args.url.strip()
    if url:
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise CliError("--url must be an http:// or https:// address", EXIT_USAGE)
        url = clean_url(url)
    content = upload_content(args.file.name, read_document(args.file), url)
    added = Ingestor(bot).store(
        content,
        url,
        args.title,
        args.added_by,
        kind=args.kind,
        publisher=args.publisher,
        published=args.published,
    )
    print_added(out, added)
    return EXIT_OK


def print_added(out: Console, added: Added) -> None:
    source = added.source
    out.print(
        f"added [bold]{source.id}[/bold]: {lit(source.title)} "
        f"({lit(source.publisher or 'publisher unknown')}, {len(source.text):,} characters, "
        f"{len(source.links)} links)",
        highlight=False,
    )
    if added.near_duplicate:
        other, score = added.near_duplicate
        out.print(
            f"  [yellow]note:[/yellow] nearly the same text as [bold]{lit(other)}[/bold] "
            f"(similarity {score:.0%}); remove one with storybot sources remove ID",
            highlight=False,
        )


def add_from_url(bot: StoryBot, args, out: Console, err: Console) -> int:
    if not 0 <= args.follow <= 50:
        raise CliError("--follow must be between 0 and 50", EXIT_USAGE)
    ingestor = Ingestor(bot)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("Fetching…", total=1 + args.follow)

        def update(event: ProgressEvent) -> None:
            short = event.url if len(event.url) < 60 else event.url[:57] + "…"
            bar.update(task, completed=event.done, description=f"{event.stage} {short}")
            if event.stage == "skipped":
                bar.console.print(
                    f"[yellow]skipped[/yellow] {lit(event.url)}: {lit(event.message)}",
                    highlight=False,
                )

        report = asyncio.run(
            ingestor.add_url(
                args.link,
                title=args.title,
                added_by=args.added_by,
                kind=args.kind,
                follow=args.follow,
                progress=update,
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


def show_links(bot: StoryBot, args, out: Console) -> int:
    rows = Ingestor(bot).links(args.id)
    if args.json:
        for link, in_corpus in rows:
            record = {"text": link.text, "url": link.url, "in_corpus": in_corpus}
            print(json.dumps(record, ensure_ascii=False))
        return EXIT_OK
    table = Table(title=f"{len(rows)} link(s) in {lit(args.id)}", title_justify="left")
    for column in ("#", "anchor text", "URL", "in corpus"):
        table.add_column(column)
    for number, (link, in_corpus) in enumerate(rows, 1):
        table.add_row(str(number), *map(lit, (link.text, link.url, in_corpus or "—")))
    out.print(table)
    return EXIT_OK


def show_log(bot: StoryBot, args, out: Console) -> int:
    entries = bot.audit.entries(args.id, limit=max(1, args.n))
    if args.json:
        for e in entries:
            print(json.dumps(dataclasses.asdict(e), ensure_ascii=False))
        return EXIT_OK
    table = Table(title=f"audit log ({len(entries)} newest)", title_justify="left")
    for column in ("when", "who", "action", "source", "URL", "detail"):
        table.add_column(column)
    for e in entries:
        table.add_row(*map(lit, (e.at, e.actor, e.action, e.source_id, e.url, e.detail)))
    out.print(table)
    return EXIT_OK


def cmd_eval(args, out: Console, err: Console) -> int:
    try:
        items = read_labelled(args.file)
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read {args.file}: {exc}") from exc
    bot = open_bot(args, err)
    k = max(3, bot.config.retrieval.top_k)
    report = evaluate(lambda q: bot.ask(q, k), items)
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
        return EXIT_OK
    table = Table(
        title=f"{lit(args.file.name)}: {report.answerable} answerable, "
        f"{report.unanswerable} unanswerable",
        title_justify="left",
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in report.as_dict().items():
        if isinstance(value, float):
            table.add_row(name, f"{value:.1%}" if name != "mrr" else f"{value:.3f}")
    out.print(table)
    for miss in report.misses:
        out.print(f"  [yellow]miss[/yellow] {lit(miss)}", highlight=False)
    return EXIT_OK


def cmd_stats(args, out: Console, err: Console) -> int:
    if not 1 <= args.days <= 3650:
        raise CliError("--days must be between 1 and 3650", EXIT_USAGE)
    bot = open_bot(args, err)
    if not bot.config.stats.log_questions:
        err.print("[yellow]note:[/yellow] question logging is off (\\[stats] log_questions)")
    stats = bot.stats(args.days)
    fixed = bot.newly_answered(stats)
    titles = {s.id: s.title for s in bot.sources}
    if args.html:
        try:
            atomic_write(args.html, render_html(stats, titles, args.days).encode("utf-8"))
        except OSError as exc:
            raise CliError(f"cannot write {args.html}: {exc.strerror}") from exc
        err.print(f"wrote {lit(args.html)}", highlight=False)
    if args.json:
        print(json.dumps(stats_record(stats, fixed), ensure_ascii=False))
        return EXIT_OK
    out.print(
        f"[bold]{stats.asked}[/bold] questions in {args.days} days, "
        f"[bold]{stats.answer_rate:.0%}[/bold] answered, "
        f"[bold]{stats.helpful_rate:.0%}[/bold] helpful "
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
            lit(g.question), str(g.count), str(g.unanswered), str(g.not_helpful), g.last_asked[:16]
        )
    out.print(gaps)
    for gap, source in fixed:
        out.print(
            f"[green]now answered[/green] by {lit(source.title)}: {lit(gap.question)}",
            highlight=False,
        )
    sources = Table(title="Most quoted sources", title_justify="left")
    sources.add_column("source")
    sources.add_column("quoted", justify="right")
    for sid, n in stats.top_sources:
        sources.add_row(lit(titles.get(sid, f"{sid} (removed)")), str(n))
    out.print(sources)
    return EXIT_OK


def stats_record(stats, fixed) -> dict:
    return {
        "asked": stats.asked,
        "answered": stats.answered,
        "answer_rate": round(stats.answer_rate, 4),
        "helpful": stats.helpful,
        "not_helpful": stats.not_helpful,
        "helpful_rate": round(stats.helpful_rate, 4),
        "days": [{"day": d, "asked": a, "answered": n} for d, a, n in stats.days],
        "top_sources": [{"id": sid, "quoted": n} for sid, n in stats.top_sources],
        "gaps": [
            {
                "question": g.question,
                "count": g.count,
                "variants": list(g.variants),
                "unanswered": g.unanswered,
                "not_helpful": g.not_helpful,
                "last_asked": g.last_asked,
            }
            for g in stats.gaps
        ],
        "now_answered": [{"question": g.question, "source": source.id} for g, source in fixed],
    }


def discord_token() -> str:
    token = os.environ.get(TOKEN_ENV_VAR, "").strip()
    if not token:
        raise CliError(
            f"set the {TOKEN_ENV_VAR} environment variable to the bot token (see docs/discord.md)",
            EXIT_USAGE,
        )
    return token


def cmd_run(args, out: Console, err: Console) -> int:
    token = discord_token()
    from bot.discord import runner  # discord.py is imported only by the Discord commands

    bot = open_bot(args, err)
    try:
        runner.run(bot, token, args.verbose)
    except runner.StartError as exc:
        raise CliError(str(exc)) from exc
    return EXIT_OK


def cmd_sync(args, out: Console, err: Console) -> int:
    token = discord_token()
    from bot.discord import runner

    bot = open_bot(args, err)
    try:
        targets = runner.sync(bot, token, args.verbose)
    except runner.StartError as exc:
        raise CliError(str(exc)) from exc
    if not targets:
        raise CliError("no server accepted the commands; see the log above")
    out.print(f"slash commands synced: {lit(', '.join(targets))}", highlight=False)
    return EXIT_OK


COMMANDS = {
    "ask": cmd_ask,
    "chat": cmd_chat,
    "sources": cmd_sources,
    "stats": cmd_stats,
    "eval": cmd_eval,
    "run": cmd_run,
    "sync": cmd_sync,
}


if __name__ == "__main__":
    sys.exit(main())
