"""(question, passage) -> how surely the passage answers the question: a small cross-encoder
that reads both together.

The bi-encoder (``bot.search.embeddings``) embeds question and passage apart, so it can tell
that a passage is *about* a question but not that it *answers* it, and it cannot link a role
("the streaming company", "who made the film") to the name in a passage. This model reads the
pair as one text, ``[CLS] question [SEP] passage [SEP]``, and returns one logit: > 0 means it
judges that the passage answers the question.

It is storybot's own: the first three layers of all-MiniLM-L6-v2 (Apache-2.0) fine-tuned on
SQuAD 2.0 dev articles (CC BY-SA 4.0) by ``training/train_reranker.py``, exported to ONNX and
quantized to int8 (``bot/search/models/reranker/``, checked by sha256 before use; nothing is
downloaded). It shares the embedding model's tokenizer.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bot.search.embeddings import (
    DEFAULT_TOKENIZER,
    DEFAULT_TOKENIZER_SHA256,
    MODELS_DIR,
    SemanticError,
    checked_digest,
)

DEFAULT_MODEL = MODELS_DIR / "reranker" / "reranker.onnx"
DEFAULT_MODEL_SHA256 = ""
# Word pieces per (question, passage) pair, as in training: the passage is cut, not the question.
MAX_TOKENS = 128


class Reranker:
    """An ONNX cross-encoder and its tokenizer; ``logits`` is thread-safe."""

    def __init__(
        self,
        model_path: Path,
        tokenizer_path: Path = DEFAULT_TOKENIZER,
        *,
        model_sha256: str = "",
        tokenizer_sha256: str = "",
        threads: int = 2,
    ) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.model_path = Path(model_path)
        model_digest = checked_digest(self.model_path, model_sha256, "re-ranking model")
        tokenizer_digest = checked_digest(Path(tokenizer_path), tokenizer_sha256, "tokenizer")
        self.fingerprint = hashlib.sha256(
            f"{model_digest}|{tokenizer_digest}|{MAX_TOKENS}".encode()
        ).hexdigest()[:16]
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = onnxruntime.InferenceSession(
                str(self.model_path), options, providers=["CPUExecutionProvider"]
            )
            self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        except Exception as exc:  # onnxruntime and tokenizers raise their own types
            raise SemanticError(f"cannot load the re-ranking model: {exc}") from exc
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS, strategy="only_second")
        self._tokenizer.no_padding()
        self._lock = threading.Lock()

    def logits(self, question: str, passages: Sequence[str]) -> np.ndarray:
        """One logit per passage (float64): how surely it answers ``question`` (> 0: it does)."""
        if not passages:
            return np.zeros(0)
        encodings = self._tokenizer.encode_batch([(question, p) for p in passages])
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        types = np.zeros_like(ids)
        mask = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            n = len(e.ids)
            ids[row, :n], types[row, :n], mask[row, :n] = e.ids, e.type_ids, 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        (logits,) = self._session.run(["logits"], feeds)
        return logits.reshape(-1).astype(np.float64)


_RERANKERS: dict[tuple, Reranker] = {}
_LOCK = threading.Lock()


def reranker_for(settings) -> Reranker:
    """The process's re-ranker for ``[rerank]`` settings (created, and checked, once)."""
    if settings.model:
        model, model_sha = Path(settings.model), settings.model_sha256
    else:
        model, model_sha = DEFAULT_MODEL, DEFAULT_MODEL_SHA256
    key = (str(model), model_sha, settings.threads)
    with _LOCK:
        if key not in _RERANKERS:
            _RERANKERS[key] = Reranker(
                model,
                DEFAULT_TOKENIZER,
                model_sha256=model_sha,
                tokenizer_sha256=DEFAULT_TOKENIZER_SHA256,
                threads=settings.threads,
            )
        return _RERANKERS[key]
