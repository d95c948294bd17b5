"""Training: MLP head on the frozen encoder, optional top-layer fine-tuning, calibration.

Steps (all seeded, single-threaded by default so runs are reproducible and leave the
second core to other work):

1. Tokenize train/dev (max 64 tokens); run the encoder once per split and cache the
   token states after the frozen lower layers plus the final mean-pooled vectors
   (:mod:`warmline.model.features`, outside the repository).
2. Train the MLP head with BCE on the pooled vectors; early-stop on dev macro-F1
   (with per-label thresholds tuned on dev at each check).
3. Optionally fine-tune the top ``finetune_layers`` encoder layers (all six for the
   committed model; the embeddings stay frozen) together with the head, starting
   from the cached states; again keep the best dev macro-F1. With
   ``contact_center_weight`` > 0, the project's contact-center customer turns are
   batches of the same fine-tune with their own signal head (:class:`SignalTask`),
   so the encoder also learns the cues that carry no emotion word (waiting, repeat
   asks, threats to cancel, sarcasm); the checkpoint is then chosen on the mean of
   both dev macro-F1s, and that auxiliary head is dropped (the shipped signal head
   is trained afterwards on the finished encoder, with context).
4. Optionally (``group_head``) train one head per grouping (Ekman, sentiment) on the
   finished encoder's pooled vectors, on the group targets
   (:func:`train_group_heads`).
5. Save the bundle, reload it through :class:`~warmline.model.engine.EmotionEngine`
   (exactly the serving path: default backend, fp16-stored layers included), fit
   temperatures on dev logits, tune per-label thresholds on calibrated dev
   probabilities, pick each grouping's rule by a 2-fold cross-fit on dev and tune
   its group thresholds, and write ``model.json`` with the dev metrics
   (:func:`calibrate_bundle`).
"""

from __future__ import annotations

import copy
import hashlib
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save, save_file
from torch import nn

from warmline.model.batching import shuffled_bucket_batches
from warmline.model.bundle import (
    ENCODER_TOP_FILE,
    GROUP_HEAD_FILE,
    GROUP_RULES,
    HEAD_FILE,
    GroupRule,
    ModelCard,
)
from warmline.model.contact_center import CCConversation, labelled_turns
from warmline.model.data import Split, check_labels, read_grouping, read_split
from warmline.model.encoder import attention_bias, load_encoder, mean_pool
from warmline.model.encoder_files import ENCODER_SHA256, encoder_dir, load_tokenizer
from warmline.model.engine import EmotionEngine, load_finetuned_layers
from warmline.model.evaluate import GROUPINGS, compute_metrics, head_group_probabilities
from warmline.model.features import (
    SplitFeatures,
    cache_key,
    compute_features,
    default_cache_dir,
    load_or_compute,
)
from warmline.model.head import MLPHead
from warmline.model.metrics import (
    f1_per_label,
    fit_temperature,
    group_matrix,
    group_scores,
    reliability,
    tune_thresholds,
)
from warmline.model.taxonomy import LABELS, NUM_LABELS, SIGNALS

