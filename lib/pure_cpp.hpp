// Included last by every lib/ translation unit: lib/ is plain C++17 shared by
// the extension, the daemon and the unit tests, so it must never see a
// PostgreSQL server header (whose macros and longjmp-based errors do not mix
// with C++ objects).
#pragma once

#ifdef POSTGRES_H
#define CROSSWALK_TU_INCLUDES_POSTGRES_H 1
#else
#define CROSSWALK_TU_INCLUDES_POSTGRES_H 0
#endif
static_assert(!CROSSWALK_TU_INCLUDES_POSTGRES_H, "lib/ must not include PostgreSQL server headers");
