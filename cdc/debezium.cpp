#include "debezium.hpp"

#include <cmath>
#include <cstdlib>

namespace crosswalk::cdc {

namespace {

// PostgreSQL type OIDs (pg_type.dat) whose text form becomes a JSON scalar.
constexpr std::uint32_t kBoolOid = 16, kInt8Oid = 20, kInt2Oid = 21, kInt4Oid = 23, kOidOid = 26, kFloat4Oid = 700,
                        kFloat8Oid = 701;

constexpr std::int64_t kPostgresEpochUnixMs = 946684800000LL;  // 2000-01-01 in Unix ms

}  // namespace

EventJson EncodeColumnValue(std::uint32_t type_oid, const TupleValue& value) {
  switch (value.kind) {
    case TupleValue::Kind::kNull:
      return nullptr;
    case TupleValue::Kind::kUnchanged:
      return kUnavailableValue;
    case TupleValue::Kind::kBinary:
      throw Error(kProtocolViolation, "binary tuple value where text was asked for");
    case TupleValue::Kind::kText:
      break;
  }
  const std::string& s = value.data;
  switch (type_oid) {
    case kBoolOid:
      return s == "t";
    case kInt2Oid:
    case kInt4Oid:
    case kInt8Oid:
      return static_cast<std::int64_t>(std::strtoll(s.c_str(), nullptr, 10));
    case kOidOid:
      return static_cast<std::uint64_t>(std::strtoull(s.c_str(), nullptr, 10));
    case kFloat4Oid:
    case kFloat8Oid: {
      double d = std::strtod(s.c_str(), nullptr);
      // NaN and the infinities have no JSON number: their text, as Debezium.
      if (std::isfinite(d)) return d;
      return s;
    }
    default:
      return s;
  }
}

std::int64_t PostgresTimeToUnixMs(std::int64_t pg_us) {
  // Floor division: times before 2000 round down like the others.
  std::int64_t ms = pg_us / 1000;
  if (pg_us % 1000 < 0) --ms;
  return ms + kPostgresEpochUnixMs;
}

std::string EncodeDebeziumValue(char op, const EventJson& before, const EventJson& after, const EventSource& source,
                                std::int64_t now_ms) {
  EventJson src = {
      {"version", "crosswalk-sync"},
      {"connector", "crosswalk"},
      {"name", source.connector_name},
      {"platform", source.platform},
      {"ts_ms", PostgresTimeToUnixMs(source.commit_time_us)},
      {"snapshot", source.snapshot},
      {"db", source.database},
      {"schema", source.schema},
      {"table", source.table},
      {"txId", source.xid},
      {"lsn", source.lsn},
      {"commit_lsn", source.commit_lsn},
      {"event_seq", source.event_seq},
  };
  EventJson v = {
      {"before", before}, {"after", after}, {"source", std::move(src)}, {"op", std::string(1, op)}, {"ts_ms", now_ms}};
  return v.dump();
}

DecodedEvent DecodeDebeziumValue(const std::string& text) {
  EventJson v;
  try {
    v = EventJson::parse(text);
  } catch (const nlohmann::json::exception&) {
    throw Error(sqlstate::kInvalidTextRepresentation, "change event: not valid JSON");
  }
  auto need = [&](const EventJson& obj, const char* key, bool (EventJson::*is)() const noexcept,
                  const std::string& where) -> const EventJson& {
    if (!obj.is_object() || !obj.contains(key) || !(obj.at(key).*is)()) {
      throw Error(sqlstate::kInvalidTextRepresentation, "change event: " + where + key + " missing or mistyped");
    }
    return obj.at(key);
  };
  DecodedEvent e;
  std::string op = need(v, "op", &EventJson::is_string, "").get<std::string>();
  if (op.size() != 1 || std::string("cudtr").find(op[0]) == std::string::npos) {
    throw Error(sqlstate::kInvalidTextRepresentation, "change event: op \"" + op + "\" is not one of c, u, d, t, r");
  }
  e.op = op[0];
  if (!v.contains("before") || !v.contains("after")) {
    throw Error(sqlstate::kInvalidTextRepresentation, "change event: before or after missing");
  }
  e.before = v.at("before");
  e.after = v.at("after");
  const EventJson& s = need(v, "source", &EventJson::is_object, "");
  e.source.platform = need(s, "platform", &EventJson::is_string, "source.").get<std::string>();
  e.source_schema = need(s, "schema", &EventJson::is_string, "source.").get<std::string>();
  e.source_table = need(s, "table", &EventJson::is_string, "source.").get<std::string>();
  e.source_snapshot = need(s, "snapshot", &EventJson::is_string, "source.").get<std::string>();
  e.source.xid = need(s, "txId", &EventJson::is_number_unsigned, "source.").get<std::uint32_t>();
  e.source.lsn = need(s, "lsn", &EventJson::is_number_unsigned, "source.").get<Lsn>();
  e.source.commit_lsn = need(s, "commit_lsn", &EventJson::is_number_unsigned, "source.").get<Lsn>();
  e.source.event_seq = need(s, "event_seq", &EventJson::is_number_unsigned, "source.").get<std::uint64_t>();
  return e;
}

}  // namespace crosswalk::cdc
