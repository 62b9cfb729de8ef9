"""Prove it holds when killed: ``kill -9`` at random points while a source is added or removed.

After every kill the corpus loads without errors and holds exactly the state before or the state
after the change; the trash and the audit database stay usable; after the next start the audit
log has exactly one new row if the change happened and none if it did not (a pending row is
settled by looking at the disk); the next start works (temp files of the killed write are
ignored, and removed once stale); the passage cache never breaks a start.

Most kills go to a small *fork server* (one Python process that loads spaCy once and forks a
child per change), so the default run can afford many of them:

- half are killed from outside (``SIGKILL`` after a random delay within the change's duration);
- half kill themselves at a random function call of the change (``sys.setprofile`` counts calls;
  log-uniform, so the early steps — temp file, fsync, rename, audit — are hit as often as the
  long re-indexing), which lands exactly mid-change every time.

A few kills hit the real CLI (``storybot sources add --file`` / ``sources remove``).
``STORYBOT_DEEP=1`` runs many more.
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import tomli_w

from bot.config import load_config
from bot.engine import StoryBot
from bot.insights.audit import AuditLog
from bot.insights.database import database_path
from bot.sources.corpus import Corpus, CorpusError, read_source_named, serialize
from helpers import source

DEEP = os.environ.get("STORYBOT_DEEP") == "1"
FORK_KILLS = 200 if DEEP else 20
CLI_KILLS = 10 if DEEP else 2
REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}

DRIVER = r"""
import json, os, signal, sys, traceback
from bot.config import load_config
from bot.engine import StoryBot
from bot.search.text import Analyzer

