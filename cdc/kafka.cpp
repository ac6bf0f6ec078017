#include "kafka.hpp"

#include <set>
#include <thread>

#include "error.hpp"

namespace crosswalk::cdc {

namespace {

// Settings crosswalk owns: what delivery guarantees rest on.
std::string OwnedProperty(const std::string& name, const std::string& value) {
  if (name == "bootstrap.servers" || name == "metadata.broker.list") return "set the brokers with kafka.brokers";
  if (name == "enable.idempotence" && value != "true") return "must stay true: the guarantee rests on it";
  if ((name == "acks" || name == "request.required.acks") && value != "all" && value != "-1") {
    return "must be all (-1): an event is acknowledged only once every in-sync replica has it";
  }
  if (name == "transactional.id") return "Kafka transactions are not used (delivery is at-least-once)";
  if (name == "dr_cb" || name == "dr_msg_cb" || name == "opaque") return "set by crosswalk-sync";
  return {};
}

}  // namespace

std::string CheckKafkaProperty(const std::string& name, const std::string& value) {
  std::string owned = OwnedProperty(name, value);
  if (!owned.empty()) return owned;
  KafkaConf conf(rd_kafka_conf_new());
  char err[512];
  if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
    return std::string("librdkafka refuses it: ") + err;
  }
  return {};
}

KafkaConf MakeKafkaConf(const std::vector<std::pair<std::string, std::string>>& settings, const std::string& what) {
  KafkaConf conf(rd_kafka_conf_new());
  char err[512];
  for (const auto& [name, value] : settings) {
    if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      throw Error(sqlstate::kConfigFileError, "config: " + what + "." + name + ": " + err);
    }
  }
  return conf;
}

int TopicPartitions(rd_kafka_t* rk, const std::string& topic, int timeout_ms) {
  KafkaTopic rkt(rd_kafka_topic_new(rk, topic.c_str(), nullptr));
  if (!rkt) throw Error("08006", "kafka: cannot use topic " + topic);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string why;
  // A topic being auto-created answers "unknown" or with no partitions for
  // a moment: asked again until the deadline.
  do {
    const rd_kafka_metadata_t* raw = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt.get(), &raw, std::max(100, timeout_ms / 4));
    KafkaMetadata md(raw);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      why = rd_kafka_err2str(err);
    } else if (md->topic_cnt != 1) {
      why = "no metadata for the topic";
    } else if (md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      why = rd_kafka_err2str(md->topics[0].err);
    } else if (md->topics[0].partition_cnt > 0) {
      return md->topics[0].partition_cnt;
    } else {
      why = "the topic has no partitions";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (std::chrono::steady_clock::now() < deadline);
  throw Error("08006", "kafka: no partitions for topic " + topic + ": " + why,
              "Create the topic, or let the cluster auto-create topics.");
}

KafkaWriter::KafkaWriter(const std::string& brokers, const std::vector<std::pair<std::string, std::string>>& properties,
                         const std::string& what)
    : what_(what) {
  std::vector<std::pair<std::string, std::string>> settings = {
      {"bootstrap.servers", brokers}, {"enable.idempotence", "true"}, {"acks", "all"}};
  for (const auto& p : properties) {
    std::string owned = OwnedProperty(p.first, p.second);
    if (!owned.empty())
      throw Error(sqlstate::kConfigFileError, "config: " + what + ".properties." + p.first + ": " + owned);
    settings.push_back(p);
  }
  KafkaConf conf = MakeKafkaConf(settings, what + ".properties");
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &KafkaWriter::OnDelivery);
  rd_kafka_conf_set_opaque(conf.get(), this);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), err, sizeof err);
  if (!rk) throw Error(sqlstate::kConfigFileError, "config: " + what + ": " + err);
  conf.release();  // rd_kafka_new took it
  rk_.reset(rk);
}

void KafkaWriter::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* self = static_cast<KafkaWriter*>(opaque);
  Delivery d;
  d.token = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(m->_private));
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) d.error = rd_kafka_err2str(m->err);
  self->deliveries_.push_back(std::move(d));
}

void KafkaWriter::ThrowIfFatal() {
  char err[512];
  rd_kafka_resp_err_t code = rd_kafka_fatal_error(rk_.get(), err, sizeof err);
  if (code != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // The producer is unusable; the peer reconnects with a new one.
    throw Error("08006", "kafka: producer failed: " + std::string(err));
  }
}

void KafkaWriter::Produce(const std::string& topic, int partition, const std::optional<std::string>& key,
                          const std::string& value, std::uint64_t token) {
  for (;;) {
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk_.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
        RD_KAFKA_V_PARTITION((partition < 0 ? RD_KAFKA_PARTITION_UA : partition)),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY((key ? key->data() : nullptr), (key ? key->size() : 0)),
        RD_KAFKA_V_VALUE((const_cast<char*>(value.data())), (value.size())),
        RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<std::uintptr_t>(token))), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      ThrowIfFatal();
      throw Error("08006", "kafka: cannot produce to " + topic + ": " + rd_kafka_err2str(err));
    }
    // The local queue is full (a broker is slow or down): bounded memory,
    // wait for acknowledgements to make room.
    rd_kafka_poll(rk_.get(), 100);
  }
}

int KafkaWriter::Partitions(const std::string& topic) {
  auto it = partitions_.find(topic);
  if (it != partitions_.end()) return it->second;
  int n = TopicPartitions(rk_.get(), topic, 30000);
  partitions_[topic] = n;
  return n;
}

void KafkaWriter::Poll(int timeout_ms, std::vector<Delivery>& out) {
  rd_kafka_poll(rk_.get(), timeout_ms);
  ThrowIfFatal();
  for (auto& d : deliveries_) out.push_back(std::move(d));
  deliveries_.clear();
}

bool KafkaWriter::Flush(int timeout_ms, std::vector<Delivery>& out) {
  rd_kafka_resp_err_t err = rd_kafka_flush(rk_.get(), timeout_ms);
  ThrowIfFatal();
  for (auto& d : deliveries_) out.push_back(std::move(d));
  deliveries_.clear();
  return err == RD_KAFKA_RESP_ERR_NO_ERROR && rd_kafka_outq_len(rk_.get()) == 0;
}

void KafkaWriter::CheckConnection(int timeout_ms) {
  const rd_kafka_metadata_t* raw = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk_.get(), 0, nullptr, &raw, timeout_ms);
  KafkaMetadata md(raw);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw Error("08006", "kafka: " + what_ + ".brokers: no answer: " + rd_kafka_err2str(err));
  }
}

}  // namespace crosswalk::cdc