#: ``progress(description, total)`` returns an ``advance(n)`` callback.
ProgressFactory = Callable[[str, int], Callable[[int], None]]
Log = Callable[[str], None]


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters; defaults are the ones the committed model was trained with,
    except ``threads`` (it was trained with 2; results are reproducible per thread
    count)."""

    seed: int = 13
    threads: int = 1
    max_length: int = 64
    feature_batch: int = 64
    head_hidden: int = 256
    head_dropout: float = 0.1
    head_lr: float = 1e-3
    head_weight_decay: float = 1e-4
    head_batch: int = 128
    head_max_epochs: int = 60
    head_patience: int = 6
    finetune_layers: int = 6
    finetune_epochs: int = 2
    finetune_lr: float = 8e-5
    finetune_head_lr: float = 5e-4
    finetune_batch: int = 32
    finetune_checks_per_epoch: int = 3
    per_label_temperature: bool = True
    group_head: bool = True
    #: Loss weight of contact-center batches in the fine-tune (0: GoEmotions only).
    contact_center_weight: float = 1.0


def _quiet_progress(_: str, __: int) -> Callable[[int], None]:
    return lambda _n: None


def tuned_macro_f1(probs: torch.Tensor, targets: torch.Tensor) -> float:
    """Macro-F1 with per-label thresholds tuned on the same data (model selection only)."""
    thresholds = tune_thresholds(probs, targets)
    return float(f1_per_label(probs >= thresholds, targets).mean())


def _pooled_from(layers: nn.ModuleList, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Run ``layers`` on cached lower-layer states (batch, seq, dim) and mean-pool."""
    bias = attention_bias(mask, hidden.dtype)
    for layer in layers:
        hidden = layer(hidden, bias)
    return mean_pool(hidden, mask)


