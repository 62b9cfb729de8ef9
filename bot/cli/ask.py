"""``storybot ask``, ``chat`` and ``eval``: questions in, quoted answers out."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bot.cli.common import EXIT_OK, EXIT_USAGE, CliError, open_bot, print_json
from bot.cli.sources import sources_table
from bot.cli.terminal import literal, print_answer

SOURCES_HINT = "See what I know with: storybot sources list"
NO_LOG_HELP = "do not record the question for storybot stats (recorded as 'cli' otherwise)"
EXAMPLE = 'For example: storybot ask "Who directed Cuties?"'


def register(commands: argparse._SubParsersAction) -> None:
    ask = commands.add_parser("ask", help="answer a question (or a file of questions)")
    ask.add_argument("question", nargs="?", help="the question, in quotes")
    ask.add_argument(
        "-k", type=int, default=None, metavar="N", help="up to N excerpts, 1-10 (default: top_k)"
    )
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    ask.add_argument(
        "--batch",
        metavar="FILE",
        help="questions, one per line or JSONL with a 'q' field (never recorded in the stats)",
    )
    ask.add_argument("--no-log", action="store_true", help=NO_LOG_HELP)
    ask.set_defaults(handler=cmd_ask)

    chat = commands.add_parser("chat", help="ask questions interactively")
    chat.add_argument("--no-log", action="store_true", help=NO_LOG_HELP)
    chat.set_defaults(handler=cmd_chat)

    ev = commands.add_parser("eval", help="measure answers on labelled questions (JSONL)")
    ev.add_argument(
        "file",
        type=Path,
        help='labelled questions, one JSON object a line: {"q": "question", "answers": '
        '["a phrase a right excerpt contains", ...]}; "answers": [] means it should abstain',
    )
    ev.add_argument("--json", action="store_true", help="print the report as JSON")
    ev.set_defaults(handler=cmd_eval)


def cmd_ask(args, out: Console, err: Console) -> int:
    from bot.presentation import answer_record
    from bot.search.retrieval import QuestionError

    if args.k is not None and not 1 <= args.k <= 10:
        raise CliError("-k must be between 1 and 10", EXIT_USAGE)
    if args.batch and args.question:
        raise CliError("give either a question or --batch FILE, not both", EXIT_USAGE)
    if not args.batch and args.question is None:
        raise CliError(f"what is the question? {EXAMPLE}", EXIT_USAGE)
    questions = list(_batch_questions(Path(args.batch))) if args.batch else [args.question]
    bot = open_bot(args, err)
    # A batch is a test run of a question set, not what people asked: never recorded.
    keep = not (args.no_log or args.batch)
    status = EXIT_OK
    for question in questions:
        try:
            answer = bot.ask(question, args.k, record=keep, origin="cli")
        except QuestionError as exc:
            if not (args.json or args.batch):
                raise CliError(_question_problem(exc), EXIT_USAGE) from exc
            record = {"question": question, "answered": False, "excerpts": [], "error": str(exc)}
            status = EXIT_USAGE if not args.batch else status
        else:
            record = answer_record(answer)
            if not (args.json or args.batch):
                print_answer(out, answer, SOURCES_HINT)
                continue
        print_json(record)
    return status


def _question_problem(exc) -> str:
    return f"{exc} {EXAMPLE}" if exc.empty else str(exc)


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


CHAT_HELP = """\
Type a question and press Enter. Up/Down recall earlier questions; Ctrl-C clears the line.
  :help        this help
  :k N         answer with up to N excerpts (1-10); :k alone shows the current number
  :sources     list the sources I quote from
  :quit        leave (or Ctrl-D)"""
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
    out.print(
        f"[bold]storybot[/bold] — {len(bot.sources)} source(s), {bot.passage_count} passages. "
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
        out.print(sources_table(bot.sources))
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

    try:
        items = read_labelled(args.file)
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read {args.file}: {exc}") from exc
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
        if isinstance(value, float):
            table.add_row(name, f"{value:.1%}" if name != "mrr" else f"{value:.3f}")
    out.print(table)
    for miss in report.misses:
        out.print(f"  [yellow]miss[/yellow] {literal(miss)}", highlight=False)
    return EXIT_OK
