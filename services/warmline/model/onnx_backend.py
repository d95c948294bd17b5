"""ONNX Runtime CPU backend: the same encoder and head, exported once and cached.

The engine builds the torch encoder (packaged lower layers plus the bundle's
fine-tuned top layers) and the head exactly as for the torch backend, then exports
them together to ONNX (dynamic batch and sequence axes) and, for ``int8``, applies
ONNX Runtime's dynamic quantization (int8 weights per output channel, activations
quantized per batch at run time). The files live under
``SCORING__ONNX_CACHE_DIR`` (default ``~/.cache/warmline/onnx``) in a directory
keyed by the model version and a hash of everything the graph depends on, so a
changed bundle, encoder, torch or onnxruntime never reuses a stale file. Nothing
here is committed; a cold export plus quantization takes about 3 s.

On the 2-core AVX2 CPU this backend was measured on, ORT int8 ran about 3x the
torch fp32 engine (torch int8 gave no gain there), at about one point of dev
macro-F1; ORT fp32 matches torch to ~1e-6 in probability and is ~1.2x faster.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from pathlib import Path

import torch
from torch import nn

from warmline.model.bundle import bundle_digest

#: Bump when the export recipe changes, so cached files are rebuilt.
EXPORT_FORMAT = "2"
#: ONNX opset for the TorchScript exporter.
OPSET = 17


def onnx_available() -> bool:
    """True when ``onnxruntime`` (and ``onnx``, needed to quantize) can be imported."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def cache_root() -> Path:
    """Where exported models go unless the caller says otherwise (the scoring
    service passes ``SCORING__ONNX_CACHE_DIR``)."""
    return Path.home() / ".cache" / "warmline" / "onnx"


class _EncoderWithHead(nn.Module):
    """Token ids and mask in; head logits, then the pooled sentence vector, out.

    The pooled vector rides along so that the contact-center signal head can read
    it with the conversation's earlier turns (:mod:`warmline.model.context`)."""

    def __init__(self, encoder: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        pooled = self.encoder(input_ids, attention_mask)
        return torch.cat([self.head(pooled), pooled], 1)


def cache_key(model_dir: Path, encoder_file: Path) -> str:
    """Hex digest over the bundle's files (:func:`~warmline.model.bundle.bundle_digest`),
    the encoder file's identity and versions."""
    import onnxruntime

    digest = hashlib.sha256(bundle_digest(model_dir).encode())
    stat = encoder_file.stat()
    identity = f"{encoder_file.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    versions = f"{torch.__version__}|{onnxruntime.__version__}|{EXPORT_FORMAT}|{OPSET}"
    digest.update(identity.encode())
    digest.update(versions.encode())
    return digest.hexdigest()[:16]


def export(encoder: nn.Module, head: nn.Module, path: Path) -> None:
    """Export encoder + head to ``path`` (fp32, dynamic batch and sequence axes)."""
    model = _EncoderWithHead(encoder, head).eval()
    ids = torch.tensor([[101, 7592, 2045, 102], [101, 2017, 102, 0]])
    mask = (ids != 0).long()
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        # The TorchScript exporter (dynamo=False) needs no onnxscript; torch marks it
        # deprecated, hence the silenced warnings.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (ids, mask),
            str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                "logits": {0: "batch"},
            },
        )


def quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8 quantization: int8 weights per output channel (MatMul/Gemm)."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    # quantize_dynamic logs a "consider pre-processing" hint on the root logger.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        root.setLevel(level)


def cached_model(encoder: nn.Module, head: nn.Module, directory: Path, *, int8: bool) -> Path:
    """Path of the ``fp32.onnx``/``int8.onnx`` in ``directory``, building it if missing.

    Files are written under temporary names and renamed into place, so processes
    that start together never read a half-written model.
    """
    directory.mkdir(parents=True, exist_ok=True)
    fp32 = directory / "fp32.onnx"
    target = directory / ("int8.onnx" if int8 else "fp32.onnx")
    if target.is_file():
        return target
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        if not fp32.is_file():
            export(encoder, head, Path(tmp) / "fp32.onnx")
            os.replace(Path(tmp) / "fp32.onnx", fp32)
        if int8:
            quantize_int8(fp32, Path(tmp) / "int8.onnx")
            os.replace(Path(tmp) / "int8.onnx", target)
    return target