class TopModel(nn.Module):
    """Fine-tunable top encoder layers + mean pooling + head, fed cached lower states."""

    def __init__(self, layers: nn.ModuleList, head: MLPHead) -> None:
        super().__init__()
        self.layers = layers
        self.head = head

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits from states (batch, seq, dim) that the frozen lower layers produced."""
        out: torch.Tensor = self.head(_pooled_from(self.layers, hidden, mask))
        return out


@dataclass(frozen=True)
class SignalTask:
    """Contact-center customer turns fine-tuned alongside GoEmotions: cached states and
    (n, 7) 0/1 targets over :data:`SIGNALS` for train (the project's training
    conversations) and dev (the evaluation set's dev part), and the loss weight."""

    train: SplitFeatures
    train_y: torch.Tensor
    dev: SplitFeatures
    dev_y: torch.Tensor
    weight: float


def train_head(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    dev_x: torch.Tensor,
    dev_y: torch.Tensor,
    config: TrainConfig,
    progress: ProgressFactory = _quiet_progress,
    log: Log = print,
    name: str = "head",
) -> tuple[MLPHead, float]:
    """Train a head on pooled vectors for the 0/1 columns of ``train_y`` (labels, or
    groups for the group head); return the best head and its dev macro-F1."""
    # Reseed here: building an encoder (only on a feature-cache miss) draws from the
    # global RNG for its initial weights, so without this a cold and a warm cache
    # would start the head from different weights.
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    head = MLPHead(hidden=config.head_hidden, out_dim=train_y.shape[1], dropout=config.head_dropout)
    optimiser = torch.optim.AdamW(
        head.parameters(), lr=config.head_lr, weight_decay=config.head_weight_decay
    )
    loss_fn = nn.BCEWithLogitsLoss()
    best, best_state, stale = -1.0, copy.deepcopy(head.state_dict()), 0
    advance = progress(f"{name} epochs", config.head_max_epochs)
    for epoch in range(config.head_max_epochs):
        head.train()
        order = torch.randperm(len(train_x), generator=generator)
        for start in range(0, len(order), config.head_batch):
            rows = order[start : start + config.head_batch]
            optimiser.zero_grad()
            loss = loss_fn(head(train_x[rows]), train_y[rows])
            loss.backward()
            optimiser.step()
        head.eval()
        with torch.inference_mode():
            score = tuned_macro_f1(torch.sigmoid(head(dev_x)), dev_y)
        advance(1)
        if score > best:
            best, best_state, stale = score, copy.deepcopy(head.state_dict()), 0
        else:
            stale += 1
            if stale >= config.head_patience:
                log(f"{name}: early stop after epoch {epoch + 1}")
                advance(config.head_max_epochs - epoch - 1)  # complete the progress bar
                break
    head.load_state_dict(best_state)
    head.eval()
    log(f"{name}: best dev macro-F1 (thresholds tuned) {best:.4f}")
    return head, best


@torch.inference_mode()
def _top_logits(model: TopModel, features: SplitFeatures, batch: int = 128) -> torch.Tensor:
    model.eval()
    out = torch.zeros(len(features.lengths), len(LABELS))
    order = sorted(range(len(features.lengths)), key=lambda i: int(features.lengths[i]))
    for start in range(0, len(order), batch):
        rows = order[start : start + batch]
        hidden, mask = features.padded(rows)
        out[rows] = model(hidden, mask)
    return out


@torch.inference_mode()
def _top_pooled(layers: nn.ModuleList, features: SplitFeatures, batch: int = 128) -> torch.Tensor:
    layers.eval()
    out = torch.zeros(len(features.lengths), features.states.shape[1])
    order = sorted(range(len(features.lengths)), key=lambda i: int(features.lengths[i]))
    for start in range(0, len(order), batch):
        rows = order[start : start + batch]
        hidden, mask = features.padded(rows)
        out[rows] = _pooled_from(layers, hidden, mask)
    return out


def train_group_heads(
    bundle: Path,
    finetuned_layers: list[int],
    train: tuple[SplitFeatures, torch.Tensor],
    dev: tuple[SplitFeatures, torch.Tensor],
    groupings: dict[str, dict[str, list[str]]],
    config: TrainConfig,
    progress: ProgressFactory = _quiet_progress,
    log: Log = print,
) -> dict[str, tuple[MLPHead, float]]:
    """Per grouping, a head for the groups themselves on the finished encoder's pooled
    vectors; returns each head with its dev macro-F1 (thresholds tuned).

    ``train``/``dev`` pair each split's cached features with its label targets. The
    encoder is the bundle's as served (fine-tuned layers read back from their fp16
    file), run on the cached lower-layer states; it stays frozen, so the label
    head's outputs do not change. Label probabilities combined by max or noisy-OR
    inherit the raters' disagreement between related labels (anger vs annoyance),
    which a head trained on the group targets does not. Each head early-stops on its
    own grouping.
    """
    if finetuned_layers:
        encoder = load_encoder()
        load_finetuned_layers(encoder, bundle, finetuned_layers)
        layers = nn.ModuleList(encoder.encoder.layer[finetuned_layers[0] :])
        train_x, dev_x = _top_pooled(layers, train[0]), _top_pooled(layers, dev[0])
    else:
        train_x, dev_x = train[0].pooled, dev[0].pooled
    return {
        kind: train_head(
            train_x,
            group_matrix(train[1], LABELS, groups),
            dev_x,
            group_matrix(dev[1], LABELS, groups),
            config,
            progress,
            log,
            name=f"{kind} group head",
        )
        for kind, groups in groupings.items()
    }


def finetune(
    model: TopModel,
    train: SplitFeatures,
    train_y: torch.Tensor,
    dev: SplitFeatures,
    dev_y: torch.Tensor,
    config: TrainConfig,
    progress: ProgressFactory = _quiet_progress,
    log: Log = print,
    signals: SignalTask | None = None,
) -> float:
    """Fine-tune ``model`` in place (best dev checkpoint kept); return its dev macro-F1
    (with ``signals``: the mean of the GoEmotions and contact-center dev macro-F1s)."""
    rng = random.Random(config.seed)
    # Built only when used: its initial weights draw from the global RNG, and the
    # GoEmotions-only recipe must stay what it was.
    signal_head = (
        MLPHead(hidden=config.head_hidden, out_dim=len(SIGNALS), dropout=config.head_dropout)
        if signals is not None
        else None
    )
    heads = [model.head] if signal_head is None else [model.head, signal_head]
    trained = [p for module in [model.layers, *heads] for p in module.parameters()]
    params = [
        {"params": list(model.layers.parameters()), "lr": config.finetune_lr},
        {"params": [p for h in heads for p in h.parameters()], "lr": config.finetune_head_lr},
    ]
    optimiser = torch.optim.AdamW(params, weight_decay=0.01)

    def epoch_batches() -> list[tuple[bool, list[int]]]:
        # (is_signal_batch, rows): both sources shuffled together, one batch per step.
        batches = [
            (False, rows)
            for rows in shuffled_bucket_batches(train.lengths.tolist(), config.finetune_batch, rng)
        ]
        if signals is not None:
            lengths = signals.train.lengths.tolist()
            batches += [
                (True, rows)
                for rows in shuffled_bucket_batches(lengths, config.finetune_batch, rng)
            ]
            rng.shuffle(batches)
        return batches

    steps_per_epoch = math.ceil(len(train.lengths) / config.finetune_batch)
    if signals is not None:
        steps_per_epoch += math.ceil(len(signals.train.lengths) / config.finetune_batch)
    total = steps_per_epoch * config.finetune_epochs
    warmup = max(1, int(0.06 * total))
    # Linear warm-up then linear decay, the usual schedule for BERT fine-tuning.
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimiser,
        lambda step: min((step + 1) / warmup, max(0.0, (total - step) / max(1, total - warmup))),
    )
    loss_fn = nn.BCEWithLogitsLoss()
    check_every = max(1, steps_per_epoch // config.finetune_checks_per_epoch)

    def dev_score() -> float:
        score = tuned_macro_f1(torch.sigmoid(_top_logits(model, dev)), dev_y)
        if signals is None or signal_head is None:
            return score
        signal_head.eval()
        with torch.inference_mode():
            probs = torch.sigmoid(signal_head(_top_pooled(model.layers, signals.dev)))
        contact_center = tuned_macro_f1(probs, signals.dev_y)
        log(f"finetune: GoEmotions {score:.4f}, contact-center signals {contact_center:.4f}")
        return (score + contact_center) / 2

    best = dev_score()
    log(f"finetune: start dev score {best:.4f}")
    best_state = copy.deepcopy(model.state_dict())
    advance = progress("fine-tune steps", total)
    step = 0
    for epoch in range(config.finetune_epochs):
        for is_signal, rows in epoch_batches():
            model.train()
            optimiser.zero_grad()
            if is_signal and signals is not None and signal_head is not None:
                signal_head.train()
                hidden, mask = signals.train.padded(rows)
                pooled = _pooled_from(model.layers, hidden, mask)
                loss = signals.weight * loss_fn(signal_head(pooled), signals.train_y[rows])
            else:
                hidden, mask = train.padded(rows)
                loss = loss_fn(model(hidden, mask), train_y[rows])
            loss.backward()
            nn.utils.clip_grad_norm_(trained, 1.0)
            optimiser.step()
            scheduler.step()
            step += 1
            advance(1)
            if step % check_every == 0 or step == total:
                score = dev_score()
                log(f"finetune: epoch {epoch + 1} step {step}/{total} dev score {score:.4f}")
                if score > best:
                    best, best_state = score, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    model.eval()
    return best


def _features(
    name: str, texts: list[str], config: TrainConfig, layer: int, progress: ProgressFactory
) -> SplitFeatures:
    tokenizer = load_tokenizer(encoder_dir(), config.max_length)
    ids = [list(e.ids) for e in tokenizer.encode_batch(texts)]
    key = cache_key(texts, config.max_length, layer)
    path = default_cache_dir() / f"{name}-L{layer}-{key}.safetensors"

    def compute() -> SplitFeatures:
        encoder = load_encoder()
        return compute_features(
            encoder, ids, layer, config.feature_batch, progress(f"encode {name}", len(ids))
        )

    return load_or_compute(path, compute)


def calibrate(
    logits: torch.Tensor, targets: torch.Tensor, per_label: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Temperatures fitted on ``logits``, then thresholds tuned on the calibrated probs."""
    temperatures = fit_temperature(logits, targets, per_label)
    thresholds = tune_thresholds(torch.sigmoid(logits / temperatures), targets)
    return temperatures, thresholds


def crossfit(
    logits: torch.Tensor,
    targets: torch.Tensor,
    per_label: bool,
    seed: int,
    groupings: dict[str, dict[str, list[str]]],
    head_probs: dict[str, torch.Tensor],
) -> dict[str, Any]:
    """2-fold estimate: calibrate on one half of dev, measure on the other, average.

    The headline dev numbers reuse dev for calibration and thresholds, so they are
    optimistic; this is a fairer preview of held-out performance. For every grouping
    it also measures each group rule (thresholds tuned on the fitting half; the
    ``"head"`` rule where ``head_probs`` has the grouping), which is how
    :func:`calibrate_bundle` picks the rule.
    """
    order = torch.randperm(len(targets), generator=torch.Generator().manual_seed(seed))
    halves = (order[: len(order) // 2], order[len(order) // 2 :])
    macro, ece = [], []
    group_f1: dict[str, dict[GroupRule, list[float]]] = {
        kind: {rule: [] for rule in GROUP_RULES if rule != "head" or kind in head_probs}
        for kind in groupings
    }
    for fit, held in (halves, halves[::-1]):
        temperatures, thresholds = calibrate(logits[fit], targets[fit], per_label)
        probs = torch.sigmoid(logits / temperatures)
        macro.append(float(f1_per_label(probs[held] >= thresholds, targets[held]).mean()))
        ece.append(reliability(probs[held], targets[held]).ece)
        for kind, groups in groupings.items():
            gold = group_matrix(targets, LABELS, groups)
            for rule in group_f1[kind]:
                if rule == "head":
                    scores = head_probs[kind]
                else:
                    scores = group_scores(probs, LABELS, groups, rule)
                limits = tune_thresholds(scores[fit], gold[fit])
                f1 = f1_per_label(scores[held] >= limits, gold[held]).mean()
                group_f1[kind][rule].append(float(f1))
    result: dict[str, Any] = {"macro_f1": sum(macro) / 2, "ece": sum(ece) / 2}
    for kind, by_rule in group_f1.items():
        result[f"{kind}_macro_f1_by_rule"] = {
            rule: round(sum(values) / 2, 4) for rule, values in by_rule.items()
        }
    return result


def calibrate_bundle(
    out_dir: Path,
    card: ModelCard,
    dev: Split,
    groupings: dict[str, dict[str, list[str]]],
    config: TrainConfig,
) -> None:
    """Calibrate the bundle in ``out_dir`` on dev and fill ``card`` (not saved here).

    The bundle is reloaded through :class:`~warmline.model.engine.EmotionEngine` with
    its default backend (on CPU, ONNX Runtime int8), so temperatures and thresholds
    fit exactly the scores the scoring service and ``warmline model eval`` produce,
    fp16-stored layers and int8 quantization included. Then: per-label temperatures
    and thresholds; for each grouping, the group rule with the best 2-fold cross-fit
    macro-F1 (label rules, and the group head where the bundle has one; ties: the
    earlier of :data:`~warmline.model.bundle.GROUP_RULES`) and group thresholds for
    it; the dev metrics and the cross-fit estimates.
    """
    engine = EmotionEngine(out_dir, threads=config.threads, verify_encoder=False)
    outputs = engine.outputs(dev.texts)
    dev_logits = outputs[:, :NUM_LABELS]
    head_probs = head_group_probabilities(outputs, card, groupings)
    per_label = config.per_label_temperature
    temperatures, thresholds = calibrate(dev_logits, dev.labels, per_label)
    probs = torch.sigmoid(dev_logits / temperatures)
    card.temperatures = [round(float(t), 6) for t in temperatures]
    card.thresholds = [round(float(t), 4) for t in thresholds]
    held_out = crossfit(dev_logits, dev.labels, per_label, config.seed, groupings, head_probs)
    for kind, groups in groupings.items():
        by_rule: dict[GroupRule, float] = held_out[f"{kind}_macro_f1_by_rule"]
        rule = max(by_rule, key=lambda name: by_rule[name])
        gold = group_matrix(dev.labels, LABELS, groups)
        scores = head_probs[kind] if rule == "head" else group_scores(probs, LABELS, groups, rule)
        limits = tune_thresholds(scores, gold)
        card.group_rules[kind] = rule
        card.group_thresholds[kind] = {
            name: round(float(t), 4) for name, t in zip(groups, limits, strict=True)
        }
        held_out[f"{kind}_macro_f1"] = by_rule[rule]
    dev_metrics = compute_metrics(probs, dev.labels, card, groupings, head_probs).metrics
    dev_metrics.pop("model_version", None)
    dev_metrics["ece_uncalibrated"] = reliability(torch.sigmoid(dev_logits), dev.labels).ece
    card.metrics = {
        "dev": dev_metrics,
        "dev_crossfit_2fold": held_out,
        "backend": engine.backend,
        "note": "dev is also the calibration/threshold split; see dev_crossfit_2fold",
    }


def _version(prefix: str, tensors: dict[str, torch.Tensor]) -> str:
    # safetensors serialisation is deterministic (sorted names), so equal weights
    # give equal versions; the date only orders versions for humans.
    digest = hashlib.sha256(save(tensors)).hexdigest()[:8]
    return f"{prefix}-{datetime.now(UTC):%Y%m%d}-{digest}"


def signal_task(
    train: Sequence[CCConversation],
    dev: Sequence[CCConversation],
    config: TrainConfig,
    layer: int,
    progress: ProgressFactory = _quiet_progress,
) -> SignalTask:
    """The contact-center customer turns of ``train`` and ``dev`` as a fine-tune task."""
    if any(c.split == "test" for c in [*train, *dev]):
        raise ValueError("the evaluation set's test part must never be fitted on")
    parts = []
    for name, conversations in (("contact-center-train", train), ("contact-center-dev", dev)):
        turns = [turn for _, _, turn in labelled_turns(conversations)]
        if not turns:
            raise ValueError(f"{name}: no labelled customer turn to fine-tune on")
        texts = [turn.text for turn in turns]
        targets = torch.tensor([[float(s in (t.signals or ())) for s in SIGNALS] for t in turns])
        parts.append((_features(name, texts, config, layer, progress), targets))
    (train_f, train_y), (dev_f, dev_y) = parts
    return SignalTask(train_f, train_y, dev_f, dev_y, config.contact_center_weight)


def train(
    data_dir: Path,
    out_dir: Path,
    config: TrainConfig | None = None,
    progress: ProgressFactory = _quiet_progress,
    log: Log = print,
    contact_center: tuple[Sequence[CCConversation], Sequence[CCConversation]] | None = None,
) -> ModelCard:
    """Train, calibrate and write a model bundle to ``out_dir``; return its card.

    ``contact_center`` is (training conversations, the evaluation set's dev part), used
    by the fine-tune when ``config.contact_center_weight`` > 0."""
    config = config or TrainConfig()
    started = time.monotonic()
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    check_labels(data_dir)
    train_split, dev_split = read_split(data_dir, "train"), read_split(data_dir, "dev")
    layer = 6 - config.finetune_layers
    train_f = _features(train_split.name, train_split.texts, config, layer, progress)
    dev_f = _features(dev_split.name, dev_split.texts, config, layer, progress)
    log(f"features ready ({time.monotonic() - started:.0f} s)")

    head, head_f1 = train_head(
        train_f.pooled, train_split.labels, dev_f.pooled, dev_split.labels, config, progress, log
    )
    top: dict[str, torch.Tensor] = {}
    finetune_f1 = None
    cc_counts: dict[str, int] = {}
    if config.finetune_layers > 0 and config.finetune_epochs > 0:
        encoder = load_encoder()
        layers = nn.ModuleList(copy.deepcopy(encoder.encoder.layer[layer:]))
        model = TopModel(layers, head)
        signals = None
        if contact_center is not None and config.contact_center_weight > 0:
            signals = signal_task(*contact_center, config, layer, progress)
            cc_counts = {"train_turns": len(signals.train_y), "dev_turns": len(signals.dev_y)}
        finetune_f1 = finetune(
            model,
            train_f,
            train_split.labels,
            dev_f,
            dev_split.labels,
            config,
            progress,
            log,
            signals,
        )
        head = model.head
        top = {
            f"encoder.layer.{layer + i}.{name}": value.detach().half().contiguous()
            for i, module in enumerate(model.layers)
            for name, value in module.state_dict().items()
        }

    out_dir.mkdir(parents=True, exist_ok=True)
    head_state = {k: v.detach().contiguous() for k, v in head.state_dict().items()}
    save_file(head_state, str(out_dir / HEAD_FILE))
    (out_dir / ENCODER_TOP_FILE).unlink(missing_ok=True)
    if top:
        save_file(top, str(out_dir / ENCODER_TOP_FILE))
    finetuned_layers = list(range(layer, 6)) if top else []
    groupings = {kind: read_grouping(data_dir, kind) for kind in GROUPINGS}
    group_state: dict[str, torch.Tensor] = {}
    group_f1: dict[str, float] = {}
    (out_dir / GROUP_HEAD_FILE).unlink(missing_ok=True)
    if config.group_head:
        group_heads = train_group_heads(
            out_dir,
            finetuned_layers,
            (train_f, train_split.labels),
            (dev_f, dev_split.labels),
            groupings,
            config,
            progress,
            log,
        )
        group_f1 = {kind: round(f1, 4) for kind, (_, f1) in group_heads.items()}
        heads = nn.ModuleDict({kind: head for kind, (head, _) in group_heads.items()})
        group_state = {k: v.detach().contiguous() for k, v in heads.state_dict().items()}
        save_file(group_state, str(out_dir / GROUP_HEAD_FILE))
    kind = (f"ft{config.finetune_layers}" + ("cc" if cc_counts else "")) if top else "mlp"
    versioned = {**head_state, **top, **{f"group_head.{k}": v for k, v in group_state.items()}}
    card = ModelCard(
        model_version=_version(f"minilm-l6-{kind}", versioned),
        encoder_sha256=ENCODER_SHA256,
        max_length=config.max_length,
        head_hidden=config.head_hidden,
        head_dropout=config.head_dropout,
        finetuned_layers=finetuned_layers,
        group_head=groupings if group_state else {},
        group_head_outputs=[  # the order of OutputHeads' outputs
            f"{kind}:{group}" for kind, groups in groupings.items() for group in groups
        ]
        if group_state
        else [],
    )
    card.save(out_dir)

    calibrate_bundle(out_dir, card, dev_split, groupings, config)
    card.training = {
        "config": asdict(config),
        "frozen_head_dev_macro_f1_tuned": round(head_f1, 4),
        "finetune_dev_macro_f1_tuned": None if finetune_f1 is None else round(finetune_f1, 4),
        "finetune_contact_center": cc_counts,
        "group_head_dev_macro_f1_tuned": group_f1,
        "train_examples": len(train_split),
        "dev_examples": len(dev_split),
        "wall_seconds": round(time.monotonic() - started),
        "torch": torch.__version__,
    }
    card.validate()
    card.save(out_dir)
    log(f"saved {card.model_version} to {out_dir}")
    return card


def summarize(card: ModelCard) -> dict[str, Any]:
    """Headline numbers of a trained card, for logs."""
    dev = card.metrics.get("dev", {})
    keys = ("macro_f1", "micro_f1", "ekman_macro_f1", "sentiment_macro_f1", "ece")
    return {"model_version": card.model_version, **{k: dev.get(k) for k in keys}}
