#!/usr/bin/env bash
# scripts/db.sh — create and populate databases for tests, the local stack and the demo.
#   db.sh load-iris DBNAME   create DBNAME (utf8mb4) if missing and load db/iris/schema.sql,
#                            the fixture copy of Iris's own schema (safe to repeat)
#   db.sh migrate DBNAME     apply db/migrations/NNNN_*.sql in order, recording each version in
#                            schema_migrations; an applied version is skipped, an applied file
#                            whose content changed since is refused (migrations are append-only)
#   db.sh demo DBNAME        load db/iris/demo_data.sql (expects load-iris first)
#   db.sh drop DBNAME        drop DBNAME (tests clean up with it)
# Connection: the mariadb client against IRIS_DB_HOST:IRIS_DB_PORT as IRIS_DB_USER with
# IRIS_DB_PASSWORD (defaults 127.0.0.1, 3306, root, empty). The password is passed through the
# environment (MYSQL_PWD), never on the command line where `ps` would show it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { die "usage: db.sh load-iris|migrate|demo|drop DBNAME"; }
[ $# -eq 2 ] || usage
cmd=$1
db=$2
# The name is interpolated into CREATE/DROP DATABASE and USE, so only plain identifiers pass.
[[ $db =~ ^[A-Za-z0-9_]{1,64}$ ]] || die "database name '$db' must be 1-64 letters, digits or _"

host=${IRIS_DB_HOST:-127.0.0.1}
port=${IRIS_DB_PORT:-3306}
user=${IRIS_DB_USER:-root}
export MYSQL_PWD=${IRIS_DB_PASSWORD:-}

command -v mariadb >/dev/null || die "the mariadb client is not installed (scripts/setup.sh installs it)"

sql() { mariadb --protocol=TCP -h "$host" -P "$port" -u "$user" --default-character-set=utf8mb4 "$@"; }

# Run one SQL file inside DBNAME; the file name is reported on failure.
run_file() {
  local f=$1
  sql --batch "$db" <"$f" || die "$(basename "$f") failed against $db"
}

create_db() {
  sql -e "CREATE DATABASE IF NOT EXISTS \`$db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci" ||
    die "cannot create database $db on $host:$port"
}

migrate() {
  local dir=$IRIS_ROOT/db/migrations f base version sum applied
  local -a files
  shopt -s nullglob
  files=("$dir"/[0-9][0-9][0-9][0-9]_*.sql)
  shopt -u nullglob
  [ ${#files[@]} -gt 0 ] || die "no migrations in $dir"
  # Two files with one number would make the order ambiguous.
  dups=$(printf '%s\n' "${files[@]##*/}" | cut -c1-4 | uniq -d)
  [ -z "$dups" ] || die "duplicate migration numbers: $dups"
  # The ledger must exist before it is consulted; 0001 creates it and is itself idempotent.
  run_file "$dir/0001_schema_migrations.sql"
  for f in "${files[@]}"; do
    base=${f##*/}
    # The name goes into an SQL literal below; keep it to a plain file name.
    [[ $base =~ ^[0-9]{4}_[a-z0-9_]+\.sql$ ]] || die "migration file name '$base' must be NNNN_lowercase_name.sql"
    version=$((10#${base:0:4}))
    sum=$(sha256sum "$f" | cut -c1-64)
    applied=$(sql --batch --skip-column-names "$db" \
      -e "SELECT checksum FROM schema_migrations WHERE version = $version")
    if [ -n "$applied" ]; then
      [ "$applied" = "$sum" ] ||
        die "$base was applied with a different content (checksum $applied); add a new migration instead of editing it"
      continue
    fi
    log "migrate $db: $base"
    run_file "$f"
    sql --batch "$db" -e "INSERT INTO schema_migrations (version, name, checksum)
                          VALUES ($version, '$base', '$sum')"
  done
}

case "$cmd" in
  load-iris)
    create_db
    run_file "$IRIS_ROOT/db/iris/schema.sql"
    ;;
  migrate)
    migrate
    ;;
  demo)
    run_file "$IRIS_ROOT/db/iris/demo_data.sql"
    ;;
  drop)
    sql -e "DROP DATABASE IF EXISTS \`$db\`"
    ;;
  *) usage ;;
esac
