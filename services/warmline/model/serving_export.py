"""Writing a serving directory (:mod:`warmline.model.serving`): needs torch, the
``onnx`` package and the encoder's package, so it runs where the image is built."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from warmline.model.bundle import ModelCard, bundle_digest
from warmline.model.encoder import load_encoder
from warmline.model.encoder_files import encoder_dir, sha256_of, verify_encoder_files
from warmline.model.engine import load_finetuned_layers
from warmline.model.head import load_heads
from warmline.model.onnx_backend import cached_model
from warmline.model.serving import (
    SERVING_FORMAT,
    SERVING_JSON,
    SERVING_MODEL,
    TOKENIZER_FILE,
    ServingManifest,
)
from warmline.model.word_vectors import TABLE_FILE, save_table, table_from_encoder


def export_serving(model_dir: Path, out: Path) -> ServingManifest:
    """Export ``model_dir``'s encoder and heads to ``out`` as the int8 graph the torch
    engine's ``"onnx"`` backend runs, with the tokenizer and ``serving.json``.

    The manifest is removed first and written last, so a directory whose export
    was interrupted is refused rather than read half-written.
    """
    card = ModelCard.load(model_dir)
    source = encoder_dir()
    verify_encoder_files(source)
    encoder = load_encoder(source)
    load_finetuned_layers(encoder, model_dir, card.finetuned_layers)
    heads = load_heads(model_dir, card)
    out.mkdir(parents=True, exist_ok=True)
    (out / SERVING_JSON).unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        graph = cached_model(encoder, heads, Path(tmp), int8=True)
        os.replace(graph, out / SERVING_MODEL)
    shutil.copyfile(source / TOKENIZER_FILE, out / TOKENIZER_FILE)
    if card.context_vectors == "word-mean":
        save_table(table_from_encoder(source / "model.safetensors"), out / TABLE_FILE)
    manifest = ServingManifest(
        format=SERVING_FORMAT,
        model_version=card.model_version,
        bundle_sha256=bundle_digest(model_dir),
        tokenizer_sha256=sha256_of(out / TOKENIZER_FILE),
    )
    manifest.save(out)
    return manifest
