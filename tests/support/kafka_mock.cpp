#include "kafka_mock.hpp"

#include <chrono>
#include <stdexcept>
#include <thread>

namespace crosswalk::test {

MockKafka::MockKafka(int brokers) {
  cdc::KafkaConf conf = cdc::MakeKafkaConf({{"test.mock.num.brokers", std::to_string(brokers)}}, "mock");
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), err, sizeof err);
  if (!rk) throw std::runtime_error(std::string("mock kafka: ") + err);
  conf.release();
  rk_.reset(rk);
  mcluster_ = rd_kafka_handle_mock_cluster(rk);
  if (!mcluster_) throw std::runtime_error("mock kafka: no mock cluster");
  bootstraps_ = rd_kafka_mock_cluster_bootstraps(mcluster_);
}

void MockKafka::CreateTopic(const std::string& topic, int partitions) {
  rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mcluster_, topic.c_str(), partitions, 3);
  if (e) throw std::runtime_error("mock kafka: cannot create " + topic + ": " + rd_kafka_err2str(e));
}

void MockKafka::SetBrokerDown(int id) { rd_kafka_mock_broker_set_down(mcluster_, id); }
void MockKafka::SetBrokerUp(int id) { rd_kafka_mock_broker_set_up(mcluster_, id); }

void MockKafka::PushRequestErrors(int16_t api, int count, rd_kafka_resp_err_t error) {
  std::vector<rd_kafka_resp_err_t> errors(static_cast<std::size_t>(count), error);
  rd_kafka_mock_push_request_errors_array(mcluster_, api, errors.size(), errors.data());
}

std::vector<ConsumedMessage> ReadTopic(const std::string& bootstraps, const std::string& topic) {
  cdc::KafkaConf conf = cdc::MakeKafkaConf({{"bootstrap.servers", bootstraps},
                                            {"group.id", "crosswalk-test"},
                                            {"enable.auto.commit", "false"},
                                            {"enable.partition.eof", "true"},
                                            {"auto.offset.reset", "earliest"}},
                                           "consumer");
  char err[512];
  rd_kafka_t* raw = rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err, sizeof err);
  if (!raw) throw std::runtime_error(std::string("consumer: ") + err);
  conf.release();
  cdc::KafkaHandle rk(raw);
  int partitions = cdc::TopicPartitions(rk.get(), topic, 10000);
  cdc::KafkaPartitionList list(rd_kafka_topic_partition_list_new(partitions));
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  if (rd_kafka_assign(rk.get(), list.get())) throw std::runtime_error("consumer: assign failed");
  std::vector<std::vector<ConsumedMessage>> by_partition(static_cast<std::size_t>(partitions));
  std::vector<bool> at_end(static_cast<std::size_t>(partitions), false);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int ended = 0;
  while (ended < partitions) {
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("consumer: timed out reading " + topic);
    cdc::KafkaMessage m(rd_kafka_consumer_poll(rk.get(), 500));
    if (!m) continue;
    auto p = static_cast<std::size_t>(m->partition);
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (!at_end[p]) ++ended;
      at_end[p] = true;
      continue;
    }
    if (m->err) throw std::runtime_error(std::string("consumer: ") + rd_kafka_message_errstr(m.get()));
    ConsumedMessage c;
    c.partition = m->partition;
    c.offset = m->offset;
    c.has_key = m->key != nullptr;
    if (m->key) c.key.assign(static_cast<const char*>(m->key), m->key_len);
    c.value.assign(static_cast<const char*>(m->payload), m->len);
    by_partition[p].push_back(std::move(c));
  }
  rd_kafka_consumer_close(rk.get());
  std::vector<ConsumedMessage> all;
  for (auto& v : by_partition) {
    for (auto& m : v) all.push_back(std::move(m));
  }
  return all;
}

}  // namespace crosswalk::test
