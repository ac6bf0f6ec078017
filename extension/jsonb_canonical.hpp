// The RFC 8785 canonical form of a jsonb value, read straight from jsonb's
// binary containers: no detour through JSON text and a parser, which made up
// most of the cost of hashing a ledger entry. It gives the bytes
// crosswalk::CanonicalizeJson gives for the value's text, and fails where it
// fails (numbers beyond doubles, nesting deeper than 256 levels, ill-formed
// UTF-8), with the same messages.
#pragma once

#include <string>

#include "postgres_headers.hpp"

extern "C" {
#include "utils/jsonb.h"
}

namespace crosswalk::pg {

// Appends the canonical form of jb (already detoasted) to out. Throws
// crosswalk::Error or PgError; allocates nothing in PostgreSQL memory that
// outlives the call.
void AppendCanonicalJsonb(const Jsonb* jb, std::string& out);

}  // namespace crosswalk::pg
