"""Settings from ``config.toml``.

Paths inside the file are relative to the file itself, so one install can serve several corpora:
``storybot --config other/config.toml ...`` reads ``other/corpus``. Secrets (the Discord token)
never live here; they come from the environment.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from bot import __version__

DEFAULT_CONFIG_NAME = "config.toml"
CONFIG_ENV_VAR = "STORYBOT_CONFIG"
# A source file larger than this is refused when the corpus loads (``[corpus] max_source_bytes``):
# one giant file must not stall startup for minutes in spaCy.
MAX_SOURCE_BYTES = 10_000_000
# The BM25 variants of rank-bm25 that ``bot.search.index`` implements.
BM25_VARIANTS = ("BM25L", "BM25Plus", "BM25Okapi")


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or has a wrong value."""


# The sections a config file may have; anything else is a ConfigError (a misspelled section
# would otherwise be ignored, and its settings silently left at their defaults).
SECTIONS = (
    "corpus",
    "nlp",
    "retrieval",
    "stats",
    "semantic",
    "aliases",
    "fetch",
    "feeds",
    "discord",
    "stories",
)
CORPUS_KEYS = ("dir", "state_dir", "max_source_bytes")
# [stats] retention_days: at most this (100 years, "keep practically forever"); at least 1.
MAX_RETENTION_DAYS = 36_500


@dataclass(frozen=True)
class NlpSettings:
    # Empty: spacy.blank("en") + rule-based sentences + lookup lemmas (works offline).
    model: str = ""
    # Sentences per passage window; windows overlap by all but one sentence.
    window_sentences: int = 2


@dataclass(frozen=True)
class RetrievalSettings:
    variant: str = "BM25L"
    k1: float = 1.2
    b: float = 0.75
    delta: float = 0.5
    top_k: int = 3
    # Without the semantic layer: abstain unless the best passage covers this share of the
    # question's informative weight.
    min_coverage: float = 0.45
    # With it: a question is about the sources when coverage + best sentence cosine + top fused
    # score (the evidence) reaches min_about; below, the reply is "nothing".
    min_about: float = 1.15
    # The answer judge (bot.search.judge) re-orders the candidates and answers confidently
    # when its logit reaches min_answer; below, it shows the closest passage as not sure.
    judge: bool = True
    min_answer: float = -0.25
    # With judge = false: answer confidently when the evidence reaches this.
    min_evidence: float = 1.35


@dataclass(frozen=True)
class SemanticSettings:
    # A small sentence-embedding model fused with BM25 (bot.search.semantic).
    enabled: bool = True
    # "" = the packaged int8 all-MiniLM-L6-v2; or the path of another ONNX sentence model.
    model: str = ""
    # The model file's sha256, checked at load (required with a model of your own).
    model_sha256: str = ""
    # "" = the shipped all-MiniLM-L6-v2 tokenizer.json; or a tokenizer.json of your own.
    tokenizer: str = ""
    # Share of the cosine in the fused score (the rest is BM25 normalised by the top score).
    weight: float = 0.8
    # onnxruntime threads for embedding.
    threads: int = 2
    # BLAS threads for the per-question matrix products (0 = numpy's default: all cores).
    blas_threads: int = 1
    # "embedded": every window and sentence is embedded; "derived": sentences only, a window's
    # vector is the normalised mean of its sentences' (half the embedding, other cosines).
    windows: str = "embedded"
    # How vectors are stored in the cache: "float32" or "float16" (half the disk; float32 in
    # memory either way).
    vector_dtype: str = "float32"


@dataclass(frozen=True)
class StatsSettings:
    # Record questions (text, time, server, outcome; never user ids) for /stats.
    log_questions: bool = True
    retention_days: int = 90


