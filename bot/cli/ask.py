"""``storybot ask``, ``chat`` and ``eval``: questions in, quoted answers out."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from rich.console import Console
from rich.table import Table

from bot.cli.common import EXIT_OK, EXIT_USAGE, CliError, open_bot, print_json, story_command
from bot.cli.sources import print_sources
from bot.cli.terminal import literal, print_answer

NO_LOG_HELP = "do not record the question for storybot stats (recorded as 'cli' otherwise)"
EXAMPLE = 'For example: storybot ask "Who directed Cuties?"'
# A batch line longer than this is reported as an error and never held whole (a question is at
# most 1,000 characters; a JSON line with escapes takes more bytes).
MAX_BATCH_LINE_BYTES = 16 * 1024
SKIP_CHUNK = 64 * 1024


@dataclass(frozen=True)
class SkippedLine:
    """A batch line that is not a question (too long); reported, never echoed."""

    number: int
    reason: str


def register(commands: argparse._SubParsersAction) -> None:
    ask = commands.add_parser("ask", help="answer a question (or a file of questions)")
    ask.add_argument("question", nargs="*", help="the question (quotes are optional)")
    ask.add_argument(
        "-k", type=int, default=None, metavar="N", help="up to N excerpts, 1-10 (default: top_k)"
    )
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    ask.add_argument(
        "--batch",
        metavar="FILE",
        help="questions, one per line or JSONL with a 'q' field ('-': stdin); a JSON line "
        "per line, as each is answered (never recorded in the stats)",
    )
    ask.add_argument("--no-log", action="store_true", help=NO_LOG_HELP)
    ask.set_defaults(handler=cmd_ask)

    chat = commands.add_parser("chat", help="ask questions interactively")
    chat.add_argument("--no-log", action="store_true", help=NO_LOG_HELP)
    chat.set_defaults(handler=cmd_chat)

    ev = commands.add_parser(
        "eval",
        help="measure answers on labelled questions (JSONL) or a SQuAD-style story set",
    )
    ev.add_argument(
        "file",
        type=Path,
        metavar="PATH",
        help='a JSONL file of {"q": ..., "answers": [...]} asked of this corpus, or a directory '
        "with stories/*.txt and questions.jsonl (one corpus per story)",
    )
    ev.add_argument("--json", action="store_true", help="print the report as JSON")
    ev.add_argument(
        "--off-topic",
        type=int,
        default=100,
        metavar="N",
        help="story sets: questions of other stories asked of each story (default 100)",
    )
    ev.add_argument(
        "--split",
        choices=("train", "tune", "test"),
        help="squad2-dev20: only the articles of this split (test: never used for training "
        "or tuning the re-ranker and answer rules)",
    )
    ev.set_defaults(handler=cmd_eval)


def cmd_ask(args, out: Console, err: Console) -> int:
    from bot.presentation import answer_record
    from bot.search.retrieval import QuestionError

    if args.k is not None and not 1 <= args.k <= 10:
        raise CliError("-k must be between 1 and 10", EXIT_USAGE)
    # storybot ask who directed cuties: the words are the question, quotes or not.
    question = " ".join(args.question) if args.question else None
    if args.batch and question is not None:
        raise CliError("give either a question or --batch FILE, not both", EXIT_USAGE)
    if args.batch:
        return _ask_batch(args, err)
    if question is None:
        raise CliError(f"what is the question? {EXAMPLE}", EXIT_USAGE)
    bot = open_bot(args, err)
    try:
        answer = bot.ask(question, args.k, record=not args.no_log, origin="cli")
    except QuestionError as exc:
        if not args.json:
            raise CliError(_question_problem(exc), EXIT_USAGE) from exc
        print_json({"question": question, "answered": False, "excerpts": [], "error": str(exc)})
        return EXIT_USAGE
    if args.json:
        print_json(answer_record(answer))
    else:
        print_answer(out, answer, f"See what I know with: {story_command(args, 'sources list')}")
    return EXIT_OK


def _question_problem(exc) -> str:
    return f"{exc} {EXAMPLE}" if exc.empty else str(exc)


def _ask_batch(args, err: Console) -> int:
    """One JSON line per input line, written as soon as the line is answered: a pipe that
    never ends gets its answers as its lines arrive (``-`` reads stdin). A line that is not a
    question (blank, bad JSON, too long, not UTF-8) gets a line with an ``error`` field and the
    batch goes on. Never recorded: a batch tests a question set, it is not what people asked."""
    from bot.presentation import answer_record
    from bot.search.retrieval import QuestionError

    name = "stdin" if args.batch == "-" else args.batch
    with _batch_input(args.batch) as handle:  # unreadable: an error before the corpus loads
        bot = open_bot(args, err)
        for number, question in _batch_questions(handle, name):
            if isinstance(question, SkippedLine):
                print_json(_batch_error(number, None, question.reason))
                continue
            try:
                answer = bot.ask(question, args.k, record=False, origin="cli")
            except QuestionError as exc:
                print_json(_batch_error(number, question, str(exc)))
                continue
            print_json(answer_record(answer))
    return EXIT_OK


def _batch_error(number: int, question: str | None, error: str) -> dict:
    return {"line": number, "question": question, "answered": False, "excerpts": [], "error": error}


@contextlib.contextmanager
def _batch_input(name: str) -> Iterator[BinaryIO]:
    """The batch's bytes: stdin for ``-``, else a regular file or a pipe (a FIFO)."""
    if name == "-":
        yield sys.stdin.buffer
        return
    path = Path(name)
    try:
        handle = path.open("rb")
        kind = os.fstat(handle.fileno()).st_mode
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from exc
    with handle:
        if not (stat.S_ISREG(kind) or stat.S_ISFIFO(kind)):
            raise CliError(f"cannot read {path}: not a regular file or a pipe")
        yield handle


