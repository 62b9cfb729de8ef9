"""Prove it holds under load: 200 questions in flight on one event loop while two sources are
added and one removed, through the real Discord callbacks and through the core API.

Afterwards the corpus on disk, the live engine, a fresh engine built from disk, the audit log and
the question log must all agree. ``STORYBOT_DEEP=1`` runs more rounds and more questions.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import random
import threading
from pathlib import Path

import pytest
import snowballstemmer
from discord_mocks import invoke, mock_attachment, mock_interaction, moderator, sends
from web_server import serve

from bot.discord.cogs.ask import AskCog
from bot.discord.cogs.sources import SourcesCog, added_by
from bot.engine import StoryBot
from bot.presentation import NOT_SURE, NOT_SURE_PLURAL, NOTHING
from bot.search.retrieval import MAX_QUESTION_CHARS, Answer, QuestionError
from bot.search.text import stem
from bot.sources.corpus import Corpus
from conftest import DATA
from helpers import FESTIVAL, source

DEEP = os.environ.get("STORYBOT_DEEP") == "1"
ROUNDS = 5 if DEEP else 1
IN_FLIGHT = 1000 if DEEP else 200

web = pytest.fixture(serve)
REPO = Path(__file__).resolve().parents[2]
DEV_QUESTIONS = [
    json.loads(line)["q"]
    for line in (DATA / "dev-questions.jsonl").read_text(encoding="utf-8").splitlines()
    if line.strip()
]
LIGHTHOUSE = source(
    "lighthouse",
    "The lighthouse keeper retired after forty years of service on the northern cape.\n\n"
    "Her successor, a former fisherman named Tomas Berg, takes over in May.",
    title="Lighthouse keeper retires",
    publisher="Cape Courier",
)
SCORE = (
    "# Score\n\nThe Lyon Philharmonic orchestra recorded the soundtrack in 2019.\n\n"
    "The composer wrote most of the music in Dakar over one winter, mixing traditional "
    "Senegalese songs with modern pop beats; the album came out a week before the film.\n"
)
ON_REMOVED = "Which prize did the Sundance jury award?"
ON_ARTICLE = "When will the harbour bridge open?"
ON_FILE = "Which orchestra recorded the soundtrack?"
QUESTIONS = [
    *DEV_QUESTIONS,
    ON_REMOVED,
    ON_ARTICLE,
    ON_FILE,
    "Who will take over the lighthouse?",
    "What is the capital of Mongolia?",
    "   ",  # refused: blank
    "why " * (MAX_QUESTION_CHARS // 4 + 5),  # refused: too long
]
CONFIG = {
    "fetch": {"allow_hosts": ["127.0.0.1"], "timeout_seconds": 5.0},
    # Every member may ask as often as they like here: the cooldown is tested elsewhere.
    "discord": {"ask_rate": 1000, "ask_per_seconds": 1},
}


def replies(interaction) -> str:
    return "\n".join(str(kwargs.get("content")) for kwargs in sends(interaction))


def on_disk(bot: StoryBot) -> set[tuple[str, str]]:
    loaded = Corpus(bot.config.corpus_dir).load()
    assert loaded.errors == []
    return {(s.id, s.text) for s in loaded.sources}


def in_memory(bot: StoryBot) -> set[tuple[str, str]]:
    return {(s.id, s.text) for s in bot.sources}


def signature(answer: Answer) -> tuple:
    return (
        answer.answered,
        answer.reason,
        tuple((e.source.id, e.start, e.end, round(e.score, 9)) for e in answer.excerpts),
    )


def assert_index_consistent(bot: StoryBot, removed: set[str], analyzer) -> None:
    """Every excerpt quotes a stored source verbatim; removed sources are gone; a fresh engine
    built from disk (passage cache included) answers exactly like the live one."""
    stored = {s.id: s.text for s in Corpus(bot.config.corpus_dir).load().sources}
    passages = bot.passages
    assert {p.source_id for p in passages} == set(stored)
    assert not removed & {p.source_id for p in passages}
    fresh = StoryBot(bot.config, analyzer=analyzer)
    assert in_memory(fresh) == in_memory(bot)
    assert [(p.source_id, p.start, p.end, p.terms) for p in fresh.passages] == [
        (p.source_id, p.start, p.end, p.terms) for p in passages
    ]
    for question in QUESTIONS[:-2]:
        live = bot.ask(question)
        for excerpt in live.excerpts:
            assert excerpt.source.id not in removed
            assert stored[excerpt.source.id][excerpt.start : excerpt.end] == excerpt.text
        assert signature(fresh.ask(question)) == signature(live), question


@pytest.fixture
def storybot(make_bot) -> StoryBot:
    return make_bot(FESTIVAL, LIGHTHOUSE, config=CONFIG)


async def ask_via_discord(cog: AskCog, question: str, delay: float) -> str:
    await asyncio.sleep(delay)
    interaction = mock_interaction()
    await invoke(cog.ask, cog, interaction, question)
    [sent] = sends(interaction)
    if not question.strip() or len(question) > MAX_QUESTION_CHARS:
        assert sent["ephemeral"] is True
        return "refused"
    interaction.response.defer.assert_awaited_once_with(thinking=True)
    content = sent.get("content") or ""
    if NOTHING in content:
        return "no answer"
    assert sent["embeds"], sent  # quotes: an answer, or the closest passages
    return "closest" if NOT_SURE in content or NOT_SURE_PLURAL in content else "answered"


async def ask_via_thread(bot: StoryBot, question: str, delay: float) -> str:
    await asyncio.sleep(delay)
    try:
        answer = await asyncio.to_thread(bot.ask, question)
    except QuestionError:
        return "refused"
    for excerpt in answer.excerpts:  # a slice of the source as it was when asked
        assert excerpt.text == excerpt.source.text[excerpt.start : excerpt.end]
        assert excerpt.text.strip()
    return {"answer": "answered", "closest": "closest"}.get(answer.kind, "no answer")


async def test_questions_in_flight_while_sources_change_through_discord(
    web, storybot, client, analyzer
):
    """/ask x N (half through the /ask callback, half through to_thread like the cog), while
    /source add (URL, slow server), /source add-file and /source remove run at once."""
    ask_cog, sources_cog = AskCog(client), SourcesCog(client)
    rng = random.Random(7)
    ana, ben, cy = moderator("ana"), moderator("ben"), moderator("cy")
    logged = 0
    for round_ in range(ROUNDS):
        if round_:  # start the next round from the first round's corpus
            storybot.restore_source("sundance-prize", restored_by="reset")
            for sid in ("council-approves-harbour-bridge", "the-score"):
                storybot.remove_source(sid, removed_by="reset")
        add_url, add_file, remove = (mock_interaction(m) for m in (ana, ben, cy))
        questions = [rng.choice(QUESTIONS) for _ in range(IN_FLIGHT)]
        spread = 1.0 / IN_FLIGHT  # spread over about a second, around the 0.4 s download
        asks = [
            ask_via_discord(ask_cog, q, i * spread)
            if i % 2
            else ask_via_thread(storybot, q, i * spread)
            for i, q in enumerate(questions)
        ]
        changes = [
            sources_cog.add.callback(sources_cog, add_url, web.url("/sluggish")),
            sources_cog.add_file.callback(
                sources_cog,
                add_file,
                mock_attachment("score.md", SCORE.encode()),
                "The score",
                publisher="Music Weekly",
            ),
            sources_cog.remove.callback(sources_cog, remove, "sundance-prize"),
        ]
        outcomes = await asyncio.gather(*changes, *asks, return_exceptions=True)
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        assert errors == [], errors[:3]
        results = outcomes[len(changes) :]
        assert len(results) == IN_FLIGHT
        logged += sum(1 for i, r in enumerate(results) if i % 2 and r != "refused")
        assert results.count("refused") == sum(
            1 for q in questions if not q.strip() or len(q) > MAX_QUESTION_CHARS
        )
        assert results.count("answered") + results.count("closest") > IN_FLIGHT // 2
        # The three changes each reported success privately.
        assert "`council-approves-harbour-bridge`" in replies(add_url)
        assert "`the-score`" in replies(add_file)
        assert "Removed `sundance-prize`" in replies(remove)

        expected = {
            ("seed-story", (REPO / "corpus" / "seed-story.txt").read_text().split("+++\n", 2)[2]),
            (LIGHTHOUSE.id, LIGHTHOUSE.text),
            ("the-score", SCORE),
        }
        assert on_disk(storybot) == in_memory(storybot)
        assert expected <= on_disk(storybot)
        assert {sid for sid, _ in on_disk(storybot)} == {
            "seed-story",
            "lighthouse",
            "the-score",
            "council-approves-harbour-bridge",
        }
        assert_index_consistent(storybot, {"sundance-prize"}, analyzer)
        assert storybot.ask(ON_ARTICLE).excerpts[0].source.id == "council-approves-harbour-bridge"
        assert storybot.ask(ON_FILE).excerpts[0].source.id == "the-score"
        assert all(e.source.id != "sundance-prize" for e in storybot.ask(ON_REMOVED).excerpts)

    # Exactly the audit rows expected, with their actors: none lost, none doubled.
    rows = [(e.actor, e.action, e.source_id) for e in storybot.audit_entries(limit=1000)]
    assert [r for r in rows if r[1].startswith("story ")] == [("first use", "story claim", "")]
    rows = [r for r in rows if not r[1].startswith("story ")]  # the server's claim of it
    first_round = {
        (added_by(ana), "add", "council-approves-harbour-bridge"),
        (added_by(ben), "add", "the-score"),
        (added_by(cy), "remove", "sundance-prize"),
    }
    assert len(rows) == 3 + (ROUNDS - 1) * 6
    assert set(rows) - {r for r in rows if r[0] == "reset"} == first_round
    # And every question asked through /ask is in the question log.
    assert len(storybot.question_log.rows()) == logged


async def test_questions_in_flight_while_sources_change_through_the_core_api(
    web, make_bot, analyzer
):
    """The same with StoryBot.add_url, StoryBot.add_source and remove_source directly, each
    in its own thread or task, and reload() called by a fourth party at the same time."""
    bot = make_bot(FESTIVAL, LIGHTHOUSE, config=CONFIG)
    rng = random.Random(11)
    questions = [rng.choice(QUESTIONS) for _ in range(IN_FLIGHT)]
    spread = 1.0 / IN_FLIGHT
    changes = [
        bot.add_url(web.url("/sluggish"), added_by="ana"),
        asyncio.to_thread(bot.add_source, SCORE, "The score", added_by="ben"),
        asyncio.to_thread(bot.remove_source, "sundance-prize", removed_by="cy"),
        asyncio.to_thread(bot.reload),
    ]
    asks = [ask_via_thread(bot, q, i * spread) for i, q in enumerate(questions)]
    outcomes = await asyncio.gather(*changes, *asks, return_exceptions=True)
    assert [o for o in outcomes if isinstance(o, BaseException)] == []
    assert on_disk(bot) == in_memory(bot)
    assert {sid for sid, _ in in_memory(bot)} == {
        "seed-story",
        "lighthouse",
        "the-score",
        "council-approves-harbour-bridge",
    }
    assert_index_consistent(bot, {"sundance-prize"}, analyzer)
    rows = sorted((e.actor, e.action, e.source_id) for e in bot.audit_entries())
    assert rows == [
        ("ana", "add", "council-approves-harbour-bridge"),
        ("ben", "add", "the-score"),
        ("cy", "remove", "sundance-prize"),
    ]


def test_reload_cannot_swap_in_a_stale_snapshot(make_bot, monkeypatch):
    """A reload() that read the corpus before a concurrent add must not overwrite the add's
    newer snapshot with its older one (it used to run outside the write lock)."""
    bot = make_bot(LIGHTHOUSE)
    corpus_load = Corpus.load
    paused, release = threading.Event(), threading.Event()

    def slow_load(self):
        loaded = corpus_load(self)
        if threading.current_thread().name == "reloader":
            paused.set()
            release.wait(5)
        return loaded

    monkeypatch.setattr(Corpus, "load", slow_load)
    reloader = threading.Thread(target=bot.reload, name="reloader")
    reloader.start()
    assert paused.wait(5)
    adder = threading.Thread(target=bot.add_source, args=(SCORE, "The score"))
    adder.start()
    adder.join(0.3)  # with the lock, the add waits for the reload; without, it finishes here
    release.set()
    reloader.join(5)
    adder.join(5)
    assert not reloader.is_alive() and not adder.is_alive()
    assert "the-score" in {s.id for s in bot.sources}
    assert on_disk(bot) == in_memory(bot)


def test_many_threads_adding_removing_and_reloading(make_bot, analyzer):
    """Adds, removes, restores and reloads from 8 threads at once: no exception, every change
    audited once, and memory == disk == a fresh engine."""
    bot = make_bot(LIGHTHOUSE)
    workers, per_worker = (8, 12) if DEEP else (4, 5)
    errors: list[BaseException] = []
    barrier = threading.Barrier(workers)

    def work(n: int) -> None:
        rng = random.Random(n)
        try:
            barrier.wait()
            for i in range(per_worker):
                sid = f"w{n}-{i}"
                bot.add_source(
                    f"Worker {n} wrote note {i} about the harbour ferry {rng.random()}.",
                    f"Note {n} {i}",
                    source_id=sid,
                    added_by=f"worker-{n}",
                )
                bot.ask("What about the harbour ferry?")
                if i % 2:
                    bot.remove_source(sid, removed_by=f"worker-{n}")
                if i % 4 == 3:
                    bot.restore_source(sid, restored_by=f"worker-{n}")
                if i % 3 == 0:
                    bot.reload()
        except BaseException as exc:  # collected for the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    expected = {"seed-story", "lighthouse"} | {
        f"w{n}-{i}" for n in range(workers) for i in range(per_worker) if i % 2 == 0 or i % 4 == 3
    }
    assert {sid for sid, _ in in_memory(bot)} == expected
    assert on_disk(bot) == in_memory(bot)
    entries = bot.audit_entries(limit=10_000)
    adds = sum(1 for e in entries if e.action == "add")
    removes = sum(1 for e in entries if e.action == "remove")
    restores = sum(1 for e in entries if e.action == "restore")
    assert (adds, removes, restores) == (
        workers * per_worker,
        workers * sum(1 for i in range(per_worker) if i % 2),
        workers * sum(1 for i in range(per_worker) if i % 4 == 3),
    )
    fresh = StoryBot(dataclasses.replace(bot.config), analyzer=analyzer)
    assert in_memory(fresh) == in_memory(bot)
    assert fresh.passage_count == bot.passage_count


def test_word_stems_are_right_when_computed_from_many_threads():
    """The snowball stemmer is stateful; one shared instance gave wrong stems and IndexErrors
    when questions were answered while an index was built (found by the test above)."""
    words = [w.lower() for w in (REPO / "corpus" / "seed-story.txt").read_text().split()] * 3
    expected = [snowballstemmer.stemmer("english").stemWord(w) for w in words]
    results: list[list[str]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        try:
            results.append([stem(w) for w in words])
        except BaseException as exc:  # collected for the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert all(r == expected for r in results)


def test_question_terms_are_right_when_computed_from_many_threads(analyzer):
    """spaCy's tokenizer and the lemma lookup are shared by every thread: questions analysed
    at once (and a passage split meanwhile) give the same terms as one at a time."""
    texts = [*QUESTIONS[:-2], *(REPO / "corpus" / "seed-story.txt").read_text().split("\n\n")]
    texts = texts * (4 if DEEP else 1)
    expected = [analyzer.terms(t) for t in texts]
    results: list[list[list[str]]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def work(n: int) -> None:
        barrier.wait()
        try:
            order = list(range(len(texts)))
            random.Random(n).shuffle(order)
            got = dict.fromkeys(order)
            for i in order:
                got[i] = analyzer.terms(texts[i])
            results.append([got[i] for i in range(len(texts))])
        except BaseException as exc:  # collected for the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(results) == 6
    assert all(r == expected for r in results)
