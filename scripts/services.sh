#!/usr/bin/env bash
# Sourced by run.sh and test.sh (after install.sh: the checks use .venv's Python): makes sure the
# services the portal needs answer. A service whose URL names this machine is installed from
# Debian's packages when missing (as root, or through sudo) and started when down; otherwise the
# script says what is missing. Logs of what it starts: data/logs/ (Redis), /var/log/postgresql/.

have() { command -v "$1" >/dev/null; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

as_postgres() {
    # From /: the postgres user may not be allowed into the checkout.
    if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else (cd / && sudo -u postgres "$@"); fi
}

install_packages() {
    if [ -z "${apt_updated:-}" ]; then
        as_root apt-get update -qq
        apt_updated=1
    fi
    echo "Installing $* from Debian's packages."
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

is_local() {
    case "$1" in 127.0.0.1 | localhost | ::1 | "") return 0 ;; *) return 1 ;; esac
}

# Waits up to 10 s for a check to pass.
wait_for() {
    for _ in $(seq 20); do
        "$@" && return 0
        sleep 0.5
    done
    return 1
}

redis_answers() {
    .venv/bin/python -c "import redis, sys; redis.Redis.from_url(sys.argv[1], socket_timeout=2).ping()" "$REDIS_URL" 2>/dev/null
}

ensure_redis() {
    redis_answers && return 0
    local host port
    IFS='|' read -r host port < <(.venv/bin/python -c \
        "import sys, urllib.parse as u; r = u.urlsplit(sys.argv[1]); print(f'{r.hostname or \"\"}|{r.port or 6379}')" \
        "$REDIS_URL")
    if is_local "$host"; then
        have redis-server || install_packages redis-server
        # Where a service manager runs, Debian's package has started a server on 6379; not in a
        # container, nor on another port.
        if ! redis_answers; then
            mkdir -p data/logs
            echo "Starting Redis on 127.0.0.1:$port (log: data/logs/redis-$port.log)."
            redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
                --maxmemory-policy noeviction --logfile "$PWD/data/logs/redis-$port.log" >/dev/null
        fi
        wait_for redis_answers && return 0
    fi
    echo "Redis does not answer at $REDIS_URL." >&2
    echo "Install and start it (apt-get install redis-server) or point REDIS_URL at one." >&2
    exit 1
}

# host|port|user|password of DATABASE_URL, read as Django reads it.
postgres_parts() {
    .venv/bin/python -c "
import sys, environ
db = environ.Env.db_url_config(sys.argv[1])
print('|'.join(str(db.get(k) or '') for k in ('HOST', 'PORT', 'USER', 'PASSWORD')))" "$DATABASE_URL"
}

# Connects to the maintenance database: the tests create their own database beside it.
postgres_answers() {
    .venv/bin/python -c "
import sys, environ, psycopg2
db = environ.Env.db_url_config(sys.argv[1])
try:
    psycopg2.connect(dbname='postgres', user=db['USER'], password=db['PASSWORD'] or None,
                     host=db['HOST'] or None, port=db['PORT'] or None, connect_timeout=3).close()
except psycopg2.OperationalError as error:
    sys.exit(str(error).strip())" \
        "$DATABASE_URL" 2>"${1:-/dev/null}"
}

# Starts the Debian cluster that listens on this port when it is down (Debian's package starts its
# cluster only where a service manager runs).
start_cluster() {
    local version name port status
    while read -r version name port status _; do
        if [ "$port" = "$1" ] && [[ $status != online* ]]; then
            echo "Starting PostgreSQL $version/$name on port $port" \
                "(log: /var/log/postgresql/postgresql-$version-$name.log)."
            as_root pg_ctlcluster "$version" "$name" start
        fi
    done < <(pg_lsclusters --no-header)
}

# Debian's PostgreSQL asks for a password over TCP (scram-sha-256) and its roles have none: the
# URL's role gets one, once, kept in the pgpass file where libpq (so Django and psql) finds it. A
# role that already has a password is left alone.
give_role_a_password() {
    local host=$1 port=$2 role=$3 has_password password
    # No local cluster on that port: nothing to do here.
    has_password=$(as_postgres psql -p "$port" -d postgres -qAtX 2>/dev/null \
        -c "SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = '$role'") || return 0
    [ "$has_password" = t ] && return 0
    password=$(.venv/bin/python -c "import secrets; print(secrets.token_hex(24))")
    # On standard input, not the command line, where any user could read it.
    if [ "$has_password" = f ]; then
        as_postgres psql -p "$port" -d postgres -qX <<<"ALTER ROLE \"$role\" PASSWORD '$password';"
    else
        as_postgres psql -p "$port" -d postgres -qX \
            <<<"CREATE ROLE \"$role\" LOGIN CREATEDB PASSWORD '$password';"
    fi
    local pgpass=${PGPASSFILE:-$HOME/.pgpass}
    (umask 077 && echo "${host:-localhost}:$port:*:$role:$password" >>"$pgpass")
    echo "Gave the PostgreSQL role $role a password, kept in $pgpass."
}

ensure_postgres() {
    case "$DATABASE_URL" in postgres* | pgsql* | psql*) ;; *) return 0 ;; esac
    postgres_answers && return 0
    local host port user password
    IFS='|' read -r host port user password < <(postgres_parts)
    port=${port:-5432}
    if is_local "$host"; then
        have pg_ctlcluster || install_packages postgresql
        start_cluster "$port"
        postgres_answers && return 0
        [ -n "$password" ] || give_role_a_password "$host" "$port" "${user:-postgres}"
        postgres_answers && return 0
    fi
    echo "PostgreSQL does not answer at $DATABASE_URL:" >&2
    postgres_answers /dev/stderr
    echo "Install and start it (apt-get install postgresql) or point DATABASE_URL at one." >&2
    exit 1
}
