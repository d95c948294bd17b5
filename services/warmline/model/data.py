"""Reading the GoEmotions files (train/dev TSV, label list, grouping mappings).

The data never lives in the repository: every function takes the data directory
(by default ``../shared/data/goemotions`` relative to the checkout, as the dataset's
README asks).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from warmline.model.taxonomy import LABELS, NUM_LABELS


@dataclass(frozen=True)
class Split:
    """One split: texts and a multi-hot label matrix (n, 28) of 0/1 floats."""

    name: str
    texts: list[str]
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.texts)


def check_labels(data_dir: Path) -> None:
    """Raise ``ValueError`` if ``labels.txt`` disagrees with the embedded label list."""
    path = data_dir / "labels.txt"
    names = tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    names = tuple(name for name in names if name)
    if names != LABELS:
        raise ValueError(f"{path} does not match warmline.model.taxonomy.LABELS")


def read_split(data_dir: Path, name: str) -> Split:
    """Read ``<name>.tsv``: text, comma-separated label ids, comment id; no header."""
    texts: list[str] = []
    rows: list[list[int]] = []
    with (data_dir / f"{name}.tsv").open(encoding="utf-8", newline="") as handle:
        # QUOTE_NONE: comments contain bare quote characters that are part of the text.
        for record in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            if not record:
                continue
            texts.append(record[0])
            rows.append([int(item) for item in record[1].split(",") if item])
    labels = torch.zeros(len(texts), NUM_LABELS)
    for i, ids in enumerate(rows):
        labels[i, ids] = 1.0
    return Split(name=name, texts=texts, labels=labels)


def read_grouping(data_dir: Path, kind: str) -> dict[str, list[str]]:
    """Read ``<kind>_mapping.json`` (``ekman`` or ``sentiment``) and add ``neutral``.

    The files group the 27 emotions; the paper keeps neutral as its own class, so it
    is added here as a one-member group.
    """
    raw = json.loads((data_dir / f"{kind}_mapping.json").read_text(encoding="utf-8"))
    groups = {str(group): [str(label) for label in members] for group, members in raw.items()}
    unknown = {label for members in groups.values() for label in members} - set(LABELS)
    if unknown:
        raise ValueError(f"{kind} mapping names unknown labels: {sorted(unknown)}")
    groups.setdefault("neutral", ["neutral"])
    return groups
