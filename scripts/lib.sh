# scripts/lib.sh — shared shell helpers, sourced by the other scripts (not run directly).
IRIS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IRIS_CACHE=${IRIS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/iris-serverless-sender}

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The venv is keyed by the requirements file's hash so a changed pin gets a fresh venv.
iris_venv_dir() {
  local h
  h=$(sha256sum "$IRIS_ROOT/scripts/requirements.txt" | cut -c1-12)
  echo "$IRIS_CACHE/venv-$h"
}

# Is something accepting TCP connections on 127.0.0.1:$1?
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A free loopback TCP port (the kernel picks it).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Run "$@" (from the source tree) against a stack of its own in DIR ($1): started now, stopped
# when the calling script exits, so a test run stopping build/release/stack cannot stop it. The
# command sees the stack's endpoints (scripts/with-stack.sh) and IRIS_BUILD_DIR=build/release.
run_with_own_stack() {
  local stack=$1
  shift
  "$IRIS_ROOT/scripts/stack.sh" start "$stack" >/dev/null
  # shellcheck disable=SC2064  # expanded now: $stack is local to this function
  trap "$(printf '%q ' "$IRIS_ROOT/scripts/stack.sh" stop "$stack")" EXIT
  IRIS_BUILD_DIR=$IRIS_ROOT/build/release "$IRIS_ROOT/scripts/with-stack.sh" "$stack" "$@"
}
