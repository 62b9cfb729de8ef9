"""Does the re-ranker's score help the judge when the judge's weights are fitted out of sample?
Leave-one-tune-article-out: fit the window and answer models (as fit_judge.py does) on 3 tune
articles, with and without the re-ranker's logit, and count on the 4th; the re-ranker never saw
any tune article, so neither fit over-trusts it. Reads the scores fit_judge.py --rerank cached.

    .venv/bin/python training/cross_fit.py training/data/rerank-<sha12>.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from fit_judge import TOP, fit, windows

from bot.search.judge import answer_features, logit

ROOT = Path(__file__).resolve().parent.parent


def run(rows: list[dict], use: bool) -> tuple[float, float]:
    """(window top-1 on answerable questions, AUC of the answer logit answerable vs
    unanswerable), pooled over the held-out articles."""
    articles = sorted({r["article"] for r in rows})
    hits = n = 0
    pos, neg = [], []

    def feats(row):
        return [f if use else f[:-1] for f in windows(row)]

    for held in articles:
        fitted = [r for r in rows if r["article"] != held]
        xs, ys = [], []
        for r in fitted:
            if r["kind"] != "answerable":
                continue
            for c, f in zip(r["candidates"][:TOP], feats(r), strict=True):
                if c["has_answer"] and not c["in_gold"]:
                    continue
                xs.append(f)
                ys.append(int(c["has_answer"]))
        ww = fit(np.array(xs), np.array(ys))

        def question(r, ww=ww):
            scores = np.array([logit(ww, f) for f in feats(r)])
            order = np.argsort(-scores, kind="stable")
            best = r["candidates"][order[0]]
            f = answer_features(list(scores[order]), r["evidence"], best["coverage"], r["concepts"])
            return ([*f, r["rerank"][order[0]]] if use else f), order

        xa, ya = [], []
        for r in fitted:
            if r["kind"] != "off_topic":
                f, order = question(r)
                xa.append(f)
                ya.append(
                    int(r["kind"] == "answerable" and r["candidates"][order[0]]["has_answer"])
                )
        wa = fit(np.array(xa), np.array(ya))
        for r in rows:
            if r["article"] != held or r["kind"] == "off_topic":
                continue
            f, order = question(r)
            if r["kind"] == "answerable":
                n += 1
                hits += r["candidates"][order[0]]["has_answer"]
                pos.append(logit(wa, f))
            else:
                neg.append(logit(wa, f))
    p, q = np.array(pos), np.array(neg)
    return hits / n, float((p[:, None] > q[None, :]).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scores", type=Path, help="rerank-<sha12>.json from fit_judge.py --rerank")
    parser.add_argument("--data", type=Path, default=ROOT / "training" / "data")
    args = parser.parse_args()
    cache = json.loads(args.scores.read_text())
    rows = [json.loads(x) for x in (args.data / "candidates.jsonl").open()]
    rows = [r for r in rows if r["candidates"] and r["split"] == "tune"]
    for r in rows:
        r["rerank"] = cache[f"{r['article']}|{r['kind']}|{r['question']}"]
    for use in (False, True):
        top1, auc = run(rows, use)
        label = "with the re-ranker" if use else "without it"
        print(f"leave-one-tune-article-out, {label}: window top-1 {top1:.3f}, AUC {auc:.3f}")


if __name__ == "__main__":
    main()