@dataclass(frozen=True)
class FetchSettings:
    # Hosts or addresses exempt from the public-address rule, exactly as written in URLs.
    allow_hosts: tuple[str, ...] = ()
    max_bytes: int = 5_000_000
    timeout_seconds: float = 10.0
    max_redirects: int = 5
    user_agent: str = f"storybot/{__version__} (fetches news articles moderators add as sources)"


@dataclass(frozen=True)
class FeedSettings:
    # How often each watched feed or page is checked.
    poll_minutes: float = 30.0
    # A failing feed waits poll_minutes * 2**failures (failures in a row), at most this long.
    max_backoff_minutes: float = 1440.0
    # At least this long between two requests to one host (feeds and the pages they list).
    host_interval_seconds: float = 5.0
    # Newest items read per feed per poll.
    max_items: int = 50
    # Feeds polled at once (requests to one host still wait for each other).
    workers: int = 4
    # Fetch a plausible item's page: judge its text and drop near-duplicates of sources.
    fetch_items: bool = True
    # Relevance an item needs to be queued for moderators (the retrieval core's evidence;
    # calibrated in docs/feeds.md) ...
    min_relevance: float = 1.04
    # ... and, with [semantic] enabled = false, the coverage it needs instead.
    min_relevance_lexical: float = 0.115


@dataclass(frozen=True)
class DiscordSettings:
    # Sync slash commands to these servers only; empty = globally (every server the bot is in).
    guild_ids: tuple[int, ...] = ()
    # Channels where every question posted is answered (needs the message content intent).
    qa_channel_ids: tuple[int, ...] = ()
    # Role names or ids whose members may change the corpus, besides Manage Server/Messages.
    moderator_roles: tuple[str, ...] = ()
    # Per-user limit on asking: at most ask_rate questions per ask_per_seconds.
    ask_rate: int = 3
    ask_per_seconds: float = 30.0
    # Where feed candidates are posted for moderators to Add / Ignore (0 = not posted); both
    # channels serve the server they are in (another sets its own: /feed channels).
    review_channel_id: int = 0
    # Where new sources are announced, with the earlier questions they answer (0 = off).
    announce_channel_id: int = 0


@dataclass(frozen=True)
class StoriesSettings:
    # Stories whose index a process keeps loaded at once; the least recently asked is unloaded
    # to load another (its caches stay on disk, so loading it again is quick).
    max_loaded: int = 8


@dataclass(frozen=True)
class Config:
    path: Path | None
    corpus_dir: Path
    state_dir: Path
    # A source file larger than this is refused (named in the load errors) instead of loaded.
    max_source_bytes: int = MAX_SOURCE_BYTES
    nlp: NlpSettings = field(default_factory=NlpSettings)
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
    stats: StatsSettings = field(default_factory=StatsSettings)
    semantic: SemanticSettings = field(default_factory=SemanticSettings)
    # Groups of interchangeable words, e.g. [["Cuties", "Mignonnes"]].
    aliases: tuple[tuple[str, ...], ...] = ()
    fetch: FetchSettings = field(default_factory=FetchSettings)
    feeds: FeedSettings = field(default_factory=FeedSettings)
    discord: DiscordSettings = field(default_factory=DiscordSettings)
    stories: StoriesSettings = field(default_factory=StoriesSettings)
    raw: dict = field(default_factory=dict, repr=False, compare=False)


def user_config_path() -> Path:
    """The per-user config file: ``$XDG_CONFIG_HOME/storybot/config.toml``, by default
    ``~/.config/storybot/config.toml`` (``%APPDATA%\\storybot\\config.toml`` on Windows)."""
    if os.name == "nt" and os.environ.get("APPDATA"):
        base = Path(os.environ["APPDATA"])
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "storybot" / DEFAULT_CONFIG_NAME


def config_search_path() -> list[Path]:
    """Where a config file is looked for when neither --config nor $STORYBOT_CONFIG names one."""
    return [Path.cwd() / DEFAULT_CONFIG_NAME, user_config_path()]


