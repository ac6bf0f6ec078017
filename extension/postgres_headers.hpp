// The one place the extension includes PostgreSQL's C headers, wrapped for C++.
#pragma once

// We build with -fvisibility=hidden so that only the SQL-callable entry points
// leave the shared object; PostgreSQL 15 leaves PGDLLEXPORT empty on ELF
// platforms, so mark them here (as PostgreSQL 16 does itself).
#ifndef PGDLLEXPORT
#define PGDLLEXPORT __attribute__((visibility("default")))
#endif

extern "C" {
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/elog.h"
#include "utils/memutils.h"
}
