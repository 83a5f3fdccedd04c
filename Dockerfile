# syntax=docker/dockerfile:1
# Build stage: compile wheels with the build tools, which never reach the final image.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY worker ./worker
COPY producers ./producers
RUN python -m pip wheel --wheel-dir /wheels .

# Runtime stage: the package and its dependencies only, as a non-root user.
FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN useradd --create-home --uid 10001 rtq
COPY --from=build /wheels /wheels
RUN python -m pip install --no-index --find-links=/wheels retweet-queue && rm -rf /wheels
USER rtq
WORKDIR /home/rtq
ENTRYPOINT ["rtq"]
CMD ["worker"]
