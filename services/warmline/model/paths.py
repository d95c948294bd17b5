"""Where the model bundle and the training data live (importable without torch)."""

from __future__ import annotations

from pathlib import Path

#: The committed model bundle.
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "weights"
#: Where the dataset's README says to read it from, relative to the checkout.
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "goemotions"
