// Where an event peer's messages go: Kafka (cdc/kafka.hpp) or JSON lines in
// a file or on stdout (FileWriter). A writer acknowledges each message by
// the token it was produced with once the message is durable (in the broker
// with acks=all; fsync'ed for a file), so the event sink confirms the slot
// only up to transactions wholly acknowledged.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace crosswalk::cdc {

// One acknowledgement: `error` is empty when the message is durable.
struct Delivery {
  std::uint64_t token = 0;
  std::string error;
};

class EventWriter {
 public:
  virtual ~EventWriter() = default;
  // Queues one message; partition -1 lets the writer choose by key (the same
  // key, the same partition, so a key's events stay in order).
  virtual void Produce(const std::string& topic, int partition, const std::optional<std::string>& key,
                       const std::string& value, std::uint64_t token) = 0;
  // How many partitions `topic` has (events without a key, such as a
  // truncate, go to each, so that every key sees them in order).
  virtual int Partitions(const std::string& topic) = 0;
  // Collects acknowledgements, waiting up to timeout_ms for the first.
  virtual void Poll(int timeout_ms, std::vector<Delivery>& out) = 0;
  // Sends what is queued and waits up to timeout_ms for every
  // acknowledgement; true when none is outstanding.
  virtual bool Flush(int timeout_ms, std::vector<Delivery>& out) = 0;
};

// JSON lines, one per message: {"topic": ..., "partition": ..., "key": ...,
// "value": ...} (key and value as JSON, not as strings). Messages are
// acknowledged once written and fsync'ed (stdout: flushed).
class FileWriter : public EventWriter {
 public:
  // `path` "-" is stdout; a file is opened for appending, its partial last
  // line cut first unless `cut_partial_line` is false (`check`, which must
  // not touch a file a running daemon may be writing).
  explicit FileWriter(const std::string& path, bool cut_partial_line = true);
  ~FileWriter() override;
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;

  void Produce(const std::string& topic, int partition, const std::optional<std::string>& key, const std::string& value,
               std::uint64_t token) override;
  int Partitions(const std::string&) override { return 1; }
  void Poll(int timeout_ms, std::vector<Delivery>& out) override;
  bool Flush(int timeout_ms, std::vector<Delivery>& out) override;

 private:
  void Sync(std::vector<Delivery>& out);
  std::string path_;
  std::FILE* file_ = nullptr;
  bool owned_ = false;
  std::vector<std::uint64_t> unsynced_;
  std::chrono::steady_clock::time_point last_sync_;
};

}  // namespace crosswalk::cdc
