#!/usr/bin/env bash
# scripts/stack.sh start|stop DIR — the local stand-in for AWS and the database.
#   start: make sure MariaDB answers on 127.0.0.1:3306 (start the local server if nothing
#          listens), start a moto server (SQS + Secrets Manager) on a free loopback port, and
#          write DIR/env with the endpoints for tests and the demo to source.
#   stop:  stop what start started (never the MariaDB it found running).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cmd=${1:?usage: stack.sh start|stop DIR}
dir=${2:?usage: stack.sh start|stop DIR}
mkdir -p "$dir"

venv_python() {
  if [ -n "${IRIS_PYTHON:-}" ] && [ -x "$IRIS_PYTHON" ]; then echo "$IRIS_PYTHON"; return; fi
  local py
  py="$(iris_venv_dir)/bin/python"
  [ -x "$py" ] || die "no test venv: run scripts/setup.sh first"
  echo "$py"
}

start_mariadb() {
  port_open 3306 && return 0
  log "starting MariaDB"
  command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || die "MariaDB is not installed (scripts/setup.sh installs it)"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  if [ ! -d /var/lib/mysql/mysql ]; then
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
  fi
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
  echo started >"$dir/mariadb.started"
  for _ in $(seq 1 60); do port_open 3306 && break; sleep 0.5; done
  port_open 3306 || die "MariaDB did not come up on 127.0.0.1:3306"
  # A fresh Debian install authenticates root by unix socket; the tests use TCP with no password.
  mariadb -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket; FLUSH PRIVILEGES;" 2>/dev/null || true
}

start_moto() {
  local py port
  py=$(venv_python)
  port=$(free_port)
  "$py" "$(dirname "${BASH_SOURCE[0]}")/../tests/support/moto_server.py" -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 &
  echo $! >"$dir/moto.pid"
  for _ in $(seq 1 100); do port_open "$port" && break; sleep 0.2; done
  port_open "$port" || { cat "$dir/moto.log" >&2; die "moto server did not start"; }
  cat >"$dir/env" <<ENV
export IRIS_TEST_MYSQL_HOST=127.0.0.1
export IRIS_TEST_MYSQL_PORT=3306
export IRIS_TEST_MYSQL_USER=root
export IRIS_TEST_AWS_ENDPOINT=http://127.0.0.1:$port
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export IRIS_PYTHON=$py
ENV
  log "stack up: MariaDB 127.0.0.1:3306, moto http://127.0.0.1:$port"
}

stop_all() {
  if [ -f "$dir/moto.pid" ]; then
    kill "$(cat "$dir/moto.pid")" 2>/dev/null || true
    rm -f "$dir/moto.pid"
  fi
  rm -f "$dir/env"
}

case "$cmd" in
  start) stop_all; start_mariadb; start_moto ;;
  stop) stop_all ;;
  *) die "unknown command $cmd" ;;
esac
