"""Training, calibration and tenant adaptation of the contact-center signal head.

The encoder and the GoEmotions heads stay as they are (GoEmotions scores do not
move); only the signal head (:mod:`warmline.model.signal_head`) is fitted, on
pooled vectors the engine computes once per text:

* GoEmotions train, each text alone, targets from its gold labels through
  :data:`~warmline.model.taxonomy.SIGNAL_GROUPS`, weighted down (Reddit is not a
  contact center, and GoEmotions reads a plain question as confusion);
* contact-center conversations, each customer turn with its context, and once more
  alone (so a first turn and the sync ``Score`` call are read well too).

Early stopping, per-signal temperatures and thresholds use the evaluation set's
``dev`` part only (:func:`~warmline.model.contact_center.fitting_part`).
"""

from __future__ import annotations

import hashlib
import random
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from warmline.model import lexical
from warmline.model.bundle import SIGNAL_HEAD_FILE, SITUATION_HEAD_FILE, ContextVectors, ModelCard
from warmline.model.contact_center import CCConversation, labelled_turns, turns_of
from warmline.model.context import ContextualScorer, ConversationWindows
from warmline.model.engine import EmotionEngine
from warmline.model.metrics import f1_per_label, fit_temperature, tune_thresholds
from warmline.model.signal_head import SignalHead, merge_heads
from warmline.model.taxonomy import LABELS, SIGNAL_GROUPS, SIGNALS, SITUATIONS
from warmline.model.turn_features import NO_CONTEXT
from warmline.model.turns import Turn

Log = Callable[[str], None]


@dataclass
class SignalSet:
    """Feature rows, 0/1 targets over the seven signals, and per-row weights."""

    features: torch.Tensor
    targets: torch.Tensor
    weights: torch.Tensor

    def __len__(self) -> int:
        return len(self.targets)

    @staticmethod
    def join(parts: Sequence[SignalSet]) -> SignalSet:
        """One set made of ``parts``, in order."""
        return SignalSet(
            torch.cat([p.features for p in parts]),
            torch.cat([p.targets for p in parts]),
            torch.cat([p.weights for p in parts]),
        )


def signal_targets(signal_sets: Sequence[frozenset[str]]) -> torch.Tensor:
    """(n, 7) 0/1 targets in :data:`SIGNALS` order."""
    return torch.tensor([[float(s in names) for s in SIGNALS] for names in signal_sets])


def goemotions_targets(labels: torch.Tensor) -> torch.Tensor:
    """Signals of GoEmotions gold label rows (n, 28): a signal holds when any member does."""
    columns = [[LABELS.index(label) for label in members] for members in SIGNAL_GROUPS.values()]
    return torch.stack([labels[:, cols].amax(1) for cols in columns], 1).float()


def alone_features(engine: EmotionEngine, texts: Sequence[str]) -> torch.Tensor:
    """Feature rows for texts read without context (first turns, GoEmotions)."""
    probs, pooled = engine.split_outputs(engine.outputs(texts))
    return engine.feature_rows(probs, pooled, [NO_CONTEXT] * len(texts))


def conversation_rows(
    engine: EmotionEngine, conversations: Sequence[CCConversation], *, with_context: bool = True
) -> list[tuple[CCConversation, int, torch.Tensor]]:
    """(conversation, turn index, feature row) of every labelled customer turn, read as
    the scoring service reads it: in its conversation (``with_context``) or alone."""
    scorer = ContextualScorer(engine, ConversationWindows(10**9, float("inf")))
    found: list[tuple[CCConversation, int, torch.Tensor]] = []
    for conversation in conversations:
        turns = turns_of(conversation)
        if not with_context:
            turns = [Turn(t.text, t.speaker) for t in turns]
        reading = scorer.read(turns)
        by_index = {p.index: p for p in reading.pending}
        for _, index, _turn in labelled_turns([conversation]):
            pending = by_index.get(index)
            if pending is None:
                continue  # empty or non-English: the service never scores it either
            outputs = torch.from_numpy(pending.outputs).unsqueeze(0)
            probs, pooled = engine.split_outputs(outputs)
            row = engine.feature_rows(probs, pooled, [pending.context])[0]
            found.append((conversation, index, row))
        scorer.forget(conversation.id)
    return found


