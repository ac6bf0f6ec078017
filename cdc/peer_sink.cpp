#include "peer_sink.hpp"

#include "event_config.hpp"
#include "snapshot.hpp"

namespace crosswalk::cdc {

PeerSink::PeerSink(const Config& config, const PeerConfig& peer) {
  if (IsEventPeer(peer)) {
    events_ = std::make_unique<EventSink>(config, peer);
  } else {
    applier_ = std::make_unique<PeerApplier>(config, peer);
  }
}

PeerSink::~PeerSink() = default;

void PeerSink::Prepare() { applier_ ? applier_->Prepare() : events_->Prepare(); }

std::optional<Lsn> PeerSink::StoredPosition() {
  return applier_ ? applier_->StoredPosition() : events_->StoredPosition();
}

std::uint64_t PeerSink::Snapshot(const std::string& source_dsn, const std::string& snapshot_name,
                                 Lsn consistent_point) {
  if (applier_) return SnapshotPeer(source_dsn, snapshot_name, consistent_point, *applier_);
  return events_->Snapshot(source_dsn, snapshot_name, consistent_point);
}

void PeerSink::BeginSourceTransaction(const BeginMessage& begin) {
  if (events_) events_->BeginSourceTransaction(begin);
}

void PeerSink::EndSourceTransaction(const CommitMessage& commit) {
  if (events_) events_->EndSourceTransaction(commit);
}

void PeerSink::SetOrigin(const std::string& platform, Lsn commit_lsn, std::int64_t commit_time) {
  if (applier_) applier_->SetOrigin(platform, commit_lsn, commit_time);
}

void PeerSink::BeginTransaction() {
  if (applier_) applier_->BeginTransaction();
}

void PeerSink::AddChange(RowChange change) {
  applier_ ? applier_->AddChange(std::move(change)) : events_->AddChange(std::move(change));
}

void PeerSink::Truncate(const std::vector<std::shared_ptr<const Relation>>& relations, bool restart_identity) {
  applier_ ? applier_->Truncate(relations, restart_identity) : events_->Truncate(relations);
}

void PeerSink::CommitTransaction(Lsn end_lsn, bool snapshot, std::uint64_t source_transactions) {
  applier_ ? applier_->CommitTransaction(end_lsn, snapshot, source_transactions) : events_->Send();
}

void PeerSink::AbortTransaction() { applier_ ? applier_->AbortTransaction() : events_->Abandon(); }

std::uint64_t PeerSink::open_rows() const { return applier_ ? applier_->open_rows() : events_->buffered(); }

Lsn PeerSink::DurablePosition(Lsn committed) { return applier_ ? committed : events_->DurablePosition(committed); }

void PeerSink::LockSlot() {
  if (applier_) applier_->LockSlot();
}

void PeerSink::StorePosition(Lsn lsn) {
  if (applier_) applier_->StorePosition(lsn);
}

Lsn PeerSink::stored_position() const {
  return applier_ ? applier_->stored_position() : std::numeric_limits<Lsn>::max();
}

bool PeerSink::stored_guards_slot() const { return applier_ ? applier_->stored_guards_slot() : true; }

void PeerSink::GuardSlot() {
  if (applier_) applier_->GuardSlot();
}

bool PeerSink::in_transaction() const { return applier_ ? applier_->in_transaction() : false; }

Lsn PeerSink::immediate_through() const { return applier_ ? applier_->immediate_through() : 0; }

std::size_t PeerSink::held_keys() const { return applier_ ? applier_->held_keys() : 0; }

std::size_t PeerSink::ReleaseHeld() { return applier_ ? applier_->ReleaseHeld() : 0; }

}  // namespace crosswalk::cdc
