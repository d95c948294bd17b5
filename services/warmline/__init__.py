"""Warmline: empathy-aware, real-time escalation for contact centers."""

import os

# numpy's OpenBLAS starts a thread per core for the model heads' small matrix
# products and leaves them spinning afterwards, taking the cores from ONNX Runtime's
# workers: on 2 cores the scoring engine ran 890 messages/s with them and 1,480/s
# with one BLAS thread (2026-12-05). Set before numpy loads; a value the
# environment already gives wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
