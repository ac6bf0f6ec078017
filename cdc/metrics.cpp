#include "metrics.hpp"

#include <nlohmann/json.hpp>
#include <cstdio>
#include <sstream>

namespace crosswalk::cdc {

namespace {

// A label value escaped as the exposition format asks (\\, \", \n).
std::string LabelValue(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// Shortest-looking decimal (15 significant digits: 0.005, not 0.0050000000000000001).
std::string Number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

void Header(std::ostringstream& out, const char* name, const char* type, const char* help) {
  out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
}

}  // namespace

const char* PeerStateName(PeerState state) {
  switch (state) {
    case PeerState::kStarting:
      return "starting";
    case PeerState::kSnapshot:
      return "snapshot";
    case PeerState::kStreaming:
      return "streaming";
    case PeerState::kReconnecting:
      return "reconnecting";
    case PeerState::kPaused:
      return "paused";
    case PeerState::kStopped:
      return "stopped";
    case PeerState::kFailed:
      return "failed";
  }
  return "?";
}

Metrics& Metrics::Get() {
  static Metrics metrics;
  return metrics;
}

const std::vector<double>& Metrics::LatencyBuckets() {
  static const std::vector<double> buckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};
  return buckets;
}

void Metrics::AddRows(const std::string& peer, const std::string& table, const std::string& operation,
                      std::uint64_t rows) {
  std::lock_guard<std::mutex> lock(mu_);
  rows_[{peer, table, operation}] += rows;
}

void Metrics::AddTransactions(const std::string& peer, std::uint64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  transactions_[peer] += n;
}

void Metrics::ObserveApplyLatency(const std::string& peer, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  Histogram& h = latency_[peer];
  const auto& bounds = LatencyBuckets();
  if (h.buckets.empty()) h.buckets.assign(bounds.size(), 0);
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (seconds <= bounds[i]) {
      ++h.buckets[i];
      break;
    }
  }
  ++h.count;
  h.sum += seconds;
}

void Metrics::AddDeadLetters(const std::string& peer, std::uint64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  dead_letters_[peer] += n;
}

void Metrics::AddReconnect(const std::string& peer) {
  std::lock_guard<std::mutex> lock(mu_);
  ++reconnects_[peer];
}

void Metrics::AddError(const std::string& peer, const std::string& sqlstate) {
  std::lock_guard<std::mutex> lock(mu_);
  ++errors_[{peer, sqlstate}];
}

void Metrics::SetPeerState(const std::string& peer, PeerState state) {
  std::lock_guard<std::mutex> lock(mu_);
  states_[peer] = state;
}

void Metrics::SetSlot(const std::string& peer, const std::string& slot, const SlotSample& sample) {
  std::lock_guard<std::mutex> lock(mu_);
  slots_[peer] = {slot, sample};
}

void Metrics::SetDeadLettersPending(const std::string& peer, std::int64_t count) {
  std::lock_guard<std::mutex> lock(mu_);
  dead_letters_pending_[peer] = count;
}

void Metrics::SetConflicts(const std::string& peer, std::int64_t count) {
  std::lock_guard<std::mutex> lock(mu_);
  conflicts_[peer] = count;
}

void Metrics::SetSourceUp(bool up) {
  std::lock_guard<std::mutex> lock(mu_);
  source_up_ = up;
}

void Metrics::Reset() {
  std::lock_guard<std::mutex> lock(mu_);
  rows_.clear();
  transactions_.clear();
  dead_letters_.clear();
  reconnects_.clear();
  errors_.clear();
  latency_.clear();
  states_.clear();
  slots_.clear();
  dead_letters_pending_.clear();
  conflicts_.clear();
  source_up_ = true;
}

