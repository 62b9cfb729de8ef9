"""Fit the answer judge (bot/search/judge.py) on SQuAD articles marked "train", choose its
thresholds on the "tune" articles, and print what they give on every split.

    .venv/bin/python training/build_pairs.py          # training/data/candidates.jsonl
    .venv/bin/python training/fit_judge.py            # prints weights and tables

Window model: logistic regression (L2, C = 1), positives = candidate windows of the gold
paragraph holding a gold answer, negatives = candidates holding none, answerable questions
only. Answer model: logistic regression over the question's features after re-ranking,
positive = an answerable question whose best window holds the answer, negative = SQuAD's
unanswerable questions and answerable ones whose best window does not.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from bot.search.judge import answer_features, answer_type_cue, logit, window_features

ROOT = Path(__file__).resolve().parent.parent
TOP = 12  # candidates the bot considers (retrieval.MIN_CANDIDATES)


def fit(x: np.ndarray, y: np.ndarray, c: float = 1.0) -> np.ndarray:
    mean, std = x.mean(0), x.std(0) + 1e-9
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / std])

    def loss(w):
        p = z @ w
        return (
            np.logaddexp(0, -p)[y == 1].sum()
            + np.logaddexp(0, p)[y == 0].sum()
            + (w[1:] @ w[1:]) / (2 * c)
        )

    w = minimize(loss, np.zeros(z.shape[1]), method="L-BFGS-B").x
    # Back to raw features: intercept and weights.
    weights = w[1:] / std
    return np.concatenate([[w[0] - (weights * mean).sum()], weights])


def windows(row):
    cands = row["candidates"][:TOP]
    top = cands[0]["fused"] if cands else 0.0
    q = row["read"]
    # With --rerank: the re-ranker's logit is one more window feature.
    rerank = [[r] for r in row["rerank"]] if "rerank" in row else [[]] * len(cands)
    return [
        window_features(
            c["fused"],
            c["cosine"],
            c["sentence"],
            c["lexical"],
            c["coverage"],
            answer_type_cue(q, c["text"]),
            top,
        )
        + r
        for c, r in zip(cands, rerank, strict=True)
    ]


def add_rerank_scores(rows: list[dict], model: Path, cache: Path) -> None:
    """``row["rerank"]``: the re-ranker's logit for each of the row's top candidates (int8
    ONNX through onnxruntime, as the bot would run it; cached per model file)."""
    from onnx_reranker import Reranker

    from bot.search.modelfiles import sha256_of

    path = cache / f"rerank-{sha256_of(model)[:12]}.json"
    scores = json.loads(path.read_text()) if path.exists() else {}

    def key(row):
        return f"{row['article']}|{row['kind']}|{row['question']}"

    todo = [n for n, row in enumerate(rows) if key(row) not in scores]
    if todo:
        reranker = Reranker(model)
        for done, n in enumerate(todo):
            row = rows[n]
            texts = [c["text"] for c in row["candidates"][:TOP]]
            scores[key(row)] = [round(float(x), 4) for x in reranker.scores(row["read"], texts)]
            if done % 500 == 0:
                print(f"  re-ranker scores: {done}/{len(todo)}", flush=True)
        path.write_text(json.dumps(scores))
    for row in rows:
        row["rerank"] = scores[key(row)]


def judged(row, ww):
    feats = windows(row)
    scores = np.array([logit(ww, f) for f in feats])
    order = np.argsort(-scores, kind="stable")
    return order, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "training" / "data")
    parser.add_argument(
        "--rerank", type=Path, default=None, help="the re-ranker's .onnx: fit with its score"
    )
    parser.add_argument("--splits", default="", help="only these splits (default: all)")
    args = parser.parse_args()
    rows = [json.loads(x) for x in (args.data / "candidates.jsonl").open()]
    rows = [r for r in rows if r["candidates"]]
    if args.splits:  # e.g. "train,tune": leave the test articles unread while choosing
        rows = [r for r in rows if r["split"] in args.splits.split(",")]
    if args.rerank:
        add_rerank_scores(rows, args.rerank, args.data)
    split = {s: [r for r in rows if r["split"] == s] for s in ("train", "tune", "test")}

    xs, ys = [], []
    for row in split["train"]:
        if row["kind"] != "answerable":
            continue
        for c, f in zip(row["candidates"][:TOP], windows(row), strict=True):
            if c["has_answer"] and not c["in_gold"]:
                continue
            xs.append(f)
            ys.append(int(c["has_answer"]))
    ww = fit(np.array(xs), np.array(ys))
    print("WINDOW_WEIGHTS =", tuple(round(float(w), 4) for w in ww))

    def top1(rows, by):
        hit = n = 0
        for row in rows:
            if row["kind"] != "answerable":
                continue
            n += 1
            if by == "model":
                best = judged(row, ww)[0][0]
            elif by == "rerank":
                best = int(np.argmax(row["rerank"]))
            else:
                best = 0
            hit += row["candidates"][best]["has_answer"]
        return hit / n

    for s in ("train", "tune", "test"):
        if not split[s]:
            continue
        alone = f", re-ranker alone {top1(split[s], 'rerank'):.3f}" if args.rerank else ""
        print(
            f"  {s}: top-1 window holds the answer: fused {top1(split[s], 'fused'):.3f}, "
            f"window model {top1(split[s], 'model'):.3f}{alone}"
        )

    def question_features(row):
        order, scores = judged(row, ww)
        ranked = scores[order]
        best = row["candidates"][order[0]]
        features = answer_features(list(ranked), row["evidence"], best["coverage"], row["concepts"])
        # With --rerank: the re-ranker's logit for the best window is one more feature.
        return features + ([row["rerank"][order[0]]] if args.rerank else [])

    xa, ya = [], []
    for row in split["train"]:
        if row["kind"] == "off_topic":
            continue
        order, _ = judged(row, ww)
        right = row["kind"] == "answerable" and row["candidates"][order[0]]["has_answer"]
        xa.append(question_features(row))
        ya.append(int(right))
    wa = fit(np.array(xa), np.array(ya))
    print("ANSWER_WEIGHTS =", tuple(round(float(w), 4) for w in wa))

    def table(rows, min_about, min_answer):
        out = {"answerable": [0, 0, 0], "unanswerable": [0, 0, 0], "off_topic": [0, 0, 0]}
        hit1 = hit3 = conf = conf_right = 0
        for row in rows:
            order, _ = judged(row, ww)
            if row["evidence"] < min_about or not row["concepts"]:
                kind = 2
            else:
                kind = 0 if logit(wa, question_features(row)) >= min_answer else 1
            out[row["kind"]][kind] += 1
            if row["kind"] == "answerable" and kind < 2:
                shown = [row["candidates"][j]["has_answer"] for j in order[: 3 if kind == 0 else 2]]
                hit1 += shown[0]
                hit3 += any(shown)
            if kind == 0:
                conf += 1
                conf_right += (
                    row["kind"] == "answerable" and row["candidates"][order[0]]["has_answer"]
                )
        n = {k: sum(v) or 1 for k, v in out.items()}
        return (
            f"answerable a/c/n {out['answerable']} hit@1 {hit1 / n['answerable']:.3f} "
            f"hit@3 {hit3 / n['answerable']:.3f} | unanswerable answered "
            f"{out['unanswerable'][0] / n['unanswerable']:.3f} | off-topic nothing "
            f"{out['off_topic'][2] / n['off_topic']:.3f} | confident right "
            f"{conf_right / max(conf, 1):.3f} ({conf})"
        )

    def separation(rows):
        """The answer logit: answerable vs SQuAD-unanswerable questions (AUC), and the share
        of unanswerable ones answered confidently when 50/70/90% of answerable ones are."""
        logits = {"answerable": [], "unanswerable": []}
        for row in rows:
            if row["kind"] in logits:
                logits[row["kind"]].append(logit(wa, question_features(row)))
        pos, neg = np.array(logits["answerable"]), np.array(logits["unanswerable"])
        auc = float((pos[:, None] > neg[None, :]).mean())
        rates = []
        for share in (0.5, 0.7, 0.9):
            cut = np.quantile(pos, 1 - share)
            rates.append(f"{share:.0%}: {(neg >= cut).mean():.3f}")
        return f"AUC {auc:.3f}; unanswerable answered when answerable are " + ", ".join(rates)

    for s in ("train", "tune"):
        print(f"  {s}: answer model {separation(split[s])}")

    print("about rule on tune (min_about): off-topic nothing vs answerable nothing")
    for about in np.arange(0.95, 1.4, 0.05):
        print(f"  {about:.2f}", table(split["tune"], about, 99))
    print("answer rule on tune (min_about 1.15): min_answer ->")
    for answer in np.arange(-1.5, 2.6, 0.25):
        print(f"  {answer:+.2f}", table(split["tune"], 1.15, answer))


def support_table() -> None:
    """Supporting excerpts: for each window-logit floor, hit@3 of the tune answerable questions
    and the windows shown per question (excerpts 2..3 must reach the floor)."""
    from bot.search.judge import WINDOW_WEIGHTS

    rows = [json.loads(x) for x in (ROOT / "training" / "data" / "candidates.jsonl").open()]
    tune = [r for r in rows if r["split"] == "tune" and r["kind"] == "answerable"]
    for floor in (-0.5, -1.0, -1.5, -2.0, -2.5, -3.0):
        hit3 = shown = 0
        for row in tune:
            order, scores = judged(row, WINDOW_WEIGHTS)
            picked = [order[0]] + [j for j in order[1:3] if scores[j] >= floor]
            shown += len(picked)
            hit3 += any(row["candidates"][j]["has_answer"] for j in picked)
        n = len(tune)
        print(f"  support floor {floor:+.1f}: hit@3 {hit3 / n:.3f}, shown {shown / n:.2f}")


if __name__ == "__main__":
    main()
    support_table()
