"""Stories: named corpora, each with its own sources, caches, audit log, question log,
answers, feeds and review queue, held by one registry that loads them on demand.

Data flow inside a story: its corpus files (``bot.sources``) -> passages and index
(``bot.search``, built by :mod:`bot.stories.index` on the story's first question) -> answers.
The collaborators a story hands its work to read as that flow: :mod:`~bot.stories.curation`
(changing the sources), :mod:`~bot.stories.asking` (questions, what is new, announcements),
:mod:`~bot.stories.review` (watched feeds and the review queue), :mod:`~bot.stories.answers`
(answers posted with buttons, and votes). :mod:`~bot.stories.store` keeps the stories and which
server and channel uses which; :mod:`~bot.stories.registry` loads and unloads them.
``bot.engine.StoryBot`` is the facade the adapters call. docs/stories.md has the design.
"""
