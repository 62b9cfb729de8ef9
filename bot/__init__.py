"""storybot: answers questions about a news story only with attributed, verbatim excerpts."""

__version__ = "0.1.0"
