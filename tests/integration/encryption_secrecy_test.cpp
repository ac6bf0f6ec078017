// Plaintexts and keys never reach the server log or the WAL. The server logs
// every statement (log_statement = 'all', log_min_duration_statement = 0)
// with the parameter settings crosswalk requires (log_parameter_max_length
// = 0, log_parameter_max_length_on_error = 0); plaintexts go in as bind
// parameters. Then the log, the raw WAL segments and pg_waldump's output are
// searched for every plaintext, the master key and every data key (raw and
// hex). Positive controls show that the searches would find a leak.
#include <gtest/gtest.h>

#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "aead.hpp"
#include "cluster.hpp"
#include "key_wrap.hpp"
#include "master_key.hpp"
#include "master_key_file.hpp"

namespace crosswalk::test {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::uint8_t> FromHex(const std::string& hex) {
  std::vector<std::uint8_t> out;
  if (!DecodeHex(hex, &out)) throw std::runtime_error("bad hex " + hex);
  return out;
}

TEST(EncryptionSecrecy, NoPlaintextOrKeyInLogOrWal) {
  const std::string master_hex = TestMasterKeyHex(11);
  MasterKeyFile key(master_hex);
  Cluster cluster({key.ConfLine(), "log_statement = 'all'", "log_min_duration_statement = 0",
                   "log_parameter_max_length = 0", "log_parameter_max_length_on_error = 0", "log_min_messages = info",
                   "log_min_error_statement = error", "wal_level = logical"});
  cluster.CreateDatabaseWithExtension("app");
  auto c = cluster.Connect("app");
  c.Exec("SELECT crosswalk.create_key('gcm'), crosswalk.create_key('siv', 'aes-256-siv')");
  c.Exec("SELECT crosswalk.rotate_key('gcm')");
  c.Exec("CREATE TABLE t (id int, g crosswalk.encrypted, s crosswalk.encrypted, bi bytea, mk bytea)");
  c.Exec("CREATE TABLE control (note text)");

  std::vector<std::string> plaintexts;
  for (int i = 0; i < 20; ++i) {
    const std::string p = "SecretPlaintext-" + std::to_string(1000 + i) + "-ada@example.org";
    plaintexts.push_back(p);
    c.ExecParams(
        "INSERT INTO t VALUES ($1::int, crosswalk.encrypt($2, 'gcm', 't.g'), crosswalk.encrypt($2, 'siv', 't.s'), "
        "crosswalk.blind_index($2, 'gcm'), crosswalk.match_key($2))",
        {std::to_string(i), p});
  }
  // Decrypted results, reencrypt, a lookup by value, and failing statements
  // with plaintext parameters (logged on error, but not their parameters).
  EXPECT_EQ(*c.ExecParams("SELECT crosswalk.decrypt(g, 't.g') FROM t WHERE id = $1::int", {"3"}).get(0, 0),
            plaintexts[3]);
  c.Exec("UPDATE t SET g = crosswalk.reencrypt(g, 't.g')");
  EXPECT_EQ(*c.ExecParams("SELECT id FROM t WHERE s = (SELECT crosswalk.encrypt($1, 'siv', 't.s'))", {plaintexts[7]})
                 .get(0, 0),
            "7");
  const std::string failing = "SecretPlaintext-failing-statement";
  plaintexts.push_back(failing);
  EXPECT_THROW(c.ExecParams("SELECT crosswalk.encrypt($1, 'no-such-key')", {failing}), Error);
  EXPECT_THROW(c.ExecParams("SELECT crosswalk.encrypt($1, 'gcm')::int", {failing}), Error);
  // Positive controls: a marker in SQL text (for the log) and stored in a
  // plain column (for the WAL).
  c.Exec("SELECT 'LogControlMarker-4711'");
  c.ExecParams("INSERT INTO control VALUES ($1)", {"WalControlMarker-4712"});
  c.Exec("CHECKPOINT");
  c.Exec("SELECT pg_switch_wal()");

  // The data keys, unwrapped here from what the database stores.
  SecretBytes master = ParseMasterKeyHex(master_hex, "test");
  DerivedMasterKeys derived = DeriveMasterKeys(master);
  Aead wrap(AeadMode::kGcm, derived.wrap_key.view());
  std::vector<std::string> secrets = plaintexts;
  secrets.push_back(master_hex);
  secrets.push_back(std::string(reinterpret_cast<const char*>(master.data()), master.size()));
  auto rows = c.Exec(
      "SELECT k.key_id::text, v.version, k.algorithm, encode(v.wrapped, 'hex') FROM crosswalk.key_version v "
      "JOIN crosswalk.key k USING (key_id) ORDER BY 1, 2");
  ASSERT_EQ(rows.rows(), 3);
  for (int r = 0; r < rows.rows(); ++r) {
    std::string id_hex = rows.value(r, 0);
    id_hex.erase(std::remove(id_hex.begin(), id_hex.end(), '-'), id_hex.end());
    KeyId id{};
    auto id_bytes = FromHex(id_hex);
    std::copy(id_bytes.begin(), id_bytes.end(), id.begin());
    Algorithm alg = *ParseAlgorithm(rows.value(r, 2));
    SecretBytes dk = UnwrapDataKey(wrap, id, static_cast<std::uint32_t>(std::stoi(rows.value(r, 1))), alg,
                                   FromHex(rows.value(r, 3)));
    secrets.push_back(std::string(reinterpret_cast<const char*>(dk.data()), dk.size()));
    secrets.push_back(EncodeHex(dk.view()));
    // A 16-byte prefix is enough to find a key written anywhere.
    secrets.push_back(std::string(reinterpret_cast<const char*>(dk.data()), 16));
  }
  ASSERT_EQ(secrets.size(), plaintexts.size() + 2 + 3 * 3);

  const std::string log = cluster.Log();
  const std::string wal = ReadWal(cluster.dir() + "/data");
  const std::string waldump_file = cluster.dir() + "/waldump.txt";
  ASSERT_EQ(Shell(PgBinDir() + "/pg_waldump -p '" + cluster.dir() + "/data/pg_wal' 000000010000000000000001 > '" +
                  waldump_file + "' 2>/dev/null; test -s '" + waldump_file + "'"),
            0);
  const std::string waldump = ReadFile(waldump_file);

  // The controls: the searches find what is there.
  EXPECT_NE(log.find("LogControlMarker-4711"), std::string::npos) << "statements are logged";
  EXPECT_NE(log.find("crosswalk.encrypt($2, 'gcm', 't.g')"), std::string::npos) << "encryption statements are logged";
  EXPECT_NE(log.find("no-such-key"), std::string::npos) << "the failing statement is logged";
  EXPECT_NE(wal.find("WalControlMarker-4712"), std::string::npos) << "the WAL search finds stored text";
  EXPECT_NE(wal.find("crosswalk"), std::string::npos);
  EXPECT_GT(waldump.size(), 1000u);

  int checked = 0;
  for (const std::string& secret : secrets) {
    EXPECT_EQ(log.find(secret), std::string::npos) << "in the server log: " << EncodeHex(ByteView(secret));
    EXPECT_EQ(wal.find(secret), std::string::npos) << "in the WAL: " << EncodeHex(ByteView(secret));
    EXPECT_EQ(waldump.find(secret), std::string::npos) << "in pg_waldump: " << EncodeHex(ByteView(secret));
    ++checked;
  }
  EXPECT_EQ(checked, 21 + 2 + 9);
}

}  // namespace
}  // namespace crosswalk::test
