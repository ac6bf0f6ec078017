#include "event_commands.hpp"

#include "identity.hpp"
#include "event_sink.hpp"
#include "log.hpp"

namespace crosswalk::cdc {

void CheckEventPeer(const Config& config, const PeerConfig& p,
                    const std::map<QualifiedName, std::shared_ptr<const Relation>>& relations, std::ostream& out,
                    bool tolerate_unreachable) {
  bool uses_identity = false;
  for (const auto& t : p.tables) {
    for (const auto& c : t.columns) uses_identity = uses_identity || c.identity_column.has_value();
  }
  if (uses_identity) {
    try {
      CanonicalIdResolver(config.identity.dsn, config.source.platform, 0).ResolveBatch({""});
    } catch (const Error& e) {
      throw Error(e.sqlstate(), "config: identity.dsn: cannot resolve " + config.source.platform + " ids: " + e.what(),
                  "The identity database needs CREATE EXTENSION crosswalk and the source platform registered.");
    }
  }
  EventSink sink(config, p);
  sink.Prepare(/*check_only=*/true);
  sink.CheckTables(relations);
  try {
    sink.CheckConnection();
  } catch (const Error& e) {
    if (!tolerate_unreachable || std::string(e.sqlstate()).compare(0, 2, "08") != 0) throw;
    Log(LogLevel::kWarning, "peer_unreachable", {{"peer", p.name}, {"message", e.what()}});
  }
  auto stored = sink.StoredPosition();
  out << "peer " << p.name << " (" << (p.kind == PeerKind::kKafka ? "kafka " + p.kafka.brokers : "file " + p.file)
      << "), format " << p.format << ", slot " << p.slot << ": "
      << (stored ? "will stream from " + FormatLsn(*stored) : std::string("will create the slot and send a snapshot"))
      << "\n";
  for (const auto& t : p.tables) {
    out << "  " << t.source.Display() << " -> topic " << t.topic << " key (";
    for (std::size_t i = 0; i < t.key.size(); ++i) out << (i ? ", " : "") << t.key[i];
    out << (t.key.empty() ? "replica identity" : "") << ")\n";
    if (t.columns.empty()) out << "    every column\n";
    for (const auto& c : t.columns) {
      out << "    " << c.target << " = "
          << (c.identity_column ? "canonical_id(" + *c.identity_column + ")" : c.expression) << "\n";
    }
  }
}

void PrintEventPeerStatus(pq::Connection& source, const PeerConfig& p, std::ostream& out) {
  pq::Result s = source.ExecParams(
      "SELECT confirmed_flush_lsn::text, active, "
      "pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), confirmed_flush_lsn)::bigint "
      "FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
      {p.slot});
  if (s.rows() == 0) {
    out << " slot_state=missing";
  } else {
    out << " slot_state=" << (s.value(0, 1) == "t" ? "active" : "inactive") << " confirmed_lsn=" << s.value(0, 0)
        << " lag_bytes=" << s.value(0, 2);
  }
  auto table = source.Scalar("SELECT pg_catalog.to_regclass('crosswalk_sync.event_progress')::text");
  std::optional<std::string> done;
  if (table) {
    done = source.Scalar(
        "SELECT CASE WHEN snapshot_done THEN 'done' ELSE 'incomplete' END || ' at ' || snapshot_lsn "
        "FROM crosswalk_sync.event_progress WHERE slot = $1",
        {p.slot});
  }
  out << " snapshot=\"" << done.value_or("none") << "\"\n";
}

}  // namespace crosswalk::cdc
