"""The numpy reading of the encoder's outputs against the torch heads it was trained as."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from warmline.model.bundle import SIGNAL_HEAD_FILE, SITUATION_HEAD_FILE, ModelCard
from warmline.model.paths import DEFAULT_MODEL_DIR
from warmline.model.readout import DenseHead, Readout, gelu, score_in_batches, sigmoid
from warmline.model.signal_head import SignalHead
from warmline.model.taxonomy import SITUATIONS
from warmline.model.turn_features import FEATURES


def test_gelu_matches_torchs_exact_gelu() -> None:
    x = np.linspace(-8, 8, 4001, dtype=np.float32)
    exact = torch.nn.functional.gelu(torch.from_numpy(x)).numpy()
    # erf's approximation errs by at most 1.5e-7, scaled by x/2 in GELU.
    assert np.abs(gelu(x) - exact).max() < 2e-6


def test_the_bundles_heads_read_with_numpy_as_with_torch() -> None:
    card = ModelCard.load(DEFAULT_MODEL_DIR)
    rows = np.random.default_rng(7).normal(size=(32, FEATURES)).astype(np.float32)
    for name, head in (
        (SIGNAL_HEAD_FILE, SignalHead(card.signal_head_hidden)),
        (SITUATION_HEAD_FILE, SignalHead(card.situation_head_hidden, outputs=len(SITUATIONS))),
    ):
        path = DEFAULT_MODEL_DIR / name
        head.load_state_dict(load_file(str(path)))
        with torch.inference_mode():
            expected = head.eval()(torch.from_numpy(rows)).numpy()
        assert np.abs(DenseHead(path)(rows) - expected).max() < 1e-4


def test_sigmoid_saturates_without_overflow_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = sigmoid(np.array([-1e4, -90.0, 0.0, 90.0, 1e4], dtype=np.float32))
    assert out.dtype == np.float32
    assert out[0] < 1e-30 and out[2] == 0.5 and out[-1] == 1.0


def test_results_come_back_in_input_order_however_the_batches_finish() -> None:
    # Model batches of 5 texts, finishing in an order of their own: the readout
    # reads them in groups and must still give each text its own result.
    readout = Readout(DEFAULT_MODEL_DIR)
    texts = [f"My parcel {n} is late again, this is the {n}th time I ask" for n in range(150)]
    rng = np.random.default_rng(3)
    outputs = rng.normal(size=(len(texts), readout.width)).astype(np.float32)

    def batches(todo: Sequence[str]) -> Iterator[tuple[list[int], np.ndarray]]:
        order = rng.permutation(len(todo)).tolist()
        for start in range(0, len(order), 5):
            rows = order[start : start + 5]
            yield rows, outputs[[texts.index(todo[r]) for r in rows]]

    scored = score_in_batches(readout, batches, texts)
    alone = [readout.results(outputs[[n]], None, [text])[0] for n, text in enumerate(texts)]
    assert len(scored) == len(texts)
    for got, expected in zip(scored, alone, strict=True):
        assert got.labels == expected.labels
        assert got.signals == pytest.approx(expected.signals, abs=1e-5)
