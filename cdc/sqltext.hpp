// Building SQL text safely: identifiers are always quoted, literals always
// escaped, and names from the config parsed the way PostgreSQL reads them.
#pragma once

#include <set>
#include <string>
#include <string_view>

namespace crosswalk::cdc {

// "name" with embedded quotes doubled; always quoted, so case, spaces,
// semicolons and keywords survive.
std::string QuoteIdent(std::string_view name);
// 'text' with quotes doubled (standard_conforming_strings is on since 9.1;
// a backslash makes us use the E'' form to be safe either way).
std::string QuoteLiteral(std::string_view text);

// A schema-qualified table name.
struct QualifiedName {
  std::string schema;
  std::string name;
  std::string Quoted() const { return QuoteIdent(schema) + "." + QuoteIdent(name); }
  std::string Display() const { return schema + "." + name; }
  bool operator==(const QualifiedName& o) const { return schema == o.schema && name == o.name; }
  bool operator<(const QualifiedName& o) const { return schema != o.schema ? schema < o.schema : name < o.name; }
};

// Parses `table`, `schema.table`, `"My Schema"."T"` as PostgreSQL does
// (unquoted parts fold to lower case; no schema means public). Throws
// crosswalk::Error naming `what` on anything else.
QualifiedName ParseQualifiedName(std::string_view text, const std::string& what);

// The identifiers a SQL expression mentions, outside string literals,
// dollar quotes and comments: unquoted ones folded to lower case, quoted
// ones as written. An over-approximation (function names are included),
// used to know which source columns an expression may read.
std::set<std::string> ExpressionIdentifiers(std::string_view expression);

}  // namespace crosswalk::cdc
