#!/usr/bin/env bash
# Installs everything the tests need (venv, requirements, Debian chromium and nginx) and runs them all
# against the machine's PostgreSQL and Redis. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install.sh dev
# Debian's nginx: tests/test_nginx.py runs it with the deployment's configuration.
if ! command -v chromium >/dev/null || [ ! -x /usr/sbin/nginx ]; then
    as_root=""; [ "$(id -u)" = 0 ] || as_root="sudo"
    $as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq chromium nginx >/dev/null
fi

# The settings refuse a key under 50 characters.
export SECRET_KEY=${SECRET_KEY:-$(.venv/bin/python -c "import secrets; print(secrets.token_urlsafe(50))")}
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/voxa}
# A Redis database and queue of their own, so a portal running beside the tests is untouched.
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/15}
export CELERY_QUEUE=voxa-tests CHANNELS_PREFIX=voxa-tests
export DATA_DIR
DATA_DIR=$(mktemp -d -t voxa-tests-XXXXXX)
trap 'rm -rf "$DATA_DIR"' EXIT
# Joined and verified model files are kept between runs.
export MODEL_CACHE_DIR=${MODEL_CACHE_DIR:-$PWD/data/models}

source scripts/services.sh
ensure_redis

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python manage.py makemigrations --check --dry-run >/dev/null
.venv/bin/python manage.py collectstatic --noinput -v0
.venv/bin/pytest "$@"
