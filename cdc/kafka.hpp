// Kafka through librdkafka's C API, with RAII over its handles: the
// idempotent producer an event peer writes with (enable.idempotence=true,
// acks=all, so retries neither duplicate nor reorder within a partition) and
// its delivery reports, which acknowledge each message.
#pragma once

#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "event_writer.hpp"

namespace crosswalk::cdc {

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const noexcept { rd_kafka_destroy(rk); }
  void operator()(rd_kafka_conf_t* conf) const noexcept { rd_kafka_conf_destroy(conf); }
  void operator()(rd_kafka_topic_t* rkt) const noexcept { rd_kafka_topic_destroy(rkt); }
  void operator()(const rd_kafka_metadata_t* md) const noexcept { rd_kafka_metadata_destroy(md); }
  void operator()(rd_kafka_message_t* m) const noexcept { rd_kafka_message_destroy(m); }
  void operator()(rd_kafka_topic_partition_list_t* l) const noexcept { rd_kafka_topic_partition_list_destroy(l); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using KafkaConf = std::unique_ptr<rd_kafka_conf_t, KafkaDeleter>;
using KafkaTopic = std::unique_ptr<rd_kafka_topic_t, KafkaDeleter>;
using KafkaMetadata = std::unique_ptr<const rd_kafka_metadata_t, KafkaDeleter>;
using KafkaMessage = std::unique_ptr<rd_kafka_message_t, KafkaDeleter>;
using KafkaPartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, KafkaDeleter>;

// Empty when librdkafka accepts `name` = `value` for a producer and crosswalk
// lets the user set it; otherwise why not (for the config parser).
std::string CheckKafkaProperty(const std::string& name, const std::string& value);

// A librdkafka configuration from name/value pairs; throws Error F0000 with
// librdkafka's reason (`what` names the config path).
KafkaConf MakeKafkaConf(const std::vector<std::pair<std::string, std::string>>& settings, const std::string& what);

// The partition count of `topic` from the cluster's metadata (creating the
// topic when the cluster auto-creates topics); throws Error 08006 when the
// cluster does not answer within timeout_ms.
int TopicPartitions(rd_kafka_t* rk, const std::string& topic, int timeout_ms);

class KafkaWriter : public EventWriter {
 public:
  // `what` names the config path (peers[0].kafka) in errors.
  KafkaWriter(const std::string& brokers, const std::vector<std::pair<std::string, std::string>>& properties,
              const std::string& what);
  KafkaWriter(const KafkaWriter&) = delete;  // librdkafka holds `this`
  KafkaWriter& operator=(const KafkaWriter&) = delete;

  void Produce(const std::string& topic, int partition, const std::optional<std::string>& key, const std::string& value,
               std::uint64_t token) override;
  int Partitions(const std::string& topic) override;
  void Poll(int timeout_ms, std::vector<Delivery>& out) override;
  bool Flush(int timeout_ms, std::vector<Delivery>& out) override;

  // Asks the cluster for its metadata (what `check` does); throws Error
  // 08006 when it does not answer.
  void CheckConnection(int timeout_ms);

 private:
  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque);
  void ThrowIfFatal();
  std::string what_;
  std::vector<Delivery> deliveries_;  // filled by OnDelivery during poll/flush
  std::map<std::string, int> partitions_;
  KafkaHandle rk_;
};

}  // namespace crosswalk::cdc