def _batch_questions(handle: BinaryIO, name: str) -> Iterator[tuple[int, str | SkippedLine]]:
    """Each line's question (plain text, or JSON with a ``q`` string), or why it has none.
    A blank line is the empty question: asking it gives the usual error."""
    for number, line in _batch_lines(handle):
        if isinstance(line, SkippedLine):
            yield number, line
        elif line.lstrip().startswith("{"):
            try:
                question = json.loads(line)["q"]
                if not isinstance(question, str):
                    raise TypeError("'q' is not a string")
            except (json.JSONDecodeError, KeyError, TypeError):
                reason = f"{name} line {number}: expected JSON with a 'q' string field"
                yield number, SkippedLine(number, reason)
            else:
                yield number, question
        else:
            yield number, line.strip()


def _batch_lines(handle: BinaryIO) -> Iterator[tuple[int, str | SkippedLine]]:
    """The numbered lines of a batch, each read with a cap as it arrives: a longer line
    becomes a SkippedLine and the rest of it is read past, never kept."""
    number = 0
    while line := handle.readline(MAX_BATCH_LINE_BYTES + 1):
        number += 1
        if len(line) > MAX_BATCH_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := handle.readline(SKIP_CHUNK)) and not rest.endswith(b"\n"):
                pass
            reason = f"line {number} is longer than {MAX_BATCH_LINE_BYTES:,} bytes; skipped"
            yield number, SkippedLine(number, reason)
            continue
        try:
            yield number, line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            yield number, SkippedLine(number, f"line {number} is not UTF-8; skipped")


CHAT_HELP = """\
Type a question and press Enter. Up/Down recall earlier questions; Ctrl-C clears the line.
  :help        this help
  :k N         answer with up to N excerpts (1-10); :k alone shows the current number
  :sources     list the sources I quote from
  :quit        leave (also :q, :exit, quit, exit, or Ctrl-D)"""
QUIT = {":quit", ":q", ":exit", "quit", "exit"}
HISTORY_FILE = "chat_history"
HISTORY_LENGTH = 1000


def cmd_chat(args, out: Console, err: Console) -> int:
    """An interactive session with the terminal's usual line editing and history (readline),
    a few ``:commands``; Ctrl-C clears the line or stops an answer, Ctrl-D or :quit leaves."""
    from bot.search.retrieval import QuestionError

    bot = open_bot(args, err)
    k = bot.config.retrieval.top_k
    # Questions stay on this machine (state dir); --no-log keeps them out of the file too.
    history = None if args.no_log else bot.config.state_dir / HISTORY_FILE
    editing = _line_editing(history)
    story = f"the story [bold]{literal(bot.story.name)}[/bold], " if args.story else ""
    out.print(
        f"[bold]storybot[/bold] — {story}{len(bot.sources)} source(s), "
        f"{bot.passage_count} passages. "
        "Ask a question; [dim]:help[/dim] lists commands, [dim]:quit[/dim] or Ctrl-D leaves.",
        highlight=False,
    )
    try:
        while True:
            try:
                line = input("ask> ")
            except EOFError:
                out.print()
                return EXIT_OK
            except KeyboardInterrupt:  # Ctrl-C: drop the line, keep the prompt
                out.print("^C", highlight=False)
                continue
            if line.strip().lower() in QUIT:
                return EXIT_OK
            command, _, argument = line.strip().partition(" ")
            if not command:
                continue
            if command.startswith(":"):
                k = _chat_command(out, bot, command.lower(), argument.strip(), k)
                continue
            try:
                answer = bot.ask(line, k, record=not args.no_log, origin="cli")
            except QuestionError as exc:
                out.print(f"[yellow]{literal(exc)}[/yellow]", highlight=False)
                continue
            except KeyboardInterrupt:
                out.print("[dim]stopped[/dim]")
                continue
            print_answer(out, answer, "Type :sources to see what I know.")
    finally:
        if editing is not None and history is not None:
            _save_history(editing, history)


