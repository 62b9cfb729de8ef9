"""Every story of a deployment, opened when first named and loaded when first asked.

Opening a story is cheap (database handles, its corpus directory); loading it builds its index
(spaCy, the embedding model, its passages). At most ``[stories] max_loaded`` stories are loaded
at once per process: loading one more unloads the least recently used (its caches stay on
disk). What a second process must see is in the database and the story directories, never
only here: which stories exist and which server or channel uses which (``StoryStore``), each
server's review and announcement channels (``ChannelStore``), every row with its story id,
every file under the story's directory.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass

from bot.insights.database import DEFAULT_STORY_ID, database_path
from bot.stories.answers import Answers
from bot.stories.asking import Asking
from bot.stories.channels import ChannelStore
from bot.stories.curation import Curation
from bot.stories.review import Review
from bot.stories.store import UNWRITTEN, StoryError, StoryRecord, StoryStore
from bot.stories.story import Shared, Story
from bot.stories.upgrade import upgrade_state

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OpenStory:
    """A story and the collaborators that do its work, in the order of the data flow."""

    story: Story
    curation: Curation
    asking: Asking
    review: Review
    answers: Answers


class StoryRegistry:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        config = shared.config
        self.max_loaded = config.stories.max_loaded
        upgrade_state(config)
        self.store = StoryStore(database_path(config.state_dir))
        self.channels = ChannelStore(database_path(config.state_dir))
        self._open: dict[int, OpenStory] = {}
        self._lock = threading.Lock()

    def open(self, story_id: int = DEFAULT_STORY_ID) -> OpenStory:
        """The story with this id, opened (not loaded) if it was not."""
        found = self._open.get(story_id)
        if found is not None:
            return found
        try:
            record = self.store.get(story_id)
        except sqlite3.Error as exc:  # e.g. locked by another process's long write
            if story_id != DEFAULT_STORY_ID:
                raise
            # The default story's id is fixed: it opens (and its changes meet the database's
            # trouble where they write, with the message that says so).
            log.warning("could not read the stories table: %s", exc)
            record = UNWRITTEN
        with self._lock:
            found = self._open.get(story_id)
            if found is None:
                story = Story(record, self.shared, on_load=self._loaded)
                asking = Asking(story)
                curation = Curation(story, asking)
                found = OpenStory(
                    story,
                    curation,
                    asking,
                    Review(story, curation, asking),
                    Answers(story, asking),
                )
                self._open[story_id] = found
            return found

    def named(self, name: str, guild: str | None = None, *, archived: bool = False) -> OpenStory:
        """A story by name (in ``guild``; None: anywhere, or by id, as the command line
        names them). Archived stories are refused, unless ``archived`` (to read its logs)."""
        record = self.store.named(name, guild)
        if record.archived and not archived:
            raise StoryError(record.archived_note())
        return self.open(record.id)

    def refresh(self, record: StoryRecord) -> None:
        """A story was renamed or archived: its open copy learns the new record."""
        found = self._open.get(record.id)
        if found is not None:
            found.story.record = record

    def loaded(self) -> list[Story]:
        return [o.story for o in self._open.values() if o.story.is_loaded]

    def _loaded(self, story: Story) -> None:
        """A story just built its index: unload the least recently used beyond the budget."""
        others = sorted((s for s in self.loaded() if s is not story), key=lambda s: s.last_used)
        excess = len(others) + 1 - self.max_loaded
        for idle in others[: max(0, excess)]:
            log.info("story %s unloaded (max_loaded = %d)", idle.name, self.max_loaded)
            idle.unload()
