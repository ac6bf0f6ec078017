// RFC 8785 JSON Canonicalization Scheme (JCS): one byte sequence for one JSON
// value, whatever the producer's whitespace, member order or number spelling,
// so that two platforms hash the same ledger entry to the same digest.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace crosswalk {

// Canonical form of a JSON text. Throws crosswalk::Error (22P02) for text
// that is not JSON, has duplicate member names, or holds a number that is not
// a finite IEEE 754 double (RFC 8785 section 3.2.2.3).
std::string CanonicalizeJson(std::string_view json_text);

// Parses JSON text strictly: duplicate member names and nesting deeper than
// 256 levels are errors (22P02), as is anything nlohmann rejects.
nlohmann::json ParseJsonStrict(std::string_view json_text);

// Canonical form of an already parsed value (numbers are taken as doubles).
void AppendCanonicalJson(const nlohmann::json& value, std::string& out);

// ECMAScript Number.prototype.toString of a finite double (RFC 8785 3.2.2.3).
std::string FormatJsonNumber(double value);

}  // namespace crosswalk
