# crosswalk — top-level build.
#
#   make            build the extension (PGXS) and the C++ parts (CMake)
#   make install    install the extension into the PostgreSQL 15 found by PG_CONFIG
#   make test       set up what is missing, build, install, run every test
#   make demo       two throwaway platforms, linked users, a cross-platform query
#   make bench      the side-by-side benchmarks
#
# Every target first runs scripts/setup.sh, which installs missing Debian
# packages and otherwise does nothing. PGXS is included only once
# postgresql-server-dev-15 is present, so a fresh machine can run `make test`.

PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
BUILD_DIR ?= build
CMAKE_BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

# Tests, the demo and the benchmarks run on a private copy of PostgreSQL 15
# with this tree's extension installed in it (scripts/pgroot.sh): no root
# needed, and the system's PostgreSQL is never touched.
PGROOT ?= $(or $(TMPDIR),/tmp)/crosswalk-pgroot-$(shell id -u)-$(shell echo '$(CURDIR)' | cksum | cut -d' ' -f1)
export CROSSWALK_PG_BIN := $(PGROOT)/usr/lib/postgresql/15/bin

# ---------------------------------------------------------------------------
# The extension, built by PGXS from extension/*.cpp and the shared lib/*.cpp.
# ---------------------------------------------------------------------------
MODULE_big = crosswalk
EXT_SRCS := $(sort $(wildcard extension/*.cpp))
LIB_SRCS := $(sort $(wildcard lib/*.cpp))
OBJS = $(EXT_SRCS:.cpp=.o) $(LIB_SRCS:.cpp=.o)
MODULEDIR = extension
DATA = extension/crosswalk.control $(sort $(wildcard extension/crosswalk--*.sql))
PGFILEDESC = "crosswalk - cross-platform identities, encrypted columns and ledger"

# PostgreSQL headers are included as system headers so that -Werror applies to
# our code, not to theirs.
PG_CPPFLAGS = -isystem $(shell $(PG_CONFIG) --includedir-server 2>/dev/null) -Ilib -Iextension
# -MMD -MP: each .o gets a .d listing the headers it includes, so that a
# changed header rebuilds every object that uses it (PGXS's autodepend
# covers only C files; a stale object with an old struct layout crashes).
PG_CXXFLAGS = -std=c++17 -fPIC -fvisibility=hidden -Wall -Wextra -Werror -MMD -MP
SHLIB_LINK = -lcrypto -lstdc++

PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(wildcard $(PGXS)),)
# No LLVM bitcode: the JIT gains nothing from our functions and the bitcode
# step would need a clang matching the server's build. (Set before the
# include: PGXS decides on it while it is read.)
override with_llvm = no
autodepend = yes
include $(PGXS)
override CXXFLAGS := $(filter-out -std=%,$(CXXFLAGS)) $(PG_CXXFLAGS)
-include $(OBJS:.o=.d)
EXTRA_CLEAN += $(OBJS:.o=.d)
else
all:
	@$(MAKE) --no-print-directory setup
	@$(MAKE) --no-print-directory all
install:
	@$(MAKE) --no-print-directory setup
	@$(MAKE) --no-print-directory install
endif

.PHONY: setup cmake-build pgroot test test-all demo bench check-schedule regress format fuzz test-sanitize test-sqlsmith regress-valgrind soak
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 8
SQLSMITH_QUERIES ?= 20000
SQLSMITH_SMOKE_QUERIES ?= 300

setup:
	@bash scripts/setup.sh

cmake-build: setup
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(CMAKE_BUILD_TYPE) -DCROSSWALK_PG_BIN=$(CROSSWALK_PG_BIN) >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

pgroot: all
	@bash scripts/pgroot.sh $(PGROOT) $(MAKE) >/dev/null

# `make test` re-enters make after setup so that PGXS is loaded on a machine
# that had no server headers when this make started.
test: setup
	@$(MAKE) --no-print-directory test-all

test-all: pgroot cmake-build check-schedule
	@bash scripts/regress.sh
	@bash scripts/fuzz.sh $(FUZZ_SMOKE_SECONDS)
	@bash scripts/sqlsmith.sh $(SQLSMITH_SMOKE_QUERIES)
	@cd $(BUILD_DIR) && ctest --output-on-failure --timeout 900 -j 2

# Two-way sync soak: random concurrent writes on two platforms for
# SOAK_SECONDS (make test runs the same test for 45 s), then a full
# comparison; prints rows, conflicts and the rate.
SOAK_SECONDS ?= 600
soak: setup
	@$(MAKE) --no-print-directory pgroot cmake-build
	@cd $(BUILD_DIR) && CROSSWALK_SOAK_SECONDS=$(SOAK_SECONDS) ./sync_two_way_test --gtest_filter='TwoWayTest.Soak*'

# pg_regress with every backend under valgrind (scripts/regress-valgrind.sh).
regress-valgrind: setup
	@$(MAKE) --no-print-directory all
	@bash scripts/regress-valgrind.sh $(MAKE) $(PGROOT)-valgrind

# sqlsmith's random queries against a populated database; no backend may crash.
test-sqlsmith: setup
	@$(MAKE) --no-print-directory pgroot
	@bash scripts/sqlsmith.sh $(SQLSMITH_QUERIES)

# Every fuzz target for FUZZ_SECONDS each (make test runs them briefly).
fuzz: setup
	@bash scripts/fuzz.sh $(FUZZ_SECONDS)

# lib/, crosswalk-sync and all C++ tests under ASan + UBSan, then pg_regress
# with the backends under valgrind.
test-sanitize: setup
	@$(MAKE) --no-print-directory pgroot
	@cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Debug -DCROSSWALK_SANITIZE=ON -DCROSSWALK_PG_BIN=$(CROSSWALK_PG_BIN) >/dev/null
	@cmake --build build-sanitize -j $(JOBS)
	@cd build-sanitize && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure --timeout 1800 -j 2
	@$(MAKE) --no-print-directory regress-valgrind

check-schedule:
	@bash scripts/check-schedule.sh

regress: setup
	@$(MAKE) --no-print-directory pgroot
	@bash scripts/regress.sh

demo: setup
	@$(MAKE) --no-print-directory pgroot cmake-build
	@bash scripts/demo.sh

bench: setup
	@$(MAKE) --no-print-directory pgroot cmake-build CMAKE_BUILD_TYPE=Release
	@bash bench/run.sh

format:
	@clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean-all: clean
	rm -rf $(BUILD_DIR) build-fuzz build-sanitize results regression.diffs regression.out
