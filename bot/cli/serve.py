"""``storybot run`` and ``storybot sync``: the Discord bot (discord.py is imported only here)."""

from __future__ import annotations

import argparse
import os

from rich.console import Console

from bot.cli.common import EXIT_OK, EXIT_USAGE, CliError, open_bot
from bot.cli.terminal import literal

TOKEN_ENV_VAR = "DISCORD_TOKEN"


def register(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser("run", help=f"run the Discord bot (token from ${TOKEN_ENV_VAR})")
    run.set_defaults(handler=cmd_run)
    sync = commands.add_parser(
        "sync",
        help="register the bot's slash commands with Discord now (run does it when they change)",
    )
    sync.add_argument(
        "--clear-global",
        action="store_true",
        help="also remove globally registered commands (after setting [discord] guild_ids)",
    )
    sync.set_defaults(handler=cmd_sync)


def discord_token() -> str:
    token = os.environ.get(TOKEN_ENV_VAR, "").strip()
    if not token:
        raise CliError(
            f"set the {TOKEN_ENV_VAR} environment variable to the bot token (see docs/discord.md)",
            EXIT_USAGE,
        )
    return token


def cmd_run(args, out: Console, err: Console) -> int:
    """The checks of ``storybot health --discord`` first, with its exit codes (a systemd unit
    can only keep a usage error from restarting when the main process reports it)."""
    from bot.cli.health import check_state_dir
    from bot.config import load_config

    token = discord_token()
    check_state_dir(load_config(args.config))
    from bot.discord import runner

    bot = open_bot(args, err, need="directory", every_story=True)
    try:
        runner.run(bot, token, args.verbose)
    except runner.StartError as exc:
        raise CliError(str(exc)) from exc
    return EXIT_OK


def cmd_sync(args, out: Console, err: Console) -> int:
    token = discord_token()
    from bot.discord import runner

    bot = open_bot(args, err, need="nothing", every_story=True)
    try:
        targets = runner.sync(bot, token, args.verbose, clear_global=args.clear_global)
    except runner.StartError as exc:
        raise CliError(str(exc)) from exc
    if not targets:
        raise CliError("no server accepted the commands; see the log above")
    out.print(f"slash commands synced: {literal(', '.join(targets))}", highlight=False)
    if args.clear_global:
        out.print("global commands removed", highlight=False)
    return EXIT_OK
