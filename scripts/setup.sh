#!/usr/bin/env bash
# scripts/setup.sh — install everything the build, the tests and the demo need, idempotently:
# Debian packages (compiler, libraries, MariaDB server, tools) and a Python venv with the
# pinned test tools (scripts/requirements.txt). Prints the venv's python path on stdout.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

APT_PACKAGES=(
  build-essential cmake pkg-config git ca-certificates curl
  libcurl4-openssl-dev libssl-dev libltdl-dev libjansson-dev libmariadb-dev
  libcmark-dev libcmocka-dev libunistring-dev
  mariadb-server mariadb-client
  python3 python3-venv python3-dev
  valgrind bubblewrap patchelf zip unzip clang libclang-rt-14-dev
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >&2
fi

venv=$(iris_venv_dir)
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.complete" ]; then
  log "creating the test venv in $venv"
  rm -rf "$venv"
  mkdir -p "$IRIS_CACHE"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$IRIS_ROOT/scripts/requirements.txt" >&2
  touch "$venv/.complete"
fi
echo "$venv/bin/python"
