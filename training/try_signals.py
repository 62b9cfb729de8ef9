"""More signals for the answer judge, tried on the tune articles (none shipped: see README.md).

    .venv/bin/python training/try_signals.py window VARIANT
    .venv/bin/python training/try_signals.py expand THRESHOLD

Window variants: ``where`` (a "where" cue: a capitalised word after in/at/from...), ``novel`` (the
cue's name or number must not be a word of the question), ``sentence`` (+ the share of question
words in the window's best sentence), ``products`` (+ pairwise products of the scores), ``none``
(the shipped features: the baseline). ``expand 0.6``: a question word the corpus never uses is
widened to the corpus words whose word vector (the sentence model on the word alone) has a
cosine >= 0.6; ``expand 2`` (no word reaches it) is its baseline.

``window`` refits fit_judge.py's models on the train articles with the signal and prints its
tune lines (compare with ``fit_judge.py --splits train,tune``). ``expand`` rebuilds the tune
articles' candidates with the expansion (about 30 s), refits on the unchanged train rows and
prints the same lines. The test articles are never read.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import build_pairs
import fit_judge

from bot.search import judge
from bot.search import retrieval as retrieval_module
from bot.search.evaluate import SQUAD_SPLIT

PLACE = re.compile(r"\b(?:in|at|from|near|into|across|outside|inside|on)\s+(?:the\s+)?[A-Z][a-z]+")
CAPITALISED = re.compile(r"(?<![.!?\"“]\s)(?<!^)\b([A-Z][\w'-]+)")
WORD = re.compile(r"[A-Za-z0-9][\w'-]*")
SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“])")


def cue(variant: str):
    """fit_judge's answer-type cue, changed by ``variant``."""

    def where_cue(question: str, text: str) -> float:
        q = question.lower()
        if judge.asked_type(question) is None and (q.startswith("where ") or " where " in q):
            return float(bool(PLACE.search(text)))
        return judge.answer_type_cue(question, text)

    def novel_cue(question: str, text: str) -> float:
        wanted = judge.asked_type(question)
        if wanted is None:
            return 0.5
        asked = {w.lower() for w in WORD.findall(question)}
        found = (
            (m.group(1) for m in CAPITALISED.finditer(text))
            if wanted is judge._NAME
            else (m.group(0) for m in wanted.finditer(text))
        )
        return float(any(f.lower() not in asked for f in found))

    return {"where": where_cue, "novel": novel_cue}.get(variant, judge.answer_type_cue)


def stems(text: str) -> set[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    return {w.lower()[:5] for w in WORD.findall(text) if w.lower() not in STOP_WORDS}


def extra_features(variant: str, question: str, text: str, features: list[float]) -> list[float]:
    if variant == "sentence":
        asked = stems(question)
        parts = SENTENCE_BREAK.split(text)
        best = max((len(asked & stems(s)) / len(asked) for s in parts), default=0.0)
        return [best if asked else 0.0]
    if variant == "products":
        scores = [*features[:5], features[7]]
        return [a * b for a, b in itertools.combinations_with_replacement(scores, 2)]
    return []


def try_window(variant: str) -> None:
    fit_judge.answer_type_cue = cue(variant)
    windows = fit_judge.windows

    def with_extra(row):
        cands = row["candidates"][: fit_judge.TOP]
        return [
            f + extra_features(variant, row["read"], c["text"], f)
            for f, c in zip(windows(row), cands, strict=True)
        ]

    fit_judge.windows = with_extra
    sys.argv = ["fit_judge.py", "--splits", "train,tune"]
    fit_judge.main()


def expanding_read(threshold: float, per_word: int = 2):
    """Retriever._read, with a concept the corpus never uses widened to the corpus words whose
    own vector (the sentence model on the word alone) has a cosine >= ``threshold``."""
    original = retrieval_module.Retriever._read
    vocabularies: dict[int, tuple[list[str], np.ndarray]] = {}

    def read(self, question, typos=True):
        concepts, text = original(self, question, typos)
        if self.semantic is None:
            return concepts, text
        embed = self.semantic.embedder.embed
        if id(self) not in vocabularies:
            words = [t for t in self.index.doc_freq if t.isalpha() and len(t) >= 3]
            vocabularies[id(self)] = (words, np.asarray(embed(words)))
        words, vectors = vocabularies[id(self)]
        widened = []
        for concept in concepts:
            if not any(t in self.index.doc_freq for t in concept):
                near = set()
                for term in (t for t in concept if t.isalpha() and len(t) >= 4):
                    cosines = vectors @ np.asarray(embed([term]))[0]
                    best = np.argsort(-cosines)[:per_word]
                    near.update(words[i] for i in best if cosines[i] >= threshold)
                concept = concept | frozenset(near)
            if concept not in widened:
                widened.append(concept)
        return widened, text

    return read


def try_expand(threshold: float) -> None:
    data = ROOT_DATA
    work = Path(tempfile.mkdtemp())
    retrieval_module.Retriever._read = expanding_read(threshold)
    read_story_set = build_pairs.read_story_set

    def tune_only(directory):
        stories, questions = read_story_set(directory)
        return {k: v for k, v in stories.items() if SQUAD_SPLIT[k] == "tune"}, questions

    build_pairs.read_story_set = tune_only
    sys.argv = ["build_pairs.py", "--out", str(work / "tune"), "--work", str(work / "cache")]
    build_pairs.main()
    mixed = work / "mixed"
    mixed.mkdir()
    with (mixed / "candidates.jsonl").open("w") as out:
        for line in (data / "candidates.jsonl").open():
            if json.loads(line)["split"] == "train":
                out.write(line)
        out.write((work / "tune" / "candidates.jsonl").read_text())
    sys.argv = ["fit_judge.py", "--data", str(mixed), "--splits", "train,tune"]
    fit_judge.main()


ROOT_DATA = Path(__file__).resolve().parent / "data"

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("window", "expand"):
        sys.exit(__doc__)
    if sys.argv[1] == "window":
        try_window(sys.argv[2])
    else:
        try_expand(float(sys.argv[2]))