std::string Metrics::Render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::ostringstream out;
  Header(out, "crosswalk_sync_rows_applied_total", "counter",
         "Rows committed on the peer, by source table and operation (snapshot rows count as insert).");
  for (const auto& [k, v] : rows_) {
    out << "crosswalk_sync_rows_applied_total{peer=\"" << LabelValue(std::get<0>(k)) << "\",table=\""
        << LabelValue(std::get<1>(k)) << "\",operation=\"" << std::get<2>(k) << "\"} " << v << "\n";
  }
  auto per_peer = [&](const char* name, const char* type, const char* help,
                      const std::map<std::string, std::uint64_t>& m) {
    Header(out, name, type, help);
    for (const auto& [peer, v] : m) out << name << "{peer=\"" << LabelValue(peer) << "\"} " << v << "\n";
  };
  per_peer("crosswalk_sync_transactions_total", "counter", "Source transactions committed on the peer.", transactions_);
  per_peer("crosswalk_sync_dead_letters_total", "counter", "Rows this process wrote to crosswalk_sync.dead_letter.",
           dead_letters_);
  per_peer("crosswalk_sync_reconnects_total", "counter", "Times the peer's stream was restarted after an error.",
           reconnects_);
  Header(out, "crosswalk_sync_errors_total", "counter", "Errors that interrupted a peer's stream, by SQLSTATE.");
  for (const auto& [k, v] : errors_) {
    out << "crosswalk_sync_errors_total{peer=\"" << LabelValue(k.first) << "\",sqlstate=\"" << LabelValue(k.second)
        << "\"} " << v << "\n";
  }
  Header(out, "crosswalk_sync_apply_latency_seconds", "histogram",
         "Source commit to peer commit, per source transaction.");
  const auto& bounds = LatencyBuckets();
  for (const auto& [peer, h] : latency_) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < bounds.size(); ++i) {
      cumulative += h.buckets[i];
      out << "crosswalk_sync_apply_latency_seconds_bucket{peer=\"" << LabelValue(peer) << "\",le=\""
          << Number(bounds[i]) << "\"} " << cumulative << "\n";
    }
    out << "crosswalk_sync_apply_latency_seconds_bucket{peer=\"" << LabelValue(peer) << "\",le=\"+Inf\"} " << h.count
        << "\n";
    out << "crosswalk_sync_apply_latency_seconds_sum{peer=\"" << LabelValue(peer) << "\"} " << Number(h.sum) << "\n";
    out << "crosswalk_sync_apply_latency_seconds_count{peer=\"" << LabelValue(peer) << "\"} " << h.count << "\n";
  }
  auto slot_gauge = [&](const char* name, const char* help, double SlotSample::*field) {
    Header(out, name, "gauge", help);
    for (const auto& [peer, s] : slots_) {
      if (!s.second.exists) continue;
      out << name << "{peer=\"" << LabelValue(peer) << "\",slot=\"" << LabelValue(s.first) << "\"} "
          << Number(s.second.*field) << "\n";
    }
  };
  slot_gauge("crosswalk_sync_lag_bytes", "WAL written on the source since the slot's confirmed position.",
             &SlotSample::lag_bytes);
  slot_gauge("crosswalk_sync_lag_seconds", "Age of the oldest source WAL the slot has not confirmed.",
             &SlotSample::lag_seconds);
  slot_gauge("crosswalk_sync_retained_wal_bytes", "WAL the slot keeps on the source (since restart_lsn).",
             &SlotSample::retained_bytes);
  Header(out, "crosswalk_sync_slot_present", "gauge", "1 when the peer's replication slot exists on the source.");
  for (const auto& [peer, s] : slots_) {
    out << "crosswalk_sync_slot_present{peer=\"" << LabelValue(peer) << "\",slot=\"" << LabelValue(s.first) << "\"} "
        << (s.second.exists ? 1 : 0) << "\n";
  }
  Header(out, "crosswalk_sync_dead_letters", "gauge", "Rows waiting in crosswalk_sync.dead_letter on the peer.");
  for (const auto& [peer, v] : dead_letters_pending_) {
    out << "crosswalk_sync_dead_letters{peer=\"" << LabelValue(peer) << "\"} " << v << "\n";
  }
  Header(out, "crosswalk_sync_conflicts", "gauge",
         "Conflicts recorded in crosswalk_sync.conflicts on a peer with two-way tables.");
  for (const auto& [peer, v] : conflicts_) {
    out << "crosswalk_sync_conflicts{peer=\"" << LabelValue(peer) << "\"} " << v << "\n";
  }
  Header(out, "crosswalk_sync_peer_state", "gauge", "1 for the state each peer's thread is in.");
  for (const auto& [peer, state] : states_) {
    out << "crosswalk_sync_peer_state{peer=\"" << LabelValue(peer) << "\",state=\"" << PeerStateName(state)
        << "\"} 1\n";
  }
  Header(out, "crosswalk_sync_source_up", "gauge", "1 when the monitor's last query on the source succeeded.");
  out << "crosswalk_sync_source_up " << (source_up_ ? 1 : 0) << "\n";
  return out.str();
}

bool Metrics::Healthy(std::string& detail) const {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json j = nlohmann::json::object();
  bool ok = source_up_;
  nlohmann::json peers = nlohmann::json::object();
  for (const auto& [peer, state] : states_) {
    peers[peer] = PeerStateName(state);
    ok = ok && state != PeerState::kFailed;
  }
  j["status"] = ok ? "ok" : "failing";
  j["source_up"] = source_up_;
  j["peers"] = peers;
  detail = j.dump();
  return ok;
}

}  // namespace crosswalk::cdc
