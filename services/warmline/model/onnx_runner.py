"""Running the exported encoder graph with ONNX Runtime on CPU (numpy, no torch).

Token ids in; per text, the heads' logits and the pooled sentence vector out. A
call's texts are cut into batches of near-equal length within a padded-token
budget, longest first, and run concurrently on single-threaded sessions, one per
worker thread. Both the torch engine's ONNX backends and the torch-free serving
engine run their graphs here.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from warmline.model.batching import token_budget_batches
from warmline.model.turn_features import Array

#: Padded tokens (texts x longest length) per model batch. A call's texts are cut
#: into batches within this budget, longest first (see
#: :func:`~warmline.model.batching.token_budget_batches`), run concurrently on
#: ``workers`` single-threaded ONNX Runtime sessions. Batches of equal cost keep the
#: workers equally busy to the end of a call; on 2 AVX2 cores, small single-threaded
#: batches beat one 2-thread session on batches of 64 (small int8 GEMMs scale poorly
#: across threads).
ONNX_BATCH_TOKENS = 320


def usable_cpus() -> int:
    """CPUs this process may run on (the affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class OnnxModel:
    """An ONNX Runtime CPU session over the exported encoder + heads."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.inter_op_num_threads = 1
        if threads is not None:
            options.intra_op_num_threads = threads
        self.path = path
        self.session: Any = ort.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )

    def score_ids(self, sequences: Sequence[Sequence[int]]) -> Array:
        """Head logits and pooled vectors for unpadded token id lists: right-padded with 0 ([PAD])."""
        longest = max((len(seq) for seq in sequences), default=0)
        ids = np.zeros((len(sequences), longest), dtype=np.int64)
        mask = np.zeros((len(sequences), longest), dtype=np.int64)
        for row, seq in enumerate(sequences):
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        (logits,) = self.session.run(["logits"], {"input_ids": ids, "attention_mask": mask})
        out: Array = logits
        return out


class OnnxRunner:
    """``workers`` sessions of one graph and the threads that run them."""

    def __init__(self, path: Path, workers: int | None = None, max_batch: int = 64) -> None:
        self.path = path
        self.max_batch = max_batch
        self.session = OnnxModel(path, threads=1)
        count = workers or usable_cpus()
        # One session per worker: concurrent runs of one session contend on its
        # allocator (measured ~3% slower on 2 cores than a session each).
        spare: queue.SimpleQueue[OnnxModel] = queue.SimpleQueue()
        for _ in range(count):
            spare.put(OnnxModel(path, threads=1))
        self._worker = threading.local()

        def claim_session() -> None:
            self._worker.session = spare.get_nowait()

        self._pool = ThreadPoolExecutor(
            count, thread_name_prefix="warmline-onnx", initializer=claim_session
        )

    def run(
        self,
        token_ids: Sequence[Sequence[int]],
        on_batch: Callable[[int, float], None] | None = None,
    ) -> Iterator[tuple[list[int], Array]]:
        """(row indices into ``token_ids``, their outputs) per model batch.

        Every batch is submitted at once, and batches are yielded in submission
        order as they finish, so callers can use one batch's results while later
        ones still run. ``on_batch`` gets (batch size, seconds) after each.
        """
        lengths = [len(ids) for ids in token_ids]
        batches = token_budget_batches(lengths, ONNX_BATCH_TOKENS, self.max_batch)

        def run(rows: list[int]) -> tuple[list[int], Array, float]:
            started = time.perf_counter()
            # A pool worker's own session; the calling thread's is self.session.
            session: OnnxModel = getattr(self._worker, "session", self.session)
            logits = session.score_ids([token_ids[r] for r in rows])
            return rows, logits, time.perf_counter() - started

        done: Iterable[tuple[list[int], Array, float]]
        done = self._pool.map(run, batches) if len(batches) > 1 else map(run, batches)
        for rows, logits, seconds in done:
            if on_batch is not None:
                on_batch(len(rows), seconds)
            yield rows, logits