def find_config_path(explicit: str | os.PathLike | None = None) -> Path | None:
    """The config file to use: the explicit one, then $STORYBOT_CONFIG, then ./config.toml,
    then the user's config directory (:func:`user_config_path`); None if there is none."""
    if explicit:
        return Path(explicit)
    from_env = os.environ.get(CONFIG_ENV_VAR)
    if from_env:
        return Path(from_env)
    return next((path for path in config_search_path() if path.is_file()), None)


def load_config(path: str | os.PathLike | None = None) -> Config:
    """Read the configuration; without any file, defaults with ``./corpus`` as the corpus."""
    config_path = find_config_path(path)
    if config_path is None:
        base = Path.cwd()
        return Config(path=None, corpus_dir=base / "corpus", state_dir=base / "state")
    if not config_path.is_file():
        named_by = "" if path else f" (named by ${CONFIG_ENV_VAR})"
        if config_path.is_dir():
            inside = config_path / DEFAULT_CONFIG_NAME
            fix = f"; did you mean {inside}?" if inside.is_file() else ""
            raise ConfigError(f"{config_path}{named_by} is a directory, not a config file{fix}")
        raise ConfigError(f"config file not found: {config_path}{named_by}")
    try:
        data = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {config_path}: {exc}") from exc
    return config_from_dict(data, base=config_path.resolve().parent, path=config_path)


def config_from_dict(data: dict, base: Path, path: Path | None = None) -> Config:
    unknown = [name for name in data if name not in SECTIONS]
    if unknown:
        raise ConfigError(
            f"unknown section [{unknown[0]}] (the sections are {', '.join(SECTIONS)})"
        )
    corpus = _table(data, "corpus")
    for key in corpus:
        if key not in CORPUS_KEYS:
            raise ConfigError(f"unknown setting [corpus] {key}")
    for key in ("dir", "state_dir"):
        if not isinstance(corpus.get(key, ""), str):
            raise ConfigError(f"[corpus] {key} must be a path (a string), got {corpus[key]!r}")
    max_source_bytes = corpus.get("max_source_bytes", MAX_SOURCE_BYTES)
    if not isinstance(max_source_bytes, int) or isinstance(max_source_bytes, bool):
        raise ConfigError(f"[corpus] max_source_bytes must be an int, got {max_source_bytes!r}")
    _between("corpus", "max_source_bytes", max_source_bytes, 1, 1_000_000_000)
    return Config(
        path=path,
        corpus_dir=base / str(corpus.get("dir", "corpus")),
        state_dir=base / str(corpus.get("state_dir", "state")),
        max_source_bytes=max_source_bytes,
        nlp=_nlp(_table(data, "nlp")),
        retrieval=_retrieval(_table(data, "retrieval")),
        stats=_stats(_table(data, "stats")),
        semantic=_semantic(_table(data, "semantic"), base),
        aliases=_aliases(data.get("aliases", {})),
        fetch=_fetch(_table(data, "fetch")),
        feeds=_feeds(_table(data, "feeds")),
        discord=_discord(_table(data, "discord")),
        stories=_stories(_table(data, "stories")),
        raw=data,
    )


def _table(data: dict, name: str) -> dict:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{name}] must be a table")
    return value


