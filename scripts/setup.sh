#!/usr/bin/env bash
# Installs the Debian packages crosswalk builds, tests and runs with, and only
# those that are missing. Every top-level make target runs this first; when
# everything is present it does nothing (no apt-get update, no network).
set -euo pipefail

packages=(
  make g++ cmake pkg-config git
  postgresql-15 postgresql-server-dev-15 postgresql-client-15
  libpq-dev libssl-dev
  nlohmann-json3-dev libgtest-dev
  libcli11-dev libcpp-httplib-dev libfmt-dev librdkafka-dev
  clang libclang-rt-14-dev sqlsmith valgrind
  util-linux procps
)
# Extra packages a target asks for (e.g. bench needs nothing extra today).
if [ "$#" -gt 0 ]; then packages+=("$@"); fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done

[ "${#missing[@]}" -eq 0 ] && exit 0

echo "setup: installing missing packages: ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "setup: need root or sudo to install: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
