// crosswalk-sync's configuration: a JSON file (DESIGN.md "The daemon",
// docs/config.md). Parsing is strict: an unknown key, a wrong type or a
// missing field is an Error (SQLSTATE F0000) naming its JSON path, such as
// `peers[0].tables[1].columns.progress`; nothing is silently defaulted that
// the user wrote wrong.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sqltext.hpp"

namespace crosswalk::cdc {

// One target column: a SQL expression over the source row, or a user id
// translated from the source platform to the peer's.
struct ColumnMapping {
  std::string target;                          // target column name
  std::string expression;                      // SQL over the source row's columns (empty for identity)
  std::optional<std::string> identity_column;  // source column holding a source-platform user id
  std::string path;                            // JSON path, for errors
};

// How a two-way table settles a conflict: the same row changed on both
// sides before either change arrived (docs/config.md "Two-way tables").
enum class ConflictPolicy { kLastWriterWins, kSourcePriority, kDeadLetter };
const char* ConflictPolicyName(ConflictPolicy policy);

// A table synced in both directions: the daemon also streams the peer's
// target table back into the source table through the inverse mapping.
struct TwoWayConfig {
  ConflictPolicy conflicts = ConflictPolicy::kLastWriterWins;
  std::optional<std::string> priority;  // the winning platform, for source_priority
  // Source column -> SQL over the target row, for source columns that a
  // forward expression reads (plain columns and identities invert alone).
  std::vector<std::pair<std::string, std::string>> reverse;
  int tombstone_retention_seconds = 7 * 86400;
  std::string path;  // "peers[0].tables[1].two_way"
};

struct TableMapping {
  QualifiedName source;
  QualifiedName target;
  std::vector<std::string> key;  // target columns that identify a row
  std::vector<ColumnMapping> columns;
  std::optional<std::string> where;  // SQL filter over the source row
  // Source columns the snapshot copies the rows in order of (empty: the
  // table's physical order). Needed where the peer takes rows only in key
  // order, as crosswalk.ledger's chaining trigger does.
  std::vector<std::string> snapshot_order_by;
  // Event peers (kafka, file): the topic of this table's events; empty
  // `columns` means every source column as it is, empty `key` the source's
  // replica identity (docs/config.md "Event peers").
  std::string topic;
  std::optional<TwoWayConfig> two_way;
  std::string path;  // "peers[0].tables[1]"
};

enum class UnmappedIdentity { kProvision, kSkip, kHold };
const char* UnmappedIdentityName(UnmappedIdentity mode);

// A database peer applies rows; a kafka or file peer receives change events
// (cdc/event_sink.hpp).
enum class PeerKind { kDatabase, kKafka, kFile };

struct KafkaConfig {
  std::string brokers;                                          // bootstrap.servers
  std::string topic_prefix = "crosswalk.";                      // topic = prefix + schema.table
  std::vector<std::pair<std::string, std::string>> properties;  // librdkafka settings
};

struct PeerConfig {
  std::string name;
  PeerKind kind = PeerKind::kDatabase;
  KafkaConfig kafka;  // kind kKafka
  std::string file;   // kind kFile: a path, or "-" for stdout
  std::string format = "debezium-json";
  std::string dsn;
  std::string platform;
  std::string slot;  // replication slot on the source
  UnmappedIdentity on_unmapped_identity = UnmappedIdentity::kSkip;
  std::optional<std::string> provision_sql;
  std::vector<TableMapping> tables;
  // Transactions that came to the source from a third platform (a ring)
  // are passed on with their origin; false only passes on the source's own.
  bool forward_origins = true;
  // The reverse stream of two-way tables: its slot and publication on the peer.
  std::string reverse_slot;
  std::string reverse_publication = "crosswalk_reverse";
  // False for a derived reverse stream: it starts from its slot's creation
  // instead of copying the peer's rows back (two_way.hpp).
  bool migrate = true;
  std::string path;
};

struct SourceConfig {
  std::string dsn;
  std::string platform;
  std::string publication;
  bool create_publication = false;
};

struct IdentityConfig {
  std::string dsn;         // defaults to the source's
  int cache_seconds = 60;  // how long a translation is trusted
};

struct ApplyConfig {
  int batch_rows = 5000;             // rows staged per apply statement
  int status_interval_seconds = 10;  // standby status updates at least this often
};

struct MetricsConfig {
  std::optional<std::string> listen;
};

struct AlertsConfig {
  std::optional<double> lag_seconds;
  std::optional<int> dead_letters;
  std::optional<std::string> command;
};

struct Config {
  SourceConfig source;
  IdentityConfig identity;
  std::vector<PeerConfig> peers;
  ApplyConfig apply;
  MetricsConfig metrics;
  AlertsConfig alerts;
};

// Parses config text; throws Error F0000 naming the JSON path of the problem.
Config ParseConfig(const std::string& json_text);
// Reads and parses a config file.
Config LoadConfig(const std::string& path);

}  // namespace crosswalk::cdc
