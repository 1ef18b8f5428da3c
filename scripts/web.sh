#!/usr/bin/env bash
# The web process, as every deployment runs it: uvicorn serving portal.asgi (pages, API and
# websockets). uvicorn hands a request body to the application as it asks for it and stops
# reading the socket meanwhile, so a large body is never queued in memory; portal.body_limit caps
# every body at REQUEST_MAX_BODY_MB (README, "Uploads"). X-Forwarded-For and -Proto are trusted
# only from FORWARDED_ALLOW_IPS, the proxy in front.
set -euo pipefail
cd "$(dirname "$0")/.."
# A process runs Python on one core at a time (the GIL): more processes use more cores
# (bench/portal_load.py: 50 users on 2 cores, API p50 362 -> 211 ms from one process to two).
# Default: one per core, up to 4.
cores=$(nproc)
workers=${WEB_WORKERS:-$((cores < 4 ? cores : 4))}
exec "${PYTHON:-python}" -m uvicorn portal.asgi:application \
    --host "${WEB_HOST:-127.0.0.1}" --port "${WEB_PORT:-8000}" \
    --proxy-headers --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-127.0.0.1}" \
    --lifespan off --no-server-header \
    --limit-concurrency 500 --timeout-keep-alive 5 --timeout-graceful-shutdown 10 --ws-max-size 65536 --workers "$workers"
