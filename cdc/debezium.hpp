// Debezium-compatible change events (format "debezium-json"): the message
// key is the row's key as a JSON object, the value the envelope Debezium's
// PostgreSQL connector writes with schemas disabled: before, after, source,
// op ("c", "u", "d", "t", "r" for snapshot reads) and ts_ms. The source
// block adds crosswalk's fields: the platform, and commit_lsn + event_seq,
// which identify an event uniquely (the deduplication key of at-least-once
// delivery, docs/operations.md).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "pgoutput.hpp"

namespace crosswalk::cdc {

using EventJson = nlohmann::ordered_json;

// Debezium's placeholder for a value the change did not carry (unchanged
// TOAST): the consumer keeps what it had.
inline constexpr const char* kUnavailableValue = "__debezium_unavailable_value";

// Where an event comes from: Debezium's "source" block.
struct EventSource {
  std::string connector_name;  // the peer's name (Debezium's topic.prefix / server name)
  std::string platform;        // the source platform
  std::string database;        // the source database
  std::string schema;
  std::string table;
  std::uint32_t xid = 0;
  Lsn lsn = 0;                      // of the change (several changes of one statement may share it)
  Lsn commit_lsn = 0;               // of the transaction's commit record (the snapshot's consistent point for "r")
  std::uint64_t event_seq = 0;      // 0-based position of the event in its transaction (or snapshot)
  std::int64_t commit_time_us = 0;  // PostgreSQL time: microseconds since 2000-01-01 UTC
  const char* snapshot = "false";   // "false", "true", or "last" (the snapshot's last event)
};

// One column value as Debezium writes it with its default settings where they
// are exact: bool as true/false, integers (int2, int4, int8, oid) as numbers,
// float4/float8 as numbers when finite; numeric and every other type as its
// PostgreSQL text form (so a crosswalk.encrypted column is its ciphertext
// text), NULL as null, unchanged TOAST as kUnavailableValue. Binary values
// are an Error 08P01 (crosswalk-sync asks pgoutput for text).
EventJson EncodeColumnValue(std::uint32_t type_oid, const TupleValue& value);

// Unix milliseconds from PostgreSQL's microseconds since 2000-01-01.
std::int64_t PostgresTimeToUnixMs(std::int64_t pg_us);

// The envelope as one line of JSON. `before`/`after` are objects or null.
std::string EncodeDebeziumValue(char op, const EventJson& before, const EventJson& after, const EventSource& source,
                                std::int64_t now_ms);
// Parses an envelope back (tests, tools): checks the fields are there and of
// the right types; throws Error 22P02 naming the field otherwise.
struct DecodedEvent {
  char op = 0;
  EventJson before, after;
  EventSource source;
  std::string source_schema, source_table, source_snapshot;
};
DecodedEvent DecodeDebeziumValue(const std::string& text);

}  // namespace crosswalk::cdc
