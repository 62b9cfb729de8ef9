"""Following the story: watched feeds and pages, what they list, and the moderators' queue.

``items`` reads a fetched feed (feedparser) or topic page (its headline links) into items;
``store`` keeps feeds, seen items and decisions in the state database; ``schedule`` decides when
a feed is polled again (interval, backoff, per-host spacing); ``poller`` polls due feeds through
the guarded fetcher and judges new items; ``watcher`` runs the poller beside the Discord bot.
Relevance itself is the retrieval core's (``bot.search.relevance``); the engine wires them.
"""
