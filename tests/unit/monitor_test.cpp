// The metrics registry's exposition, the lag clock and the monitor's
// metrics.listen errors (no database needed).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.hpp"
#include "metrics.hpp"
#include "monitor.hpp"

namespace crosswalk::cdc {
namespace {

using namespace std::chrono_literals;

TEST(MetricsTest, RendersCountersHistogramAndEscapedLabels) {
  Metrics& m = Metrics::Get();
  m.Reset();
  m.AddRows("p", "public.t\"x\\y", "insert", 5);
  m.AddRows("p", "public.t\"x\\y", "insert", 2);
  m.ObserveApplyLatency("p", 0.003);
  m.ObserveApplyLatency("p", 0.2);
  m.ObserveApplyLatency("p", 1000);
  std::string text = m.Render();
  EXPECT_NE(
      text.find("crosswalk_sync_rows_applied_total{peer=\"p\",table=\"public.t\\\"x\\\\y\",operation=\"insert\"} 7\n"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("crosswalk_sync_apply_latency_seconds_bucket{peer=\"p\",le=\"0.005\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("crosswalk_sync_apply_latency_seconds_bucket{peer=\"p\",le=\"0.1\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("crosswalk_sync_apply_latency_seconds_bucket{peer=\"p\",le=\"0.25\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("crosswalk_sync_apply_latency_seconds_bucket{peer=\"p\",le=\"300\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("crosswalk_sync_apply_latency_seconds_bucket{peer=\"p\",le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("crosswalk_sync_apply_latency_seconds_count{peer=\"p\"} 3\n"), std::string::npos);
  std::string detail;
  m.SetPeerState("p", PeerState::kStreaming);
  EXPECT_TRUE(m.Healthy(detail)) << detail;
  m.SetPeerState("q", PeerState::kFailed);
  EXPECT_FALSE(m.Healthy(detail));
  EXPECT_NE(detail.find("\"q\":\"failed\""), std::string::npos) << detail;
  m.Reset();
}

TEST(LagClockTest, AgeOfTheOldestUnconfirmedWal) {
  LagClock c;
  auto t0 = LagClock::Clock::now();
  c.AddSample(t0, 100);
  c.AddSample(t0 + 1s, 100);  // nothing written: not a new sample
  c.AddSample(t0 + 2s, 200);
  c.AddSample(t0 + 3s, 300);
  EXPECT_EQ(c.size(), 3u);
  EXPECT_DOUBLE_EQ(c.LagSeconds(t0 + 5s, 300), 0);
  EXPECT_DOUBLE_EQ(c.LagSeconds(t0 + 5s, 250), 2);  // WAL at 300 was first seen at t0+3s
  EXPECT_DOUBLE_EQ(c.LagSeconds(t0 + 5s, 150), 3);
  EXPECT_DOUBLE_EQ(c.LagSeconds(t0 + 5s, 50), 5);
  c.Prune(200);
  EXPECT_EQ(c.size(), 1u);
  EXPECT_DOUBLE_EQ(c.LagSeconds(t0 + 5s, 250), 2);
}

TEST(MonitorTest, AnAddressInUseIsAConfigError) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  Config config;
  config.metrics.listen = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  std::atomic<bool> stop{false};
  try {
    Monitor monitor(config, {}, stop);
    ADD_FAILURE() << "bound a port already in use";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.sqlstate()), "F0000");
    EXPECT_NE(std::string(e.what()).find("metrics.listen: cannot listen on 127.0.0.1:"), std::string::npos) << e.what();
  }
  close(fd);
}

}  // namespace
}  // namespace crosswalk::cdc
