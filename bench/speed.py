"""storybot speed benchmark: ``.venv/bin/python bench/speed.py [--sizes 10000,100000]``.

Builds synthetic corpora (English-like text: words drawn with their real English frequencies
from spaCy's lexeme probability table; every sentence different; ~100-passage articles) and
measures, each step in fresh subprocesses:

- *restart*: a new process (imports, spaCy, the model, the corpus, the index from the warm
  caches) until its first answer, and its RSS then;
- *ask*: 200 questions (3-5 consecutive words of random passages): wall p50/p95/p99 and CPU ms
  per ask (all threads of the process), quiet and again with ``--hogs`` busy-looping processes
  beside it (a CPU hog: a busy machine);
- *throughput*: asks per second of 1 process, and of 2 processes at once;
- *add / remove*: a 5,000-word source added until a question is answered from it (embedding
  included), and removed; the peak RSS it added;
- *reload*: a bot answering questions non-stop while another process adds a source: the
  slowest ask meanwhile, and how soon the bot answers from the new source.

``--fake-vectors`` (the default for corpora over 20k passages: embedding 100k passages takes an
hour on 2 cores) fills the vector cache with pseudo-random unit vectors instead of running the
model over the corpus; the restart, the asks and the add then use the real model and the cached
vectors exactly as they would real ones (every figure is about speed and memory, none about
answers). ``--baseline DIR``: run the same steps with the code in DIR too (e.g. a ``git
archive`` of main), on the same corpus, for a before/after in the same run. ``--lexical``:
``[semantic] enabled = false``.
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
# The code measured: this checkout, or (for a before/after in the same run) another one.
CODE = Path(os.environ.get("STORYBOT_BENCH_CODE", str(REPO)))
sys.path.insert(0, str(CODE))

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


# -- workers (one subprocess each; ``bot`` is imported from CODE) -------------------------------


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)] * 1e3

    return {"p50": statistics.median(ordered) * 1e3, "p95": at(0.95), "p99": at(0.99)}


def rss_mb() -> dict[str, float]:
    """Resident memory now and at its peak (MB)."""
    now = 0.0
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                now = int(line.split()[1]) / 1024
    return {"rss": now, "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def fake_vectors() -> None:
    """The embedding model replaced by pseudo-random unit vectors (one per distinct text)."""
    import hashlib

    import numpy as np

    from bot.search.embeddings import Embedder

    def embed_batch(self, texts):
        out = np.empty((len(texts), 384), np.float32)
        for i, text in enumerate(texts):
            seed = hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=8).digest()
            vector = np.random.default_rng(int.from_bytes(seed, "little")).standard_normal(384)
            out[i] = vector / np.linalg.norm(vector)
        return out

    Embedder._embed_batch = embed_batch


def load_bot(directory: Path):
    from bot.config import load_config
    from bot.engine import StoryBot

    return StoryBot(load_config(directory / "config.toml"))


def make_questions(bot, n: int) -> list[str]:
    """Questions made of 3-5 consecutive words of random passages."""
    rng = random.Random(SEED + 1)
    passages = bot.passages
    sources = {s.id: s for s in bot.sources}
    out = []
    while len(out) < n:
        p = passages[rng.randrange(len(passages))]
        words = sources[p.source_id].text[p.start : p.end].replace(".", "").split()
        k = rng.randint(3, 5)
        if len(words) < k:
            continue
        first = rng.randrange(len(words) - k + 1)
        out.append("What about " + " ".join(words[first : first + k]).lower() + "?")
    return out


def new_source_text() -> tuple[str, str]:
    """A 5,000-word source and a question only it answers."""
    text = TextMaker(seed=SEED + 99).words_text(5_000)
    probe = text.split("\n\n")[3].split(".")[1].split()[:6]
    return text, "What about " + " ".join(probe).lower() + "?"


def worker_prepare(directory: Path, fake: bool) -> dict:
    if fake:
        fake_vectors()
    t0 = time.perf_counter()
    bot = load_bot(directory)
    return {"build": time.perf_counter() - t0, "passages": len(bot.passages)}


def worker_restart(directory: Path, started: float) -> dict:
    """Started at ``started`` (time.time() in the parent, before the process was spawned)."""
    imported = time.time()
    bot = load_bot(directory)
    ready = time.time()
    bot.ask("What about the report?")
    answered = time.time()
    return {
        "interpreter": imported - started,
        "ready": ready - started,
        "first_answer": answered - started,
        "passages": len(bot.passages),
        **rss_mb(),
    }


def worker_asks(directory: Path, questions: int) -> dict:
    from bot.presentation import answer_record

    bot = load_bot(directory)
    asked = make_questions(bot, questions)
    for q in asked[:10]:  # warm-up
        bot.ask(q)
    wall, cpu, answered = [], [], 0
    for q in asked:
        w0, c0 = time.perf_counter(), time.process_time()
        answer = bot.ask(q)
        json.dumps(answer_record(answer))
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
        answered += answer.answered
    return {
        **percentiles(wall),
        "cpu_ms": statistics.mean(cpu) * 1e3,
        "answered": answered,
        "questions": len(asked),
    }


def worker_throughput(directory: Path, seconds: float, flag_dir: Path, name: str) -> dict:
    bot = load_bot(directory)
    asked = make_questions(bot, 300)
    for q in asked[:5]:
        bot.ask(q)
    (flag_dir / f"ready-{name}").touch()
    while not (flag_dir / "go").exists():
        time.sleep(0.01)
    end, n = time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        bot.ask(asked[n % len(asked)])
        n += 1
    return {"asks": n, "seconds": seconds}


def worker_add(directory: Path) -> dict:
    bot = load_bot(directory)
    text, question = new_source_text()
    before = rss_mb()
    t0 = time.perf_counter()
    added = bot.add_source(text, "Breaking report", publisher="Bench")
    answer = bot.ask(question)
    add = time.perf_counter() - t0
    ok = bool(answer.answered and answer.excerpts[0].source.id == added.id)
    after = rss_mb()
    t0 = time.perf_counter()
    bot.remove_source(added.id)
    remove = time.perf_counter() - t0
    gone = not any(e.source.id == added.id for e in bot.ask(question).excerpts)
    return {
        "add": add,
        "answered_from_it": ok,
        "remove": remove,
        "removed": gone,
        "add_peak_mb": after["peak"] - before["peak"],
        "rss_before": before["rss"],
        "rss_after": rss_mb()["rss"],
    }


def worker_add_only(directory: Path, flag_dir: Path) -> dict:
    """Another process (the CLI beside a running bot) adds a source."""
    bot = load_bot(directory)
    text, _ = new_source_text()
    t0 = time.perf_counter()
    bot.add_source(text, "Breaking report", publisher="Bench", source_id="breaking-report")
    (flag_dir / "added").write_text(str(time.time()))
    return {"add": time.perf_counter() - t0}


def worker_reload(directory: Path, seconds: float, flag_dir: Path) -> dict:
    """Answer questions non-stop while another process adds a source."""
    bot = load_bot(directory)
    asked = make_questions(bot, 300)
    _, probe = new_source_text()
    (flag_dir / "ready-reload").touch()
    latencies, first_new, n = [], None, 0
    end = time.perf_counter() + seconds
    # Until a few seconds after it answers from the new source (at most ``seconds``).
    while time.perf_counter() < end:
        if first_new is not None and time.time() > first_new + 3:
            break
        question = probe if n % 10 == 0 else asked[n % len(asked)]
        t0 = time.perf_counter()
        answer = bot.ask(question)
        latencies.append(time.perf_counter() - t0)
        if (
            first_new is None
            and question == probe
            and answer.excerpts
            and answer.excerpts[0].source.id == "breaking-report"
        ):
            first_new = time.time()
        n += 1
    added = flag_dir / "added"
    added_at = float(added.read_text()) if added.exists() else None
    return {
        **percentiles(latencies),
        "max": max(latencies) * 1e3,
        "asks": len(latencies),
        "answers_new_after": (
            first_new - added_at if first_new is not None and added_at is not None else None
        ),
    }


# -- driver ------------------------------------------------------------------------------------


def run_worker(code: Path, kind: str, directory: Path, *extra: str) -> dict:
    env = dict(os.environ, STORYBOT_BENCH_CODE=str(code), PYTHONPATH=str(code))
    cmd = [sys.executable, __file__, "--worker", kind, "--dir", str(directory), *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{kind} worker failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def spawn_worker(code: Path, kind: str, directory: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, STORYBOT_BENCH_CODE=str(code), PYTHONPATH=str(code))
    cmd = [sys.executable, __file__, "--worker", kind, "--dir", str(directory), *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def collect(process: subprocess.Popen) -> dict:
    out, err = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"worker failed:\n{err}")
    return json.loads(out.strip().splitlines()[-1])


def start_hogs(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.kill()
        process.wait()


def wait_for(paths: list[Path], timeout: float = 900.0) -> None:
    end = time.monotonic() + timeout
    while not all(p.exists() for p in paths):
        if time.monotonic() > end:
            raise SystemExit(f"workers not ready: {paths}")
        time.sleep(0.05)


def throughput(code: Path, directory: Path, processes: int, seconds: float) -> float:
    with tempfile.TemporaryDirectory() as flags:
        flag_dir = Path(flags)
        workers = [
            spawn_worker(
                code,
                "throughput",
                directory,
                "--seconds",
                str(seconds),
                "--flags",
                flags,
                "--name",
                str(i),
            )
            for i in range(processes)
        ]
        wait_for([flag_dir / f"ready-{i}" for i in range(processes)])
        (flag_dir / "go").touch()
        results = [collect(w) for w in workers]
    return sum(r["asks"] for r in results) / seconds


def reload_scenario(code: Path, directory: Path, seconds: float) -> dict:
    with tempfile.TemporaryDirectory() as flags:
        flag_dir = Path(flags)
        asker = spawn_worker(code, "reload", directory, "--seconds", str(seconds), "--flags", flags)
        wait_for([flag_dir / "ready-reload"])
        time.sleep(1.0)
        adder = run_worker(code, "add_only", directory, "--flags", flags)
        result = collect(asker)
    # Put the corpus back as it was (for the next steps).
    path = directory / "corpus" / "breaking-report.txt"
    path.unlink(missing_ok=True)
    return {**result, "other_add": adder["add"]}


def measure(code: Path, directory: Path, args) -> dict:
    out: dict = {}
    started = time.time()
    out["restart"] = run_worker(code, "restart", directory, "--started", str(started))
    out["restart"]["wall"] = time.time() - started
    out["asks"] = run_worker(code, "asks", directory, "--questions", str(args.questions))
    if args.hogs:
        hogs = start_hogs(args.hogs)
        try:
            out["asks_hog"] = run_worker(
                code, "asks", directory, "--questions", str(args.questions)
            )
        finally:
            stop(hogs)
    if args.throughput:
        out["tput1"] = throughput(code, directory, 1, args.throughput)
        out["tput2"] = throughput(code, directory, 2, args.throughput)
    out["add"] = run_worker(code, "add", directory)
    if args.reload:
        out["reload"] = reload_scenario(code, directory, args.reload)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated passage counts")
    parser.add_argument("--questions", type=int, default=QUESTIONS)
    parser.add_argument("--hogs", type=int, default=2, help="busy-looping processes (0: none)")
    parser.add_argument("--throughput", type=float, default=10.0, help="seconds (0: skip)")
    parser.add_argument("--reload", type=float, default=90.0, help="at most seconds (0: skip)")
    parser.add_argument("--lexical", action="store_true", help="[semantic] enabled = false")
    parser.add_argument("--fake-vectors", choices=("auto", "yes", "no"), default="auto")
    parser.add_argument("--baseline", type=Path, help="another checkout to measure too")
    parser.add_argument("--keep", type=Path, help="keep the corpora in this directory")
    # Worker arguments.
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--started", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--flags", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--name", help=argparse.SUPPRESS)
    parser.add_argument("--fake", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run_as_worker(args)))
        return

    print(
        f"storybot speed benchmark — {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.2f} at start; semantic {'off' if args.lexical else 'on'}"
    )
    codes = {"this": CODE}
    if args.baseline:
        codes = {"before": args.baseline.resolve(), "after": CODE}
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="storybot-bench-") as tmp:
        root = args.keep or Path(tmp)
        for size in (int(s) for s in args.sizes.split(",")):
            fake = args.fake_vectors == "yes" or (args.fake_vectors == "auto" and size > 20_000)
            corpus = root / f"c{size}"
            if not (corpus / "corpus").exists():
                make_corpus(corpus, size, TextMaker())
            for label, code in codes.items():
                directory = root / f"c{size}-{label}{'-lexical' if args.lexical else ''}"
                if not directory.exists():
                    directory.mkdir()
                    (directory / "corpus").symlink_to(corpus / "corpus")
                    text = (code / "config.toml").read_text(encoding="utf-8")
                    if args.lexical:
                        text = text.replace("enabled = true", "enabled = false", 1)
                    (directory / "config.toml").write_text(text, encoding="utf-8")
                extra = ["--fake"] if fake and not args.lexical else []
                prepared = run_worker(code, "prepare", directory, *extra)
                print(
                    f"  {size:,} ({prepared['passages']:,} passages), {label}: built "
                    f"in {prepared['build']:.1f} s{' (fake vectors)' if extra else ''}",
                    flush=True,
                )
                results[(size, label)] = measure(code, directory, args) | prepared
                print(f"    {json.dumps(results[(size, label)])}", flush=True)
    report(results, args)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


def run_as_worker(args) -> dict:
    if args.worker == "prepare":
        return worker_prepare(args.dir, args.fake)
    if args.worker == "restart":
        return worker_restart(args.dir, args.started)
    if args.worker == "asks":
        return worker_asks(args.dir, args.questions)
    if args.worker == "throughput":
        return worker_throughput(args.dir, args.seconds, args.flags, args.name)
    if args.worker == "add":
        return worker_add(args.dir)
    if args.worker == "add_only":
        return worker_add_only(args.dir, args.flags)
    if args.worker == "reload":
        return worker_reload(args.dir, args.seconds, args.flags)
    raise SystemExit(f"unknown worker {args.worker}")


def report(results: dict, args) -> None:
    print()
    print(
        "| passages | code | restart to first answer s | RSS after MB | ask p50/p95/p99 ms | "
        "CPU ms/ask | with hogs p50/p95/p99 ms | asks/s 1 proc | 2 procs | add s | remove s | "
        "add peak +MB | reload: slowest ask ms | answers from it after s |"
    )
    print("|" + "---|" * 14)
    for (_size, label), r in results.items():
        a, h, add = r["asks"], r.get("asks_hog"), r["add"]
        hog = f"{h['p50']:.1f} / {h['p95']:.1f} / {h['p99']:.1f}" if h else "—"
        rel = r.get("reload")
        print(
            f"| {r['passages']:,} | {label} | {r['restart']['wall']:.2f} | "
            f"{r['restart']['rss']:.0f} | {a['p50']:.1f} / {a['p95']:.1f} / {a['p99']:.1f} | "
            f"{a['cpu_ms']:.1f} | {hog} | {r.get('tput1', 0):.0f} | {r.get('tput2', 0):.0f} | "
            f"{add['add']:.2f}{'' if add['answered_from_it'] else ' (not answered)'} | "
            f"{add['remove']:.2f} | {add['add_peak_mb']:.0f} | "
            + (f"{rel['max']:.0f} | " if rel else "— | ")
            + (
                f"{max(0.0, rel['answers_new_after']):.1f} |"
                if rel and rel["answers_new_after"] is not None
                else "— |"
            )
        )


if __name__ == "__main__":
    main()