def _settings(cls, table: dict, section: str):
    defaults = cls()
    values = {}
    for key, value in table.items():
        if not hasattr(defaults, key):
            raise ConfigError(f"unknown setting [{section}] {key}")
        expected = type(getattr(defaults, key))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or isinstance(value, bool) != (expected is bool):
            name = {"int": "whole number", "float": "number", "str": "string"}.get(
                expected.__name__, expected.__name__
            )
            raise ConfigError(f"[{section}] {key} must be a {name}, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"[{section}] {key} must be a finite number, got {value!r}")
        values[key] = value
    return cls(**values)


def _between(section: str, key: str, value: float, low: float, high: float) -> None:
    """ConfigError naming the setting unless ``low <= value <= high`` (NaN never is)."""
    if not low <= value <= high:
        raise ConfigError(
            f"[{section}] {key} must be between {_number(low)} and {_number(high)}, got {value!r}"
        )


def _number(value: float) -> str:
    """1000000 as "1,000,000" (not "1e+06"), 0.5 as "0.5"."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def _stats(table: dict) -> StatsSettings:
    settings = _settings(StatsSettings, table, "stats")
    if settings.retention_days < 1:
        raise ConfigError(
            f"[stats] retention_days must be at least 1, got {settings.retention_days} "
            f"(to keep questions practically forever, write {MAX_RETENTION_DAYS}; to record "
            "none, log_questions = false)"
        )
    _between("stats", "retention_days", settings.retention_days, 1, MAX_RETENTION_DAYS)
    return settings


def _nlp(table: dict) -> NlpSettings:
    settings = _settings(NlpSettings, table, "nlp")
    if not 1 <= settings.window_sentences <= 20:
        raise ConfigError("[nlp] window_sentences must be between 1 and 20")
    return settings


def _retrieval(table: dict) -> RetrievalSettings:
    settings = _settings(RetrievalSettings, table, "retrieval")
    if settings.variant not in BM25_VARIANTS:
        raise ConfigError(f"[retrieval] variant must be one of {', '.join(BM25_VARIANTS)}")
    if not 0 < settings.k1 <= 100:
        raise ConfigError(f"[retrieval] k1 must be above 0 and at most 100, got {settings.k1!r}")
    _between("retrieval", "b", settings.b, 0, 1)
    _between("retrieval", "delta", settings.delta, 0, 100)
    if not 0.0 <= settings.min_coverage <= 1.0:
        raise ConfigError("[retrieval] min_coverage must be between 0 and 1")
    for key in ("min_evidence", "min_about"):
        if not 0.0 <= getattr(settings, key) <= 3.0:
            raise ConfigError(f"[retrieval] {key} must be between 0 and 3")
    if not -10.0 <= settings.min_answer <= 10.0:
        raise ConfigError("[retrieval] min_answer must be a logit between -10 and 10")
    if not 1 <= settings.top_k <= 10:
        raise ConfigError("[retrieval] top_k must be between 1 and 10 (Discord shows 10 embeds)")
    return settings


def _semantic(table: dict, base: Path) -> SemanticSettings:
    settings = _settings(SemanticSettings, table, "semantic")
    if not 0.0 <= settings.weight <= 1.0:
        raise ConfigError("[semantic] weight must be between 0 and 1")
    if not 1 <= settings.threads <= 64:
        raise ConfigError("[semantic] threads must be between 1 and 64")
    if not 0 <= settings.blas_threads <= 64:
        raise ConfigError("[semantic] blas_threads must be between 0 and 64")
    if settings.windows not in ("embedded", "derived"):
        raise ConfigError('[semantic] windows must be "embedded" or "derived"')
    if settings.vector_dtype not in ("float32", "float16"):
        raise ConfigError('[semantic] vector_dtype must be "float32" or "float16"')
    if settings.model and not settings.model_sha256:
        raise ConfigError(
            "[semantic] model_sha256 is required with a model of your own "
            "(sha256sum the .onnx file), so a damaged or swapped file is never run"
        )
    # Paths in the file are relative to the file, like the corpus.
    paths = {
        k: str(base / getattr(settings, k)) for k in ("model", "tokenizer") if getattr(settings, k)
    }
    return SemanticSettings(**(vars(settings) | paths))


def _aliases(value) -> tuple[tuple[str, ...], ...]:
    if isinstance(value, dict):
        for key in value:
            if key != "groups":
                raise ConfigError(f"unknown setting [aliases] {key} (the one setting is groups)")
    groups = value.get("groups", []) if isinstance(value, dict) else value
    if not isinstance(groups, list) or not all(
        isinstance(g, list) and all(isinstance(w, str) for w in g) for g in groups
    ):
        raise ConfigError('[aliases] groups must be a list of word lists, e.g. [["a", "b"]]')
    return tuple(tuple(g) for g in groups if len(g) > 1)


def _fetch(table: dict) -> FetchSettings:
    hosts = table.get("allow_hosts", [])
    if not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts):
        raise ConfigError('[fetch] allow_hosts must be a list of host names, e.g. ["127.0.0.1"]')
    settings = _settings(FetchSettings, table | {"allow_hosts": tuple(hosts)}, "fetch")
    _between("fetch", "max_bytes", settings.max_bytes, 1, 1_000_000_000)
    _between("fetch", "timeout_seconds", settings.timeout_seconds, 0.1, 600)
    _between("fetch", "max_redirects", settings.max_redirects, 0, 20)
    agent = settings.user_agent
    if not agent.strip() or len(agent) > 500 or not all(" " <= c <= "~" for c in agent):
        raise ConfigError(
            "[fetch] user_agent must be one line of printable ASCII (up to 500 characters), "
            f"got {agent!r}"
        )
    return settings


def _feeds(table: dict) -> FeedSettings:
    settings = _settings(FeedSettings, table, "feeds")
    _between("feeds", "poll_minutes", settings.poll_minutes, 1, 10_080)  # a week
    if settings.max_backoff_minutes < settings.poll_minutes:
        raise ConfigError("[feeds] needs poll_minutes >= 1 and max_backoff_minutes >= it")
    _between("feeds", "max_backoff_minutes", settings.max_backoff_minutes, 1, 43_200)  # 30 days
    _between("feeds", "host_interval_seconds", settings.host_interval_seconds, 0, 3600)
    _between("feeds", "max_items", settings.max_items, 1, 1000)
    if not 1 <= settings.workers <= 32:
        raise ConfigError("[feeds] workers must be between 1 and 32")
    if not 0 <= settings.min_relevance <= 3 or not 0 <= settings.min_relevance_lexical <= 1:
        raise ConfigError("[feeds] min_relevance is 0..3 and min_relevance_lexical 0..1")
    return settings


def _stories(table: dict) -> StoriesSettings:
    settings = _settings(StoriesSettings, table, "stories")
    if not 1 <= settings.max_loaded <= 10_000:
        raise ConfigError("[stories] max_loaded must be between 1 and 10000")
    return settings


CHANNEL_SETTINGS = ("review_channel_id", "announce_channel_id")


def _channel_id(table: dict, key: str) -> int:
    """One channel id, as a number or a string of digits; 0 or absent = off."""
    value = table.get(key, 0)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(f"[discord] {key} must be a channel id (0 = off), got {value!r}")
    return value


def _discord(table: dict) -> DiscordSettings:
    lists = {}
    for key, kind in (("guild_ids", int), ("qa_channel_ids", int), ("moderator_roles", str)):
        value = table.get(key, [])
        if not isinstance(value, list):
            raise ConfigError(f"[discord] {key} must be a list, e.g. [123456789012345678]")
        try:
            # Ids are accepted as numbers or strings; roles as names or ids.
            lists[key] = tuple(kind(v) for v in value if not isinstance(v, bool))
        except ValueError as exc:
            raise ConfigError(f"[discord] {key}: {exc}") from exc
    channels = {key: _channel_id(table, key) for key in CHANNEL_SETTINGS}
    rest = {k: v for k, v in table.items() if k not in lists and k not in channels}
    settings = _settings(DiscordSettings, rest, "discord")
    settings = DiscordSettings(**(vars(settings) | lists | channels))
    _between("discord", "ask_rate", settings.ask_rate, 1, 1_000_000)
    _between("discord", "ask_per_seconds", settings.ask_per_seconds, 0, 86_400)
    return settings
