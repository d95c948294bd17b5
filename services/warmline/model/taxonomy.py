"""GoEmotions labels and the one mapping from them to contact-center signals.

The 28 labels are embedded here (in the order of the dataset's ``labels.txt``, where
line *i* is label id *i*) so the scoring service needs no data directory.

Signals
-------
Each signal is a probability-like score in [0, 1] built from a group of labels:

========== ==============================================================
signal     member labels
========== ==============================================================
frustration annoyance, anger, disapproval, disappointment
anger      anger
confusion  confusion
distress   sadness, grief, fear, nervousness, remorse
gratitude  gratitude, relief, joy, approval
negativity the GoEmotions paper's negative group: anger, annoyance,
           disappointment, disapproval, disgust, embarrassment, fear,
           grief, nervousness, remorse, sadness
neutral    neutral
========== ==============================================================

Members are combined with **max**, not noisy-OR. The labels of a group are strongly
correlated (a text that reads as anger usually also reads as annoyance), while
noisy-OR treats them as independent causes and so inflates the group score: three
members at 0.4 give 0.78 under noisy-OR although no single emotion is likely. With
max, a group is exactly as likely as its clearest member, a calibrated label
probability stays calibrated when it dominates its group, and adding a weakly
related label to a group can never raise the score by itself. The cost is that max
ignores corroborating evidence from several mid-level members; the decisioning
service owns the thresholds and can compensate there.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Bump when the label list or the signal mapping changes; recorded in model.json
#: and in every scoring result so downstream consumers can tell versions apart.
TAXONOMY_VERSION = "goemotions-28.signals-v1"
#: Same labels and signal names, but the signals come from the contact-center signal
#: head (:mod:`warmline.model.signal_head`), which reads the turn with its context
#: and was trained on contact-center data: bundles with that head report this.
SIGNAL_HEAD_TAXONOMY_VERSION = "goemotions-28.signals-v2"

#: GoEmotions label names; index i is label id i (order of ``labels.txt``).
LABELS: tuple[str, ...] = (
    "admiration",
    "amusement",
    "anger",
    "annoyance",
    "approval",
    "caring",
    "confusion",
    "curiosity",
    "desire",
    "disappointment",
    "disapproval",
    "disgust",
    "embarrassment",
    "excitement",
    "fear",
    "gratitude",
    "grief",
    "joy",
    "love",
    "nervousness",
    "optimism",
    "pride",
    "realization",
    "relief",
    "remorse",
    "sadness",
    "surprise",
    "neutral",
)

NUM_LABELS = len(LABELS)

#: The paper's negative sentiment group (Demszky et al. 2020, GoEmotions).
NEGATIVE_GROUP: tuple[str, ...] = (
    "anger",
    "annoyance",
    "disappointment",
    "disapproval",
    "disgust",
    "embarrassment",
    "fear",
    "grief",
    "nervousness",
    "remorse",
    "sadness",
)

#: Contact-center signal -> the GoEmotions labels it is made of.
SIGNAL_GROUPS: Mapping[str, tuple[str, ...]] = {
    "frustration": ("annoyance", "anger", "disapproval", "disappointment"),
    "anger": ("anger",),
    "confusion": ("confusion",),
    "distress": ("sadness", "grief", "fear", "nervousness", "remorse"),
    "gratitude": ("gratitude", "relief", "joy", "approval"),
    "negativity": NEGATIVE_GROUP,
    "neutral": ("neutral",),
}

SIGNALS: tuple[str, ...] = tuple(SIGNAL_GROUPS)

#: Situations a supervisor wants a person for, read from the turn's meaning by the
#: situation head (:mod:`warmline.model.signal_head`): a sensitive situation (fraud or
#: an unauthorised payment, bereavement, a health emergency, safety), a vulnerable
#: customer, a threat to leave, a complaint to a regulator or ombudsman. Keyword
#: rules in decisioning stay the precise first pass; these catch the rest.
SITUATIONS: tuple[str, ...] = ("sensitive", "vulnerability", "churn_threat", "regulator_complaint")


def _clamp(value: float) -> float:
    # Guards against inputs slightly outside [0, 1] (float noise, uncalibrated callers).
    return min(1.0, max(0.0, value))


def signals(probs: Mapping[str, float]) -> dict[str, float]:
    """Map per-label probabilities to contact-center signals in [0, 1].

    Each signal is the maximum probability over its member labels (see the module
    docstring for why max rather than noisy-OR). Labels missing from ``probs`` count
    as 0; unknown keys are ignored.
    """
    return {
        name: max(_clamp(float(probs.get(label, 0.0))) for label in members)
        for name, members in SIGNAL_GROUPS.items()
    }
