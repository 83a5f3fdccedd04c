# syntax=docker/dockerfile:1
# One image for every role: `rtq worker` (the default), `celery -A worker flower` and
# `rtq fake-x`. Build: docker build -t retweet-queue .   Pin the base by digest for
# reproducible builds: FROM python:3.11-slim@sha256:<digest> in both stages.
ARG PYTHON_IMAGE=python:3.11-slim

# Build stage: install rtq and its dependencies into a virtualenv. Every dependency ships
# wheels for this platform; if one ever needs compiling, its tools go here, never below.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/rtq
WORKDIR /src
COPY pyproject.toml README.md ./
COPY worker ./worker
COPY producers ./producers
RUN /opt/rtq/bin/pip install . \
    && /opt/rtq/bin/pip uninstall --yes pip setuptools

# Runtime stage: the virtualenv alone (no sources, wheels, pip or caches), as a non-root user.
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="retweet-queue" \
      org.opencontainers.image.description="rtq: Celery workers on Redis that retweet and undo retweets on X for many accounts" \
      org.opencontainers.image.licenses="MIT"
ENV PATH=/opt/rtq/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# A fixed numeric uid, so Kubernetes can check runAsNonRoot without a passwd lookup.
RUN useradd --system --uid 10001 --user-group --home-dir /home/rtq --create-home rtq
COPY --from=build /opt/rtq /opt/rtq
USER 10001:10001
WORKDIR /home/rtq
# No HEALTHCHECK here: the right check depends on the role (a Celery ping for workers, HTTP for
# Flower and the emulator), so docker-compose.yml and the Kubernetes manifests define each one.
# Warm shutdown on SIGTERM (Celery's default): running jobs finish; give it 40 s before SIGKILL.
STOPSIGNAL SIGTERM
ENTRYPOINT ["rtq"]
CMD ["worker"]
