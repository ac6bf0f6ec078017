// Walks jsonb's binary layout (utils/jsonb.h: a container's JEntry array,
// then the children's data) as jsonb_util.c's fillJsonbValue reads it.
#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

#include "json_canonical.hpp"

#include "jsonb_canonical.hpp"

#include "guard.hpp"

namespace crosswalk::pg {
namespace {

[[noreturn]] void TooDeep() {
  throw Error(sqlstate::kInvalidTextRepresentation, "cannot canonicalize JSON: nested deeper than 256 levels");
}

void AppendContainer(const JsonbContainer* jc, int level, std::string& out);

// Child `index` of jc, whose children's data starts at base, at nesting level
// `level` (the number of containers around it).
void AppendChild(const JsonbContainer* jc, int index, const char* base, int level, std::string& out) {
  if (level > kMaxJsonDepth) TooDeep();
  const JEntry entry = jc->children[index];
  const std::uint32_t offset = getJsonbOffset(jc, index);
  if (JBE_ISNULL(entry)) {
    out += "null";
  } else if (JBE_ISBOOL_TRUE(entry)) {
    out += "true";
  } else if (JBE_ISBOOL_FALSE(entry)) {
    out += "false";
  } else if (JBE_ISSTRING(entry)) {
    const std::string_view s(base + offset, getJsonbLength(jc, index));
    CheckUtf8(s);
    AppendCanonicalString(s, out);
  } else if (JBE_ISNUMERIC(entry)) {
    // Numbers go through their decimal text, as JsonbToCString writes them
    // and the JSON parser reads them.
    Datum numeric = PointerGetDatum(base + INTALIGN(offset));
    char* text = PgCall([&] { return DatumGetCString(DirectFunctionCall1(numeric_out, numeric)); });
    AppendCanonicalDecimal(text, out);
    pfree(text);
  } else {
    AppendContainer(reinterpret_cast<const JsonbContainer*>(base + INTALIGN(offset)), level, out);
  }
}

void AppendContainer(const JsonbContainer* jc, int level, std::string& out) {
  const int count = static_cast<int>(JsonContainerSize(jc));
  if (JsonContainerIsArray(jc)) {
    const char* base = reinterpret_cast<const char*>(&jc->children[count]);
    out += '[';
    for (int i = 0; i < count; ++i) {
      if (i > 0) out += ',';
      AppendChild(jc, i, base, level + 1, out);
    }
    out += ']';
    return;
  }
  // An object: count keys (always strings), then their count values. jsonb
  // keeps keys sorted by length, then bytes; RFC 8785 by UTF-16 code units.
  const char* base = reinterpret_cast<const char*>(&jc->children[count * 2]);
  std::vector<std::pair<std::string_view, int>> keys;
  keys.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    std::string_view key(base + getJsonbOffset(jc, i), getJsonbLength(jc, i));
    CheckUtf8(key);
    keys.emplace_back(key, i);
  }
  std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) { return CanonicalNameLess(a.first, b.first); });
  out += '{';
  bool first = true;
  for (const auto& [key, i] : keys) {
    if (!first) out += ',';
    first = false;
    AppendCanonicalString(key, out);
    out += ':';
    AppendChild(jc, count + i, base, level + 1, out);
  }
  out += '}';
}

}  // namespace

void AppendCanonicalJsonb(const Jsonb* jb, std::string& out) {
  const JsonbContainer* root = &jb->root;
  if (JsonContainerIsScalar(root)) {
    // A scalar is stored as a one-element array flagged scalar.
    AppendChild(root, 0, reinterpret_cast<const char*>(&root->children[1]), 0, out);
  } else {
    AppendContainer(root, 0, out);
  }
}

}  // namespace crosswalk::pg
