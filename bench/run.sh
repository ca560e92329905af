#!/usr/bin/env bash
# Benchmark on PostgreSQL with state-sized demo data (called by `make bench`).
#
#   bench/run.sh [--reseed] [--requests 50] [--only Suche] [--skip-import] [--strict]
#
# The database is BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/crm_bench),
# never the DATABASE_URL of your shell or .env: seeding adds 300,000 organisations,
# 600,000 people, 1,000,000 visits and 300,000 follow-ups (about 5 minutes, 5.6 GB).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3

export DATABASE_URL="${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/crm_bench}"
# Production-like request handling: DEBUG off (no SQL logging), the real password hasher,
# static files without the manifest (no collectstatic needed), HTTPS redirect off because
# the test client talks plain WSGI.
export DEBUG=false
export SECRET_KEY="${BENCH_SECRET_KEY:-$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(50))')}"
export ALLOWED_HOSTS=testserver,localhost
export SECURE_SSL_REDIRECT=false
export PLAIN_STATIC_STORAGE=1
export CELERY_BROKER_URL=
export LOG_LEVEL=WARNING

# The project's bytecode, as after deploying (README): with PYTHONDONTWRITEBYTECODE set
# each report started from the shell would compile the modules again.
"$PYTHON" -m compileall -q crm scouting pipeline reporting >/dev/null

exec "$PYTHON" bench/bench.py "$@"