def _chat_command(out: Console, bot, command: str, argument: str, k: int) -> int:
    """Run one ``:command``; returns the (possibly new) number of excerpts."""
    if command in {":help", ":h", ":?"}:
        out.print(CHAT_HELP, highlight=False, markup=False)
    elif command == ":sources":
        print_sources(out, bot.sources)
    elif command == ":k":
        if not argument:
            out.print(f"answering with up to {k} excerpt(s)", highlight=False)
        elif argument.isdigit() and 1 <= int(argument) <= 10:
            k = int(argument)
            out.print(f"answering with up to {k} excerpt(s)", highlight=False)
        else:
            out.print("[yellow]:k takes a number from 1 to 10, e.g. :k 5[/yellow]")
    else:
        out.print(
            f"[yellow]unknown command {literal(command)}; :help lists them[/yellow]",
            highlight=False,
        )
    return k


def _line_editing(history: Path | None):
    """The readline module set up with the saved history, or None where it is missing
    (e.g. Windows) or the input is not a terminal (a pipe: nothing to edit)."""
    if not sys.stdin.isatty():
        return None
    try:
        import readline
    except ImportError:
        return None
    readline.set_history_length(HISTORY_LENGTH)
    if history is not None:
        with contextlib.suppress(OSError):  # none yet, or unreadable: start afresh
            readline.read_history_file(history)
    return readline


def _save_history(readline, history: Path) -> None:
    try:
        history.parent.mkdir(parents=True, exist_ok=True)
        readline.write_history_file(history)
    except OSError:
        pass  # history is a convenience: never an error on the way out


def cmd_eval(args, out: Console, err: Console) -> int:
    from bot.search.evaluate import evaluate, read_labelled

    if args.file.is_dir():
        return _eval_story_set(args, out, err)
    if args.split:
        raise CliError(
            "--split picks articles of a story set (a directory such as squad2-dev20), not "
            f"questions of a file: {args.file}",
            EXIT_USAGE,
        )
    try:
        items = read_labelled(args.file)
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read {args.file}: {exc}") from exc
    if not items:
        raise CliError(f'{args.file} has no questions (one {{"q": ..., "answers": [...]}} a line)')
    bot = open_bot(args, err)
    k = max(3, bot.config.retrieval.top_k)
    report = evaluate(lambda q: bot.ask(q, k), items)
    if args.json:
        print_json(report.as_dict())
        return EXIT_OK
    table = Table(
        title=f"{literal(args.file.name)}: {report.answerable} answerable, "
        f"{report.unanswerable} unanswerable",
        title_justify="left",
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in report.as_dict().items():
        if name != "misses":
            table.add_row(name, _metric(name, value))
    out.print(table)
    for miss in report.misses:
        out.print(f"  [yellow]miss[/yellow] {literal(miss)}", highlight=False)
    return EXIT_OK


def _eval_story_set(args, out: Console, err: Console) -> int:
    """One corpus per story with this config's settings, next to plain rank-bm25."""
    from bot.config import load_config
    from bot.engine import StoryBot
    from bot.search.evaluate import (
        SQUAD_SPLIT,
        evaluate_story_set,
        plain_bm25_asker,
        read_story_set,
    )

    if not 0 <= args.off_topic <= 10_000:
        raise CliError("--off-topic must be between 0 and 10000", EXIT_USAGE)
    try:
        stories, questions = read_story_set(args.file)
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read the story set {args.file}: {exc}") from exc
    if not stories:
        raise CliError(f"{args.file} has no stories/*.txt")
    config = load_config(args.config)
    k = max(3, config.retrieval.top_k)
    work = config.state_dir / "eval" / args.file.resolve().name

    def askers(name: str, text: str) -> dict:
        with err.status(f"Indexing {literal(name)}…"):
            bot = StoryBot.over_text(config, Path(name).stem, text, work / Path(name).stem)
        sources = {s.id: s for s in bot.sources}
        return {
            "storybot": lambda q: bot.ask(q, k),
            "plain rank-bm25": plain_bm25_asker(bot.passages, sources, k),
        }

    only = None
    if args.split:
        only = lambda name: SQUAD_SPLIT.get(name) == args.split  # noqa: E731
    reports = evaluate_story_set(
        stories, questions, askers, off_topic_per_story=args.off_topic, only=only
    )
    records = {name: report.as_dict() for name, report in reports.items()}
    if args.json:
        print_json(records)
        return EXIT_OK
    table = Table(
        title=f"{literal(args.file.name)}: {len(stories)} stories, {len(questions)} questions"
        + (f" (asked: the {args.split} articles)" if args.split else ""),
        title_justify="left",
    )
    names = list(records)
    table.add_column("metric")
    for name in names:
        table.add_column(name, justify="right")
    for metric in records[names[0]]:
        table.add_row(metric, *(_metric(metric, records[name][metric]) for name in names))
    out.print(table)
    return EXIT_OK


def _metric(name: str, value) -> str:
    """A report value for a table: rates as percentages, MRR to 3 places, reply kinds counted."""
    if value is None:
        return "—"
    if isinstance(value, dict):
        return " · ".join(f"{kind} {count}" for kind, count in value.items())
    if isinstance(value, float):
        return f"{value:.3f}" if name == "mrr" else f"{value:.1%}"
    return str(value)
