#!/usr/bin/env bash
# Installs and runs the portal on this machine: venv, requirements, .env with a fresh SECRET_KEY,
# migrations, static files, a first admin, then a Celery worker and the web server (uvicorn).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install.sh
if [ ! -f .env ]; then
    key=$(.venv/bin/python -c "import secrets; print(secrets.token_urlsafe(50))")
    sed "s|^SECRET_KEY=.*|SECRET_KEY=$key|" .env.example >.env
    echo "Wrote .env (edit it to change settings)."
fi
# Variables already in the environment win over .env (Django reads .env the same way).
while IFS='=' read -r key value; do
    if [[ $key =~ ^[A-Z_][A-Z0-9_]*$ && -z ${!key+set} ]]; then export "$key=$value"; fi
done <.env
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
source scripts/services.sh
ensure_redis
mkdir -p "${DATA_DIR:-data}"

.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py collectstatic --noinput -v0
.venv/bin/python manage.py ensure_admin

# One process, one model: WORKER_SLOTS jobs run at once in threads, their clips batched together.
# It consumes the job queue and the upkeep queue (settings name both).
.venv/bin/celery -A portal worker --pool=threads --concurrency="${WORKER_SLOTS:-4}" --loglevel=INFO &
worker=$!
# Beat sends the janitor that requeues the jobs of a worker that died for good; one per deployment.
.venv/bin/celery -A portal beat --loglevel=INFO &
beat=$!
trap 'kill $worker $beat 2>/dev/null; wait $worker $beat 2>/dev/null' EXIT INT TERM
echo "Voxa on http://${WEB_HOST:-127.0.0.1}:${WEB_PORT:-8000}/ (Ctrl-C stops web, worker and beat)"
PYTHON=.venv/bin/python scripts/web.sh
