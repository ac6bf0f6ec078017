// Values of every shape arrive intact by each way a segment reaches the
// peer: inline VALUES (up to 64 rows), a COPY-filled staging table (larger
// segments) and COPY straight into the target (inserts that map columns one
// to one). The values hold what each of those formats escapes: quotes,
// backslashes, braces, commas, tabs, newlines, the word NULL, empty strings,
// non-ASCII, bytes, NaN and infinities, and arrays of such text.
#include <gtest/gtest.h>
#include <signal.h>

#include "cluster.hpp"
#include "daemon.hpp"
#include "sync_config.hpp"

namespace crosswalk::test {
namespace {

using namespace std::chrono_literals;

// One row of `vals` from its id: every column cycles through awkward values.
constexpr const char* kFill = R"SQL(
  CREATE FUNCTION row_of(g int, turn int) RETURNS vals LANGUAGE sql AS $$
    SELECT g,
      (ARRAY['', 'NULL', NULL, 'a"b', 'back\slash', '{braces}', 'comma,sep', ' spaced ', E'tab\there',
             E'new\nline', 'Grüße 世界', E'\\', '"', 'it''s', '\"{x,\N}\"'])[1 + (g + turn) % 15],
      CASE WHEN (g + turn) % 4 = 0 THEN NULL ELSE decode('00ff5c227b2c7d' || lpad(to_hex(g % 256), 2, '0'), 'hex') END,
      jsonb_build_object('q', 'say "hi" \ ' || g, 'arr', jsonb_build_array(turn, NULL, '{}')),
      (ARRAY['NaN', '-0.0001', '123456789.123456789', NULL])[1 + (g + turn) % 4]::numeric,
      (ARRAY['infinity', '-infinity', '2024-02-29 23:59:59.999999+00', NULL])[1 + (g + turn) % 4]::timestamptz
  $$;
  CREATE FUNCTION list_of(g int, turn int) RETURNS text[] LANGUAGE sql AS $$
    SELECT ARRAY['a"b', NULL, 'back\slash', '{x}', 'NULL', ''] || ARRAY[(g + turn)::text]
  $$;
)SQL";

TEST(SyncValues, EveryShapeArrivesByEveryPath) {
  Cluster source, peer;
  source.Connect().Exec("CREATE DATABASE learnhub");
  peer.Connect().Exec("CREATE DATABASE skillpath");
  auto src = source.Connect("learnhub");
  src.Exec(
      "CREATE TABLE vals (id int PRIMARY KEY, t text, b bytea, j jsonb, n numeric, ts timestamptz); "
      "CREATE TABLE plain (LIKE vals INCLUDING ALL); "
      "CREATE TABLE lists (id int PRIMARY KEY, tags text[])");
  src.Exec(kFill);
  auto p = peer.Connect("skillpath");
  // `plain` maps one to one (its inserts go straight in by COPY); `vals`
  // computes a column, so its inserts are staged like its updates.
  p.Exec(
      "CREATE TABLE plain (id int PRIMARY KEY, t text, b bytea, j jsonb, n numeric, ts timestamptz); "
      "CREATE TABLE mapped (LIKE plain INCLUDING ALL, t_bytes int); "
      "CREATE TABLE lists (id int PRIMARY KEY, tags text[])");
  std::string config = WriteSyncConfig(peer.dir() + "/sync.json", source,
                                       {{peer, "skillpath",
                                         R"J([ { "source": "plain", "target": "plain", "key": ["id"],
                "columns": { "id": "id", "t": "t", "b": "b", "j": "j", "n": "n", "ts": "ts" } },
              { "source": "vals", "target": "mapped", "key": ["id"],
                "columns": { "id": "id", "t": "t", "b": "b", "j": "j", "n": "n", "ts": "ts",
                             "t_bytes": "octet_length(t)" } },
              { "source": "lists", "target": "lists", "key": ["id"], "columns": { "id": "id", "tags": "tags" } } ])J"}});
  std::string log = peer.dir() + "/daemon.log";
  Daemon daemon("run", config, log);
  ASSERT_TRUE(WaitPeersDrained(src, {{&p, "crosswalk_skillpath"}}, 60s)) << ReadFile(log);

  // Each statement is one source transaction: 200 inserts, updates of 200
  // rows (large segments) and of 30 (inline), deletes of 50.
  for (std::string table : {"vals", "plain"}) {
    src.Exec("INSERT INTO " + table + " SELECT (row_of(g, 0)).* FROM generate_series(1, 200) g");
    src.Exec("UPDATE " + table + " SET (t, b, j, n, ts) = (SELECT t, b, j, n, ts FROM row_of(id, 1))");
    src.Exec("UPDATE " + table + " SET (t, b, j, n, ts) = (SELECT t, b, j, n, ts FROM row_of(id, 2)) WHERE id <= 30");
    src.Exec("DELETE FROM " + table + " WHERE id % 4 = 1");
  }
  src.Exec("INSERT INTO lists SELECT g, list_of(g, 0) FROM generate_series(1, 200) g");
  src.Exec("UPDATE lists SET tags = list_of(id, 1)");
  src.Exec("UPDATE lists SET tags = list_of(id, 2) WHERE id <= 30");
  src.Exec("DELETE FROM lists WHERE id % 4 = 1");
  ASSERT_TRUE(WaitPeersDrained(src, {{&p, "crosswalk_skillpath"}}, 60s)) << ReadFile(log);

  const std::string row = "format('%L|%L|%L|%L|%L|%L', id, t, b, j, n, ts)";
  EXPECT_EQ(ExpectSameRows(src, p, "SELECT " + row + " FROM plain", "SELECT " + row + " FROM plain"), 150);
  EXPECT_EQ(ExpectSameRows(src, p, "SELECT " + row + " || octet_length(t) FROM vals",
                           "SELECT " + row + " || t_bytes FROM mapped"),
            150);
  EXPECT_EQ(ExpectSameRows(src, p, "SELECT format('%L|%L', id, tags) FROM lists",
                           "SELECT format('%L|%L', id, tags) FROM lists"),
            150);
  EXPECT_EQ(p.Exec("SELECT count(*) FROM crosswalk_sync.dead_letter").value(0, 0), "0");
  // Nothing failed and was retried row by row: each path took its values.
  EXPECT_EQ(ReadFile(log).find(R"("event":"segment_retry_by_row")"), std::string::npos) << ReadFile(log);
  EXPECT_EQ(daemon.Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace crosswalk::test