def conversation_features(
    engine: EmotionEngine, conversations: Sequence[CCConversation], *, with_context: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """(feature rows, signal targets) of every labelled customer turn."""
    rows = conversation_rows(engine, conversations, with_context=with_context)
    if not rows:
        return torch.zeros(0, 0), torch.zeros(0, len(SIGNALS))
    targets = [c.turns[i].signals or frozenset() for c, i, _ in rows]
    return torch.stack([row for *_, row in rows]), signal_targets(targets)


#: Gold escalation reasons that name a situation, and which.
REASON_SITUATION = {
    "sensitive_topic": "sensitive",
    "acute_distress": "sensitive",
    "vulnerability": "vulnerability",
    "churn_threat": "churn_threat",
    "regulator_complaint": "regulator_complaint",
}


def situation_target(conversation: CCConversation, index: int) -> torch.Tensor | None:
    """A customer turn's situation targets from its conversation's gold annotation:
    the gold escalation turn of a situation reason is positive for that situation;
    earlier turns, and every turn of a calm conversation, are negative; later turns
    (the situation may still hold) and the gold turn of another reason are unknown."""
    ordinal = sum(1 for t in conversation.turns[:index] if t.role == "customer")
    gold = conversation.gold_escalation_turn
    target = torch.zeros(len(SITUATIONS))
    if gold is None or ordinal < gold:
        return target
    situation = REASON_SITUATION.get(conversation.gold_reason or "")
    if ordinal == gold and situation is not None:
        target[SITUATIONS.index(situation)] = 1.0
        return target
    return None


def situation_set(
    engine: EmotionEngine, conversations: Sequence[CCConversation], weight: float = 1.0
) -> SignalSet:
    """Situation rows and targets (turns with an unknown target left out)."""
    kept = [
        (row, target)
        for conversation, index, row in conversation_rows(engine, conversations)
        if (target := situation_target(conversation, index)) is not None
    ]
    x = torch.stack([row for row, _ in kept])
    y = torch.stack([target for _, target in kept])
    return SignalSet(x, y, torch.full((len(y),), weight))


def conversation_set(
    engine: EmotionEngine, conversations: Sequence[CCConversation], weight: float, alone: float
) -> SignalSet:
    """Contact-center turns in context (``weight``) plus the same turns alone (``alone``)."""
    parts = []
    x, y = conversation_features(engine, conversations)
    parts.append(SignalSet(x, y, torch.full((len(y),), weight)))
    if alone > 0:
        x, y = conversation_features(engine, conversations, with_context=False)
        parts.append(SignalSet(x, y, torch.full((len(y),), alone)))
    return SignalSet.join(parts)


@dataclass(frozen=True)
class FitConfig:
    """How the head is fitted."""

    hidden: int = 256
    dropout: float = 0.2
    epochs: int = 30
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 13


def macro_f1(probs: torch.Tensor, targets: torch.Tensor, thresholds: torch.Tensor) -> float:
    """Macro-F1 over the seven signals at ``thresholds``."""
    return float(f1_per_label(probs >= thresholds, targets).mean())


def fit_head(
    train: SignalSet,
    dev: SignalSet,
    config: FitConfig,
    start: SignalHead | None = None,
    log: Log = lambda _: None,
) -> SignalHead:
    """Train (or, from ``start``, fine-tune) a head; keep the epoch with the best dev
    macro-F1 at per-signal tuned thresholds."""
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    head = SignalHead(config.hidden, config.dropout, outputs=train.targets.shape[1])
    if start is not None:
        head.load_state_dict(start.state_dict())
    optimiser = torch.optim.AdamW(head.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loss_fn = torch.nn.BCEWithLogitsLoss(reduction="none")
    best_score, best_state = -1.0, {k: v.clone() for k, v in head.state_dict().items()}
    order = list(range(len(train)))
    for epoch in range(config.epochs):
        head.train()
        rng.shuffle(order)
        for begin in range(0, len(order), config.batch_size):
            rows = torch.tensor(order[begin : begin + config.batch_size])
            logits = head(train.features[rows])
            loss = (loss_fn(logits, train.targets[rows]).mean(1) * train.weights[rows]).sum()
            loss = loss / train.weights[rows].sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        head.eval()
        with torch.no_grad():
            probs = torch.sigmoid(head(dev.features))
        score = macro_f1(probs, dev.targets, tune_thresholds(probs, dev.targets))
        if score > best_score:
            best_score, best_state = score, {k: v.clone() for k, v in head.state_dict().items()}
        log(f"epoch {epoch + 1}: dev macro-F1 {score:.3f} (best {best_score:.3f})")
    head.load_state_dict(best_state)
    return head.eval()


def calibrate(head: SignalHead, dev: SignalSet) -> tuple[list[float], list[float]]:
    """Per-signal temperatures (BCE on dev) and thresholds (F1 on dev, after scaling)."""
    with torch.no_grad():
        logits = head(dev.features)
    temperatures = fit_temperature(logits, dev.targets, per_label=True)
    probs = torch.sigmoid(logits / temperatures)
    thresholds = tune_thresholds(probs, dev.targets)
    return [round(float(t), 4) for t in temperatures], [round(float(t), 4) for t in thresholds]


def save_head(head: SignalHead, directory: Path, name: str = SIGNAL_HEAD_FILE) -> None:
    """Write a head's weights (fp32, contiguous) as ``name``."""
    state = {k: v.detach().contiguous() for k, v in head.state_dict().items()}
    save_file(state, str(directory / name))


def load_signal_head(directory: Path, hidden: int) -> SignalHead:
    """The bundle's trained signal head as a torch module (to fine-tune it further)."""
    head = SignalHead(hidden)
    head.load_state_dict(load_file(str(directory / SIGNAL_HEAD_FILE)))
    return head.eval()


def train_situation_head(
    bundle: Path,
    train: Sequence[CCConversation],
    dev: Sequence[CCConversation],
    config: FitConfig = FitConfig(hidden=128, epochs=40),
    log: Log = lambda _: None,
) -> ModelCard:
    """Fit the situation head on the conversations' gold reasons (see
    :func:`situation_target`), calibrate its temperatures on ``dev``, add it to
    ``bundle`` (which must already have its signal head: the input rows are shared)."""
    if any(c.split == "test" for c in [*train, *dev]):
        raise ValueError("the evaluation set's test part must never be fitted on")
    engine = EmotionEngine(bundle)
    train_set, dev_set = situation_set(engine, train), situation_set(engine, dev)
    head = fit_head(train_set, dev_set, config, log=log)
    with torch.no_grad():
        logits = head(dev_set.features)
    temperatures = fit_temperature(logits, dev_set.targets, per_label=False)
    card = ModelCard.load(bundle)
    card.situation_head_hidden = head.hidden
    card.situation_temperatures = [round(float(t), 4) for t in temperatures]
    card.training["situation_head"] = {
        "train_turns": len(train_set),
        "positives": {n: int(v) for n, v in zip(SITUATIONS, train_set.targets.sum(0), strict=True)},
        "calibrated_on": f"contact-center eval dev part, {len(dev)} conversations",
        **asdict(config),
    }
    card.validate()
    save_head(head, bundle, SITUATION_HEAD_FILE)
    card.save(bundle)
    return card


def head_digest(head: SignalHead) -> str:
    """Hex SHA-256 over a head's weights (names, shapes and values)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(head.state_dict().items()):
        digest.update(f"{name}:{tuple(tensor.shape)}:".encode())
        digest.update(tensor.detach().contiguous().float().numpy().tobytes())
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes (recorded instead of any of its text)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class SignalRecipe:
    """The data mix of the shipped signal head (see the module docstring)."""

    goemotions_weight: float = 0.05
    context_weight: float = 2.0
    alone_weight: float = 1.0
    #: Heads trained from consecutive seeds and merged into one (their mean logit):
    #: a single head's scores moved with the seed and the data order as much as the
    #: data mixes being compared did.
    ensemble: int = 3
    #: How the head reads bot and agent turns (:mod:`warmline.model.word_vectors`):
    #: word means cost no encoder pass and read the dev part as well as the pooled
    #: vectors did (2026-12-05: negativity AUC 0.982 vs 0.981, escalation F1 on the
    #: training conversations 0.914 vs 0.913).
    context_vectors: ContextVectors = "word-mean"


def goemotions_set(
    engine: EmotionEngine, data_dir: Path, split: str, weight: float, cache_dir: Path | None
) -> SignalSet:
    """GoEmotions ``split`` read alone, cached per model version (features take ~1 min)."""
    from warmline.model.data import read_split

    data = read_split(data_dir, split)
    cached = None
    if cache_dir is not None:
        key = hashlib.sha256("\n".join(data.texts).encode()).hexdigest()[:12]
        cached = cache_dir / f"signal-features-{engine.model_version}-{split}-{key}.pt"
        if cached.is_file():
            x = torch.load(cached)
            return SignalSet(x, goemotions_targets(data.labels), torch.full((len(x),), weight))
    x = alone_features(engine, data.texts)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        torch.save(x, cached)
    return SignalSet(x, goemotions_targets(data.labels), torch.full((len(x),), weight))


def write_bundle(
    base_dir: Path,
    out_dir: Path,
    head: SignalHead,
    temperatures: Sequence[float],
    thresholds: Sequence[float],
    **card_fields: object,
) -> ModelCard:
    """``out_dir`` = the base bundle's files with this signal head and its card fields."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if out_dir.resolve() != base_dir.resolve():
        for path in base_dir.iterdir():
            if path.suffix in (".json", ".safetensors") and path.name != SIGNAL_HEAD_FILE:
                shutil.copyfile(path, out_dir / path.name)
    card = ModelCard.load(base_dir)
    card.signal_head_hidden = head.hidden
    card.signal_temperatures = list(temperatures)
    card.signal_thresholds = list(thresholds)
    for name, value in card_fields.items():
        setattr(card, name, value)
    card.validate()
    save_head(head, out_dir)
    card.save(out_dir)
    return card


def train_signal_head(
    base_dir: Path,
    out_dir: Path,
    goemotions_dir: Path,
    train: Sequence[CCConversation],
    dev: Sequence[CCConversation],
    recipe: SignalRecipe = SignalRecipe(),
    config: FitConfig = FitConfig(),
    log: Log = lambda _: None,
    cache_dir: Path | None = None,
) -> ModelCard:
    """Fit the shipped signal head (GoEmotions train + contact-center train), early-stop
    and calibrate on ``dev`` (the evaluation set's dev part), write the bundle."""
    if any(c.split == "test" for c in [*train, *dev]):
        raise ValueError("the evaluation set's test part must never be fitted on")
    engine = EmotionEngine(base_dir, context_vectors=recipe.context_vectors)
    log("GoEmotions train features")
    goemotions = goemotions_set(
        engine, goemotions_dir, "train", recipe.goemotions_weight, cache_dir
    )
    log("contact-center features")
    train_set = conversation_set(engine, train, recipe.context_weight, recipe.alone_weight)
    dev_set = conversation_set(engine, dev, 1.0, 0.0)
    joined = SignalSet.join([goemotions, train_set])
    head = merge_heads(
        [
            fit_head(joined, dev_set, replace(config, seed=config.seed + k), log=log)
            for k in range(recipe.ensemble)
        ]
    )
    temperatures, thresholds = calibrate(head, dev_set)
    training = dict(ModelCard.load(base_dir).training)
    training["signal_head"] = {
        "goemotions_train_texts": len(goemotions),
        "contact_center_train_conversations": len(train),
        "contact_center_train_turns": int(len(train_set) / (2 if recipe.alone_weight else 1)),
        "calibrated_on": f"contact-center eval dev part, {len(dev)} conversations",
        **{k: v for k, v in asdict(recipe).items()},
        **{k: v for k, v in asdict(config).items()},
    }
    # A head retrained on a bundle that already has one replaces it: one suffix,
    # the day and the head's digest (two retrains on one day are two versions).
    base_version = engine.model_version.split("-cc")[0]
    version = f"{base_version}-cc{date.today():%Y%m%d}-{head_digest(head)[:6]}"
    return write_bundle(
        base_dir,
        out_dir,
        head,
        temperatures,
        thresholds,
        model_version=version,
        training=training,
        context_vectors=recipe.context_vectors,
    )


def retune_thresholds(bundle: Path, dev: Sequence[CCConversation]) -> ModelCard:
    """Per-signal thresholds of ``bundle`` re-tuned on ``dev`` for the engine's final
    signals (the blend, when the bundle has a lexical model)."""
    engine = EmotionEngine(bundle)
    rows = conversation_rows(engine, dev)
    x = torch.stack([row for *_, row in rows])
    targets = signal_targets([c.turns[i].signals or frozenset() for c, i, _ in rows])
    probs = engine.signal_probabilities_from_features(x, [c.turns[i].text for c, i, _ in rows])
    card = ModelCard.load(bundle)
    card.signal_thresholds = [round(float(t), 4) for t in tune_thresholds(probs, targets)]
    card.validate()
    card.save(bundle)
    return card


def train_lexical(
    bundle: Path,
    train: Sequence[CCConversation],
    dev: Sequence[CCConversation],
    weight: float = 0.5,
) -> ModelCard:
    """Fit the lexical model on the training turns, add it to ``bundle`` with
    ``weight`` in the blend, and re-tune the signal thresholds on ``dev``."""
    if any(c.split == "test" for c in [*train, *dev]):
        raise ValueError("the evaluation set's test part must never be fitted on")
    turns = [turn for _, _, turn in labelled_turns(train)]
    model = lexical.fit(
        [t.text for t in turns], signal_targets([t.signals or frozenset() for t in turns])
    )
    model.save(bundle)
    card = ModelCard.load(bundle)
    card.lexical_weight = weight
    card.training["lexical"] = {
        "train_turns": len(turns),
        "vocabulary": len(model.vocab),
        "ngrams": "word unigrams and bigrams, min_df 2, sublinear tf-idf, L2 logistic regression",
        "weight": weight,
    }
    card.save(bundle)
    return retune_thresholds(bundle, dev)
