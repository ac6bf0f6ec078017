#!/usr/bin/env bash
# Builds a private copy of the PostgreSQL 15 installation with this tree's
# extension installed into it, and prints its bin folder.
#
# PostgreSQL 15 has no per-user extension path and finds its share/ and lib/
# folders relative to its own executables, so a copy of /usr/lib/postgresql/15
# and /usr/share/postgresql/15 (hard links where possible) is a complete
# installation of its own. Tests, the demo and the benchmarks run on it: they
# need no root to install the extension, never touch the system's PostgreSQL,
# and two checkouts can test side by side.
#
#   pgroot.sh ROOT MAKE   -> installs with `MAKE install DESTDIR=ROOT`, prints ROOT/usr/lib/postgresql/15/bin
set -euo pipefail
root=$1
make_cmd=${2:-make}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
bindir=$($PG_CONFIG --bindir)
pkglibdir=$($PG_CONFIG --pkglibdir)
sharedir=$($PG_CONFIG --sharedir)
pgprefix=$(dirname "$bindir")   # /usr/lib/postgresql/15

mkdir -p "$root"
stamp="$root/.pgroot-$($PG_CONFIG --version | tr -c 'A-Za-z0-9.\n' '_')"
if [ ! -f "$stamp" ]; then
  rm -rf "${root:?}/usr"
  for src in "$pgprefix" "$sharedir"; do
    mkdir -p "$root$(dirname "$src")"
    cp -al "$src" "$root$src" 2>/dev/null || { rm -rf "${root:?}$src"; cp -a "$src" "$root$src"; }
  done
  touch "$stamp"
fi
# Never write through a hard link into the system's files: remove whatever
# crosswalk files came along from a system install before installing ours.
rm -f "$root$pkglibdir"/crosswalk.so "$root$sharedir"/extension/crosswalk*
"$make_cmd" --no-print-directory -s install DESTDIR="$root" >/dev/null
echo "$root$bindir"
