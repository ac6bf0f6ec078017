// A peer transaction that takes longer than the source's wal_sender_timeout
// does not end the stream: while the daemon waits for the peer, its reader
// thread answers the walsender's keepalives with the last reported
// positions. Without that, the walsender drops the connection ("replication
// timeout") and the daemon reconnects and applies the transaction again.
#include <gtest/gtest.h>
#include <signal.h>

#include "cluster.hpp"
#include "daemon.hpp"
#include "sync_config.hpp"

namespace crosswalk::test {
namespace {

using namespace std::chrono_literals;

TEST(SyncKeepalive, APeerTransactionLongerThanTheWalSenderTimeoutKeepsTheStream) {
  Cluster source({"wal_level = logical", "wal_sender_timeout = '2s'"});
  Cluster peer;
  source.Connect().Exec("CREATE DATABASE learnhub");
  peer.Connect().Exec("CREATE DATABASE skillpath");
  auto src = source.Connect("learnhub");
  src.Exec("CREATE TABLE items (id int PRIMARY KEY, label text)");
  auto p = peer.Connect("skillpath");
  // Applying row 7 takes 6 s: three wal_sender_timeouts.
  p.Exec(
      "CREATE TABLE things (id int PRIMARY KEY, label text); "
      "CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN PERFORM pg_sleep(6); RETURN NEW; END$$; "
      "CREATE TRIGGER slow BEFORE INSERT ON things FOR EACH ROW WHEN (NEW.id = 7) EXECUTE FUNCTION slow()");
  std::string config = WriteSyncConfig(peer.dir() + "/sync.json", source,
                                       {{peer, "skillpath",
                                         R"([ { "source": "items", "target": "things", "key": ["id"],
                               "columns": { "id": "id", "label": "label" } } ])"}});
  std::string log = peer.dir() + "/daemon.log";
  Daemon daemon("run", config, log);
  ASSERT_TRUE(WaitPeersDrained(src, {{&p, "crosswalk_skillpath"}}, 60s)) << ReadFile(log);
  std::size_t from = ReadFile(log).size();
  long long before = std::stoll(*p.Scalar("SELECT transactions FROM crosswalk_sync.progress"));

  src.Exec("INSERT INTO items SELECT g, 'l' || g FROM generate_series(1, 10) g");
  src.Exec("INSERT INTO items VALUES (11, 'after')");
  ASSERT_TRUE(WaitPeersDrained(src, {{&p, "crosswalk_skillpath"}}, 60s)) << ReadFile(log);
  ExpectSameRows(src, p, "SELECT id || label FROM items", "SELECT id || label FROM things");
  // One stream all along: no reconnect, and the slow transaction applied once.
  EXPECT_TRUE(LogEvents(log, from, "reconnect").empty()) << ReadFile(log).substr(from);
  EXPECT_EQ(std::stoll(*p.Scalar("SELECT transactions FROM crosswalk_sync.progress")), before + 2);
  EXPECT_EQ(daemon.Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace crosswalk::test
