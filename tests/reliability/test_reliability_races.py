"""Two processes (the CLI next to the running bot) adding the same URL at the same moment store it
once: the duplicate check and the store are one step across processes (a lock on the corpus
directory). Real processes, forked from a driver that loads spaCy once, fetching from the
real local web server.

Before: 6 of 8 such races stored the page twice (each process checked its own snapshot, then
picked a free id after the other had stored). Some races here widen that window on purpose
(the id is picked 0.15 s / 0.3 s after the check); the rest race as they come.
``STORYBOT_DEEP=1`` runs more of both.
"""

from __future__ import annotations

import json

import pytest
from hostile import DEEP
from test_reliability_crash import spawn, write_config
from web_server import MINUTES, linked_html, serve

from bot.config import load_config
from bot.sources.corpus import Corpus

web = pytest.fixture(serve)
WIDENED = 8 if DEEP else 2
NATURAL = 24 if DEEP else 2

RACER = r"""
import asyncio, json, os, sys, time
from bot.config import load_config
from bot.engine import StoryBot
from bot.search.text import Analyzer
from bot.sources import corpus as corpus_module
from bot.sources.ingest import DuplicateUrl

import trafilatura  # loaded once here, not in every child

config = load_config(sys.argv[1])
analyzer = Analyzer(config.nlp.model)
for line in sys.stdin:
    race = json.loads(line)
    go_read, go_write = os.pipe()
    ready_read, ready_write = os.pipe()
    children = []
    for delay in race["delays"]:
        out_read, out_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(go_write)
            bot = StoryBot(config, analyzer=analyzer)
            if delay:
                real_new_id = corpus_module.Corpus.new_id

                def slow_new_id(self, title, taken=(), delay=delay):
                    time.sleep(delay)  # the window between the duplicate check and the store
                    return real_new_id(self, title, taken)

                corpus_module.Corpus.new_id = slow_new_id
            os.write(ready_write, b"r")
            os.read(go_read, 1)
            try:
                report = asyncio.run(bot.add_url(race["url"], added_by=f"racer {delay}"))
                outcome = "added " + report.added[0].source.id
            except DuplicateUrl:
                outcome = "duplicate"
            except Exception as exc:
                outcome = f"error {type(exc).__name__}: {exc}"
            os.write(out_write, outcome.encode())
            os._exit(0)
        os.close(out_write)
        children.append((pid, out_read))
    for _ in children:  # both engines are up and waiting
        os.read(ready_read, 1)
    os.write(go_write, b"x" * len(children))
    outcomes = []
    for pid, out_read in children:
        os.waitpid(pid, 0)
        outcomes.append(os.read(out_read, 1000).decode())
        os.close(out_read)
    for fd in (go_read, go_write, ready_read, ready_write):
        os.close(fd)
    print(json.dumps(outcomes), flush=True)
"""


def test_two_processes_adding_the_same_url_at_once_store_it_once(web, tmp_path):
    config_path = write_config(tmp_path)
    text = config_path.read_text(encoding="utf-8").replace(
        "allow_hosts = []", 'allow_hosts = ["127.0.0.1"]'
    )
    assert 'allow_hosts = ["127.0.0.1"]' in text
    config_path.write_text(text, encoding="utf-8")
    races = [[0.15, 0.3]] * WIDENED + [[0, 0]] * NATURAL
    racer = spawn(RACER, str(config_path))
    results = []
    try:
        for n, delays in enumerate(races):
            sentences = [f"Race {n}: the harbour ferry left at {n} o'clock.", *MINUTES]
            web.html(f"/race-{n}", linked_html(f"Race {n} report", sentences))
            racer.stdin.write(json.dumps({"url": web.url(f"/race-{n}"), "delays": delays}) + "\n")
            racer.stdin.flush()
            line = racer.stdout.readline()
            assert line, racer.stderr.read()
            results.append(sorted(json.loads(line)))
    finally:
        racer.stdin.close()
        racer.wait(timeout=60)
        racer.stdout.close()
        racer.stderr.close()
    print("race outcomes:", results)
    for n, outcomes in enumerate(results):
        assert outcomes[1] == "duplicate" and outcomes[0].startswith("added"), (n, outcomes)
    loaded = Corpus(load_config(config_path).corpus_dir).load()
    assert loaded.errors == []
    urls = [s.url for s in loaded.sources if s.url]
    assert len(urls) == len(set(urls)) == len(races)
