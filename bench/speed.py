"""storybot speed benchmark: ``.venv/bin/python bench/speed.py [--quick] [--sizes 1000,10000]``.

Builds synthetic corpora of about 1k, 10k and 100k passages of English-like text (words drawn
with their real English frequencies from spaCy's lexeme probability table, so the vocabulary is
Zipf-like; every sentence is different), asks 200 questions made of words of random passages,
and prints one table. Each size runs in fresh subprocesses, so peak RSS is per size and per
method:

- storybot: cold build (spaCy over every source and, with the semantic layer on as shipped,
  embedding every passage window and sentence; no cache) and the sparse index; core retrieval
  (``Index.top``), the question's embedding on one thread, and the full ask (question
  processing + embedding + fused ranking + ``answer_record``).
- naive: ``BM25Okapi(corpus).get_scores(query)`` over every passage plus a sort (core), and the
  full ask of storybot before the sparse index (rank-bm25's ``get_scores`` over every passage).

Then: cold start to first answer on the shipped corpus (``storybot ask`` subprocess), warm
restart with the cache on the 10k corpus (``storybot ask`` subprocess), and the time from
adding a 5,000-word source to the 10k corpus until a question is answered from it.

Embedding runs at about 200 windows/s on 2 cores: the 100k corpus takes ~15 minutes to build
the first time (its vectors are then cached like its passages).
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SEED = 5
QUESTIONS = 200
VOCAB_SIZE = 30_000


# -- synthetic corpus --------------------------------------------------------------------------


def english_words() -> tuple[list[str], list[float]]:
    import spacy_lookups_data

    path = Path(spacy_lookups_data.__file__).parent / "data" / "en_lexeme_prob.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        probs = json.load(handle)
    words = sorted(
        ((w, p) for w, p in probs.items() if w.isascii() and w.isalpha() and w.islower()),
        key=lambda item: -item[1],
    )[:VOCAB_SIZE]
    return [w for w, _ in words], [math.exp(p) for _, p in words]


class TextMaker:
    def __init__(self, seed: int = SEED) -> None:
        self.rng = random.Random(seed)
        self.words, weights = english_words()
        self.cum = list(_accumulate(weights))

    def sentence(self) -> str:
        n = self.rng.randint(8, 24)
        words = self.rng.choices(self.words, cum_weights=self.cum, k=n)
        return words[0].capitalize() + " " + " ".join(words[1:]) + "."

    def paragraph(self) -> tuple[str, int]:
        """A paragraph and its passage count (windows of 2 sentences, stride 1)."""
        n = self.rng.randint(2, 6)
        return " ".join(self.sentence() for _ in range(n)), n - 1

    def source(self, passages: int) -> tuple[str, int]:
        paras, count = [], 0
        while count < passages:
            text, n = self.paragraph()
            paras.append(text)
            count += n
        return "\n\n".join(paras), count

    def words_text(self, n_words: int) -> str:
        paras, count = [], 0
        while count < n_words:
            text, _ = self.paragraph()
            paras.append(text)
            count += len(text.split())
        return "\n\n".join(paras)


def _accumulate(values):
    total = 0.0
    for v in values:
        total += v
        yield total


def make_corpus(directory: Path, passages: int, maker: TextMaker) -> int:
    """``directory``/config.toml + corpus/ with about ``passages`` passages in ~100-passage
    sources (a source is a news article of ~1,500 words)."""
    from bot.sources.corpus import Corpus, Source

    (directory / "corpus").mkdir(parents=True)
    shutil.copy(REPO / "config.toml", directory / "config.toml")
    corpus = Corpus(directory / "corpus")
    total, i = 0, 0
    while total < passages:
        text, n = maker.source(min(100, passages - total))
        corpus.write(Source(id=f"src-{i:05d}", title=f"Article {i}", text=text, publisher="Bench"))
        total += n
        i += 1
    return total


# -- workers (one subprocess each) -------------------------------------------------------------


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]
    return statistics.median(ordered) * 1e3, p99 * 1e3


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_questions(bot, n: int) -> list[str]:
    """Questions made of 3-5 consecutive words of random passages."""
    rng = random.Random(SEED + 1)
    passages = bot.passages
    out = []
    while len(out) < n:
        p = passages[rng.randrange(len(passages))]
        words = bot.source(p.source_id).text[p.start : p.end].replace(".", "").split()
        k = rng.randint(3, 5)
        if len(words) < k:
            continue
        first = rng.randrange(len(words) - k + 1)
        out.append("What about " + " ".join(words[first : first + k]).lower() + "?")
    return out


def worker_fast(directory: Path, questions_n: int, add_words: int) -> dict:
    from bot.config import load_config
    from bot.engine import StoryBot
    from bot.presentation import answer_record
    from bot.search.embeddings import DEFAULT_TOKENIZER, Embedder, default_model_path
    from bot.search.index import Index

    config = load_config(directory / "config.toml")
    t0 = time.perf_counter()
    bot = StoryBot(config)
    build = time.perf_counter() - t0
    passages = bot.passages
    t0 = time.perf_counter()
    Index(passages, config.retrieval)
    index_build = time.perf_counter() - t0

    questions = make_questions(bot, questions_n)
    # The question's embedding alone, on one thread, each question new to the embedder.
    one_thread = Embedder(default_model_path(), DEFAULT_TOKENIZER, threads=1)
    embed = []
    for q in questions:
        t0 = time.perf_counter()
        one_thread.embed([q])
        embed.append(time.perf_counter() - t0)
    retriever = bot.retriever
    k = config.retrieval.top_k * 4
    terms = [tuple(t for c in retriever.concepts(q) for t in sorted(c)) for q in questions]
    core, full, answered = [], [], 0
    for q, ts in zip(questions, terms, strict=True):
        t0 = time.perf_counter()
        retriever.index.top(ts, k)
        core.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        answer = bot.ask(q)
        json.dumps(answer_record(answer))
        full.append(time.perf_counter() - t0)
        answered += answer.answered
    result = {
        "passages": len(passages),
        "build": build,
        "index_build": index_build,
        "core": percentiles(core),
        "embed": percentiles(embed),
        "full": percentiles(full),
        "answered": answered,
        "rss": peak_rss_mb(),
    }
    if add_words:
        text = TextMaker(seed=SEED + 99).words_text(add_words)
        probe = text.split("\n\n")[3].split(".")[1].split()[:5]
        question = "What about " + " ".join(probe).lower() + "?"
        t0 = time.perf_counter()
        added = bot.add_source(text, "Breaking report", publisher="Bench")
        answer = bot.ask(question)
        result["add"] = time.perf_counter() - t0
        result["add_answered"] = bool(
            answer.answered and any(e.source.id == added.id for e in answer.excerpts)
        )
        bot.remove_source(added.id)
    return result


def worker_naive(directory: Path, questions_n: int) -> dict:
    """rank-bm25 used directly (passages come from the cache: tokenizing is not the point)."""
    import numpy as np
    import rank_bm25

    import bot.stories.index
    from bot.config import load_config
    from bot.engine import StoryBot
    from bot.presentation import answer_record
    from bot.search.index import Index, rank_bm25_model

    class NaiveIndex(Index):
        """storybot before the sparse index: rank-bm25 get_scores over all passages."""

        def __init__(self, passages, settings) -> None:
            super().__init__(passages, settings)
            self._model = rank_bm25_model([p.terms for p in self.passages], settings)

        def top(self, terms, n):
            scores = self._model.get_scores(list(terms))
            nonzero = np.flatnonzero(scores > 0)
            order = nonzero[np.argsort(-scores[nonzero], kind="stable")][:n]
            return [(int(i), float(scores[i])) for i in order]

    bot.stories.index.Index = NaiveIndex
    config = load_config(directory / "config.toml")
    storybot = StoryBot(config)
    passages = storybot.passages
    corpus = [list(p.terms) for p in passages]
    t0 = time.perf_counter()
    okapi = rank_bm25.BM25Okapi(corpus)
    build = time.perf_counter() - t0
    questions = make_questions(storybot, questions_n)
    retriever = storybot.retriever
    k = config.retrieval.top_k * 4
    core, full = [], []
    for q in questions:
        ts = [t for c in retriever.concepts(q) for t in sorted(c)]
        t0 = time.perf_counter()
        scores = okapi.get_scores(ts)
        np.argsort(-scores, kind="stable")[:k]
        core.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        json.dumps(answer_record(storybot.ask(q)))
        full.append(time.perf_counter() - t0)
    return {
        "build": build,
        "core": percentiles(core),
        "full": percentiles(full),
        "rss": peak_rss_mb(),
    }


# -- driver ------------------------------------------------------------------------------------


def run_worker(kind: str, directory: Path, questions: int, add_words: int = 0) -> dict:
    cmd = [sys.executable, __file__, "--worker", kind, "--dir", str(directory)]
    cmd += ["--questions", str(questions), "--add-words", str(add_words)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{kind} worker failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def time_cli(config: Path, question: str, runs: int = 3) -> float:
    """Median wall time of ``storybot ask`` in a fresh process, to its printed answer."""
    exe = Path(sys.executable).parent / "storybot"
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(
            [str(exe), "--config", str(config), "ask", "--json", question],
            capture_output=True,
            check=True,
        )
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k and 10k only, 100 questions")
    parser.add_argument("--sizes", help="comma-separated passage counts")
    parser.add_argument("--worker", choices=("fast", "naive"), help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--questions", type=int, default=QUESTIONS, help=argparse.SUPPRESS)
    parser.add_argument("--add-words", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "fast":
        print(json.dumps(worker_fast(args.dir, args.questions, args.add_words)))
        return
    if args.worker == "naive":
        print(json.dumps(worker_naive(args.dir, args.questions)))
        return

    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",")]
    questions = 100 if args.quick else QUESTIONS
    load = os.getloadavg()[0]
    print(f"storybot speed benchmark — {os.cpu_count()} cores, load average {load:.2f} at start")
    maker = TextMaker()
    rows, extras = [], {}
    with tempfile.TemporaryDirectory(prefix="storybot-bench-") as tmp:
        for size in sizes:
            directory = Path(tmp) / f"c{size}"
            make_corpus(directory, size, maker)
            fast = run_worker("fast", directory, questions, 5_000 if size == 10_000 else 0)
            naive = run_worker("naive", directory, questions)
            rows.append((size, fast, naive))
            if size == 10_000:
                extras["add"] = (fast["add"], fast["add_answered"])
                q = make_question_cli(directory)
                extras["warm"] = time_cli(directory / "config.toml", q)
        shipped = Path(tmp) / "shipped"
        shipped.mkdir()
        shutil.copy(REPO / "config.toml", shipped / "config.toml")
        shutil.copytree(REPO / "corpus", shipped / "corpus")
        # First run has no cache (spaCy over the shipped corpus); the next ones use it.
        extras["cold_nocache"] = time_cli(shipped / "config.toml", "Who directed Cuties?", runs=1)
        extras["cold"] = time_cli(shipped / "config.toml", "Who directed Cuties?")
        extras["shipped"] = run_worker("fast", shipped, questions)

    print_table(rows, questions)
    print()
    shipped = extras["shipped"]
    print(
        f"full ask on the shipped corpus ({shipped['passages']} passages), p50/p99: "
        f"{shipped['full'][0]:.2f}/{shipped['full'][1]:.2f} ms   [target p50 <= 15 ms]"
    )
    print(
        f"cold start to first answer, shipped corpus: {extras['cold']:.2f} s "
        f"({extras['cold_nocache']:.2f} s with an empty cache)   [target < 2.5 s]"
    )
    if "warm" in extras:
        print(
            f"warm restart to first answer, 10k passages (cache): {extras['warm']:.2f} s"
            "   [target < 3 s]"
        )
        seconds, ok = extras["add"]
        print(
            f"add a 5,000-word source to 10k passages until answerable: {seconds:.2f} s"
            f" ({'answered from it' if ok else 'NOT answered from it'})   [target < 5 s]"
        )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


def make_question_cli(directory: Path) -> str:
    text = next((directory / "corpus").glob("*.txt")).read_text(encoding="utf-8")
    body = text.split("+++")[-1]
    return "What about " + " ".join(body.split(".")[1].split()[:4]).lower() + "?"


def print_table(rows, questions: int) -> None:
    head = (
        f"{'passages':>9} | {'build s':>7} {'index s':>7} | {'core p50/p99 ms':>15} "
        f"{'ask p50/p99 ms':>15} {'RSS MB':>6} | {'naive build s':>13} "
        f"{'core p50/p99 ms':>15} {'ask p50/p99 ms':>15} {'RSS MB':>6} | {'speed-up core/ask':>17}"
    )
    print(f"\n{questions} questions per size; storybot | naive rank-bm25")
    print(
        "question embedding alone, one thread, p50/p99 ms: "
        + ", ".join(f"{f['embed'][0]:.1f}/{f['embed'][1]:.1f}" for _s, f, _n in rows)
        + "   [target p50 <= 10 ms]"
    )
    print(head)
    print("-" * len(head))
    for _size, f, n in rows:
        print(
            f"{f['passages']:>9,} | {f['build']:>7.2f} {f['index_build']:>7.2f} | "
            f"{f['core'][0]:>7.2f}/{f['core'][1]:<7.2f} {f['full'][0]:>7.2f}/{f['full'][1]:<7.2f}"
            f" {f['rss']:>6.0f} | {n['build']:>13.2f} "
            f"{n['core'][0]:>7.2f}/{n['core'][1]:<7.2f} {n['full'][0]:>7.2f}/{n['full'][1]:<7.2f}"
            f" {n['rss']:>6.0f} | "
            f"{n['core'][0] / f['core'][0]:>7.0f}x/{n['full'][0] / f['full'][0]:<.0f}x"
        )
    print("(answered: " + ", ".join(f"{f['answered']}/{questions}" for _s, f, _n in rows) + ")")


if __name__ == "__main__":
    main()
