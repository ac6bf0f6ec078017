// libFuzzer target: pgoutput messages as a walsender would send them. Any
// input either decodes or is refused with crosswalk::Error (SQLSTATE 08P01,
// naming the LSN); a decoded change is checked against the relation cache the
// way the stream does. Anything else (another exception, a crash, a
// sanitizer report) is a finding. Seeds: messages captured from PostgreSQL 15.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "error.hpp"
#include "pgoutput.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static crosswalk::cdc::RelationCache relations;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    crosswalk::cdc::Message message = crosswalk::cdc::DecodeMessage(bytes, 0x16B3D28);
    if (auto* relation = std::get_if<crosswalk::cdc::Relation>(&message)) {
      relations.Store(*relation);
    } else if (auto* insert = std::get_if<crosswalk::cdc::InsertMessage>(&message)) {
      auto rel = relations.Get(insert->relation_oid, 0x16B3D28);
      crosswalk::cdc::RelationCache::CheckTuple(*rel, insert->new_tuple, 0x16B3D28, "insert");
    }
  } catch (const crosswalk::Error&) {
  }
  return 0;
}