config = load_config(sys.argv[1])
analyzer = Analyzer(config.nlp.model)
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    cmd = json.loads(line)
    pid = os.fork()
    if pid == 0:
        try:
            bot = StoryBot(config, analyzer=analyzer)
            calls, kill_at = [0], cmd.get("kill_at_call", 0)

            def hook(frame, event, arg):
                if event in ("call", "c_call"):
                    calls[0] += 1
                    if calls[0] == kill_at:
                        os.kill(os.getpid(), signal.SIGKILL)

            os.write(1, (json.dumps({"go": os.getpid()}) + "\n").encode())
            if cmd.get("kill_at_rename"):  # "before" or "after" the corpus file changes
                def killing(real, when=cmd["kill_at_rename"]):
                    def rename(src, dst, *args, **kwargs):
                        if str(dst).endswith(".txt") and when == "before":
                            os.kill(os.getpid(), signal.SIGKILL)
                        real(src, dst, *args, **kwargs)
                        if str(dst).endswith(".txt"):
                            os.kill(os.getpid(), signal.SIGKILL)
                    return rename
                os.link, os.replace = killing(os.link), killing(os.replace)
            if kill_at or cmd.get("count"):
                sys.setprofile(hook)
            if cmd["op"] == "add":
                bot.add_source(cmd["text"], cmd["title"], source_id=cmd["id"], added_by="crash")
            elif cmd["op"] == "restore":
                bot.restore_source(cmd["id"], restored_by="crash")
            else:
                bot.remove_source(cmd["id"], removed_by="crash")
            sys.setprofile(None)
            os.write(1, (json.dumps({"calls": calls[0]}) + "\n").encode())
            os._exit(0)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
    sys.stdin.readline()  # "reap": the test has sent its kill; only now may the pid be reused
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"status": status}), flush=True)
"""


def write_config(directory: Path, sources=()) -> Path:
    corpus = directory / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    (corpus / "seed-story.txt").write_bytes((REPO / "corpus" / "seed-story.txt").read_bytes())
    store = Corpus(corpus)
    for s in sources:
        store.write(s)
    config = (REPO / "config.toml").read_text(encoding="utf-8")
    path = directory / "config.toml"
    path.write_text(config, encoding="utf-8")
    return path


def state(corpus: Corpus) -> frozenset[tuple[str, str]]:
    loaded = corpus.load()
    assert loaded.errors == [], loaded.errors
    return frozenset((s.id, s.text) for s in loaded.sources)


def audit_count(path: Path) -> int:
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        try:
            return db.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
        except sqlite3.OperationalError:  # no table yet: the first add was killed early
            return 0


def passages(bot: StoryBot) -> list[tuple]:
    return [(p.source_id, p.start, p.end, p.terms) for p in bot.passages]


def note_text(n: int) -> str:
    return (
        f"Crash note {n}. The harbour ferry number {n} sails at {n % 12 + 1} o'clock.\n\n"
        f"Its captain, Berit {n}, has sailed the route for {n + 3} years. " * 3
    )


def check_after_kill(config_path: Path, before, after, audit_before: int, analyzer) -> str:
    """The invariants after one killed change; returns "before" or "after"."""
    config = load_config(config_path)
    corpus = Corpus(config.corpus_dir)
    now = state(corpus)
    assert now in (before, after), (now ^ before, now ^ after)
    outcome = "before" if now == before else "after"
    # The trash: every trashed file is a whole source.
    for name, path in corpus.trashed().items():
        assert read_source_named(path, name).id == name
    # The next start settles the audit log: one new row if and only if the change happened.
    fresh = StoryBot(config, analyzer=analyzer)
    rows = audit_count(database_path(config.state_dir))
    assert rows == audit_before + (outcome == "after"), (rows, audit_before, outcome)
    assert AuditLog(database_path(config.state_dir)).pending() == []
    # The next start: no load errors, the same sources, questions answered.
    assert fresh.load_errors == ()
    assert frozenset((s.id, s.text) for s in fresh.sources) == now
    assert fresh.ask("Who directed Cuties?").answered
    return outcome


def spawn(script: str, *args: str) -> subprocess.Popen:
    """A Python driver process talking JSON lines over stdin/stdout."""
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=ENV,
    )


@pytest.fixture
def driver(tmp_path):
    config = write_config(tmp_path, [source(f"keep-{i}", note_text(1000 + i)) for i in range(12)])
    process = spawn(DRIVER, str(config))
    try:
        assert json.loads(process.stdout.readline()) == {"ready": True}, process.stderr.read()
        yield process, config
    finally:
        process.stdin.close()
        process.wait(timeout=30)
        process.stdout.close()
        process.stderr.close()


def run_change(process, command: dict, delay: float | None) -> tuple[bool, int]:
    """Send one change; kill it after ``delay`` s (None: it kills itself or finishes).
    Returns (killed, profiled calls when it finished)."""
    process.stdin.write(json.dumps(command) + "\n")
    process.stdin.flush()
    go = json.loads(process.stdout.readline())
    assert "go" in go, go
    if delay is not None:
        time.sleep(delay)
        os.kill(go["go"], signal.SIGKILL)  # our own child, not reaped yet
    process.stdin.write("reap\n")
    process.stdin.flush()
    calls = 0
    while True:
        message = json.loads(process.stdout.readline())
        if "calls" in message:
            calls = message["calls"]
        if "status" in message:
            status = message["status"]
            break
    if os.WIFEXITED(status):
        assert os.WEXITSTATUS(status) == 0, process.stderr.read()
        return False, calls
    assert os.WTERMSIG(status) == signal.SIGKILL
    return True, calls


def test_kill_9_at_random_points_of_add_and_remove(driver, analyzer):
    process, config_path = driver
    config = load_config(config_path)
    corpus = Corpus(config.corpus_dir)
    db = database_path(config.state_dir)
    rng = random.Random(int(os.environ.get("STORYBOT_CRASH_SEED", "2026")))
    # How long each change is, in profiled calls, to aim the self-kills (one unkilled run each).
    run_change(process, {"op": "add", "id": "probe", "title": "P", "text": note_text(0)}, None)
    _, add_calls = run_change(
        process,
        {"op": "add", "id": "probe-2", "title": "P", "text": note_text(1), "count": 1},
        None,
    )
    _, remove_calls = run_change(process, {"op": "remove", "id": "probe-2", "count": 1}, None)
    assert add_calls > 100 and remove_calls > 100
    tally: Counter[tuple[str, str, str]] = Counter()
    for n in range(FORK_KILLS):
        op = "add" if n % 2 == 0 else "remove"
        before, audit_before = state(corpus), audit_count(db)
        if op == "add":
            new_id = f"note-{n}"
            command = {"op": "add", "id": new_id, "title": f"Note {n}", "text": note_text(n)}
            after = before | {(new_id, note_text(n))}
        else:
            victim = rng.choice(sorted(sid for sid, _ in before if sid != "seed-story"))
            command = {"op": "remove", "id": victim}
            after = frozenset(item for item in before if item[0] != victim)
        if n % 4 < 2:  # from outside, after a random delay within the change's ~10-30 ms
            how, delay = "timer", rng.uniform(0, 0.03 if op == "add" else 0.015)
        else:  # from inside, at a random call (log-uniform over the change's calls)
            total = add_calls if op == "add" else remove_calls
            how, delay = "call", None
            command["kill_at_call"] = int(math.exp(rng.uniform(0, math.log(total))))
        killed, _ = run_change(process, command, delay)
        outcome = check_after_kill(config_path, before, after, audit_before, analyzer)
        assert killed or outcome == "after"
        tally[(op, how, outcome if killed else "finished")] += 1
    print("crash tally:", dict(tally))
    # The kills really landed mid-change, on both sides of the rename.
    killed = sum(n for (_, _, outcome), n in tally.items() if outcome != "finished")
    assert killed >= FORK_KILLS // 2
    assert any(k[2] == "before" for k in tally) and any(k[2] == "after" for k in tally)
    # Afterwards the database is intact and writable, and the cache equals a fresh build.
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    AuditLog(db).record("crash-test", "check")
    live = StoryBot(config, analyzer=analyzer)
    scratch = tomli_w.dumps({"corpus": {"dir": str(config.corpus_dir), "state_dir": "scratch"}})
    (config_path.parent / "scratch.toml").write_text(scratch, encoding="utf-8")
    rebuilt = StoryBot(load_config(config_path.parent / "scratch.toml"), analyzer=analyzer)
    assert rebuilt.cached_passage_builds == len(rebuilt.sources)  # nothing cached there
    cached = [(p.source_id, p.start, p.end, p.terms) for p in live.passages]
    assert cached == [(p.source_id, p.start, p.end, p.terms) for p in rebuilt.passages]


def test_kill_9_just_before_and_just_after_the_file_changes(driver, analyzer):
    """The audit row and the change it records are one: a kill just after the corpus file is
    renamed (before: no audit row, for 22 of 60 removes/restores and 4 of 8 adds in the
    attack) or just before it leaves, after the next start, one row per change that happened
    and none for one that did not."""
    process, config_path = driver
    config = load_config(config_path)
    corpus = Corpus(config.corpus_dir)
    db = database_path(config.state_dir)
    changes = [
        ({"op": "add", "id": "late-1", "title": "Late", "text": note_text(1)}, "after"),
        ({"op": "add", "id": "late-2", "title": "Late", "text": note_text(2)}, "before"),
        ({"op": "remove", "id": "keep-0"}, "after"),
        ({"op": "remove", "id": "keep-1"}, "before"),
        ({"op": "restore", "id": "keep-0"}, "after"),
        ({"op": "remove", "id": "keep-2"}, None),  # not killed: something to restore
        ({"op": "restore", "id": "keep-2"}, "before"),
    ]
    for command, moment in changes:
        before, audit_before = state(corpus), audit_count(db)
        present = command["id"] in {sid for sid, _ in before}
        if command["op"] == "add":
            after = before | {(command["id"], command["text"])}
        elif command["op"] == "remove":
            after = frozenset(item for item in before if item[0] != command["id"])
        else:
            trashed = read_source_named(corpus.trashed()[command["id"]], command["id"])
            after = before | {(command["id"], trashed.text)}
        assert present == (command["op"] == "remove")
        killed, _ = run_change(process, {**command, "kill_at_rename": moment or ""}, None)
        assert killed == (moment is not None)
        outcome = check_after_kill(config_path, before, after, audit_before, analyzer)
        assert outcome == (moment or "after"), (command, outcome)
        if outcome == "after":
            (newest,) = AuditLog(db).entries(limit=1)
            assert (newest.action, newest.source_id) == (command["op"], command["id"])


def test_kill_9_of_the_cli_at_random_moments(tmp_path, analyzer):
    """The real ``storybot sources add --file`` and ``sources remove``, killed after a random
    delay around the moment the change starts (a whole CLI run takes ~1.1-1.4 s here, most of
    it importing and loading spaCy)."""
    config_path = write_config(tmp_path, [source(f"keep-{i}", note_text(i)) for i in range(4)])
    config = load_config(config_path)
    corpus = Corpus(config.corpus_dir)
    rng = random.Random(7)
    tally: Counter[str] = Counter()
    for n in range(CLI_KILLS):
        before, audit_before = state(corpus), audit_count(database_path(config.state_dir))
        if n % 2 == 0:
            note = tmp_path / f"cli-note-{n}.txt"
            note.write_text(note_text(500 + n), encoding="utf-8")
            argv = ["sources", "add", "--file", str(note), "--title", f"Cli note {n}"]
            after = before | {(f"cli-note-{n}", note_text(500 + n))}
        else:
            victim = sorted(sid for sid, _ in before if sid != "seed-story")[0]
            argv = ["sources", "remove", victim]
            after = frozenset(item for item in before if item[0] != victim)
        child = subprocess.Popen(
            [sys.executable, "-m", "bot", "--config", str(config_path), *argv],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=REPO,
            env=ENV,
        )
        try:
            child.wait(timeout=rng.uniform(0.8, 1.4))
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        outcome = check_after_kill(config_path, before, after, audit_before, analyzer)
        tally[f"{argv[1]} {'killed' if child.returncode < 0 else 'finished'} {outcome}"] += 1
    print("cli crash tally:", dict(tally))


CACHE_CHILD = """
import os, sys, time
real_replace = os.replace

