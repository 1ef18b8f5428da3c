#!/usr/bin/env bash
# Sourced by run.sh and test.sh: makes sure Redis answers at REDIS_URL, starting a local one if it
# can, and otherwise says what is missing.
redis_answers() {
    .venv/bin/python -c "import redis, sys; redis.Redis.from_url(sys.argv[1], socket_timeout=2).ping()" "$REDIS_URL" 2>/dev/null
}

ensure_redis() {
    redis_answers && return 0
    case "$REDIS_URL" in
        redis://127.0.0.1:6379*|redis://localhost:6379*)
            if command -v redis-server >/dev/null; then
                echo "Redis is not running; starting a local one on 127.0.0.1:6379."
                redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
                    --maxmemory-policy noeviction >/dev/null
                sleep 1
                redis_answers && return 0
            fi ;;
    esac
    echo "Redis does not answer at $REDIS_URL." >&2
    echo "Install and start it (apt-get install redis-server) or point REDIS_URL at one." >&2
    exit 1
}
