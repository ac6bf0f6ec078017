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

// The pieces of the canonical form, for callers that walk a JSON value held
// in another structure (the extension walks jsonb without reparsing text).
// AppendCanonicalString writes s quoted and escaped as RFC 8785 says; it does
// not validate s (CheckUtf8 does).
void AppendCanonicalString(std::string_view s, std::string& out);

// Whether member name a sorts before b: RFC 8785 orders names by their UTF-16
// code units, which differs from UTF-8 byte order only for characters beyond
// U+FFFF.
bool CanonicalNameLess(std::string_view a, std::string_view b);

// Throws crosswalk::Error (22P02) unless s is well-formed UTF-8 (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF), as the JSON parser
// demands of every string.
void CheckUtf8(std::string_view s);

// The canonical form of a number given as decimal text (JSON number syntax),
// read as the nearest IEEE 754 double, as the JSON parser reads it. Throws
// crosswalk::Error (22P02) when it is outside the range of doubles.
void AppendCanonicalDecimal(const char* decimal, std::string& out);

// The deepest nesting the canonical form accepts (containers inside
// containers), as ParseJsonStrict enforces it.
inline constexpr int kMaxJsonDepth = 256;

}  // namespace crosswalk
