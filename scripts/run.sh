#!/usr/bin/env bash
# Installs and runs the portal on this machine: venv, requirements, .env with a fresh SECRET_KEY,
# Redis (installed from Debian's packages and started when missing), migrations, static files, a
# first admin, then web, worker and beat under supervisord (deploy/supervisord.conf): each
# restarted when it dies, each logging to its own file in DATA_DIR/logs/.
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
# Absolute: supervisord's configuration reads it.
DATA_DIR=$(realpath -m "${DATA_DIR:-data}")
export DATA_DIR WEB_HOST=${WEB_HOST:-127.0.0.1} WEB_PORT=${WEB_PORT:-8000} WORKER_SLOTS=${WORKER_SLOTS:-4}
mkdir -p "$DATA_DIR/logs" data

# The catalogs' .mo files are committed; with GNU gettext at hand they are rebuilt from the .po.
have msgfmt || install_packages gettext || true
have msgfmt && .venv/bin/python manage.py compilemessages --ignore .venv -v0
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py collectstatic --noinput -v0
.venv/bin/python manage.py ensure_admin

echo "Voxa on http://$WEB_HOST:$WEB_PORT/ (Ctrl-C stops web, worker and beat)"
echo "Logs: $DATA_DIR/logs/web.log, worker.log, beat.log (supervisord's own: supervisord.log)"
exec .venv/bin/supervisord -c deploy/supervisord.conf
