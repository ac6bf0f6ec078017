#!/usr/bin/env bash
# Installs the built extension into the system PostgreSQL 15 (PGXS `make
# install`), as root or through sudo: PostgreSQL 15 has no per-user extension
# path, so tests load the extension from the server's own folders.
set -euo pipefail
make_cmd=${1:-make}
if [ "$(id -u)" -eq 0 ]; then
  "$make_cmd" --no-print-directory -s install >/dev/null
else
  sudo "$make_cmd" --no-print-directory -s install >/dev/null
fi
