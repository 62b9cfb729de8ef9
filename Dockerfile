# storybot's Discord bot in a container: docs/deploy.md explains building and running it.
#   docker build -t storybot .
#   docker run -d --name storybot -e DISCORD_TOKEN -v storybot-corpus:/data/corpus \
#       -v storybot-state:/data/state storybot
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# An unprivileged user that owns only the data; the code stays root-owned and read-only to it.
RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin storybot

WORKDIR /src
COPY pyproject.toml README.md LICENSE THIRD_PARTY_NOTICES.md ./
COPY bot ./bot
RUN pip install . && rm -rf /src

# /data/config.toml is the shipped one: [corpus] dir and state_dir are relative to it, so the
# corpus is /data/corpus and caches, the question log and the audit log are in /data/state.
# The shipped story seeds the corpus volume the first time a named volume is mounted there.
COPY config.toml /data/config.toml
COPY corpus /data/corpus
RUN mkdir -p /data/state && chown -R storybot:storybot /data/corpus /data/state
VOLUME ["/data/corpus", "/data/state"]

USER storybot
WORKDIR /data
ENV STORYBOT_CONFIG=/data/config.toml

# Config, corpus and a writable state directory, and the token present (see docs/deploy.md).
HEALTHCHECK --interval=5m --timeout=30s --start-period=30s --retries=3 \
    CMD ["storybot", "health", "--discord"]

# The token comes from the environment only: docker run -e DISCORD_TOKEN (never in the image).
# SIGINT lets discord.py close the connection cleanly on docker stop.
STOPSIGNAL SIGINT
CMD ["storybot", "run"]
