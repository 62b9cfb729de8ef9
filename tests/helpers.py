"""Small builders shared by tests."""

from bot.sources.corpus import Source


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """``storybot ARGS`` in this process: its exit code, stdout and stderr."""
    from bot.cli import main

    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def source(source_id: str, text: str, **fields) -> Source:
    """A Source with sensible defaults for tests."""
    fields.setdefault("title", source_id.replace("-", " ").title())
    return Source(id=source_id, text=text, **fields)


# A small corpus the Discord tests share: an attributed source with a URL, and one whose text
# and metadata are full of Discord markdown and mentions.
FESTIVAL = source(
    "sundance-prize",
    "The Sundance jury awarded Maïmouna Doucouré the World Cinema directing prize in January "
    "2020. The prize honoured her first feature film.\n\n"
    "Critics at the festival praised the young cast. The cast had never acted before.",
    title="Sundance honours Doucouré",
    publisher="Festival Daily",
    url="https://festival.example/2020/prize",
)
HOSTILE = source(
    "hostile-post",
    "The zebra keeper told @everyone to look at <@123> and **shouted** about the ||zebra "
    "enclosure|| with __anger__.",
    title="Zoo **news** @here",
    publisher="Zoo <@456> Times",
)
ANSWERED = "Which prize did the Sundance jury award?"  # from FESTIVAL
UNANSWERED = "What is the capital of Mongolia?"
