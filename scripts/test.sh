#!/usr/bin/env bash
# Installs everything the tests need (venv, requirements; Debian's chromium and nginx, and
# PostgreSQL and Redis when missing), starts PostgreSQL and Redis when down, and runs all the tests
# against them. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install.sh dev
source scripts/services.sh
have chromium || install_packages chromium
# Debian's nginx: tests/test_nginx.py runs it with the deployment's configuration.
[ -x /usr/sbin/nginx ] || install_packages nginx
# GNU gettext: tests/test_i18n.py runs makemessages to find strings left untranslated.
have msgfmt || install_packages gettext

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

ensure_postgres
ensure_redis

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python manage.py makemigrations --check --dry-run >/dev/null
.venv/bin/python manage.py collectstatic --noinput -v0
.venv/bin/pytest "$@"
