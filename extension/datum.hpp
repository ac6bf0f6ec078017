// Moving bytes between Datums and C++ inside a guarded function body.
#pragma once

#include <cstring>
#include <string_view>

#include "bytes.hpp"
#include "guard.hpp"

namespace crosswalk::pg {

// The bytes of varlena argument n (text, bytea, ...), detoasted through
// PgCall; valid for the rest of the call.
inline ByteView ArgBytes(FunctionCallInfo fcinfo, int n) {
  Datum d = PG_GETARG_DATUM(n);
  struct varlena* v = PgCall([&] { return PG_DETOAST_DATUM_PACKED(d); });
  return ByteView(reinterpret_cast<const std::uint8_t*>(VARDATA_ANY(v)), VARSIZE_ANY_EXHDR(v));
}

inline std::string_view ArgText(FunctionCallInfo fcinfo, int n) {
  ByteView b = ArgBytes(fcinfo, n);
  return std::string_view(reinterpret_cast<const char*>(b.data), b.size);
}

// A new varlena (bytea or text) holding bytes, palloc'd in the caller's context.
inline Datum ReturnVarlena(ByteView bytes) {
  auto* out = static_cast<struct varlena*>(PgAlloc(VARHDRSZ + bytes.size));
  SET_VARSIZE(out, VARHDRSZ + bytes.size);
  if (bytes.size > 0) std::memcpy(VARDATA(out), bytes.data, bytes.size);
  return PointerGetDatum(out);
}

}  // namespace crosswalk::pg
