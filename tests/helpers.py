"""Small builders shared by tests."""

from bot.sources.corpus import Source


def source(source_id: str, text: str, **fields) -> Source:
    """A Source with sensible defaults for tests."""
    fields.setdefault("title", source_id.replace("-", " ").title())
    return Source(id=source_id, text=text, **fields)
