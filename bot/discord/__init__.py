"""The Discord front end: a thin layer of discord.py slash commands over ``bot.engine.StoryBot``.

Nothing in the core imports this package; the CLI imports it only for ``storybot run``/``sync``.
Modules use absolute imports, so ``import discord`` inside it is discord.py, not this package.
"""
