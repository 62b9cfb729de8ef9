"""From one corpus to stories: what a state directory made before stories needs.

Rows need nothing here: each story-scoped table gets a ``story_id`` column whose default is
the default story (``bot.insights.database.DEFAULT_STORY_ID``) by its own migration, and the
``stories`` table is created with that story in it. Files: the default story's corpus stays
where ``[corpus] dir`` says; its caches move from ``<state_dir>/cache`` to its directory,
``<state_dir>/stories/1/cache``, in one rename (a cache that could not move is rebuilt, never
lost data: caches are derived from the corpus).
"""

from __future__ import annotations

import logging
import os

from bot.config import Config
from bot.insights.database import DEFAULT_STORY_ID

log = logging.getLogger(__name__)

LEGACY_CACHE = "cache"


def upgrade_state(config: Config) -> bool:
    """Move a pre-stories cache directory into the default story's; True if it moved."""
    from bot.stories.story import cache_dir_of

    legacy = config.state_dir / LEGACY_CACHE
    target = cache_dir_of(config, DEFAULT_STORY_ID)
    if not legacy.is_dir() or target.exists():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(legacy, target)
    except FileNotFoundError:  # another process moved it first
        return False
    except OSError as exc:
        log.warning("could not move %s to %s (it will be rebuilt): %s", legacy, target, exc)
        return False
    log.info("moved the default story's caches to %s", target)
    return True
