# One image for every geohazard process; docker-compose.yml picks the subcommand
# (migrate, serve, ingest, engine, ...).

# --- build: install the project and its dependencies into a virtualenv --------------------------
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
COPY . .
# Every dependency (asyncpg, psycopg[binary], numpy, ...) ships manylinux wheels for CPython 3.11,
# so no compiler is needed. The SQL migrations are package data and are installed with it.
RUN pip install .

# --- runtime: the virtualenv only, run as an unprivileged user ------------------------------------
FROM python:3.11-slim

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

# The service's user, and the directory of patrol photos (a named volume mounted there starts with its owner).
RUN groupadd --system --gid 10001 geohazard \
    && useradd --system --uid 10001 --gid geohazard --create-home --home-dir /home/geohazard \
       --shell /usr/sbin/nologin geohazard \
    && mkdir -p /var/lib/geohazard/patrol-photos && chown -R 10001:10001 /var/lib/geohazard

COPY --from=build /opt/venv /opt/venv

USER 10001:10001
WORKDIR /home/geohazard

# `geohazard serve` (GEOHAZARD_API_PORT, default 8000).
EXPOSE 8000

CMD ["geohazard", "--help"]
