# syntax=docker/dockerfile:1
# Production image of the grants service. See docs/operations.md.
#
#   docker build -t grants .
#   docker run --rm --env-file prod.env grants grants migrate     # one-shot, before serving
#   docker run -d -p 8000:8000 --env-file prod.env grants          # grants serve, 4 workers
#
# The serve command is configurable through WEB_CONCURRENCY (workers, default 4) and
# FORWARDED_ALLOW_IPS (proxies trusted for X-Forwarded-*, default "*").

ARG PYTHON_IMAGE=python:3.12-slim-bookworm

# --- requirements: the dependency list alone, so that editing other parts of pyproject.toml
# (tool settings, version) does not invalidate the dependency layer below.
FROM ${PYTHON_IMAGE} AS requirements
WORKDIR /src
COPY pyproject.toml ./
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
        > requirements.txt

# --- build: a virtual environment with the dependencies, then the project itself.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
COPY --from=requirements /src/requirements.txt /tmp/requirements.txt
RUN pip install --requirement /tmp/requirements.txt
WORKDIR /app
# README.m[d]: copied when present (pyproject.toml names it), without failing when absent.
COPY pyproject.toml alembic.ini README.m[d] ./
COPY migrations ./migrations
COPY app ./app
# Editable on purpose: `grants migrate` finds the migrations next to the app package
# (app/cli.py: Path(__file__).parent.parent / "migrations"); a regular install would put the
# package in site-packages, away from migrations/. The runtime stage keeps /app at the same path.
RUN pip install --no-deps --editable . \
    && rm -rf build grants.egg-info \
    && python -m compileall -q --invalidation-mode checked-hash app migrations \
    && grants --help > /dev/null

# --- runtime: the venv and the sources only; no compilers, no pip caches, no build backend.
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 grants \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin grants
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    GRANTS_ENV=production \
    WEB_CONCURRENCY=4 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/grants-metrics \
    FORWARDED_ALLOW_IPS=*
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app
# The defaults (SQLite in ./var, documents in ./var/documents) need a writable folder; in
# production DATABASE_URL and STORAGE_URL point to PostgreSQL and S3 and this stays empty.
RUN install -d -o grants -g grants -m 0750 /app/var
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
# exec: the server replaces the shell and receives SIGTERM directly (graceful shutdown).
CMD ["/bin/sh", "-c", "exec grants serve --host 0.0.0.0 --port 8000 --workers \"$WEB_CONCURRENCY\" --forwarded-allow-ips \"$FORWARDED_ALLOW_IPS\""]
