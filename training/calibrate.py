"""Choose the answer rules' thresholds for a trained re-ranker, on the "tune" SQuAD articles
only, and print what they give on every set (the other sets are read off, never used to choose).

    .venv/bin/python training/calibrate.py --model bot/search/models/reranker/reranker.onnx

Reads training/data/candidates.jsonl (training/build_pairs.py): per question, the top windows
of today's fused ranking and its evidence. Scores the top ``--candidates`` windows with the
model, then for a grid of (min_about, min_answer, min_support) simulates the replies on window
level (overlapping windows are not merged here; bench/quality.py measures the real replies).
Also asks the shipped story's question sets (dev, more, member) the same way.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from bot.config import load_config
from bot.engine import StoryBot
from bot.search.evaluate import read_labelled
from bot.search.rerank import Reranker

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "eval"
SETS = {
    "dev": ROOT / "tests" / "data" / "dev-questions.jsonl",
    "more": ROOT / "tests" / "data" / "more-questions.jsonl",
    "member": SHARED / "member-questions.jsonl",
}


def story_rows(n: int) -> list[dict]:
    """Candidates for the shipped story's question sets, as build_pairs makes them."""
    config = load_config(ROOT / "config.toml")
    config = replace(config, rerank=replace(config.rerank, enabled=False))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        bot = StoryBot(replace(config, corpus_dir=ROOT / "corpus", state_dir=Path(tmp)))
        r = bot.retriever
        for name, path in SETS.items():
            if not path.exists():
                continue
            for item in read_labelled(path):
                concepts, read = r._read(item.question)
                terms = tuple(dict.fromkeys(t for c in concepts for t in sorted(c)))
                ranking = r._rank_semantic(read, concepts, terms, n)
                wanted = [a.casefold() for a in item.answers]
                rows.append(
                    {
                        "article": "seed",
                        "split": name,
                        "question": read,
                        "kind": "answerable" if item.answers else "unanswerable",
                        "evidence": ranking.evidence if concepts else 0.0,
                        "candidates": [
                            {
                                "text": text,
                                "fused": ranking.scores[i],
                                "has_answer": any(a in text.casefold() for a in wanted),
                            }
                            for i in ranking.candidates
                            for text in [r._window_text(i)]
                        ],
                    }
                )
    return rows


def simulate(rows, about, answer, support, beta=0.0):
    out = {
        "n": {},
        "answer": {},
        "closest": {},
        "nothing": {},
        "hit1": 0,
        "hit3": 0,
        "conf_right": 0,
        "conf": 0,
        "answerable": 0,
    }
    for row in rows:
        kind = row["kind"]
        out["n"][kind] = out["n"].get(kind, 0) + 1
        logits = np.array(row["logits"])
        cands = row["candidates"][: len(logits)]
        if row["evidence"] < about or not len(logits):
            reply, shown = "nothing", []
        else:
            fused = np.array([c["fused"] for c in cands])
            order = np.argsort(-(logits + beta * fused), kind="stable")
            confident = logits.max() >= answer
            reply = "answer" if confident else "closest"
            limit = 3 if confident else 2
            shown = [order[0]] + [j for j in order[1:limit] if logits[j] >= support]
        out[reply][kind] = out[reply].get(kind, 0) + 1
        if kind == "answerable":
            out["answerable"] += 1
            hits = [cands[j]["has_answer"] for j in shown]
            out["hit1"] += bool(hits[:1] and hits[0])
            out["hit3"] += any(hits)
            if reply == "answer":
                out["conf"] += 1
                out["conf_right"] += any(hits)
        elif reply == "answer":
            out["conf"] += 1
    return out


def line(name, o) -> str:
    a = o["answerable"] or 1
    un = o["n"].get("unanswerable", 0) or 1
    off = o["n"].get("off_topic", 0) or 1
    return (
        f"{name:10} shown hit@1 {o['hit1'] / a:.3f} hit@3 {o['hit3'] / a:.3f} | "
        f"answerable: answer {o['answer'].get('answerable', 0)} closest "
        f"{o['closest'].get('answerable', 0)} nothing {o['nothing'].get('answerable', 0)} | "
        f"unanswerable answered {o['answer'].get('unanswerable', 0) / un:.3f} "
        f"({o['answer'].get('unanswerable', 0)}/{o['n'].get('unanswerable', 0)}) | "
        f"off-topic nothing {o['nothing'].get('off_topic', 0) / off:.3f} | "
        f"confident precision {o['conf_right'] / max(1, o['conf']):.3f} ({o['conf']})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=ROOT / "training" / "data")
    parser.add_argument("--candidates", type=int, default=10)
    args = parser.parse_args()
    reranker = Reranker(args.model)
    cache = args.data / f"logits-{args.model.stem}-{reranker.fingerprint}.jsonl"
    if cache.exists():
        rows = [json.loads(x) for x in cache.open()]
    else:
        rows = [json.loads(x) for x in (args.data / "candidates.jsonl").open()]
        rows = [r for r in rows if r["split"] != "train"] + story_rows(20)
        for row in rows:
            texts = [c["text"] for c in row["candidates"][: args.candidates]]
            row["logits"] = reranker.logits(row["question"], texts).tolist()
        with cache.open("w") as out:
            out.writelines(json.dumps(r) + "\n" for r in rows)
    by_split = {}
    for row in rows:
        by_split.setdefault(row["split"], []).append(row)
    tune = by_split["tune"]
    print("ranking (tune): beta -> shown hit@1 when every question gets its best window")
    for beta in (0.0, 1.0, 2.0, 4.0, 8.0):
        print(" ", beta, round(simulate(tune, 0.0, -99, 99, beta)["hit1"] / 664, 4))
    print("about rule (tune): min_about -> answerable nothing, off-topic nothing")
    for about in np.arange(0.9, 1.45, 0.05):
        o = simulate(tune, about, 99, 99)
        print(
            f"  {about:.2f} {o['nothing'].get('answerable', 0)}/{o['n']['answerable']} "
            f"{o['nothing'].get('off_topic', 0)}/{o['n']['off_topic']}"
        )
    print("answer rule (tune, min_about 1.1): min_answer -> replies")
    for answer in np.arange(-3, 4.01, 0.5):
        print(f"  {answer:+.1f}", line("tune", simulate(tune, 1.1, answer, answer)))


if __name__ == "__main__":
    main()
