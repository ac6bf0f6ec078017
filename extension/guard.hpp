// The C++/PostgreSQL boundary.
//
// PostgreSQL reports errors with longjmp; C++ with exceptions. Neither may
// cross the other's frames: a longjmp over a C++ frame skips destructors, and
// an exception that reaches PostgreSQL's C code terminates the backend. So:
//
//  * Every SQL-callable function runs its body inside CROSSWALK_GUARD (Guard),
//    which catches every C++ exception and raises the PostgreSQL error only
//    after the catch block has ended, when every destructor has run.
//  * Every call from C++ into a PostgreSQL function that can ereport goes
//    through PgCall, which turns the PostgreSQL error into a C++ PgError so it
//    unwinds C++ frames normally; Guard re-raises it unchanged.
#pragma once

#include <cstring>
#include <exception>
#include <new>
#include <type_traits>
#include <utility>

#include "postgres_headers.hpp"
#include "error.hpp"

namespace crosswalk::pg {

// A PostgreSQL error caught by PgCall, carried through C++ frames.
class PgError : public std::exception {
 public:
  explicit PgError(ErrorData* edata) noexcept : edata_(edata) {}
  ErrorData* edata() const noexcept { return edata_; }
  const char* what() const noexcept override {
    return edata_ != nullptr && edata_->message != nullptr ? edata_->message : "PostgreSQL error";
  }

 private:
  ErrorData* edata_;  // palloc'd in the caller's memory context
};

// Calls f, a callable made only of PostgreSQL C calls (no C++ objects with
// destructors inside it), and converts an ereport(ERROR) raised by it into a
// PgError.
template <typename F>
auto PgCall(F&& f) -> decltype(f()) {
  using Result = decltype(f());
  MemoryContext caller_context = CurrentMemoryContext;
  ErrorData* volatile edata = nullptr;
  if constexpr (std::is_void_v<Result>) {
    PG_TRY();
    { f(); }
    PG_CATCH();
    {
      MemoryContextSwitchTo(caller_context);
      edata = CopyErrorData();
      FlushErrorState();
    }
    PG_END_TRY();
    if (edata != nullptr) throw PgError(edata);
  } else {
    static_assert(std::is_scalar_v<Result>, "PgCall returns scalars (pointers, Datums, numbers) only");
    // volatile: the value set inside PG_TRY must survive a longjmp.
    volatile Result result{};
    PG_TRY();
    { result = f(); }
    PG_CATCH();
    {
      MemoryContextSwitchTo(caller_context);
      edata = CopyErrorData();
      FlushErrorState();
    }
    PG_END_TRY();
    if (edata != nullptr) throw PgError(edata);
    return result;
  }
}

// palloc through PgCall: out of memory becomes a PgError, not a longjmp.
inline void* PgAlloc(Size size) {
  return PgCall([&] { return palloc(size); });
}

namespace detail {
inline void CopyTruncated(char* dst, std::size_t cap, const char* src) {
  std::size_t n = std::strlen(src);
  if (n >= cap) n = cap - 1;
  std::memcpy(dst, src, n);
  dst[n] = '\0';
}
}  // namespace detail

// Runs body (returning Datum) and turns any C++ exception into a PostgreSQL
// error raised after the catch has completed.
template <typename Body>
Datum Guard(Body&& body) {
  // Plain buffers: nothing here has a destructor, so the ereport below may
  // longjmp out of this frame safely.
  // Not zero-filled: this runs for every row, and the buffers are written
  // (by CopyTruncated) before they are read.
  char sqlstate[6];
  char message[2048];
  char hint[1024];
  sqlstate[0] = message[0] = hint[0] = '\0';
  ErrorData* pg_error = nullptr;
  try {
    return body();
  } catch (const PgError& e) {
    pg_error = e.edata();
  } catch (const crosswalk::Error& e) {
    detail::CopyTruncated(sqlstate, sizeof sqlstate, e.sqlstate());
    detail::CopyTruncated(message, sizeof message, e.what());
    detail::CopyTruncated(hint, sizeof hint, e.hint().c_str());
  } catch (const std::bad_alloc&) {
    detail::CopyTruncated(sqlstate, sizeof sqlstate, "53200");
    detail::CopyTruncated(message, sizeof message, "out of memory in crosswalk");
  } catch (const std::exception& e) {
    detail::CopyTruncated(sqlstate, sizeof sqlstate, crosswalk::sqlstate::kInternalError);
    detail::CopyTruncated(message, sizeof message, e.what());
  } catch (...) {
    detail::CopyTruncated(sqlstate, sizeof sqlstate, crosswalk::sqlstate::kInternalError);
    detail::CopyTruncated(message, sizeof message, "unknown C++ exception in crosswalk");
  }
  if (pg_error != nullptr) ReThrowError(pg_error);
  if (std::strlen(sqlstate) != 5) std::memcpy(sqlstate, "XX000", 6);
  ereport(ERROR, (errcode(MAKE_SQLSTATE(sqlstate[0], sqlstate[1], sqlstate[2], sqlstate[3], sqlstate[4])),
                  errmsg_internal("%s", message), hint[0] != '\0' ? errhint("%s", hint) : 0));
  pg_unreachable();
}

}  // namespace crosswalk::pg

// Defines the SQL-callable C function `name` whose body runs inside Guard.
// The body sees `fcinfo` and returns a Datum.
#define CROSSWALK_FUNCTION(name)                                           \
  static Datum name##_body([[maybe_unused]] FunctionCallInfo fcinfo);                       \
  extern "C" {                                                             \
  PG_FUNCTION_INFO_V1(name);                                               \
  PGDLLEXPORT Datum name(PG_FUNCTION_ARGS) {                               \
    return crosswalk::pg::Guard([fcinfo]() { return name##_body(fcinfo); }); \
  }                                                                        \
  }                                                                        \
  static Datum name##_body([[maybe_unused]] FunctionCallInfo fcinfo)
