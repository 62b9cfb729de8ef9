"""Small builders shared by tests."""

from bot.sources.corpus import Source


def source(source_id: str, text: str, **fields) -> Source:
    """A Source with sensible defaults for tests."""
    fields.setdefault("title", source_id.replace("-", " ").title())
    return Source(id=source_id, text=text, **fields)


# A second source about the story, used by the Discord and concurrency tests.
FESTIVAL = source(
    "sundance-prize",
    "The Sundance jury awarded Maïmouna Doucouré the World Cinema directing prize in January "
    "2020. The prize honoured her first feature film.\n\n"
    "Critics at the festival praised the young cast. The cast had never acted before.",
    title="Sundance honours Doucouré",
    publisher="Festival Daily",
    url="https://festival.example/2020/prize",
)
