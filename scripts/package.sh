#!/usr/bin/env bash
# scripts/package.sh BUILD_DIR OUT_DIR — the Lambda layer and function zips.
#
#   OUT_DIR/iris-layer.zip         unpacks into /opt:
#       lib/                       the libiris-* core libraries and every shared library the bootstraps,
#                                  plugins and tools need — glibc and its loader included —
#                                  because provided.al2023 has glibc 2.34 and Debian builds
#                                  against 2.36 (see docs/packaging.md)
#       lib/iris-plugins/          the vendor plugins (iris-*.so)
#       bin/iris-plugin-harness    for operators: check a layer's plugins in place
#       etc/ssl/ca-certificates.crt  CA bundle (AL2023 keeps its own elsewhere)
#   OUT_DIR/iris-<function>.zip    `bootstrap` at the root, one per lambda/<function>
#
# Every ELF file except the C library and its loader gets DT_RPATH=/opt/lib (--force-rpath:
# DT_RUNPATH would be searched after Lambda's LD_LIBRARY_PATH, which starts with /lib64 and
# would pull AL2023's older libc under Debian's loader), and executables get
# /opt/lib/ld-linux-x86-64.so.2 as their interpreter.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build=$(cd "${1:?usage: package.sh BUILD_DIR OUT_DIR}" && pwd)
out=${2:?usage: package.sh BUILD_DIR OUT_DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
for tool in patchelf zip ldd; do command -v $tool >/dev/null || die "$tool is required (scripts/setup.sh installs it)"; done
if grep -q '^IRIS_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
  die "$build is a sanitizer build; package a release build"
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
layer=$stage/layer
mkdir -p "$layer/lib/iris-plugins" "$layer/bin" "$layer/etc/ssl"

# Function bootstraps: every executable lambda/<fn>/iris-<fn> (tools excluded).
declare -A functions=()
for exe in "$build"/lambda/*/iris-*; do
  [ -x "$exe" ] && [ -f "$exe" ] || continue
  case "$(basename "$(dirname "$exe")")" in tools) continue ;; esac
  functions[$(basename "$exe" | sed 's/^iris-//')]=$exe
done
[ ${#functions[@]} -gt 0 ] || die "no bootstraps under $build/lambda (build first)"
plugins=("$build"/plugins/out/iris-*.so)
[ -e "${plugins[0]}" ] || die "no plugins under $build/plugins/out"
harness=$build/lambda/tools/iris-plugin-harness

# Shared libraries: everything ldd resolves for every ELF we ship, by soname.
declare -A libs=()
collect() {
  local line name path
  while read -r line; do
    case "$line" in
      *"=> not found"*) die "$1: a library is missing: $line" ;;
      *"=> /"*) name=${line%% *}; path=${line#*=> }; path=${path%% (*}; libs[$name]=$path ;;
      /*ld-linux*) path=${line%% (*}; libs[$(basename "$path")]=$path ;;
    esac
  done < <(ldd "$1")
}
for f in "${functions[@]}" "${plugins[@]}" "$harness"; do collect "$f"; done

for name in "${!libs[@]}"; do
  cp -L "${libs[$name]}" "$layer/lib/$name"
  chmod u+w "$layer/lib/$name"
  case "$name" in
    ld-linux*|libc.so.*) ;;  # patching the C library or its loader breaks them
    *) patchelf --force-rpath --set-rpath /opt/lib "$layer/lib/$name" ;;
  esac
done
for p in "${plugins[@]}"; do
  cp "$p" "$layer/lib/iris-plugins/"
  patchelf --force-rpath --set-rpath /opt/lib "$layer/lib/iris-plugins/$(basename "$p")"
done
loader=$(basename "$(ls "$layer"/lib/ld-linux-*.so.* | head -1)")
cp "$harness" "$layer/bin/"
patchelf --set-interpreter "/opt/lib/$loader" --force-rpath --set-rpath /opt/lib "$layer/bin/iris-plugin-harness"
cp -L /etc/ssl/certs/ca-certificates.crt "$layer/etc/ssl/ca-certificates.crt"
rm -f "$out/iris-layer.zip"
(cd "$layer" && zip -qr -X "$out/iris-layer.zip" .)

for fn in "${!functions[@]}"; do
  dir=$stage/fn-$fn
  mkdir -p "$dir"
  cp "${functions[$fn]}" "$dir/bootstrap"
  patchelf --set-interpreter "/opt/lib/$loader" --force-rpath --set-rpath /opt/lib "$dir/bootstrap"
  rm -f "$out/iris-$fn.zip"
  (cd "$dir" && zip -q -X "$out/iris-$fn.zip" bootstrap)
done

unpacked=$(du -sb "$layer" | cut -f1)
zipped=$(stat -c %s "$out/iris-layer.zip")
awk -v f="$out/iris-layer.zip" -v n="$(find "$layer" -type f | wc -l)" -v z="$zipped" -v u="$unpacked" \
  'BEGIN { printf "layer   %s: %d files, %.1f MB zipped, %.1f MB unpacked\n", f, n, z / 1048576, u / 1048576 }'
for fn in "${!functions[@]}"; do
  printf 'function %s: %d KB\n' "$out/iris-$fn.zip" $(( $(stat -c %s "$out/iris-$fn.zip") / 1024 ))
done
