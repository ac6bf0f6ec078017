// librdkafka's mock Kafka cluster, hosted by the test process: the broker a
// crosswalk-sync child process writes its events to (through the bootstrap
// servers it listens on), with the mock API for injecting broker failures;
// and a consumer that reads every message of a topic back.
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <string>
#include <vector>

#include "kafka.hpp"

namespace crosswalk::test {

class MockKafka {
 public:
  // A cluster of `brokers` brokers (ids 1..brokers).
  explicit MockKafka(int brokers = 3);
  const std::string& bootstraps() const { return bootstraps_; }
  void CreateTopic(const std::string& topic, int partitions);
  void SetBrokerDown(int broker_id);
  void SetBrokerUp(int broker_id);
  // The next `count` requests of `api` (RD_KAFKAP_*) fail with `error`.
  void PushRequestErrors(int16_t api, int count, rd_kafka_resp_err_t error);
  rd_kafka_mock_cluster_t* cluster() const { return mcluster_; }

 private:
  cdc::KafkaHandle rk_;  // owns the mock cluster
  rd_kafka_mock_cluster_t* mcluster_ = nullptr;
  std::string bootstraps_;
};

struct ConsumedMessage {
  int partition = 0;
  std::int64_t offset = 0;
  bool has_key = false;
  std::string key;
  std::string value;
};

// Every message of `topic` (all partitions, from the beginning to the end as
// of now), in partition then offset order.
std::vector<ConsumedMessage> ReadTopic(const std::string& bootstraps, const std::string& topic);

}  // namespace crosswalk::test
