# One image for every Warmline service: `warmline serve <name>`.
FROM python:3.11-slim AS build

# CPU-only torch wheels: the services run on CPU nodes, and the CUDA wheels the
# lock lists (nvidia-*, triton) would add gigabytes. Empty: take torch from PyPI.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/warmline
ENV PATH=/opt/warmline/bin:$PATH
WORKDIR /src

# Dependencies first, pinned by the lock: this layer is reused until the lock or
# pyproject changes. The lock is a constraints file so that only the runtime
# dependencies (not its dev tools) are installed, each at its locked version.
COPY requirements.lock pyproject.toml ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" > runtime.txt \
 && pip install ${TORCH_INDEX_URL:+--extra-index-url "$TORCH_INDEX_URL"} -c requirements.lock -r runtime.txt

# README.md*: pyproject names a readme; the glob keeps the build working without one.
COPY pyproject.toml README.md* ./
COPY services ./services
RUN pip install --no-deps . && pip check


FROM python:3.11-slim

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

COPY --from=build /opt/warmline /opt/warmline

USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["warmline"]
CMD ["--help"]