def paused_replace(src, dst, *args, **kwargs):
    if str(dst).endswith(".npz"):
        print("MID-CACHE-WRITE", flush=True)
        time.sleep(60)
    return real_replace(src, dst, *args, **kwargs)

os.replace = paused_replace
from bot.cli import main
sys.exit(main(["--config", sys.argv[1], "sources", "add", "--file", sys.argv[2],
               "--title", "Cache victim"]))
"""


def test_a_kill_mid_cache_write_does_not_break_the_next_start(tmp_path, analyzer):
    config_path = write_config(tmp_path)
    config = load_config(config_path)
    StoryBot(config, analyzer=analyzer)  # the seed story's cache entry exists
    note = tmp_path / "victim.txt"
    note.write_text(note_text(7), encoding="utf-8")
    child = subprocess.Popen(
        [sys.executable, "-c", CACHE_CHILD, str(config_path), str(note)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=ENV,
    )
    try:
        line = child.stdout.readline()
        assert line.strip() == "MID-CACHE-WRITE", child.stderr.read()
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=10)
        child.stdout.close()
        child.stderr.close()
    cache_dir = config.state_dir / "stories" / "1" / "cache" / "passages"
    leftovers = list(cache_dir.glob(".*.tmp"))
    assert leftovers  # the killed write's temp file
    # The source itself was stored before its passages were cached.
    fresh = StoryBot(config, analyzer=analyzer)
    assert fresh.load_errors == ()
    assert "cache-victim" in {s.id for s in fresh.sources}
    assert fresh.cached_passage_builds == 1  # only the victim was processed again
    answer = fresh.ask("Who is the captain of the harbour ferry?")
    assert (answer.excerpts or answer.closest)[0].source.id == "cache-victim"
    assert all(p.exists() for p in leftovers)  # young: maybe another process's write
    # Once stale, the next start removes them.
    old = time.time() - 3600
    for p in leftovers:
        os.utime(p, (old, old))
    StoryBot(config, analyzer=analyzer)
    assert not any(p.exists() for p in leftovers)


def test_stale_temp_files_are_removed_at_start_and_young_ones_kept(make_bot, tmp_path):
    bot = make_bot()
    corpus_dir = bot.corpus.directory
    cache_dir = bot.config.state_dir / "stories" / "1" / "cache" / "passages"
    old = time.time() - 120
    stale = [corpus_dir / ".note.txt.abc123.tmp", cache_dir / ".seed-story.npz.x1y2.tmp"]
    young = corpus_dir / ".other.txt.def456.tmp"
    unrelated = [corpus_dir / "notes.tmp", corpus_dir / ".hidden-notes"]
    for p in [*stale, young, *unrelated]:
        p.write_text("+++\nhalf a wri", encoding="utf-8")
    for p in stale:
        os.utime(p, (old, old))
    restarted = StoryBot(bot.config, analyzer=bot.analyzer)
    assert restarted.load_errors == ()
    assert not any(p.exists() for p in stale)
    assert young.exists() and all(p.exists() for p in unrelated)


def test_an_add_never_replaces_a_file_another_process_created_meanwhile(tmp_path, monkeypatch):
    """Two processes (the CLI next to the running bot) adding the same id at once: the one that
    renames second used to replace the other's file silently; now it is refused."""
    import bot.sources.corpus as corpus_module

    corpus = Corpus(tmp_path)
    theirs = source("notes", "Written by the other process.")
    real_parse = corpus_module.parse

    def parse_then_lose_the_race(content, name="<source>"):
        if not corpus.path_for("notes").exists():
            corpus.path_for("notes").write_text(serialize(theirs), encoding="utf-8")
        return real_parse(content, name)

    monkeypatch.setattr(corpus_module, "parse", parse_then_lose_the_race)
    with pytest.raises(CorpusError, match="already exists"):
        corpus.write(source("notes", "Written by this process."))
    assert corpus.load().sources == [theirs]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # no temp file left
