"""Run a re-ranker exported by train_reranker.py (int8 ONNX) as the bot would: one onnxruntime
session, 2 threads, no spinning; used by fit_judge.py ``--rerank`` and to measure its cost.

    .venv/bin/python training/onnx_reranker.py MODEL.onnx [--data training/data]

prints the time to score the top 12 candidate windows of 200 questions (one call per question,
as one ask would), and how often its best-scored window holds the answer on the tune articles.
Needs only what storybot already installs (numpy, onnxruntime, tokenizers).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TOKENIZER = ROOT / "bot" / "search" / "models" / "all-MiniLM-L6-v2" / "tokenizer.json"
MAX_TOKENS = 160  # question + window, in word pieces (as trained)
TOP = 12


class Reranker:
    def __init__(self, model_path: Path, threads: int = 2) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = Tokenizer.from_file(str(TOKENIZER))
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS, strategy="only_second")
        self._tokenizer.no_padding()

    def scores(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """One logit per text, in the order given."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        encodings = self._tokenizer.encode_batch([(question, t) for t in texts])
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        types = np.zeros_like(ids)
        mask = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            n = len(e.ids)
            ids[row, :n], types[row, :n], mask[row, :n] = e.ids, e.type_ids, 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        (logits,) = self._session.run(None, feeds)
        return np.asarray(logits, dtype=np.float32).reshape(-1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--data", type=Path, default=ROOT / "training" / "data")
    args = parser.parse_args()
    rows = [json.loads(x) for x in (args.data / "candidates.jsonl").open()]
    tune = [r for r in rows if r["split"] == "tune" and r["candidates"]]
    reranker = Reranker(args.model)
    times, hits, n = [], 0, 0
    for row in tune[:200]:
        texts = [c["text"] for c in row["candidates"][:TOP]]
        started = time.perf_counter()
        reranker.scores(row["read"], texts)
        times.append((time.perf_counter() - started) * 1000)
    for row in tune:
        if row["kind"] != "answerable":
            continue
        s = reranker.scores(row["read"], [c["text"] for c in row["candidates"][:TOP]])
        hits += row["candidates"][int(np.argmax(s))]["has_answer"]
        n += 1
    t = np.array(times)
    print(
        f"{TOP} windows per question: p50 {np.percentile(t, 50):.1f} ms, "
        f"p90 {np.percentile(t, 90):.1f} ms; tune top-1 alone {hits / n:.3f} ({n} questions)"
    )


if __name__ == "__main__":
    main()
